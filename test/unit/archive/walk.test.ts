import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { excludeRule, type IsExcluded } from "../../../src/archive/exclude.js";
import { unreadable, walkOrder, walkProject } from "../../../src/archive/walk.js";

let root: string;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), "deploy-vps-walk-"));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

async function put(path: string, content: string): Promise<void> {
  await mkdir(dirname(join(root, path)), { recursive: true });
  await writeFile(join(root, path), content);
}

/** The default rule, recording every question the walk asks it. */
function spiedRule(patterns: string[] = []): { isExcluded: IsExcluded; asked: string[] } {
  const rule = excludeRule({ patterns, envTemplate: ".env.example" });
  const asked: string[] = [];
  return {
    asked,
    isExcluded: (path, isDirectory) => {
      asked.push(`${path}${isDirectory ? "/" : ""}`);
      return rule(path, isDirectory);
    },
  };
}

async function buildProject(): Promise<void> {
  await put("compose.yaml", "services: {}\n"); // 13 bytes
  await put(".env", "SECRET=x\n"); // 9 bytes
  await put(".env.example", "SECRET=\n"); // 8 bytes
  await put("B.txt", "B"); // 1 byte
  await put("a.txt", "héllo"); // 6 bytes: é is two
  await put("a/x.txt", "xx"); // 2 bytes
  await put("apps/web/index.html", "<p>"); // 3 bytes
  await put("apps/web/.env.production", "K=vvvv\n"); // 7 bytes
  await put("apps/web/node_modules/react/index.js", "module.exports = {};\n");
  await put("node_modules/pkg/index.js", "x".repeat(5000));
  await put("node_modules/.bin/tool", "#!/bin/sh\n");
  await put("build/out.js", "built");
  await put("src/build/out.js", "src build"); // 9 bytes
  await put("src/index.ts", "export {};\n"); // 11 bytes
  await mkdir(join(root, "empty"));
  await symlink("compose.yaml", join(root, "link")); // size = length of the target: 12
  await symlink("src", join(root, "dirlink")); // size 3, not followed
  execFileSync("mkfifo", [join(root, "fifo")]);
  execFileSync("mkfifo", [join(root, "node_modules", "pipe")]);
}

describe("walkProject", () => {
  it("lists shipped files depth first in sorted order, with sizes", async () => {
    await buildProject();
    const { isExcluded } = spiedRule();
    const tree = await walkProject(root, isExcluded);
    expect(tree.files.map(({ path, size }) => ({ path, size }))).toEqual([
      { path: ".env.example", size: 8 },
      { path: "B.txt", size: 1 },
      { path: "a/x.txt", size: 2 },
      { path: "a.txt", size: 6 },
      { path: "apps/web/index.html", size: 3 },
      { path: "compose.yaml", size: 13 },
      { path: "dirlink", size: 3 },
      { path: "link", size: 12 },
      { path: "src/build/out.js", size: 9 },
      { path: "src/index.ts", size: 11 },
    ]);
    expect(tree.bytes).toBe(8 + 1 + 2 + 6 + 3 + 13 + 3 + 12 + 9 + 11);
  });

  it("counts skipped files with their bytes and names skipped folders", async () => {
    await buildProject();
    const tree = await walkProject(root, spiedRule().isExcluded);
    expect(tree.skipped).toEqual({
      folders: ["apps/web/node_modules", "build", "node_modules"],
      files: 2,
      bytes: 9 + 7,
    });
  });

  it("never enters an excluded folder", async () => {
    await buildProject();
    const { isExcluded, asked } = spiedRule();
    const tree = await walkProject(root, isExcluded);
    expect(asked.filter((p) => /(^|\/)(node_modules|build)\//.test(p) && !p.startsWith("src/"))).toEqual([
      "apps/web/node_modules/",
      "build/",
      "node_modules/",
    ]);
    expect(tree.files.some((f) => f.path.includes("node_modules") || f.path.startsWith("build/"))).toBe(
      false,
    );
  });

  it("asks about every entry once, folders as folders, and skips fifos without asking", async () => {
    await buildProject();
    const { isExcluded, asked } = spiedRule();
    await walkProject(root, isExcluded);
    expect(asked).toEqual([
      ".env",
      ".env.example",
      "B.txt",
      "a/",
      "a/x.txt",
      "a.txt",
      "apps/",
      "apps/web/",
      "apps/web/.env.production",
      "apps/web/index.html",
      "apps/web/node_modules/",
      "build/",
      "compose.yaml",
      "dirlink",
      "empty/",
      "link",
      "node_modules/",
      "src/",
      "src/build/",
      "src/build/out.js",
      "src/index.ts",
    ]);
  });

  it("applies user patterns, counting excluded files", async () => {
    await put("app.log", "12345");
    await put("logs/deep/b.log", "123");
    await put("keep.log", "k");
    await put("main.ts", "m");
    await put("infrastructure/repos/big.git", "x".repeat(100));
    const tree = await walkProject(
      root,
      spiedRule(["*.log", "!keep.log", "infrastructure/repos"]).isExcluded,
    );
    expect(tree.files.map(({ path, size }) => ({ path, size }))).toEqual([
      { path: "keep.log", size: 1 },
      { path: "main.ts", size: 1 },
    ]);
    expect(tree.bytes).toBe(2);
    expect(tree.skipped).toEqual({ folders: ["infrastructure/repos"], files: 2, bytes: 8 });
  });

  it("gives an empty tree for an empty folder", async () => {
    const tree = await walkProject(root, spiedRule().isExcluded);
    expect(tree).toEqual({ files: [], bytes: 0, skipped: { folders: [], files: 0, bytes: 0 } });
  });

  it("rejects a missing root", async () => {
    await expect(walkProject(join(root, "missing"), spiedRule().isExcluded)).rejects.toMatchObject({
      code: "ENOENT",
    });
  });
});

describe("walkOrder", () => {
  it("orders whole paths as the walk lists them, which plain string order does not", async () => {
    for (const path of ["a/x", "a/y/z", "a.b", "a-c/d", "ab", "B", "é/f", "z"]) await put(path, "x");
    const listed = (await walkProject(root, () => false)).files.map((file) => file.path);
    expect(listed).toEqual(["B", "a/x", "a/y/z", "a-c/d", "a.b", "ab", "z", "é/f"]);
    expect(listed.slice().sort(walkOrder)).toEqual(listed);
    expect(listed.slice().sort()).not.toEqual(listed);
  });
});

describe("unreadable", () => {
  it("says why a file could not be shipped, and what to do, in one line with exit 2", () => {
    const denied = unreadable("a.txt", Object.assign(new Error("EACCES: permission denied"), { code: "EACCES" }));
    expect([denied.exitCode, denied.message]).toEqual([
      2,
      "cannot read a.txt in the project (permission denied): fix its permissions, or exclude it in .deployignore.",
    ]);
    // node-tar's error when a file grows or shrinks while packed: `deploy-vps > out.txt` in the project.
    const growing = unreadable("out.txt", Object.assign(new Error("did not encounter expected EOF"), { code: "EOF" }));
    expect(growing.message).toBe(
      "cannot read out.txt in the project (it changed size while deploy-vps read it: an output or log file?): exclude it in .deployignore, or keep it still during a deploy.",
    );
  });
});
