import type { Readable } from "node:stream";
import { Header, Pack, ReadEntry } from "tar";
import type { ShippedFile } from "./walk.js";

/** Every entry lands under this folder of the staging area; the manifest sits beside the files. */
export const ARCHIVE_ROOT = "files";

function memoryEntry(path: string, text: string, mode: number): ReadEntry {
  const body = Buffer.from(text, "utf8");
  const header = new Header({ path, mode, size: body.length, mtime: new Date(), type: "File" });
  header.encode();
  const entry = new ReadEntry(header);
  entry.end(body);
  return entry;
}

/**
 * A gzip tar stream of the files to send, read from disk as the stream is consumed, so memory
 * stays flat whatever the tree's size. `replaced` swaps a file's content (the rewritten compose
 * files) without writing anything to disk; `extra` adds files made in memory (the manifest).
 */
export function packRelease(
  root: string,
  files: ShippedFile[],
  replaced: Map<string, string>,
  extra: Map<string, string>,
): Readable {
  const pack = new Pack({ cwd: root, gzip: { level: 6 }, portable: true, prefix: ARCHIVE_ROOT });
  for (const file of files) {
    const text = replaced.get(file.path);
    pack.add(text === undefined ? file.path : memoryEntry(file.path, text, file.mode));
  }
  for (const [path, text] of extra) pack.add(memoryEntry(path, text, 0o600));
  pack.end();
  return pack as unknown as Readable;
}
