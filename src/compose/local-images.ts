import { type ShippedFile, walkOrder } from "../archive/walk.js";
import type { ComposeService } from "./files.js";
import type { ComposeModel } from "./model.js";
import { localImageName } from "./rewrite.js";

/**
 * deploy-vps's own compose file, shipped with each release and passed last with -f, so that it
 * wins over every file of the project. The project's own files are shipped as they are.
 */
export const LOCAL_IMAGES_FILE = "compose.deploy-vps.yaml";

export interface LocalImages {
  /** Service -> the local image it runs: every built service, and every service using an image one of them builds. */
  images: Record<string, string>;
  /** A service that builds nothing but uses the image another one builds -> that one. */
  builtBy: Record<string, string>;
  /** Files deploy-vps makes for the release: path -> text. */
  written: Map<string, string>;
  /** The `-f` files of every compose command, in order: the project's, then deploy-vps's. */
  composeFiles: string[];
}

/** Compose interpolates every file it reads: a literal `$` is written `$$`. */
const yamlString = (value: string) => JSON.stringify(value.replaceAll("$", "$$$$"));

/**
 * The image rewrite, decided on compose's merged model: each built service gets a plain local
 * image name (localImageName) and `pull_policy: never`, in one file of deploy-vps's own. A service
 * that builds nothing but names the image a built service builds (a YAML anchor shared by both,
 * say) runs what that service built: it gets the same local image, never pulled either.
 */
export function localImagesFor(model: ComposeModel, project: string): LocalImages {
  const images: Record<string, string> = {};
  const builtBy: Record<string, string> = {};
  const built = model.services.filter((s) => s.hasBuild);
  for (const service of built) images[service.name] = localImageName(project, service.name, service.image);
  for (const service of model.services) {
    const builder = service.hasBuild ? undefined : built.find((b) => b.image !== undefined && b.image === service.image);
    if (!builder) continue;
    images[service.name] = images[builder.name] as string;
    builtBy[service.name] = builder.name;
  }
  const projectFiles = model.files.map((file) => file.path);
  if (Object.keys(images).length === 0) return { images, builtBy, written: new Map(), composeFiles: projectFiles };
  return {
    images,
    builtBy,
    written: new Map([[LOCAL_IMAGES_FILE, localImagesFile(project, model.services, images)]]),
    composeFiles: [...projectFiles, LOCAL_IMAGES_FILE],
  };
}

function localImagesFile(project: string, services: ComposeService[], images: Record<string, string>): string {
  const lines = [
    "# Written by deploy-vps at each deploy, and passed last with -f: what this project builds runs",
    "# from local images that are never pulled. To run compose by hand in this folder:",
    `#   docker compose -p ${project} --env-file .env -f <the project's compose files> -f ${LOCAL_IMAGES_FILE} ps`,
    "services:",
  ];
  for (const { name } of services) {
    const image = images[name];
    if (image === undefined) continue;
    lines.push(`  ${JSON.stringify(name)}:`, `    image: ${yamlString(image)}`, "    pull_policy: never");
  }
  return `${lines.join("\n")}\n`;
}

/** The tree to ship with deploy-vps's own files in their walk-order places. */
export function withWrittenFiles(files: ShippedFile[], written: Map<string, string>): ShippedFile[] {
  const result = files.filter((file) => !written.has(file.path));
  for (const [path, text] of written) {
    const at = result.findIndex((file) => walkOrder(file.path, path) > 0);
    const entry = { path, size: Buffer.byteLength(text), mode: 0o644, mtimeMs: 0, isLink: false };
    result.splice(at === -1 ? result.length : at, 0, entry);
  }
  return result;
}
