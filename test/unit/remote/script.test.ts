import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { remoteScript } from "../../../src/remote/script.js";
import { Shell } from "../../../src/ssh/quote.js";
import { runRemoteScript } from "./run.js";

const dir = mkdtempSync(join(tmpdir(), "remote-script-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("remoteScript", () => {
  it("passes arguments and variables as data, whatever they hold", () => {
    const nasty = `it's "$(rm -rf /)" \`x\` ; -n\nline`;
    const run = runRemoteScript("hello", { env: { GREETING: nasty }, args: [nasty, "-e", 3] }, { cwd: dir });
    expect(run.stderr).toBe("");
    expect(run.stdout).toBe(`greeting=${nasty}\narg=${nasty}\narg=-e\narg=3\n`);
  });

  it("leaves a Shell value to the remote shell, for paths under $HOME", () => {
    const run = runRemoteScript("hello", { env: { GREETING: new Shell(`"$HOME"/'a b'`) } }, { cwd: dir });
    expect(run.stdout.split("\n")[0]).toBe(`greeting=${dir}/a b`);
  });

  it("refuses a variable name the shell would not take as one", () => {
    expect(() => remoteScript("hello", { env: { "A-B": "x" } })).toThrow(/variable name/);
  });
});
