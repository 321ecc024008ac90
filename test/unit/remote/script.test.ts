import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { remoteScript, remoteScriptArguments } from "../../../src/remote/script.js";
import { Shell } from "../../../src/ssh/quote.js";
import { runRemoteCommand, runRemoteScript } from "./run.js";

const dir = mkdtempSync(join(tmpdir(), "remote-script-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// log.sh appends its argument $1 as a line to the file $LOG: it shows what a script receives.
describe("remoteScript", () => {
  const nasty = `it's "$(rm -rf /)" \`x\` ; -n\nline`;

  it("passes arguments and variables as data, whatever they hold", () => {
    const log = join(dir, nasty.replaceAll("/", "_"));
    const run = runRemoteScript("log", { env: { LOG: log }, args: [nasty, "-e", 3] }, { cwd: dir });
    expect(run.stderr).toBe("");
    expect(readFileSync(log, "utf8")).toBe(`${nasty}\n`);
  });

  it("leaves a Shell value to the remote shell, for paths under $HOME", () => {
    runRemoteScript("log", { env: { LOG: new Shell(`"$HOME"/'a b'`) }, args: ["x"] }, { cwd: dir });
    expect(readFileSync(join(dir, "a b"), "utf8")).toBe("x\n");
  });

  it("makes the same command as words, for a script that runs its arguments as a command", () => {
    const log = join(dir, "words");
    const command = remoteScriptArguments("log", { env: { LOG: log }, args: [nasty] });
    expect(runRemoteCommand(new Shell(`set -- ${command.code}; "$@"`), { cwd: dir }).code).toBe(0);
    expect(readFileSync(log, "utf8")).toBe(`${nasty}\n`);
  });

  it("refuses a variable name the shell would not take as one", () => {
    expect(() => remoteScript("log", { env: { "A-B": "x" } })).toThrow(/variable name/);
  });
});
