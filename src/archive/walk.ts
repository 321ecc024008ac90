import { lstat, opendir } from "node:fs/promises";
import { join } from "node:path";
import type { IsExcluded } from "./exclude.js";

export interface ShippedFile {
  path: string;
  size: number;
  mode: number;
  mtimeMs: number;
  isLink: boolean;
}

export interface ProjectTree {
  files: ShippedFile[];
  bytes: number;
  /** Top-level skipped entries: excluded folders are never entered, so their size is unknown. */
  skipped: { folders: string[]; files: number; bytes: number };
}

/** Lists what is shipped, depth first in sorted order so that archives are reproducible. */
export async function walkProject(root: string, isExcluded: IsExcluded): Promise<ProjectTree> {
  const tree: ProjectTree = { files: [], bytes: 0, skipped: { folders: [], files: 0, bytes: 0 } };
  async function visit(relative: string): Promise<void> {
    const names: { name: string; isDirectory: boolean; isFile: boolean; isLink: boolean }[] = [];
    for await (const entry of await opendir(join(root, relative))) {
      names.push({
        name: entry.name,
        isDirectory: entry.isDirectory(),
        isFile: entry.isFile(),
        isLink: entry.isSymbolicLink(),
      });
    }
    names.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of names) {
      const path = relative ? `${relative}/${entry.name}` : entry.name;
      if (entry.isDirectory) {
        if (isExcluded(path, true)) tree.skipped.folders.push(path);
        else await visit(path);
        continue;
      }
      // Sockets, fifos and devices are not project files.
      if (!entry.isFile && !entry.isLink) continue;
      const { size, mode, mtimeMs } = await lstat(join(root, path));
      if (isExcluded(path, false)) {
        tree.skipped.files += 1;
        tree.skipped.bytes += size;
        continue;
      }
      tree.files.push({ path, size, mode: mode & 0o7777, mtimeMs, isLink: entry.isLink });
      tree.bytes += size;
    }
  }
  await visit("");
  return tree;
}
