import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, open, readFile, readlink, rename } from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { pipeline } from "node:stream/promises";
import type { ManifestEntry } from "../release/manifest.js";
import { type ShippedFile, unreadable } from "./walk.js";

/** Files hashed at once: enough to keep a disk busy, few enough to keep memory flat. */
const CONCURRENCY = 8;

type CacheRow = [size: number, mtimeMs: number, mode: number, hash: string];

/**
 * Where the hashes of a project's files are kept between runs, keyed by the project's folder.
 * They are digests of files that are shipped anyway, never of env files: nothing secret.
 */
export function digestCachePath(projectDir: string, env: NodeJS.ProcessEnv = process.env): string {
  const key = createHash("sha256").update(projectDir).digest("hex").slice(0, 16);
  return join(cacheRoot(env), `${key}.json`);
}

/** deploy-vps's local cache folder (XDG_CACHE_HOME respected). */
export function cacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.XDG_CACHE_HOME || join(homedir(), ".cache"), "deploy-vps");
}

async function hashFile(path: string, file: ShippedFile, signal?: AbortSignal): Promise<string> {
  const hash = createHash("sha256");
  try {
    if (file.isLink) return hash.update(`link:${await readlink(path)}`).digest("hex");
    await pipeline(createReadStream(path), hash, { signal });
  } catch (error) {
    if (signal?.aborted) throw error;
    throw unreadable(file.path, error);
  }
  return hash.digest("hex");
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
  let cache: Record<string, CacheRow> = {};
  try {
    cache = JSON.parse(await readFile(cacheFile, "utf8")) as Record<string, CacheRow>;
  } catch {
    cache = {};
  }
  const entries: ManifestEntry[] = new Array(files.length);
  let hashed = 0;
  let index = 0;
  const worker = async () => {
    while (index < files.length) {
      signal?.throwIfAborted();
      const i = index++;
      const file = files[i] as ShippedFile;
      const text = replaced.get(file.path);
      let hash: string;
      let size = file.size;
      const cached = cache[file.path];
      if (text !== undefined) {
        hash = createHash("sha256").update(text).digest("hex");
        size = Buffer.byteLength(text);
      } else if (cached && cached[0] === file.size && cached[1] === file.mtimeMs && cached[2] === file.mode) {
        hash = cached[3];
      } else {
        hash = await hashFile(join(root, file.path), file, signal);
        hashed += 1;
      }
      entries[i] = { path: file.path, size, mode: file.mode, hash };
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  // The old rows can be collected before the new ones are written.
  cache = {};
  // Best effort: a cache that cannot be written only costs the next run some reading.
  await writeCache(cacheFile, files, entries, replaced).catch(() => undefined);
  return { entries, hashed };
}

/** Written a few thousand rows at a time, from the walk's files and their entries: no second copy of every row. */
async function writeCache(cacheFile: string, files: ShippedFile[], entries: ManifestEntry[], replaced: Map<string, string>): Promise<void> {
  await mkdir(dirname(cacheFile), { recursive: true });
  const file = await open(`${cacheFile}.tmp`, "w");
  try {
    let text = "{";
    let first = true;
    for (const [i, shipped] of files.entries()) {
      if (replaced.has(shipped.path)) continue;
      const row: CacheRow = [shipped.size, shipped.mtimeMs, shipped.mode, (entries[i] as ManifestEntry).hash];
      text += `${first ? "" : ","}${JSON.stringify(shipped.path)}:${JSON.stringify(row)}`;
      first = false;
      if (text.length > 256 * 1024) {
        await file.write(text);
        text = "";
      }
    }
    await file.write(`${text}}`);
  } finally {
    await file.close();
  }
  await rename(`${cacheFile}.tmp`, cacheFile);
}
