import { accessSync, constants, lstatSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { setImmediate } from "node:timers/promises";
import { InputError } from "../errors.js";
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
 * The walk's order on whole paths: folder by folder, names compared as the walk sorts them. A
 * folder's files come where the folder's name sorts, so "a/x" comes before "a.b", unlike in
 * plain string order ('/' sorts after '.').
 */
export function walkOrder(a: string, b: string): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    // One name ends here and the other goes on: the shorter name comes first.
    if (x === 0x2f) return -1;
    if (y === 0x2f) return 1;
    return x - y;
  }
  return a.length - b.length;
}

/**
 * Lists what is shipped, depth first in sorted order so that archives are reproducible. Each
 * folder is read and stat'ed synchronously, then the event loop gets a turn: faster than the
 * promise API, with less heap, and the loop still runs between folders.
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
      // A file the world may not read may not be ours to read: found now, before the server
      // is touched, rather than half-way through the upload.
      if (!entry.isSymbolicLink() && (mode & 0o004) === 0) assertReadable(root, path);
      tree.files.push({ path, size, mode: mode & 0o7777, mtimeMs, isLink: entry.isSymbolicLink() });
      tree.bytes += size;
    }
  }
  await visit("");
  return tree;
}

function assertReadable(root: string, path: string): void {
  try {
    accessSync(join(root, path), constants.R_OK);
  } catch (error) {
    throw unreadable(path, error);
  }
}

/** A project file that cannot be read: the user's to fix (permissions) or to exclude. */
export function unreadable(path: string, cause: unknown): InputError {
  const code = (cause as NodeJS.ErrnoException).code;
  if (code === "EACCES" || code === "EPERM")
    return new InputError(`cannot read ${path} in the project (permission denied): fix its permissions, or exclude it in .deployignore.`);
  const why =
    code === "ENOENT"
      ? "it was removed while deploy-vps ran"
      : code === "EOF"
        ? "it changed size while deploy-vps read it: an output or log file?"
        : cause instanceof Error
          ? cause.message
          : String(cause);
  return new InputError(`cannot read ${path} in the project (${why}): exclude it in .deployignore, or keep it still during a deploy.`);
}
