import { existsSync, mkdtempSync, mkdirSync, readFileSync, rmSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { digestFiles } from "../../../src/archive/digest.js";
import { InputError } from "../../../src/errors.js";
import { walkProject } from "../../../src/archive/walk.js";
import { formatManifest, type ManifestEntry, parseManifest, planUpload, sortLines } from "../../../src/release/manifest.js";

const entry = (path: string, hash: string, mode = 0o644): ManifestEntry => ({ path, size: 1, mode, hash });

describe("manifest", () => {
  it("round-trips through its text form, paths with newlines and quotes included", () => {
    const entries = [entry("a b", "h1"), entry("it's\n\"x\".txt", "h2", 0o755)];
    expect([...(parseManifest(formatManifest(entries)) ?? new Map()).values()]).toEqual(entries);
  });

  it("sorts lines in byte order, as LC_ALL=C sort does: ASCII by code, and U+E000 before an emoji although UTF-16 says otherwise", () => {
    const ascii = ["b", "B", "a-b", "a/b", "a", "_"];
    expect(sortLines(ascii)).toEqual(["B", "_", "a", "a-b", "a/b", "b"]);
    const wide = ["\u{1F600}.png", "\uE000.txt", "\u00E9.txt", "z.txt"];
    // In UTF-16 the emoji's surrogate (D83D) sorts before E000; in UTF-8 (F0 9F…) after EE 80 80.
    expect([...wide].sort()).toEqual(["z.txt", "\u00E9.txt", "\u{1F600}.png", "\uE000.txt"]);
    expect(sortLines(wide)).toEqual(["z.txt", "\u00E9.txt", "\uE000.txt", "\u{1F600}.png"]);
    expect(sortLines(wide)).toEqual([...wide].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))));
  });

  it("is undefined for text that is not a manifest", () => {
    expect(parseManifest("not json\n")).toBeUndefined();
    expect(parseManifest("[1,2,3,4]\n")).toBeUndefined();
  });
});

describe("planUpload", () => {
  const live = new Map([entry("same", "1"), entry("edited", "1"), entry("chmod", "1"), entry("gone", "1")].map((e) => [e.path, e]));
  const next = [entry("same", "1"), entry("edited", "2"), entry("chmod", "1", 0o755), entry("new", "1")];

  it("sends what is new or changed (content or mode) and lists what was deleted", () => {
    expect(planUpload(next, { release: "R1", manifest: live }, false)).toEqual({
      base: "R1",
      send: ["edited", "chmod", "new"],
      deleted: ["gone"],
      unchanged: 1,
    });
  });

  it("sends everything on a first deploy, without a manifest, or with --full", () => {
    const all = ["same", "edited", "chmod", "new"];
    expect(planUpload(next, {}, false)).toEqual({ send: all, deleted: [], unchanged: 0, fullBecause: "first deploy" });
    expect(planUpload(next, { release: "R1" }, false).fullBecause).toBe("the live release has no manifest");
    expect(planUpload(next, { release: "R1", manifest: live }, true).fullBecause).toBe("--full");
  });

  it("sends everything when a file becomes a folder or a folder a file, which copying the changes alone cannot do", () => {
    const flat = new Map([entry("a", "1"), entry("d/x", "1"), entry("d/e/y", "1")].map((e) => [e.path, e]));
    const fileToFolder = [entry("a/b", "1"), entry("d/x", "1"), entry("d/e/y", "1")];
    const folderToFile = [entry("a", "1"), entry("d/x", "1"), entry("d/e", "2")];
    const siblings = [entry("a", "1"), entry("ab", "1"), entry("d/x", "1"), entry("d/e/y", "1"), entry("d/e2", "1")];
    expect(planUpload(fileToFolder, { release: "R1", manifest: flat }, false).fullBecause).toBe("a/b was a folder or under a file in the live release");
    expect(planUpload(folderToFile, { release: "R1", manifest: flat }, false).fullBecause).toBe("d/e was a folder or under a file in the live release");
    expect(planUpload(siblings, { release: "R1", manifest: flat }, false)).toMatchObject({ base: "R1", send: ["ab", "d/e2"] });
  });
});

describe("digestFiles", () => {
  it("hashes content (link targets for symlinks), reuses the cache for unchanged files, and hashes rewritten files as shipped", async () => {
    const root = mkdtempSync(join(tmpdir(), "digest-"));
    mkdirSync(join(root, "src"));
    writeFileSync(join(root, "src/a.txt"), "hello\n");
    writeFileSync(join(root, "compose.yaml"), "image: x\n");
    symlinkSync("a.txt", join(root, "src/link"));
    const cache = join(root, "..", `${root.split("/").pop()}-cache.json`);
    const tree = await walkProject(root, () => false);
    const replaced = new Map([["compose.yaml", "image: local\n"]]);
    const first = await digestFiles(root, tree.files, replaced, cache);
    expect(first.hashed).toBe(2);
    const byPath = new Map(first.entries.map((e) => [e.path, e]));
    // sha256 of "hello\n", as `sha256sum` prints it.
    expect(byPath.get("src/a.txt")?.hash).toBe("5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03");
    expect(byPath.get("compose.yaml")?.size).toBe(13);
    expect(byPath.get("src/link")?.hash).not.toBe(byPath.get("src/a.txt")?.hash);
    expect(JSON.parse(readFileSync(cache, "utf8"))["src/a.txt"][3]).toBe(byPath.get("src/a.txt")?.hash);

    const again = await digestFiles(root, (await walkProject(root, () => false)).files, replaced, cache);
    expect(again.hashed).toBe(0);
    expect(again.entries).toEqual(first.entries);

    writeFileSync(join(root, "src/a.txt"), "hello, world\n");
    utimesSync(join(root, "src/a.txt"), new Date(), new Date(Date.now() + 5000));
    const changed = await digestFiles(root, (await walkProject(root, () => false)).files, replaced, cache);
    expect(changed.hashed).toBe(1);
    expect(changed.entries.find((e) => e.path === "src/a.txt")?.hash).not.toBe(byPath.get("src/a.txt")?.hash);
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
    const { DELTA_FILES, manifestDelta, sortLines, manifestHash } = await import("../../../src/release/manifest.js");
    const live = [entry("keep", "1"), entry("edit", "1"), entry("gone", "1")];
    const next = [entry("keep", "1"), entry("edit", "2"), entry("new", "3")];
    const previous = new Map(live.map((e) => [e.path, e]));
    const plan = planUpload(next, { release: "R1", manifest: previous }, false);
    const delta = manifestDelta(plan, previous, next);
    const remove = delta.get(DELTA_FILES.remove) ?? "";
    const add = delta.get(DELTA_FILES.add) ?? "";
    // What the server does: grep -vxF -f remove live; cat add; LC_ALL=C sort.
    const removed = new Set(remove.split("\n").filter(Boolean));
    const rebuilt = `${sortLines([...formatManifest(live).split("\n").filter((l) => l && !removed.has(l)), ...add.split("\n").filter(Boolean)]).join("\n")}\n`;
    expect(rebuilt).toBe(formatManifest(next));
    expect(manifestHash(rebuilt)).toBe(manifestHash(formatManifest(next)));
    expect(remove.split("\n").filter(Boolean)).toHaveLength(2);
    // The switch touches only these in the app folder, NUL-separated so any name survives.
    expect(delta.get(DELTA_FILES.changed)).toBe("edit\0new\0");
    expect(delta.get(DELTA_FILES.deleted)).toBe("gone\0");
  });
});
