import type { Readable } from "node:stream";
import { Header, Pack, ReadEntry } from "tar";
import type { ShippedFile } from "./walk.js";

function memoryEntry(path: string, text: string): ReadEntry {
  const body = Buffer.from(text, "utf8");
  const header = new Header({ path, mode: 0o644, size: body.length, mtime: new Date(), type: "File" });
  header.encode();
  const entry = new ReadEntry(header);
  entry.end(body);
  return entry;
}

/**
 * A gzip tar stream of the shipped files, read from disk as the stream is consumed, so memory
 * stays flat whatever the tree's size. `replaced` swaps a file's content (the rewritten
 * compose files) without writing anything to disk.
 */
export function packProject(root: string, files: ShippedFile[], replaced: Map<string, string>): Readable {
  const pack = new Pack({ cwd: root, gzip: { level: 6 }, portable: true });
  for (const file of files) {
    const text = replaced.get(file.path);
    pack.add(text === undefined ? file.path : memoryEntry(file.path, text));
  }
  pack.end();
  return pack as unknown as Readable;
}
