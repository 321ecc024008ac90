import { lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { composeInput, readComposeScript, writeComposeScript } from "../../../src/cli/fix-compose.js";
import type { ComposeFix } from "../../../src/compose/fix.js";
import { envInAnswer, parseProbe, scriptFields } from "../../../src/release/probe.js";
import { fakeDocker } from "./fake-docker.js";
import { runRemoteCommand } from "./run.js";

const root = mkdtempSync(join(tmpdir(), "remote-compose-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const APP = `apps/legacy "shop" 'n $x`;
let home: string;
let app: string;
beforeEach(() => {
  home = mkdtempSync(join(root, "home-"));
  app = join(home, APP);
  mkdirSync(join(app, "shared"), { recursive: true });
});

describe("read-compose.sh, after the probe, in one command", () => {
  it("sends each candidate compose file that exists, by its index, the probe's answer kept", () => {
    writeFileSync(join(app, "compose.yaml"), "services:\n  web:\n    image: 'x'\n");
    writeFileSync(join(app, "shared", "base file.yml"), "services: {}\n");
    symlinkSync("shared/base file.yml", join(app, "docker-compose.yml"));
    writeFileSync(join(app, ".env"), "TOKEN=abc\n");
    const names = ["compose.yaml", "compose.yml", "docker-compose.yml"];
    const run = runRemoteCommand(readComposeScript(`~/${APP}`, names), { cwd: home, env: fakeDocker(home).env });
    expect(run.stderr).toBe("");
    expect(parseProbe(run.stdout)).toMatchObject({ app, appKind: "dir" });
    expect(envInAnswer(Buffer.from(run.stdout))).toBe("TOKEN=abc\n");
    const { fields, decoded } = scriptFields(run.stdout);
    expect(decoded("compose.0")).toBe("services:\n  web:\n    image: 'x'\n");
    expect(fields.has("compose.1")).toBe(false);
    expect(decoded("compose.2")).toBe("services: {}\n");
  });
});

describe("write-compose.sh", () => {
  const fix = (path: string, after: string): ComposeFix => ({ path, after, diff: "" });

  it("replaces each file with its text from stdin, keeping the previous one as .bak", () => {
    writeFileSync(join(app, "compose.yaml"), "old main\n");
    writeFileSync(join(app, "it's a file.yml"), "old other\n");
    const fixes = [fix("compose.yaml", "new main\n"), fix("it's a file.yml", "new 'other' $x\n")];
    const run = runRemoteCommand(writeComposeScript(app, fixes, "20261130T090000000Z"), { cwd: home, stdin: composeInput(fixes) });
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(readFileSync(join(app, "compose.yaml"), "utf8")).toBe("new main\n");
    expect(readFileSync(join(app, "it's a file.yml"), "utf8")).toBe("new 'other' $x\n");
    expect(readFileSync(join(app, "compose.yaml.20261130T090000000Z.bak"), "utf8")).toBe("old main\n");
    expect(readFileSync(join(app, "it's a file.yml.20261130T090000000Z.bak"), "utf8")).toBe("old other\n");
    expect(readdirSync(app).filter((name) => name.includes("deploy-vps-new"))).toEqual([]);
  });

  it("writes through a symbolic link to the file it names: the link stays a link", () => {
    writeFileSync(join(app, "shared", "real compose.yml"), "old\n");
    symlinkSync("shared/real compose.yml", join(app, "compose.yaml"));
    const fixes = [fix("compose.yaml", "new\n")];
    const run = runRemoteCommand(writeComposeScript(app, fixes, "S"), { cwd: home, stdin: composeInput(fixes) });
    expect(run.code).toBe(0);
    expect(lstatSync(join(app, "compose.yaml")).isSymbolicLink()).toBe(true);
    expect(readlinkSync(join(app, "compose.yaml"))).toBe("shared/real compose.yml");
    expect(readFileSync(join(app, "shared", "real compose.yml"), "utf8")).toBe("new\n");
    expect(readFileSync(join(app, "compose.yaml.S.bak"), "utf8")).toBe("old\n");
  });

  it("fails, writing nothing more, when a file is missing", () => {
    writeFileSync(join(app, "compose.yaml"), "old\n");
    const fixes = [fix("gone.yml", "x\n"), fix("compose.yaml", "new\n")];
    const run = runRemoteCommand(writeComposeScript(app, fixes, "S"), { cwd: home, stdin: composeInput(fixes) });
    expect(run.code).not.toBe(0);
    expect(readFileSync(join(app, "compose.yaml"), "utf8")).toBe("old\n");
  });
});
