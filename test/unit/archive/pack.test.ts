import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { Parser } from "tar";
import { afterAll, describe, expect, it } from "vitest";
import { isCompressed, LEVELS, levelFor, packRelease } from "../../../src/archive/pack.js";
import { walkProject } from "../../../src/archive/walk.js";

let wire = () => 0;

const scratch = mkdtempSync(join(tmpdir(), "deploy-vps-pack-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
let folders = 0;
/** A fresh project folder, removed with the others after the tests. */
function projectFolder(): string {
  const root = join(scratch, String(++folders));
  mkdirSync(root);
  return root;
}

/**
 * A link that lags: it takes only what lies beyond the newest LAG bytes, so the packer always
 * sees at least LAG bytes waiting, whatever the machine's speed; the rest once the stream ends.
 */
function lagging(stream: Readable, lag: number): Readable {
  const chunks: Buffer[] = [];
  return Readable.from(
    (async function* () {
      const done = new Promise<void>((resolve, reject) => {
        stream.on("end", resolve);
        stream.on("error", reject);
      });
      stream.on("readable", () => {
        // The packer has written its last byte (its output is a PassThrough): take all that is left.
        const all = "writableEnded" in stream && stream.writableEnded === true;
        const take = all ? stream.readableLength : stream.readableLength - lag;
        const chunk = take > 0 ? (stream.read(take) as Buffer | null) : null;
        if (chunk) chunks.push(chunk);
        // Nothing taken: read(0) asks for the next 'readable' all the same.
        else stream.read(0);
      });
      await done;
      yield* chunks;
    })(),
  );
}

/** Every entry's path and content, read back from the gzip stream. */
async function unpack(stream: NodeJS.ReadableStream): Promise<Map<string, Buffer>> {
  const chunks: Buffer[] = [];
  stream.on("data", (chunk: Buffer) => chunks.push(chunk));
  wire = () => Buffer.concat(chunks).length;
  const entries = new Map<string, Buffer>();
  const parser = new Parser();
  parser.on("entry", (entry) => {
    const chunks: Buffer[] = [];
    entry.on("data", (chunk: Buffer) => chunks.push(chunk));
    // A link has no content: its target stands for it.
    entry.on("end", () => entries.set(entry.path, entry.type === "SymbolicLink" ? Buffer.from(`-> ${entry.linkpath}`) : Buffer.concat(chunks)));
  });
  await new Promise<void>((resolve, reject) => {
    parser.on("end", resolve);
    stream.on("error", reject);
    stream.pipe(parser);
  });
  return entries;
}

describe("packRelease", () => {
  it("stores already-compressed files, deflates the rest, and the content survives the switches", async () => {
    const root = projectFolder();
    const picture = randomBytes(256 * 1024);
    const text = "export const answer = 42;\n".repeat(40_000);
    // Named like a picture but compressible: stored, it costs its full size; deflated, a sliver.
    const fake = Buffer.from("not really a picture\n".repeat(50_000));
    writeFileSync(join(root, "a.ts"), text);
    writeFileSync(join(root, "b.WEBP"), picture);
    writeFileSync(join(root, "c.png"), fake);
    writeFileSync(join(root, "d.ts"), text);
    const tree = await walkProject(root, () => false);
    const entries = await unpack(packRelease(root, tree.files, {}));
    expect(entries.get("files/a.ts")?.toString()).toBe(text);
    expect(entries.get("files/b.WEBP")?.equals(picture)).toBe(true);
    expect(entries.get("files/c.png")?.equals(fake)).toBe(true);
    expect(entries.get("files/d.ts")?.toString()).toBe(text);
    expect(wire()).toBeGreaterThan(picture.length + fake.length);
    expect(wire()).toBeLessThan(picture.length + fake.length + 40_000);
  });

  it("deflates harder when the link lags: a stream read behind a backlog comes out smaller, intact", async () => {
    const root = projectFolder();
    const noise = randomBytes(3 * 1024 * 1024);
    // Words in random order, like source code: level 6 saves about a tenth over level 1.
    const words = ["const", "export", "function", "return", "await", "import", "props", "state", "value", "index"];
    const random = randomBytes(600_000);
    const text = [...random].map((b, i) => `${words[b % words.length]}${i % 97}${i % 13 === 0 ? "\n" : " "}`).join("");
    writeFileSync(join(root, "a.bin"), noise);
    writeFileSync(join(root, "b.ts"), text);
    const tree = await walkProject(root, () => false);
    // Read as it comes: nothing ever waits, so every batch goes at the fast level.
    const prompt = await unpack(packRelease(root, tree.files, {}));
    const promptBytes = wire();
    // Read 768 kB behind: past the noise, every batch of the text finds more than half the
    // 1 MB backlog waiting and goes at the small level.
    const late = await unpack(lagging(packRelease(root, tree.files, {}), 768 * 1024));
    expect(late.get("files/a.bin")?.equals(noise)).toBe(true);
    expect(late.get("files/b.ts")?.toString()).toBe(text);
    expect(prompt.get("files/b.ts")?.toString()).toBe(text);
    expect(wire()).toBeLessThan(promptBytes - 50_000);
  });

  it("picks the small level when the link lags, the fast one when it waits, and holds in between", () => {
    expect(levelFor(0, LEVELS.small)).toBe(LEVELS.fast);
    expect(levelFor(600 * 1024, LEVELS.fast)).toBe(LEVELS.small);
    expect(levelFor(100 * 1024, LEVELS.fast)).toBe(LEVELS.fast);
    expect(levelFor(100 * 1024, LEVELS.small)).toBe(LEVELS.small);
  });

  it("knows the compressed formats by extension, whatever the case", () => {
    expect(["x.png", "y.JPG", "font.woff2", "a.tar.gz", "v.mp4"].every(isCompressed)).toBe(true);
    expect(["x.ts", "y.svg", "Dockerfile", "a.tar", "data.json"].some(isCompressed)).toBe(false);
  });

  it("finishes with many in-memory entries queued behind files on disk (node-tar counted them as running jobs and hung)", async () => {
    const root = projectFolder();
    for (const name of ["a.txt", "b.txt", "compose.yaml", "compose.override.yaml"]) writeFileSync(join(root, name), `${name} on disk\n`);
    const tree = await walkProject(root, () => false);
    const replaced = new Map([
      ["compose.yaml", "rewritten\n"],
      ["compose.override.yaml", "rewritten too\n"],
    ]);
    const extra = new Map(["one", "two", "three", "four", "five"].map((name) => [name, `${name}\0`]));
    const entries = await unpack(packRelease(root, tree.files, { replaced, extra, beside: new Map([["env", "KEY=value\n"]]) }));
    expect(entries.get("files/a.txt")?.toString()).toBe("a.txt on disk\n");
    expect(entries.get("files/compose.yaml")?.toString()).toBe("rewritten\n");
    expect(entries.get("files/five")?.toString()).toBe("five\0");
    expect(entries.get("env")?.toString()).toBe("KEY=value\n");
    expect(entries.size).toBe(10);
  });

  it("waits for a promised entry (the manifest, hashed while the files go) and packs it after the files", async () => {
    const root = projectFolder();
    writeFileSync(join(root, "a.txt"), "a\n");
    const tree = await walkProject(root, () => false);
    let packedBeforeManifest = 0;
    let fulfil: (text: string) => void = () => undefined;
    const manifest = new Promise<string>((resolve) => {
      fulfil = resolve;
    });
    let filePacked: () => void = () => undefined;
    const fileGone = new Promise<void>((resolve) => {
      filePacked = resolve;
    });
    // The file's header and its content padded to a block, handed to gzip: all that may go before the manifest.
    const stream = packRelease(root, tree.files, { extra: new Map([["manifest", manifest]]) }, (bytes) => {
      packedBeforeManifest = bytes;
      if (bytes >= 512 + 512) filePacked();
    });
    let settled = false;
    const unpacked = unpack(stream).finally(() => {
      settled = true;
    });
    await fileGone;
    expect(packedBeforeManifest).toBe(512 + 512);
    // The stream is still open, waiting for the manifest.
    expect(settled).toBe(false);
    fulfil("the manifest\n");
    const entries = await unpacked;
    expect([...entries.keys()]).toEqual(["files/a.txt", "files/manifest"]);
    expect(entries.get("files/manifest")?.toString()).toBe("the manifest\n");
  });

  it("fails the stream when a promised entry never comes (hashing failed): no archive without its manifest", async () => {
    const root = projectFolder();
    writeFileSync(join(root, "a.txt"), "a\n");
    const tree = await walkProject(root, () => false);
    const failed = Promise.reject(new Error("EACCES: permission denied, open 'secret.bin'"));
    await expect(unpack(packRelease(root, tree.files, { extra: new Map([["manifest", failed]]) }))).rejects.toThrow(/EACCES/);
  });

  it("hashes each file as it is read (sha256 of its bytes, or of its link's target): a full upload reads every file once", async () => {
    const root = projectFolder();
    const big = randomBytes(700 * 1024);
    const deep = `${"a-long-folder-name/".repeat(8)}file.txt`;
    mkdirSync(join(root, deep, ".."), { recursive: true });
    writeFileSync(join(root, "big.bin"), big);
    writeFileSync(join(root, deep), "deep\n");
    writeFileSync(join(root, "empty"), "");
    symlinkSync("big.bin", join(root, "link"));
    const tree = await walkProject(root, () => false);
    const hashes = new Map<string, string>();
    const entries = await unpack(
      packRelease(root, tree.files, {}, undefined, (index, hash) => hashes.set(tree.files[index]?.path ?? "", hash.toString("hex"))),
    );
    const sha = (content: string | Buffer) => createHash("sha256").update(content).digest("hex");
    expect(Object.fromEntries(hashes)).toEqual({
      [deep]: sha("deep\n"),
      "big.bin": sha(big),
      empty: sha(""),
      link: sha("link:big.bin"),
    });
    // Past ustar's 100 characters, the path travels in a pax header.
    expect(entries.get(`files/${deep}`)?.toString()).toBe("deep\n");
    expect(entries.get("files/big.bin")?.equals(big)).toBe(true);
    expect(entries.get("files/empty")?.length).toBe(0);
    expect(entries.get("files/link")?.toString()).toBe("-> big.bin");
  });

  it("names a file removed after the walk: a one-line input error, not a cut stream", async () => {
    const root = projectFolder();
    writeFileSync(join(root, "a.txt"), "a\n");
    writeFileSync(join(root, "gone.txt"), "soon gone\n");
    const tree = await walkProject(root, () => false);
    rmSync(join(root, "gone.txt"));
    await expect(unpack(packRelease(root, tree.files, {}))).rejects.toThrow(
      "cannot read gone.txt in the project (it was removed while deploy-vps ran)",
    );
  });

  it("names a file that shrank after the walk rather than sending a short entry", async () => {
    const root = projectFolder();
    writeFileSync(join(root, "log.txt"), "x".repeat(10_000));
    const tree = await walkProject(root, () => false);
    writeFileSync(join(root, "log.txt"), "x");
    await expect(unpack(packRelease(root, tree.files, {}))).rejects.toThrow(
      "cannot read log.txt in the project (it changed size while deploy-vps read it: an output or log file?)",
    );
  });
});
