import { once } from "node:events";
import { extname } from "node:path";
import { PassThrough, type Readable } from "node:stream";
import { constants, crc32, createDeflateRaw, type DeflateRaw } from "node:zlib";
import { Header, ReadEntry, WriteEntry, WriteEntryTar } from "tar";
import { DeployError } from "../errors.js";
import { type ShippedFile, unreadable } from "./walk.js";

/** Every entry lands under this folder of the staging area; the manifest sits beside the files. */
export const ARCHIVE_ROOT = "files";

/**
 * gzip levels for everything but already-compressed formats. Measured on the benchmark's source
 * files (2 cores): level 1 deflates about 60 MB/s, level 6 about 15 MB/s for 10 % fewer bytes.
 * So level 6 when the link is the bottleneck (a 20 Mbit/s uplink), level 1 when the CPU is
 * (loopback, a LAN, a fast uplink): chosen as the upload goes, from the backlog below.
 */
export const LEVELS = { fast: 1, small: 6 } as const;
/** Compressed bytes that may wait for the link; full means the link, not the CPU, is the limit. */
const BACKLOG = 1024 * 1024;

/** The level for the next batch: small when the link is behind, fast when it waits for us. */
export function levelFor(backlog: number, current: number): number {
  if (backlog >= BACKLOG / 2) return LEVELS.small;
  if (backlog === 0) return LEVELS.fast;
  return current;
}

/** Formats that are compressed already: deflating them again costs CPU and saves nothing. */
const COMPRESSED = new Set(
  [
    "png jpg jpeg gif webp avif heic",
    "woff woff2",
    "zip gz tgz bz2 xz zst br 7z rar jar",
    "mp3 mp4 m4a m4v ogg oga opus webm mov mkv avi",
  ].flatMap((group) => group.split(" ").map((ext) => `.${ext}`)),
);

export function isCompressed(path: string): boolean {
  return COMPRESSED.has(extname(path).toLowerCase());
}

/** Files are read in chunks of this size: node-tar's default of 16 MB made memory grow with file size. */
const READ_SIZE = 256 * 1024;

/** A file made in memory: text, or bytes already encoded (the manifest). */
type Content = string | Buffer;

function memoryEntry(path: string, text: Content, mode: number): ReadEntry {
  const body = Buffer.isBuffer(text) ? text : Buffer.from(text, "utf8");
  const header = new Header({ path, mode, size: body.length, mtime: new Date(), type: "File" });
  header.encode();
  const entry = new ReadEntry(header);
  entry.end(body);
  return entry;
}

/** The archive's size before compression, near enough: a header and the padded content per file. */
export function tarBytes(files: ShippedFile[]): number {
  return files.reduce((total, file) => total + 512 + Math.ceil(file.size / 512) * 512, 1024);
}

/** Files opened ahead of the one being sent, so that per-file latency overlaps the transfer. */
const READ_AHEAD = 8;

type Entry = WriteEntry | WriteEntryTar;

/**
 * A gzip stream whose deflate level can change between entries. Node's Gzip ignores params()
 * (checked on Node 20 and 24: the level stays), so this is raw deflate, which honours it, inside
 * gzip's own 10-byte header and crc32 + length trailer (RFC 1952).
 */
class LevelledGzip {
  readonly output = new PassThrough({ highWaterMark: BACKLOG });
  private readonly deflate: DeflateRaw;
  private crc = 0;
  private length = 0;
  /** Small chunks (a 512-byte header, a 1 kB file) wait here: zlib costs a thread hop per write. */
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private stored = false;
  private level: number = LEVELS.fast;

  constructor() {
    this.deflate = createDeflateRaw({ level: this.level });
    this.output.write(Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]));
    this.deflate.pipe(this.output, { end: false });
    this.deflate.on("error", (error) => this.output.destroy(error));
    this.deflate.on("end", () => {
      const trailer = Buffer.alloc(8);
      trailer.writeUInt32LE(this.crc >>> 0, 0);
      trailer.writeUInt32LE(this.length % 2 ** 32, 4);
      this.output.end(trailer);
    });
  }

  /** Already-compressed content is stored as it is; the rest is deflated. */
  async store(stored: boolean): Promise<void> {
    if (stored === this.stored) return;
    await this.flush();
    this.stored = stored;
    await this.params(stored ? 0 : this.level);
  }

  private params(level: number): Promise<void> {
    return new Promise((resolve) => this.deflate.params(level, constants.Z_DEFAULT_STRATEGY, () => resolve()));
  }

  async write(chunk: Buffer): Promise<void> {
    this.crc = crc32(chunk, this.crc);
    this.length += chunk.length;
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    if (this.pendingBytes >= 64 * 1024) await this.flush();
  }

  async end(): Promise<void> {
    await this.flush();
    this.deflate.end();
  }

  private async flush(): Promise<void> {
    if (this.pendingBytes === 0) return;
    const batch = this.pending.length === 1 ? (this.pending[0] as Buffer) : Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    const level = levelFor(this.output.readableLength, this.level);
    if (level !== this.level) {
      this.level = level;
      if (!this.stored) await this.params(level);
    }
    if (!this.deflate.write(batch)) await once(this.deflate, "drain");
  }
}

/**
 * A gzip tar stream of the files to send, read from disk as the stream is consumed (a few
 * files ahead), so memory stays flat whatever the tree's size. Already-compressed files are
 * stored (level 0) rather than deflated again; the rest at the level the link calls for.
 * Made in memory, never written to the local disk: `replaced` swaps a file's content (the
 * rewritten compose files), `extra` adds files beside them (the manifest, which may still be
 * in the making: it is awaited once the files are packed), `beside` adds files next to the
 * ARCHIVE_ROOT folder rather than in it (the server's next .env, 0600).
 * `onPacked` hears the uncompressed bytes handed to gzip so far, for the progress line.
 */
export function packRelease(
  root: string,
  files: ShippedFile[],
  made: { replaced?: Map<string, string>; extra?: Map<string, Content | Promise<Content>>; beside?: Map<string, string> },
  onPacked: (bytes: number) => void = () => undefined,
): Readable {
  const { replaced = new Map<string, string>(), extra = new Map<string, Content | Promise<Content>>(), beside = new Map<string, string>() } = made;
  const gzip = new LevelledGzip();
  const options = { cwd: root, portable: true, prefix: ARCHIVE_ROOT, maxReadSize: READ_SIZE };
  const outside = { ...options, prefix: undefined };
  const plan = function* (): Generator<{ stored: boolean; open: () => Entry | Promise<Entry>; fromDisk?: string }> {
    for (const file of files) {
      const text = replaced.get(file.path);
      yield {
        fromDisk: text === undefined ? file.path : undefined,
        stored: !file.isLink && text === undefined && isCompressed(file.path),
        open: () => (text === undefined ? new WriteEntry(file.path, options) : new WriteEntryTar(memoryEntry(file.path, text, file.mode), options)),
      };
    }
    for (const [path, text] of extra) {
      yield { stored: false, open: async () => new WriteEntryTar(memoryEntry(path, await text, 0o600), options) };
    }
    for (const [path, text] of beside) yield { stored: false, open: () => new WriteEntryTar(memoryEntry(path, text, 0o600), outside) };
  };
  const write = async () => {
    const source = plan();
    const ahead: { stored: boolean; entry: Promise<Entry>; fromDisk?: string }[] = [];
    const fill = () => {
      while (ahead.length < READ_AHEAD) {
        const next = source.next();
        if (next.done) return;
        const entry = Promise.resolve(next.value.open());
        // An entry that fails before its turn keeps its error for the loop below (Minipass
        // replays it); a content that never came fails there too.
        entry.then((opened) => opened.on("error", () => undefined), () => undefined);
        ahead.push({ stored: next.value.stored, entry, fromDisk: next.value.fromDisk });
      }
    };
    let packed = 0;
    fill();
    for (let current = ahead.shift(); current; current = ahead.shift()) {
      fill();
      await gzip.store(current.stored);
      try {
        for await (const chunk of (await current.entry) as AsyncIterable<Buffer>) {
          packed += chunk.length;
          onPacked(packed);
          await gzip.write(chunk);
        }
      } catch (error) {
        // A file gone or unreadable since the walk: the user's to fix, named.
        const fsError = typeof (error as NodeJS.ErrnoException).code === "string" && !(error instanceof DeployError);
        throw current.fromDisk !== undefined && fsError ? unreadable(current.fromDisk, error) : error;
      }
    }
    // A tar archive ends with two empty 512-byte blocks.
    await gzip.write(Buffer.alloc(1024));
    await gzip.end();
  };
  write().catch((error: unknown) => gzip.output.destroy(error instanceof Error ? error : new Error(String(error))));
  return gzip.output;
}
