import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { cacheRoot } from "../archive/digest.js";
import type { Remote } from "../ssh/connection.js";
import { sh } from "../ssh/quote.js";
import type { ServerLayout } from "./layout.js";
import { type ManifestEntry, manifestHash, parseManifest } from "./manifest.js";

const folder = () => join(cacheRoot(), "manifests");

/** Keeps a manifest that was sent, by its hash, so that the next deploy need not fetch it. */
export async function keepManifest(text: string | Buffer): Promise<void> {
  const path = join(folder(), `${manifestHash(text)}.jsonl`);
  await mkdir(folder(), { recursive: true })
    .then(() => writeFile(`${path}.tmp`, text))
    .then(() => rename(`${path}.tmp`, path))
    .catch(() => undefined);
}

/**
 * The live release's manifest: from the local cache when its hash is there (the usual case),
 * else fetched from the server (one more round trip: a new clone, another machine).
 */
export async function liveManifest(remote: Remote, layout: ServerLayout, release: string, hash: string): Promise<Map<string, ManifestEntry> | undefined> {
  const cached = await readFile(join(folder(), `${hash}.jsonl`), "utf8").catch(() => undefined);
  if (cached !== undefined && manifestHash(cached) === hash) return parseManifest(cached);
  const result = await remote.run(sh`cat ${`${layout.state}/meta/${release}.manifest`}`);
  const text = result.stdout.toString("utf8");
  if (result.code !== 0 || manifestHash(text) !== hash) return undefined;
  await keepManifest(text);
  return parseManifest(text);
}
