import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, open, readlink, rename } from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import type { ManifestEntries, ManifestEntry } from "../release/manifest.js";
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

/**
 * Each file's sha256, 32 bytes apiece in one buffer: no object or hex string per file is kept
 * for the whole run. Rewritten files (`replaced`) are hashed as shipped, at once.
 */
export class FileHashes implements ManifestEntries {
  private readonly digests: Buffer;
  private readonly known: Uint8Array;

  constructor(
    private readonly files: ShippedFile[],
    private readonly replaced: Map<string, string>,
  ) {
    this.digests = Buffer.alloc(files.length * 32);
    this.known = new Uint8Array(files.length);
    for (const [i, file] of files.entries()) {
      const text = replaced.get(file.path);
      if (text !== undefined) this.set(i, createHash("sha256").update(text).digest());
    }
  }

  get length(): number {
    return this.files.length;
  }

  set(index: number, digest: Buffer): void {
    digest.copy(this.digests, index * 32);
    this.known[index] = 1;
  }

  has(index: number): boolean {
    return this.known[index] === 1;
  }

  hex(index: number): string {
    return this.digests.toString("hex", index * 32, index * 32 + 32);
  }

  path(index: number): string {
    return (this.files[index] as ShippedFile).path;
  }

  /** The manifest entry of a file, made when asked for. */
  at(index: number): ManifestEntry {
    const file = this.files[index] as ShippedFile;
    const text = this.replaced.get(file.path);
    return { path: file.path, size: text === undefined ? file.size : Buffer.byteLength(text), mode: file.mode, hash: this.hex(index) };
  }

  /** The rows of the hash cache: files as the walk found them, rewritten ones left out (their content is not on disk). */
  *cacheRows(): Generator<CacheRow> {
    for (const [i, file] of this.files.entries()) {
      if (!this.replaced.has(file.path) && this.has(i)) yield [file.path, file.size, file.mtimeMs, file.mode, this.hex(i)];
    }
  }
}

async function hashFile(path: string, file: ShippedFile, buffer: Buffer, signal?: AbortSignal): Promise<Buffer> {
  const hash = createHash("sha256");
  try {
    if (file.isLink) return hash.update(`link:${await readlink(path)}`).digest();
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
  return hash.digest();
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
 * Takes the cached hash of each file whose size, mtime and mode are as cached. Rows and files
 * are both in the walk's order, so one pass matches them, and no row is kept.
 */
export async function cachedHashes(rows: AsyncIterable<CacheRow>, files: ShippedFile[], hashes: FileHashes): Promise<void> {
  let i = 0;
  for await (const [path, size, mtimeMs, mode, hash] of rows) {
    while (i < files.length && walkOrder((files[i] as ShippedFile).path, path) < 0) i++;
    const file = files[i];
    if (!file) break;
    if (file.path === path && file.size === size && file.mtimeMs === mtimeMs && file.mode === mode && HEX_HASH.test(hash)) {
      if (!hashes.has(i)) hashes.set(i, Buffer.from(hash, "hex"));
    }
  }
}

const HEX_HASH = /^[0-9a-f]{64}$/;

/**
 * The manifest of what is shipped: a content hash per file. A file whose size, mode and mtime
 * are those of the last run is not read again. `replaced` files (rewritten compose files) are
 * hashed as shipped. An aborted `signal` stops it early, with no cache written.
 */
export async function digestFiles(
  root: string,
  files: ShippedFile[],
  replaced: Map<string, string>,
  cacheFile: string,
  signal?: AbortSignal,
): Promise<{ entries: FileHashes; hashed: number }> {
  const hashes = new FileHashes(files, replaced);
  await cachedHashes(readCache(cacheFile), files, hashes);
  let hashed = 0;
  let index = 0;
  const worker = async () => {
    const buffer = Buffer.allocUnsafe(READ_SIZE);
    while (index < files.length) {
      signal?.throwIfAborted();
      const i = index++;
      if (hashes.has(i)) continue;
      hashes.set(i, await hashFile(join(root, (files[i] as ShippedFile).path), files[i] as ShippedFile, buffer, signal));
      hashed += 1;
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  await writeHashCache(cacheFile, hashes);
  return { entries: hashes, hashed };
}

/**
 * Written a few thousand rows at a time. Best effort: a cache that cannot be written only
 * costs the next run some reading.
 */
export async function writeHashCache(cacheFile: string, hashes: FileHashes): Promise<void> {
  try {
    await mkdir(dirname(cacheFile), { recursive: true });
    const file = await open(`${cacheFile}.tmp`, "w");
    try {
      let text = "";
      for (const row of hashes.cacheRows()) {
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
  } catch {
    // The next run reads the files again.
  }
}
