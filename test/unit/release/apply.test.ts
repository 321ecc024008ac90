import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { KEPT_BACKUPS, makeLiveScript, switchScript, syncReleaseScript } from "../../../src/release/apply.js";
import { type ServerLayout, serverLayout } from "../../../src/release/layout.js";
import { sh } from "../../../src/ssh/quote.js";
import { runRemoteCommand } from "../remote/run.js";

const scratch = mkdtempSync(join(tmpdir(), "deploy-vps-apply-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
let apps = 0;

type Tree = Record<string, string>;

function write(root: string, tree: Tree): void {
  for (const [path, text] of Object.entries(tree)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
}

/** Every file under `root` with its content (folders only through their files). */
function read(root: string): Tree {
  const tree: Tree = {};
  const walk = (dir: string, prefix: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = `${prefix}${entry.name}`;
      if (entry.isDirectory()) walk(join(dir, entry.name), `${path}/`);
      else tree[path] = readFileSync(join(dir, entry.name), "utf8");
    }
  };
  walk(root, "");
  return tree;
}

/** A new app folder's layout, with release `live` (its files) live in it when given. */
function app(live?: { id: string; files: Tree; extra?: Tree }): ServerLayout {
  const layout = serverLayout(join(scratch, `apps${++apps}`, "my app"));
  if (live) {
    write(join(layout.releases, live.id), live.files);
    write(layout.app, { ...live.files, ...live.extra });
    write(layout.state, { current: `${live.id}\n` });
  }
  return layout;
}

/** What an upload leaves in staging: the files, the manifest, the .env and, for a redeploy, the change lists. */
function stage(layout: ServerLayout, files: Tree, options: { changed?: string[]; deleted?: string[]; fresh?: boolean } = {}): void {
  write(layout.stagedFiles, files);
  write(layout.staging, { manifest: "the manifest\n", env: "SECRET=new\n" });
  if (options.fresh) write(layout.freshApp, files);
  if (options.changed) writeFileSync(layout.stagedChanged, options.changed.map((p) => `./${p}\0`).join(""));
  if (options.deleted) writeFileSync(layout.stagedDeleted, options.deleted.map((p) => `./${p}\0`).join(""));
}

function runSwitch(layout: ServerLayout, id: string) {
  return runRemoteCommand(switchScript(layout, id, "shop", JSON.stringify({ id })), { cwd: scratch });
}

describe("switch.sh", () => {
  it("moves a first deploy's fresh copy in as the app folder, and records the release", () => {
    const layout = app();
    stage(layout, { "compose.yaml": "services: {}\n", "src/a.txt": "a" }, { fresh: true });
    const fresh = statSync(layout.freshApp).ino;
    const run = runSwitch(layout, "r1");
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(statSync(layout.app).ino).toBe(fresh);
    expect(read(layout.app)).toEqual({ "compose.yaml": "services: {}\n", "src/a.txt": "a", ".env": "SECRET=new\n" });
    expect(statSync(join(layout.app, ".env")).mode & 0o777).toBe(0o600);
    expect(read(join(layout.releases, "r1"))).toEqual({ "compose.yaml": "services: {}\n", "src/a.txt": "a" });
    expect(readFileSync(layout.current, "utf8")).toBe("r1\n");
    expect(readFileSync(layout.project, "utf8")).toBe("shop\n");
    expect(read(layout.meta)).toEqual({ "r1.json": '{"id":"r1"}\n', "r1.manifest": "the manifest\n" });
    expect(existsSync(layout.staging)).toBe(false);
    expect(existsSync(layout.switching)).toBe(false);
  });

  it("copies a full upload over the live release: what it no longer ships goes, .env is backed up, data stays", () => {
    const layout = app({ id: "r1", files: { "old.txt": "old", "keep.txt": "v1", "x/inner": "folder" }, extra: { "data/db": "rows", ".env": "SECRET=old\n" } });
    stage(layout, { "keep.txt": "v2", "new.txt": "new", x: "now a file" });
    expect(runSwitch(layout, "r2").code).toBe(0);
    expect(read(layout.app)).toEqual({ "keep.txt": "v2", "new.txt": "new", x: "now a file", "data/db": "rows", ".env": "SECRET=new\n" });
    expect(readFileSync(join(layout.envBackups, "r2.env"), "utf8")).toBe("SECRET=old\n");
    expect(statSync(join(layout.envBackups, "r2.env")).mode & 0o777).toBe(0o600);
    expect(readFileSync(layout.current, "utf8")).toBe("r2\n");
  });

  it("writes only what an incremental upload changed, deletes what it deleted, and restores a lost file", () => {
    const files = { "a.txt": "a1", "b.txt": "b1", "gone.txt": "g", "lost.txt": "l" };
    const layout = app({ id: "r1", files });
    rmSync(join(layout.app, "lost.txt"));
    // b.txt differs in staging only to show it is not copied: it is not in the change list.
    stage(layout, { "a.txt": "a2", "b.txt": "staged b", "lost.txt": "l" }, { changed: ["a.txt"], deleted: ["gone.txt"] });
    expect(runSwitch(layout, "r2").code).toBe(0);
    expect(read(layout.app)).toEqual({ "a.txt": "a2", "b.txt": "b1", "lost.txt": "l", ".env": "SECRET=new\n" });
  });

  it("copies the whole release after a switch that stopped half-way, whatever the upload changed", () => {
    const layout = app({ id: "r1", files: { "a.txt": "a1", "b.txt": "b1" } });
    writeFileSync(layout.switching, "");
    stage(layout, { "a.txt": "a2", "b.txt": "b2" }, { changed: ["a.txt"], deleted: [] });
    expect(runSwitch(layout, "r2").code).toBe(0);
    expect(read(layout.app)).toEqual({ "a.txt": "a2", "b.txt": "b2", ".env": "SECRET=new\n" });
    expect(existsSync(layout.switching)).toBe(false);
  });

  it("leaves the switching marker when the copy fails, and the live release unchanged", () => {
    const layout = app({ id: "r1", files: { "a.txt": "a1" } });
    stage(layout, { "a.txt": "a2" }, { changed: ["a.txt", "missing.txt"], deleted: [] });
    const run = runSwitch(layout, "r2");
    expect(run.code).not.toBe(0);
    expect(existsSync(layout.switching)).toBe(true);
    expect(readFileSync(layout.current, "utf8")).toBe("r1\n");
  });

  it(`keeps the newest ${KEPT_BACKUPS} releases besides the live one, with their metadata, and ${KEPT_BACKUPS * 2} .env backups`, () => {
    const ids = Array.from({ length: 8 }, (_, i) => `r0${i + 1}`);
    const layout = app({ id: "r07", files: { "a.txt": "a" }, extra: { ".env": "old\n" } });
    for (const id of ids.slice(0, 7)) write(layout.state, { [`releases/${id}/a.txt`]: "a", [`meta/${id}.json`]: "{}", [`meta/${id}.manifest`]: "" });
    for (let i = 0; i < 12; i++) write(layout.envBackups, { [`e${String(i).padStart(2, "0")}.env`]: "x" });
    stage(layout, { "a.txt": "b" });
    expect(runSwitch(layout, "r08").code).toBe(0);
    expect(readdirSync(layout.releases).sort()).toEqual(ids.slice(2));
    expect(readdirSync(layout.meta).filter((f) => f.endsWith(".json")).sort()).toEqual(ids.slice(2).map((id) => `${id}.json`));
    expect(readdirSync(layout.envBackups)).toHaveLength(KEPT_BACKUPS * 2);
    expect(readdirSync(layout.envBackups)).toContain("r08.env");
  });
});

describe("sync-release.sh and make-live.sh: a rollback's restore", () => {
  it("puts a kept release's files back, .env and data untouched, and makes it live", () => {
    const layout = app({ id: "r2", files: { "new.txt": "n", "x/inner": "folder", "same.txt": "2" }, extra: { ".env": "SECRET=kept\n", "data/db": "rows" } });
    write(join(layout.releases, "r1"), { "old.txt": "o", x: "a file", "same.txt": "1", l: "a file now" });
    // A link the live release shipped where the restored one has a file: not written through.
    symlinkSync("new.txt", join(layout.releases, "r2", "l"));
    symlinkSync("new.txt", join(layout.app, "l"));
    const release = `${layout.releases}/r1`;
    const run = runRemoteCommand(sh`umask 022 && ${syncReleaseScript(layout, release)} && umask 077 && ${makeLiveScript(layout, "r1")}`, { cwd: scratch });
    expect(run.stderr).toBe("");
    expect(read(layout.app)).toEqual({ "old.txt": "o", x: "a file", "same.txt": "1", l: "a file now", ".env": "SECRET=kept\n", "data/db": "rows" });
    expect(lstatSync(join(layout.app, "l")).isSymbolicLink()).toBe(false);
    expect(readFileSync(layout.current, "utf8")).toBe("r1\n");
    expect(existsSync(`${layout.current}.new`)).toBe(false);
  });
});
