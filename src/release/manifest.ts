import { createHash } from "node:crypto";

/** What the server knows of each release's files, so that a redeploy sends only what changed. */
export interface ManifestEntry {
  path: string;
  size: number;
  mode: number;
  /** sha256 of the content (of the link target, for a symlink). */
  hash: string;
}

/** Travel inside the archive, beside the files, and are moved out of the release on arrival. */
export const MANIFEST_FILE = ".deploy-vps-manifest.jsonl";
/**
 * What a redeploy sends beside the changed files: the manifest lines to remove and to add (the
 * server rebuilds the rest), and the paths sent and deleted, NUL-separated, so that the switch
 * touches only those in the app folder. In the archive, not on a command line: no size limit.
 */
export const DELTA_FILES = {
  remove: ".deploy-vps-manifest.remove",
  add: ".deploy-vps-manifest.add",
  changed: ".deploy-vps-changed",
  deleted: ".deploy-vps-deleted",
} as const;

export function manifestLine(e: ManifestEntry): string {
  return JSON.stringify([e.path, e.size, e.mode, e.hash]);
}

/** A path whose line starts with it unescaped, in characters that sort as their UTF-8 bytes do. */
const PLAIN_PATH = /^[\u0020-\u0021\u0023-\u005b\u005d-\ud7ff]*$/;

/**
 * Orders entries as their lines sort byte by byte (`LC_ALL=C sort`, which the server runs on its
 * rebuilt manifest), without making the lines: for two plain paths, the first difference of
 * `path"` decides (a line goes on with `",`). Anything else is compared as the UTF-8 of its line.
 */
function byLine(a: ManifestEntry, b: ManifestEntry): number {
  if (PLAIN_PATH.test(a.path) && PLAIN_PATH.test(b.path)) {
    const length = Math.min(a.path.length, b.path.length);
    for (let i = 0; i < length; i++) {
      const difference = a.path.charCodeAt(i) - b.path.charCodeAt(i);
      if (difference !== 0) return difference;
    }
    const quote = 0x22;
    return (a.path.charCodeAt(length) || quote) - (b.path.charCodeAt(length) || quote);
  }
  return Buffer.compare(Buffer.from(manifestLine(a)), Buffer.from(manifestLine(b)));
}

/** Bytes of manifest written at a time. */
const CHUNK = 256 * 1024;

/**
 * The manifest's text, its lines in byte order. Written into buffers line by line: at 50,000
 * files, making every line first and joining them cost 20 MB of garbage for 5.6 MB of text.
 */
export function formatManifest(entries: ManifestEntry[]): Buffer {
  const chunks: Buffer[] = [];
  let chunk = Buffer.allocUnsafe(CHUNK);
  let used = 0;
  for (const entry of entries.slice().sort(byLine)) {
    const line = `${manifestLine(entry)}\n`;
    if (used + Buffer.byteLength(line) > chunk.length) {
      chunks.push(chunk.subarray(0, used));
      chunk = Buffer.allocUnsafe(Math.max(CHUNK, Buffer.byteLength(line)));
      used = 0;
    }
    used += chunk.write(line, used);
  }
  chunks.push(chunk.subarray(0, used));
  return Buffer.concat(chunks);
}

export function manifestHash(text: string | Buffer): string {
  return createHash("sha256").update(text).digest("hex");
}

/** The delta files of a redeploy, by name in the archive: see DELTA_FILES. */
export function manifestDelta(plan: UploadPlan, previous: Map<string, ManifestEntry>, next: ManifestEntry[]): Map<string, string> {
  const sent = new Set(plan.send);
  const removed = [...plan.deleted, ...plan.send].flatMap((path) => {
    const old = previous.get(path);
    return old ? [manifestLine(old)] : [];
  });
  const added = next.filter((e) => sent.has(e.path)).map(manifestLine);
  const text = (lines: string[], end: string) => lines.map((line) => `${line}${end}`).join("");
  return new Map([
    [DELTA_FILES.remove, text(removed, "\n")],
    [DELTA_FILES.add, text(added, "\n")],
    [DELTA_FILES.changed, text(plan.send, "\0")],
    [DELTA_FILES.deleted, text(plan.deleted, "\0")],
  ]);
}

/** Undefined when the text is not a manifest: the deploy then falls back to a full upload. */
export function parseManifest(text: string): Map<string, ManifestEntry> | undefined {
  const entries = new Map<string, ManifestEntry>();
  for (const line of text.split("\n")) {
    if (!line) continue;
    try {
      const [path, size, mode, hash] = JSON.parse(line) as [string, number, number, string];
      if (typeof path !== "string" || typeof hash !== "string") return undefined;
      entries.set(path, { path, size, mode, hash });
    } catch {
      return undefined;
    }
  }
  return entries;
}

export interface UploadPlan {
  /** The live release the new one is assembled from (hard links), or undefined for a full upload. */
  base?: string;
  /** Paths whose content or mode is new. */
  send: string[];
  /** Paths the base release has and the new one does not. */
  deleted: string[];
  unchanged: number;
  /** Why the upload is full, when it is. */
  fullBecause?: string;
}

/** The first new path that sits where the live release has a file above it, or files below it. */
function retypedPath(added: string[], previous: Map<string, ManifestEntry>): string | undefined {
  if (added.length === 0) return undefined;
  const folders = new Set<string>();
  for (const old of previous.keys()) {
    for (let cut = old.indexOf("/"); cut !== -1; cut = old.indexOf("/", cut + 1)) folders.add(old.slice(0, cut));
  }
  return added.find((path) => {
    if (folders.has(path)) return true;
    for (let cut = path.indexOf("/"); cut !== -1; cut = path.indexOf("/", cut + 1)) if (previous.has(path.slice(0, cut))) return true;
    return false;
  });
}

/** Every file goes; the server builds the release from the archive alone. */
export function fullUpload(paths: string[], fullBecause: string): UploadPlan {
  return { send: paths, deleted: [], unchanged: 0, fullBecause };
}

/** Why the upload must be full, known before any file is hashed; undefined when a delta may do. */
export function needsFullUpload(live: { release?: string; manifest?: Map<string, ManifestEntry> }, forceFull: boolean): string | undefined {
  if (forceFull) return "--full";
  if (!live.release) return "first deploy";
  if (!live.manifest) return "the live release has no manifest";
  return undefined;
}

/** Decides what goes over the wire: everything, or only what differs from the live release. */
export function planUpload(
  next: ManifestEntry[],
  live: { release?: string; manifest?: Map<string, ManifestEntry> },
  forceFull: boolean,
): UploadPlan {
  const full = needsFullUpload(live, forceFull);
  if (full || !live.release || !live.manifest) return fullUpload(next.map((e) => e.path), full ?? "first deploy");
  const previous = live.manifest;
  const send = next.filter((e) => {
    const old = previous.get(e.path);
    return !old || old.hash !== e.hash || old.mode !== e.mode;
  });
  const present = new Set(next.map((e) => e.path));
  const deleted = [...previous.keys()].filter((path) => !present.has(path));
  const retyped = retypedPath(
    send.filter((e) => !previous.has(e.path)).map((e) => e.path),
    previous,
  );
  // Copying only what changed cannot turn a folder into a file or back: the whole tree goes.
  if (retyped) return fullUpload(next.map((e) => e.path), `${retyped} was a folder or under a file in the live release`);
  return { base: live.release, send: send.map((e) => e.path), deleted, unchanged: next.length - send.length };
}
