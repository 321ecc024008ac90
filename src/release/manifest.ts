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

/** Entries by index: an array, or hashes kept compact and turned into entries when asked for. */
export interface ManifestEntries {
  readonly length: number;
  at(index: number): ManifestEntry | undefined;
}

/**
 * A path its line holds as it is (JSON escapes none of its characters), with no surrogate: in
 * strings without surrogates, UTF-16 order is UTF-8 byte order.
 */
const PLAIN_PATH = /^[\u0020\u0021\u0023-\u005b\u005d-\ud7ff\ue000-\uffff]*$/;

/**
 * The order of entries as their lines sort byte by byte (`LC_ALL=C sort`, which the server runs
 * on its rebuilt manifest), without making the lines: for two plain paths, the first difference
 * of `path"` decides (a line goes on with `",`). Anything else is compared as the UTF-8 of its
 * line, encoded once per entry.
 */
function lineOrder(entries: ManifestEntries): Uint32Array {
  const paths = Array.from({ length: entries.length }, (_, i) => (entries.at(i) as ManifestEntry).path);
  const plain = Uint8Array.from(paths, (path) => (PLAIN_PATH.test(path) ? 1 : 0));
  const encoded = new Map<number, Buffer>();
  const bytes = (i: number) => {
    let line = encoded.get(i);
    if (!line) encoded.set(i, (line = Buffer.from(manifestLine(entries.at(i) as ManifestEntry))));
    return line;
  };
  const order = Uint32Array.from(paths.keys());
  return order.sort((i, j) => {
    const a = paths[i] as string;
    const b = paths[j] as string;
    if (plain[i] && plain[j]) {
      const length = Math.min(a.length, b.length);
      for (let k = 0; k < length; k++) {
        const difference = a.charCodeAt(k) - b.charCodeAt(k);
        if (difference !== 0) return difference;
      }
      const quote = 0x22;
      return (a.charCodeAt(length) || quote) - (b.charCodeAt(length) || quote);
    }
    return Buffer.compare(bytes(i), bytes(j));
  });
}

/**
 * The manifest's text, its lines in byte order, written line by line into one buffer of the
 * exact size: no array of lines, no chunks joined at the end.
 */
export function formatManifest(entries: ManifestEntries): Buffer {
  const order = lineOrder(entries);
  let size = 0;
  for (const i of order) size += Buffer.byteLength(manifestLine(entries.at(i) as ManifestEntry)) + 1;
  const text = Buffer.allocUnsafe(size);
  let used = 0;
  for (const i of order) {
    used += text.write(manifestLine(entries.at(i) as ManifestEntry), used);
    text[used++] = 0x0a;
  }
  return text;
}

export function manifestHash(text: string | Buffer): string {
  return createHash("sha256").update(text).digest("hex");
}

/** The delta files of a redeploy, by name in the archive: see DELTA_FILES. */
export function manifestDelta(plan: UploadPlan): Map<string, string> {
  const text = (lines: string[], end: string) => lines.map((line) => `${line}${end}`).join("");
  return new Map([
    [DELTA_FILES.remove, text(plan.lines?.remove ?? [], "\n")],
    [DELTA_FILES.add, text(plan.lines?.add ?? [], "\n")],
    [DELTA_FILES.changed, text(plan.send, "\0")],
    [DELTA_FILES.deleted, text(plan.deleted, "\0")],
  ]);
}

/** A manifest's lines, as slices of its bytes. */
function* linesOf(text: Buffer): Generator<Buffer> {
  for (let start = 0; start < text.length; ) {
    const newline = text.indexOf(0x0a, start);
    const end = newline === -1 ? text.length : newline;
    if (end > start) yield text.subarray(start, end);
    start = end + 1;
  }
}

/**
 * The lines only the live manifest has and those only the next one has, in one pass over both,
 * as `comm -3` does: they are in the same byte order (formatManifest's, the server's
 * `LC_ALL=C sort`). Only those lines are decoded: parsing the live manifest whole would hold
 * an object per file of the tree.
 */
export function diffManifests(live: Buffer, next: Buffer): { removed: string[]; added: string[] } {
  const removed: string[] = [];
  const added: string[] = [];
  const before = linesOf(live);
  const after = linesOf(next);
  let old = before.next();
  let now = after.next();
  while (!old.done || !now.done) {
    const order = old.done ? 1 : now.done ? -1 : Buffer.compare(old.value, now.value);
    if (order <= 0 && !old.done) {
      if (order < 0) removed.push(old.value.toString("utf8"));
      old = before.next();
    }
    if (order >= 0 && !now.done) {
      if (order > 0) added.push(now.value.toString("utf8"));
      now = after.next();
    }
  }
  return { removed, added };
}

const pathOf = (line: string) => (JSON.parse(line) as [string])[0];

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
  /** A delta's manifest lines: the live ones to remove, the new ones to add. */
  lines?: { remove: string[]; add: string[] };
}

/** The folders a path is in: "a/b/c" is in "a" and "a/b". */
function foldersOf(path: string): string[] {
  const folders: string[] = [];
  for (let cut = path.indexOf("/"); cut !== -1; cut = path.indexOf("/", cut + 1)) folders.push(path.slice(0, cut));
  return folders;
}

/**
 * The first new path that sits where the live release has a file above it, or files below it.
 * The live paths are read only when there are new ones, a line at a time.
 */
function retypedPath(fresh: string[], live: Buffer): string | undefined {
  if (fresh.length === 0) return undefined;
  const isFresh = new Set(fresh);
  const folders = new Set(fresh.flatMap(foldersOf));
  const retyped = new Set<string>();
  for (const line of linesOf(live)) {
    const old = pathOf(line.toString("utf8"));
    // A live file where a new path needs a folder...
    if (folders.has(old)) {
      for (const path of fresh) if (path.startsWith(`${old}/`)) retyped.add(path);
    }
    // ...or a live folder where a new file goes.
    for (const folder of foldersOf(old)) if (isFresh.has(folder)) retyped.add(folder);
  }
  return fresh.find((path) => retyped.has(path));
}

/** Every file goes; the server builds the release from the archive alone. */
export function fullUpload(paths: string[], fullBecause: string): UploadPlan {
  return { send: paths, deleted: [], unchanged: 0, fullBecause };
}

/** Why the upload is full when no delta can be planned against the live release. */
export function fullUploadReason(live: { release?: string; manifestHash?: string }, forceFull: boolean): string {
  if (forceFull) return "--full";
  if (!live.release) return "first deploy";
  if (!live.manifestHash) return "the live release has no manifest";
  return "the live release's manifest could not be read back";
}

/**
 * Decides what goes over the wire when the live release has a manifest: only what differs from
 * it, or everything when a file became a folder or back (copying changes cannot do that).
 * `next` is the new manifest and every path it lists. Paths sent and deleted come in the
 * manifest's order, not the walk's.
 */
export function planUpload(next: { manifest: Buffer; paths: string[] }, live: { release: string; manifest: Buffer }): UploadPlan {
  const { removed, added } = diffManifests(live.manifest, next.manifest);
  const send = added.map(pathOf);
  const sent = new Set(send);
  const before = removed.map(pathOf);
  const deleted = before.filter((path) => !sent.has(path));
  const existed = new Set(before);
  const retyped = retypedPath(
    send.filter((path) => !existed.has(path)),
    live.manifest,
  );
  if (retyped) return fullUpload(next.paths, `${retyped} was a folder or under a file in the live release`);
  return { base: live.release, send, deleted, unchanged: next.paths.length - send.length, lines: { remove: removed, add: added } };
}
