import { lstatSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { setImmediate } from "node:timers/promises";
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

const byName = (a: { name: string }, b: { name: string }) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

/**
 * Lists what is shipped, depth first in sorted order so that archives are reproducible. Each
 * folder is read and stat'ed synchronously, then the event loop gets a turn: on 50,000 files
 * that takes half the time of the promise API (400 vs 800-990 ms), with a quarter less heap.
 */
export async function walkProject(root: string, isExcluded: IsExcluded): Promise<ProjectTree> {
  const tree: ProjectTree = { files: [], bytes: 0, skipped: { folders: [], files: 0, bytes: 0 } };
  async function visit(relative: string): Promise<void> {
    const entries = readdirSync(join(root, relative), { withFileTypes: true }).sort(byName);
    for (const entry of entries) {
      const path = relative ? `${relative}/${entry.name}` : entry.name;
      if (entry.isDirectory()) {
        if (isExcluded(path, true)) tree.skipped.folders.push(path);
        else {
          await setImmediate();
          await visit(path);
        }
        continue;
      }
      // Sockets, fifos and devices are not project files.
      if (!entry.isFile() && !entry.isSymbolicLink()) continue;
      // Gone since the folder was read: not shipped.
      const stat = lstatSync(join(root, path), { throwIfNoEntry: false });
      if (!stat) continue;
      const { size, mode, mtimeMs } = stat;
      if (isExcluded(path, false)) {
        tree.skipped.files += 1;
        tree.skipped.bytes += size;
        continue;
      }
      tree.files.push({ path, size, mode: mode & 0o7777, mtimeMs, isLink: entry.isSymbolicLink() });
      tree.bytes += size;
    }
  }
  await visit("");
  return tree;
}
