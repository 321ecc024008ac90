import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, mkdirSync, readFileSync, rmSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { type CacheRow, cachedHashes, digestFiles, FileHashes } from "../../../src/archive/digest.js";
import { InputError } from "../../../src/errors.js";
import { type ShippedFile, walkProject } from "../../../src/archive/walk.js";
import { formatManifest, fullUploadReason, manifestLine, type ManifestEntry, planUpload } from "../../../src/release/manifest.js";

const entry = (path: string, hash: string, mode = 0o644): ManifestEntry => ({ path, size: 1, mode, hash });

/** The server's own order: `LC_ALL=C sort`, run for real. */
const cSort = (lines: string[]): string =>
  execFileSync("sort", { input: lines.map((line) => `${line}\n`).join(""), env: { ...process.env, LC_ALL: "C" } }).toString("utf8");

describe("manifest", () => {
  it("writes one JSON line per file, paths with newlines and quotes included", () => {
    const entries = [entry("a b", "h1"), entry("it's\n\"x\".txt", "h2", 0o755)];
    const lines = formatManifest(entries).toString("utf8").trimEnd().split("\n");
    expect(lines.map((line) => JSON.parse(line))).toEqual([["a b", 1, 0o644, "h1"], ["it's\n\"x\".txt", 1, 0o755, "h2"]]);
  });

  it("sorts its lines as LC_ALL=C sort does: byte order, '\"' and '\\' escaped, U+E000 before an emoji although UTF-16 says otherwise", () => {
    const paths = ["b", "B", "a-b", "a/b", "a", "_", "a b", "a!", "a#", "a\"q", "a\\s", "a\tt", "a\u007f", "\u{1F600}.png", "\uE000.txt", "\u00E9.txt", "z.txt", "\u2028"];
    const entries = paths.map((path, i) => entry(path, `h${i}`));
    const lines = entries.map(manifestLine);
    // In UTF-16 the emoji's surrogate (D83D) sorts before E000; in UTF-8 (F0 9F…) after EE 80 80.
    expect([...lines].sort().join("\n")).not.toBe(cSort(lines).trimEnd());
    expect(formatManifest(entries).toString("utf8")).toBe(cSort(lines));
    expect(formatManifest([]).length).toBe(0);
  });

  it("sorts as LC_ALL=C sort on random paths", () => {
    const alphabet = ["a", "b", "/", ".", "-", " ", "!", "\"", "\\", "\t", "é", "\uFF08", "\uE000", "\uFFFF", "\u{1F600}", "_", "Z", "0"];
    let seed = 7;
    const next = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed;
    };
    for (let round = 0; round < 50; round++) {
      const paths = new Set<string>();
      while (paths.size < 30) paths.add(Array.from({ length: 1 + (next() % 5) }, () => alphabet[next() % alphabet.length]).join(""));
      const entries = [...paths].map((path) => entry(path, "h"));
      expect(formatManifest(entries).toString("utf8")).toBe(cSort(entries.map(manifestLine)));
    }
  });
});

describe("planUpload", () => {
  /** A plan against a live release whose manifest lists `live`, for the next files `next`. */
  const plan = (live: ManifestEntry[], next: ManifestEntry[]) =>
    planUpload({ manifest: formatManifest(next), paths: next.map((e) => e.path) }, { release: "R1", manifest: formatManifest(live) });
  const live = [entry("same", "1"), entry("edited", "1"), entry("chmod", "1"), entry("gone", "1")];
  const next = [entry("same", "1"), entry("edited", "2"), entry("chmod", "1", 0o755), entry("new", "1")];

  it("sends what is new or changed (content or mode) and lists what was deleted", () => {
    expect(plan(live, next)).toMatchObject({ base: "R1", send: ["chmod", "edited", "new"], deleted: ["gone"], unchanged: 1 });
    expect(plan(live, live)).toMatchObject({ base: "R1", send: [], deleted: [], unchanged: 4 });
    expect(plan([], next)).toMatchObject({ base: "R1", send: ["chmod", "edited", "new", "same"], deleted: [] });
    expect(plan(next, [])).toMatchObject({ base: "R1", send: [], deleted: ["chmod", "edited", "new", "same"] });
  });

  it("matches lines in one pass even where a path's line sorts among longer paths' ('a' after 'a b')", () => {
    const many = (hash: string) => ["a", "a b", "a!", "a.b", "a/b", "ab", "\u00e9", "z"].map((path) => entry(path, hash));
    const edited = many("1").map((e) => (e.path === "a" || e.path === "z" ? { ...e, hash: "2" } : e));
    expect(plan(many("1"), edited)).toMatchObject({ send: ["a", "z"], deleted: [], unchanged: 6 });
  });

  it("gives the reason of a full upload: a first deploy, no manifest, one that could not be read back, or --full", () => {
    expect(fullUploadReason({}, false)).toBe("first deploy");
    expect(fullUploadReason({ release: "R1" }, false)).toBe("the live release has no manifest");
    expect(fullUploadReason({ release: "R1", manifestHash: "h" }, false)).toBe("the live release's manifest could not be read back");
    expect(fullUploadReason({ release: "R1", manifestHash: "h" }, true)).toBe("--full");
  });

  it("sends everything when a file becomes a folder or a folder a file, which copying the changes alone cannot do", () => {
    const flat = [entry("a", "1"), entry("d/x", "1"), entry("d/e/y", "1")];
    const fileToFolder = [entry("a/b", "1"), entry("d/x", "1"), entry("d/e/y", "1")];
    const folderToFile = [entry("a", "1"), entry("d/x", "1"), entry("d/e", "2")];
    const siblings = [entry("a", "1"), entry("ab", "1"), entry("d/x", "1"), entry("d/e/y", "1"), entry("d/e2", "1")];
    expect(plan(flat, fileToFolder)).toMatchObject({ send: ["a/b", "d/x", "d/e/y"], fullBecause: "a/b was a folder or under a file in the live release" });
    expect(plan(flat, folderToFile).fullBecause).toBe("d/e was a folder or under a file in the live release");
    expect(plan(flat, siblings)).toMatchObject({ base: "R1", send: ["ab", "d/e2"] });
  });
});

/** Every entry of compact hashes, as objects. */
const listed = (hashes: FileHashes) => Array.from({ length: hashes.length }, (_, i) => hashes.at(i));

describe("digestFiles", () => {
  it("hashes content (link targets for symlinks), reuses the cache for unchanged files, and hashes rewritten files as shipped", async () => {
    const root = mkdtempSync(join(tmpdir(), "digest-"));
    mkdirSync(join(root, "src"));
    writeFileSync(join(root, "src/a.txt"), "hello\n");
    writeFileSync(join(root, "compose.yaml"), "image: x\n");
    symlinkSync("a.txt", join(root, "src/link"));
    const cache = join(root, "..", `${root.split("/").pop()}-cache.jsonl`);
    const tree = await walkProject(root, () => false);
    const replaced = new Map([["compose.yaml", "image: local\n"]]);
    const first = await digestFiles(root, tree.files, replaced, cache);
    expect(first.hashed).toBe(2);
    const byPath = new Map(listed(first.entries).map((e) => [e.path, e]));
    // sha256 of "hello\n", as `sha256sum` prints it.
    expect(byPath.get("src/a.txt")?.hash).toBe("5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03");
    expect(byPath.get("compose.yaml")?.size).toBe(13);
    expect(byPath.get("src/link")?.hash).not.toBe(byPath.get("src/a.txt")?.hash);
    // One line per file in the walk's order, the rewritten compose file left out.
    const rows = readFileSync(cache, "utf8").trimEnd().split("\n").map((line) => JSON.parse(line));
    expect(rows.map((row) => row[0])).toEqual(["src/a.txt", "src/link"]);
    expect(rows[0][4]).toBe(byPath.get("src/a.txt")?.hash);

    const again = await digestFiles(root, (await walkProject(root, () => false)).files, replaced, cache);
    expect(again.hashed).toBe(0);
    expect(listed(again.entries)).toEqual(listed(first.entries));

    writeFileSync(join(root, "src/a.txt"), "hello, world\n");
    utimesSync(join(root, "src/a.txt"), new Date(), new Date(Date.now() + 5000));
    const changed = await digestFiles(root, (await walkProject(root, () => false)).files, replaced, cache);
    expect(changed.hashed).toBe(1);
    expect(listed(changed.entries).find((e) => e.path === "src/a.txt")?.hash).not.toBe(byPath.get("src/a.txt")?.hash);

    // A damaged cache costs only re-reading: its sound lines still count.
    const link = readFileSync(cache, "utf8").split("\n")[1];
    writeFileSync(cache, `{"src/a.txt": [1, 2, 3, "x"]}\nnot json\n[1,2]\n${link}\n`);
    const damaged = await digestFiles(root, (await walkProject(root, () => false)).files, replaced, cache);
    expect(damaged.hashed).toBe(1);
    expect(listed(damaged.entries)).toEqual(listed(changed.entries));
  });
});

describe("cachedHashes", () => {
  const file = (path: string, size = 1): ShippedFile => ({ path, size, mode: 0o644, mtimeMs: 1000.5, isLink: false });
  const row = (f: ShippedFile, hash: string): CacheRow => [f.path, f.size, f.mtimeMs, f.mode, hash];
  /** A 64-digit hex hash made of one digit. */
  const h = (digit: string) => digit.repeat(64);
  async function* rows(list: CacheRow[]): AsyncGenerator<CacheRow> {
    yield* list;
  }
  const known = async (list: CacheRow[], files: ShippedFile[]) => {
    const hashes = new FileHashes(files, new Map());
    await cachedHashes(rows(list), files, hashes);
    return files.map((_, i) => (hashes.has(i) ? hashes.hex(i) : undefined));
  };

  it("matches rows and files in one pass in the walk's order, across added, removed and changed files", async () => {
    const files = [file("a/x"), file("a.b"), file("b/new"), file("c", 2), file("d/y")];
    const cached = [row(file("a/x"), h("1")), row(file("a.b"), h("2")), row(file("b/gone"), h("3")), row(file("c", 1), h("4")), row(file("d/y"), h("5"))];
    expect(await known(cached, files)).toEqual([h("1"), h("2"), undefined, undefined, h("5")]);
  });

  it("trusts no row for a file whose mode or mtime moved, nor a hash that is not one, and only misses on rows out of order", async () => {
    const files = [file("a"), file("b"), file("c"), file("d")];
    const moved = [row({ ...file("a"), mode: 0o755 }, h("1")), row({ ...file("b"), mtimeMs: 2 }, h("2")), row(file("c"), h("3")), row(file("d"), "not-a-hash")];
    expect(await known(moved, files)).toEqual([undefined, undefined, h("3"), undefined]);
    const shuffled = [row(file("c"), h("3")), row(file("a"), h("1")), row(file("b"), h("2"))];
    const found = await known(shuffled, files);
    expect(found.filter((hash, i) => hash !== undefined && hash !== [h("1"), h("2"), h("3")][i])).toEqual([]);
  });
});

describe("digestFiles on a file removed after the walk", () => {
  it("fails with an input error that names it (exit 2), not a bug report", async () => {
    const root = mkdtempSync(join(tmpdir(), "digest-"));
    writeFileSync(join(root, "gone.txt"), "soon gone\n");
    const files = (await walkProject(root, () => false)).files;
    rmSync(join(root, "gone.txt"));
    const failure = digestFiles(root, files, new Map(), join(root, "cache.json"));
    await expect(failure).rejects.toBeInstanceOf(InputError);
    await expect(failure).rejects.toThrow("cannot read gone.txt in the project (it was removed while deploy-vps ran)");
  });
});

describe("digestFiles stopped by its signal (the upload beside it failed)", () => {
  it("stops without writing its cache", async () => {
    const root = mkdtempSync(join(tmpdir(), "digest-"));
    writeFileSync(join(root, "a.txt"), "a\n");
    const files = (await walkProject(root, () => false)).files;
    const stop = new AbortController();
    stop.abort();
    await expect(digestFiles(root, files, new Map(), join(root, "cache.json"), stop.signal)).rejects.toThrow(/abort/i);
    expect(existsSync(join(root, "cache.json"))).toBe(false);
  });
});

describe("manifestDelta", () => {
  it("removes the old lines of what changed or went and adds the new ones: the server's rebuild equals the full manifest", async () => {
    const { DELTA_FILES, manifestDelta, manifestHash } = await import("../../../src/release/manifest.js");
    const live = [entry("keep", "1"), entry("edit", "1"), entry("gone", "1")];
    const next = [entry("keep", "1"), entry("edit", "2"), entry("new", "3")];
    const plan = planUpload({ manifest: formatManifest(next), paths: next.map((e) => e.path) }, { release: "R1", manifest: formatManifest(live) });
    const delta = manifestDelta(plan);
    const remove = delta.get(DELTA_FILES.remove) ?? "";
    const add = delta.get(DELTA_FILES.add) ?? "";
    // What the server does: grep -vxF -f remove live; cat add; LC_ALL=C sort.
    const removed = new Set(remove.split("\n").filter(Boolean));
    const rebuilt = cSort([...formatManifest(live).toString("utf8").split("\n").filter((l) => l && !removed.has(l)), ...add.split("\n").filter(Boolean)]);
    expect(rebuilt).toBe(formatManifest(next).toString("utf8"));
    expect(manifestHash(rebuilt)).toBe(manifestHash(formatManifest(next)));
    expect(remove.split("\n").filter(Boolean)).toHaveLength(2);
    // The switch touches only these in the app folder, NUL-separated so any name survives.
    expect(delta.get(DELTA_FILES.changed)).toBe("edit\0new\0");
    expect(delta.get(DELTA_FILES.add)).toBe(`${manifestLine(next[1] as ManifestEntry)}\n${manifestLine(next[2] as ManifestEntry)}\n`);
    expect(delta.get(DELTA_FILES.deleted)).toBe("gone\0");
  });
});
