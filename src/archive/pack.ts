import { createHash } from "node:crypto";
import { closeSync, openSync, readlinkSync, readSync } from "node:fs";
import { extname, join } from "node:path";
import { PassThrough, type Readable } from "node:stream";
import { constants, crc32, createDeflateRaw, type DeflateRaw } from "node:zlib";
import { Header, Pax } from "tar";
import { DeployError } from "../errors.js";
import { ARCHIVE_ROOT } from "./root.js";
import { type ShippedFile, unreadable } from "./walk.js";


/**
 * gzip levels for everything but already-compressed formats. Level 1 deflates several times
 * faster than level 6, for a few percent more bytes (docs/benchmarks.md). So level 6 when the link is the bottleneck (a 20 Mbit/s uplink), level 1 when the CPU is
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

/** The archive's size before compression, near enough: a header and the padded content per file. */
export function tarBytes(files: ShippedFile[]): number {
  return files.reduce((total, file) => total + 512 + Math.ceil(file.size / 512) * 512, 1024);
}

/**
 * The tar stream is written into a few buffers of this size, used again and again: a buffer
 * goes back to the pool once deflate has consumed it. No buffer is made per file or per read,
 * so shipping more bytes makes no more garbage for the collector to catch up with.
 */
const BLOCK = 256 * 1024;
const POOL = 4;

/**
 * A gzip stream whose deflate level can change between blocks. Node's Gzip ignores params()
 * (checked on Node 20 and 24: the level stays), so this is raw deflate, which honours it, inside
 * gzip's own 10-byte header and crc32 + length trailer (RFC 1952).
 */
class LevelledGzip {
  readonly output = new PassThrough({ highWaterMark: BACKLOG });
  private readonly deflate: DeflateRaw;
  private crc = 0;
  private length = 0;
  private stored = false;
  private level: number = LEVELS.fast;
  /** Blocks handed to deflate and not yet consumed: params() may only change the level between them. */
  private inFlight = new Set<Promise<void>>();

  constructor() {
    this.deflate = createDeflateRaw({ level: this.level, chunkSize: 64 * 1024 });
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

  /** Already-compressed content is stored as it is; the rest is deflated at the link's level. */
  async next(stored: boolean): Promise<void> {
    const level = stored ? 0 : levelFor(this.output.readableLength, this.level);
    if (stored === this.stored && (stored || level === this.level)) return;
    await Promise.all(this.inFlight);
    await new Promise<void>((resolve) => this.deflate.params(level, constants.Z_DEFAULT_STRATEGY, () => resolve()));
    this.stored = stored;
    if (!stored) this.level = level;
  }

  /** Settles once deflate has consumed `block`: its buffer may then be filled again. */
  write(block: Buffer): Promise<void> {
    this.crc = crc32(block, this.crc);
    this.length += block.length;
    const consumed = new Promise<void>((resolve, reject) => {
      this.deflate.write(block, (error) => (error ? reject(error) : resolve()));
    });
    this.inFlight.add(consumed);
    const done = consumed.finally(() => this.inFlight.delete(consumed));
    done.catch(() => undefined);
    return done;
  }

  async end(): Promise<void> {
    await Promise.all(this.inFlight);
    this.deflate.end();
  }
}

/** Tar blocks laid into pooled buffers; a full buffer goes to gzip and the next free one is taken. */
class TarWriter {
  private readonly free: Buffer[] = Array.from({ length: POOL }, () => Buffer.allocUnsafeSlow(BLOCK));
  private readonly waiting: ((buffer: Buffer) => void)[] = [];
  private buffer: Buffer | undefined;
  private used = 0;
  private stored = false;
  packed = 0;

  constructor(
    readonly gzip: LevelledGzip,
    private readonly onPacked: (bytes: number) => void,
  ) {}

  /** Room in the current buffer, after taking a free one if need be. */
  async room(): Promise<Buffer> {
    if (this.buffer && this.used < BLOCK) return this.buffer;
    await this.flush();
    this.buffer = this.free.pop() ?? (await new Promise<Buffer>((resolve) => this.waiting.push(resolve)));
    this.used = 0;
    return this.buffer;
  }

  /** Starts an entry whose content is stored or deflated: a switch sends what came before first. */
  async entry(stored: boolean): Promise<void> {
    if (stored === this.stored) return;
    await this.flush();
    this.stored = stored;
  }

  /** Copies bytes made in memory (a header, a rewritten file, the manifest) into the stream. */
  async put(bytes: Buffer): Promise<void> {
    for (let offset = 0; offset < bytes.length; ) {
      const buffer = await this.room();
      const copied = bytes.copy(buffer, this.used, offset);
      offset += copied;
      this.advance(copied);
    }
  }

  /** Fills the current buffer from `read`, which returns how many bytes it wrote at the offset given (at most `length`). */
  async fill(length: number, read: (buffer: Buffer, offset: number, length: number) => number): Promise<void> {
    for (let left = length; left > 0; ) {
      const buffer = await this.room();
      const count = read(buffer, this.used, Math.min(left, BLOCK - this.used));
      left -= count;
      this.advance(count);
    }
  }

  /** Zeros up to the next 512-byte boundary, as tar pads every content. */
  async pad(): Promise<void> {
    const rest = (512 - (this.packed % 512)) % 512;
    if (rest > 0) await this.put(Buffer.alloc(rest));
  }

  private advance(bytes: number): void {
    this.used += bytes;
    this.packed += bytes;
    this.onPacked(this.packed);
  }

  /** Hands what the current buffer holds to gzip; the buffer comes back to the pool once consumed. */
  async flush(): Promise<void> {
    const buffer = this.buffer;
    if (!buffer) return;
    this.buffer = undefined;
    if (this.used === 0) {
      this.release(buffer);
      return;
    }
    await this.gzip.next(this.stored);
    this.gzip.write(buffer.subarray(0, this.used)).then(
      () => this.release(buffer),
      () => undefined,
    );
  }

  private release(buffer: Buffer): void {
    const waiter = this.waiting.shift();
    if (waiter) waiter(buffer);
    else this.free.push(buffer);
  }
}

/** A tar header (and the pax header before it when a path is too long for ustar) for one entry. */
function headerBlocks(path: string, mode: number, size: number, mtime: Date, linkpath?: string): Buffer {
  const type = linkpath === undefined ? "File" : "SymbolicLink";
  // Modes as node-tar's portable mode writes them: owner may read and write, group and others never write.
  const header = new Header({ path, mode: (mode | 0o600) & ~0o22, size, mtime, type, linkpath });
  const block = Buffer.alloc(512);
  if (!header.encode(block)) return block;
  return Buffer.concat([new Pax({ path, linkpath, size, mtime }).encode(), block]);
}

/** A file made in memory: text, or bytes already encoded (the manifest). */
type Content = string | Buffer;
/** An entry made in memory, possibly still in the making, or made from the files just packed. */
export type Later = Content | Promise<Content> | (() => Content | Promise<Content>);

/** What a packed file's content hashes to: sha256 of its bytes, or of `link:` and its target. */
export type OnHashed = (index: number, hash: Buffer) => void;

/**
 * A gzip tar stream of the files to send, read from disk as the stream is consumed, into a few
 * reused buffers, so memory stays flat whatever the tree's size. Each file is opened, read and
 * closed synchronously: from the page cache that takes microseconds, where the thread pool's
 * round trips cost more per file than the reading; the stream waits between buffers, so the
 * wire and deflate keep working. Already-compressed files are stored (level 0) rather than
 * deflated again; the rest at the level the link calls for.
 * Made in memory, never written to the local disk: `replaced` swaps a file's content (the
 * rewritten compose files), `extra` adds files beside them (the manifest, which may still be
 * in the making, or made from the files' hashes: it is awaited, or made, once the files are
 * packed), `beside` adds files next to the
 * ARCHIVE_ROOT folder rather than in it (the server's next .env, 0600).
 * `onPacked` hears the uncompressed bytes handed to gzip so far, for the progress line;
 * `onHashed` the sha256 of each file read from disk, so that a full upload reads each file once.
 */
export function packRelease(
  root: string,
  files: ShippedFile[],
  made: { replaced?: Map<string, string>; extra?: Map<string, Later>; beside?: Map<string, string> },
  onPacked: (bytes: number) => void = () => undefined,
  onHashed?: OnHashed,
): Readable {
  const { replaced = new Map<string, string>(), extra = new Map<string, Later>(), beside = new Map<string, string>() } = made;
  const gzip = new LevelledGzip();
  const tar = new TarWriter(gzip, onPacked);
  const inMemory = async (path: string, content: Content, mode: number) => {
    const body = Buffer.isBuffer(content) ? content : Buffer.from(content, "utf8");
    await tar.entry(false);
    await tar.put(headerBlocks(path, mode, body.length, new Date()));
    await tar.put(body);
    await tar.pad();
  };
  const write = async () => {
    for (const [index, file] of files.entries()) {
      const path = `${ARCHIVE_ROOT}/${file.path}`;
      const text = replaced.get(file.path);
      if (text !== undefined) await inMemory(path, text, file.mode);
      else {
        try {
          await packFile(join(root, file.path), path, file, tar, onHashed && ((hash) => onHashed(index, hash)));
        } catch (error) {
          // A file gone or unreadable since the walk: the user's to fix, named.
          const fsError = typeof (error as NodeJS.ErrnoException).code === "string" && !(error instanceof DeployError);
          throw fsError ? unreadable(file.path, error) : error;
        }
      }
    }
    // A promised entry (the manifest) may wait on the files just packed: they go first.
    await tar.flush();
    for (const [path, content] of extra) await inMemory(`${ARCHIVE_ROOT}/${path}`, await (typeof content === "function" ? content() : content), 0o600);
    for (const [path, content] of beside) await inMemory(path, content, 0o600);
    // A tar archive ends with two empty 512-byte blocks.
    await tar.put(Buffer.alloc(1024));
    await tar.flush();
    await gzip.end();
  };
  write().catch((error: unknown) => gzip.output.destroy(error instanceof Error ? error : new Error(String(error))));
  return gzip.output;
}

/** One file from disk: its header, then its content read straight into the stream's buffers, hashed on the way. */
async function packFile(source: string, path: string, file: ShippedFile, tar: TarWriter, onHashed?: (hash: Buffer) => void): Promise<void> {
  const hash = onHashed && createHash("sha256");
  const mtime = new Date(file.mtimeMs);
  if (file.isLink) {
    const target = readlinkSync(source);
    hash?.update(`link:${target}`);
    await tar.entry(false);
    await tar.put(headerBlocks(path, file.mode, 0, mtime, target));
  } else {
    const fd = openSync(source, "r");
    try {
      await tar.entry(isCompressed(file.path));
      await tar.put(headerBlocks(path, file.mode, file.size, mtime));
      let position = 0;
      await tar.fill(file.size, (buffer, offset, length) => {
        const read = readSync(fd, buffer, offset, length, position);
        if (read === 0) throw Object.assign(new Error(`${file.path} is shorter than when it was listed`), { code: "EOF" });
        hash?.update(buffer.subarray(offset, offset + read));
        position += read;
        return read;
      });
    } finally {
      closeSync(fd);
    }
    await tar.pad();
  }
  if (hash && onHashed) onHashed(hash.digest());
}
