import type { ComposeFile } from "./files.js";
import { rewriteForLocalImages } from "./rewrite.js";

export interface LocalImages {
  /** Compose files whose shipped content changes: path -> new text. */
  replaced: Map<string, string>;
  /** Built service -> the local image it now uses. */
  images: Record<string, string>;
}

/** The step-6 rewrite applied to every compose file of the project (shared with fix-compose). */
export function localImagesFor(files: ComposeFile[], project: string): LocalImages {
  const replaced = new Map<string, string>();
  const images: Record<string, string> = {};
  for (const file of files) {
    const rewrite = rewriteForLocalImages(file, project);
    if (rewrite.changed) replaced.set(file.path, rewrite.text);
    Object.assign(images, rewrite.images);
  }
  return { replaced, images };
}
