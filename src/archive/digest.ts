import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, open, readlink, rename } from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import type { ManifestEntry } from "../release/manifest.js";
import { type ShippedFile, unreadable, walkOrder } from "./walk.js";

/** Files hashed at once: enough to keep a disk busy, few enough to keep memory flat. */
const CONCURRENCY = 8;
/** Each hashing worker reads into one buffer of this size, again and again. */
const READ_SIZE = 64 * 1024;

/** A line of the hash cache, one per file, in the walk's order. */
export type CacheRow = [path: string, size: number, mtimeMs: number, mode: number, hash: string];

/**
 * Where the hashes of a project's files are kept between runs, keyed by the project's folder.
 * They are digests of files that are shipped anyway, never of env files: nothing secret.
 */
export function digestCachePath(projectDir: string, env: NodeJS.ProcessEnv = process.env): string {
  const key = createHash("sha256").update(projectDir).digest("hex").slice(0, 16);
  return join(cacheRoot(env), `${key}.jsonl`);
}

/** deploy-vps's local cache folder (XDG_CACHE_HOME respected). */
export function cacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.XDG_CACHE_HOME || join(homedir(), ".cache"), "deploy-vps");
}

async function hashFile(path: string, file: ShippedFile, buffer: Buffer, signal?: AbortSignal): Promise<string> {
  const hash = createHash("sha256");
  try {
    if (file.isLink) return hash.update(`link:${await readlink(path)}`).digest("hex");
    const handle = await open(path, "r");
    try {
      for (let read = -1; read !== 0; ) {
        signal?.throwIfAborted();
        ({ bytesRead: read } = await handle.read(buffer, 0, buffer.length, null));
        hash.update(buffer.subarray(0, read));
      }
    } finally {
      await handle.close();
    }
  } catch (error) {
    if (signal?.aborted) throw error;
    throw unreadable(file.path, error);
  }
  return hash.digest("hex");
}

/** The rows of a cache file; none when there is none, and only the sound ones of a damaged one. */
async function* readCache(cacheFile: string): AsyncGenerator<CacheRow> {
  let rest = "";
  try {
    for await (const chunk of createReadStream(cacheFile, { encoding: "utf8", highWaterMark: 256 * 1024 })) {
      const lines = `${rest}${chunk as string}`.split("\n");
      rest = lines.pop() ?? "";
      for (const line of lines) {
        const row = parseRow(line);
        if (row) yield row;
      }
    }
  } catch {
    // No cache yet, or one that cannot be read: its files are hashed.
  }
}

function parseRow(line: string): CacheRow | undefined {
  try {
    const row = JSON.parse(line) as unknown;
    if (Array.isArray(row) && row.length === 5 && typeof row[0] === "string" && typeof row[4] === "string") return row as CacheRow;
  } catch {
    // A damaged line: its file is hashed again.
  }
  return undefined;
}

/**
 * The cached hash of each file whose size, mtime and mode are as cached. Rows and files are
 * both in the walk's order, so one pass matches them, and no row is kept: at 50,000 files, a
 * parsed cache held tens of MB of heap.
 */
export async function cachedHashes(rows: AsyncIterable<CacheRow>, files: ShippedFile[]): Promise<(string | undefined)[]> {
  const known = new Array<string | undefined>(files.length);
  let i = 0;
  for await (const [path, size, mtimeMs, mode, hash] of rows) {
    while (i < files.length && walkOrder((files[i] as ShippedFile).path, path) < 0) i++;
    const file = files[i];
    if (!file) break;
    if (file.path === path && file.size === size && file.mtimeMs === mtimeMs && file.mode === mode) known[i] = hash;
  }
  return known;
}

/**
 * The manifest of what is shipped: a content hash per file. A file whose size, mode and mtime
 * are those of the last run is not read again. `replaced` files (rewritten compose files) are
 * hashed as shipped. An aborted `signal` (the upload it ran beside failed) stops it early, with
 * no cache written.
 */
export async function digestFiles(
  root: string,
  files: ShippedFile[],
  replaced: Map<string, string>,
  cacheFile: string,
  signal?: AbortSignal,
): Promise<{ entries: ManifestEntry[]; hashed: number }> {
  const known = await cachedHashes(readCache(cacheFile), files);
  const entries: ManifestEntry[] = new Array(files.length);
  let hashed = 0;
  let index = 0;
  const worker = async () => {
    const buffer = Buffer.allocUnsafe(READ_SIZE);
    while (index < files.length) {
      signal?.throwIfAborted();
      const i = index++;
      const file = files[i] as ShippedFile;
      const text = replaced.get(file.path);
      let hash = known[i];
      let size = file.size;
      if (text !== undefined) {
        hash = createHash("sha256").update(text).digest("hex");
        size = Buffer.byteLength(text);
      } else if (hash === undefined) {
        hash = await hashFile(join(root, file.path), file, buffer, signal);
        hashed += 1;
      }
      entries[i] = { path: file.path, size, mode: file.mode, hash };
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  // Best effort: a cache that cannot be written only costs the next run some reading.
  await writeCache(cacheFile, files, entries, replaced).catch(() => undefined);
  return { entries, hashed };
}

/** Written a few thousand rows at a time, from the walk's files and their entries: no second copy of every row. */
async function writeCache(cacheFile: string, files: ShippedFile[], entries: ManifestEntry[], replaced: Map<string, string>): Promise<void> {
  await mkdir(dirname(cacheFile), { recursive: true });
  const file = await open(`${cacheFile}.tmp`, "w");
  try {
    let text = "";
    for (const [i, shipped] of files.entries()) {
      if (replaced.has(shipped.path)) continue;
      const row: CacheRow = [shipped.path, shipped.size, shipped.mtimeMs, shipped.mode, (entries[i] as ManifestEntry).hash];
      text += `${JSON.stringify(row)}\n`;
      if (text.length > 256 * 1024) {
        await file.write(text);
        text = "";
      }
    }
    await file.write(text);
  } finally {
    await file.close();
  }
  await rename(`${cacheFile}.tmp`, cacheFile);
}
