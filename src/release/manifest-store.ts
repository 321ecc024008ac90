import { createHash } from "node:crypto";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { cacheRoot } from "../archive/digest.js";
import type { Remote } from "../ssh/connection.js";
import { sh } from "../ssh/quote.js";
import type { ServerLayout } from "./layout.js";
import { manifestHash } from "./manifest.js";

/**
 * One file per app folder on a server: the manifest last sent there. Kept by app, not by hash,
 * so that the cache holds one manifest per place deployed to, not one per deploy forever.
 */
function keptPath(remote: Remote, layout: ServerLayout): string {
  const { user, host, port } = remote.target;
  const key = createHash("sha256").update(`${user}@${host}:${port}${layout.app}`).digest("hex").slice(0, 16);
  return join(cacheRoot(), "manifests", `${key}.jsonl`);
}

/** Keeps the manifest just sent, so that the next deploy to the same place need not fetch it. */
export async function keepManifest(remote: Remote, layout: ServerLayout, text: string | Buffer): Promise<void> {
  const path = keptPath(remote, layout);
  await mkdir(dirname(path), { recursive: true })
    .then(() => writeFile(`${path}.tmp`, text))
    .then(() => rename(`${path}.tmp`, path))
    .catch(() => undefined);
}

/**
 * The live release's manifest: from the local cache when it is the one kept (the usual case),
 * else fetched from the server (one more round trip: a new clone, another machine, a rollback).
 * Undefined when neither matches the hash the server recorded: the upload is then full.
 */
export async function liveManifest(remote: Remote, layout: ServerLayout, release: string, hash: string): Promise<Buffer | undefined> {
  const kept = await readFile(keptPath(remote, layout)).catch(() => undefined);
  if (kept !== undefined && manifestHash(kept) === hash) return kept;
  const result = await remote.run(sh`cat ${`${layout.meta}/${release}.manifest`}`, { raw: true });
  if (result.code !== 0 || manifestHash(result.stdout) !== hash) return undefined;
  await keepManifest(remote, layout, result.stdout);
  return result.stdout;
}
