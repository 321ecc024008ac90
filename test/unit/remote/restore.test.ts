import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { restoreScript } from "../../../src/deploy/rollback.js";
import { layoutEnv, type ServerLayout, serverLayout } from "../../../src/release/layout.js";
import { sh } from "../../../src/ssh/quote.js";
import { runRemoteCommand, runRemoteScript } from "./run.js";

const root = mkdtempSync(join(tmpdir(), "remote-restore-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const OLD = "20261130T080000000Z";
const LIVE = "20261130T090000000Z";

function write(path: string, text: string) {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
}

function tree(folder: string, files: Record<string, string>) {
  for (const [name, text] of Object.entries(files)) write(join(folder, name), text);
}

let layout: ServerLayout;
beforeEach(() => {
  layout = serverLayout(join(mkdtempSync(join(root, "t-")), "apps", `my 'shop $x`));
  tree(join(layout.releases, OLD), { "compose.yaml": "old compose\n", "src/app.js": "old app\n", "src/gone-later.js": "x\n" });
  const live = { "compose.yaml": "new compose\n", "src/app.js": "new app\n", "src/added.js": "added\n" };
  tree(join(layout.releases, LIVE), live);
  // The app folder: the live release's files, plus what no release ships.
  tree(layout.app, { ...live, ".env": "SECRET=live\n", "data/db": "rows\n" });
  write(join(layout.envBackups, `${LIVE}.env`), "SECRET=older\n");
  write(layout.current, `${LIVE}\n`);
});

const read = (name: string) => readFileSync(join(layout.app, name), "utf8");

describe("restoreScript, rollback's file step (the switch's sync-release, then make-live)", () => {
  it("puts the kept release's files back, drops the live one's own, and makes it current", () => {
    const run = runRemoteCommand(restoreScript(layout, OLD), { cwd: root });
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(read("compose.yaml")).toBe("old compose\n");
    expect(read("src/app.js")).toBe("old app\n");
    expect(read("src/gone-later.js")).toBe("x\n");
    expect(existsSync(join(layout.app, "src/added.js"))).toBe(false);
    expect(readFileSync(layout.current, "utf8")).toBe(`${OLD}\n`);
    expect(existsSync(`${layout.current}.new`)).toBe(false);
  });

  it("leaves .env and the data alone, as the README promises", () => {
    runRemoteCommand(restoreScript(layout, OLD), { cwd: root });
    expect(read(".env")).toBe("SECRET=live\n");
    expect(read("data/db")).toBe("rows\n");
  });

  it("writes `current` owner-only, whatever the caller's umask", () => {
    rmSync(layout.current);
    runRemoteCommand(sh`umask 000
${restoreScript(layout, OLD)}`, { cwd: root });
    expect(statSync(layout.current).mode & 0o777).toBe(0o600);
  });

  it("fails, and leaves `current` as it was, when the copy fails", () => {
    rmSync(join(layout.releases, OLD), { recursive: true });
    const run = runRemoteCommand(restoreScript(layout, OLD), { cwd: root });
    expect(run.code).not.toBe(0);
    expect(readFileSync(layout.current, "utf8")).toBe(`${LIVE}\n`);
  });
});

describe("release-kept.sh", () => {
  it("passes for a kept release and refuses one pruned since, naming it", () => {
    expect(runRemoteScript("release-kept", { env: layoutEnv(layout), args: [OLD] }, { cwd: root }).code).toBe(0);
    const pruned = runRemoteScript("release-kept", { env: layoutEnv(layout), args: ["20261130T060000000Z"] }, { cwd: root });
    expect(pruned.code).toBe(1);
    expect(pruned.stderr).toBe("release 20261130T060000000Z is no longer kept\n");
  });
});
