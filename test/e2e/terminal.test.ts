import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { cliEnv, projectCopy, ROOT, uniqueName } from "./harness.js";

/** SGR sequences that set a colour or a weight, not the cursor moves a live task list also uses. */
const COLOUR = new RegExp(`${String.fromCharCode(27)}\\[(?:[0-9;]*;)?(?:1|2|3[0-9]|9[0-7])m`);

/** A dry run against the test host on a real pseudo-terminal (script(1)), COLUMNS wide. */
function onTerminal(env: Record<string, string | undefined>, columns = 120): string {
  const dir = projectCopy("compose/demo", uniqueName("e2e-tty"));
  const cli = `stty cols ${columns} rows 40; ${process.execPath} ${join(ROOT, "dist/cli.js")} ${dir} --dry-run --path '~/apps/e2e-tty-dry'`;
  const run = spawnSync("script", ["-qec", cli, "/dev/null"], { env: cliEnv({ NO_COLOR: undefined, ...env }), encoding: "utf8" });
  expect(run.status).toBe(0);
  return run.stdout;
}

describe("on a terminal", () => {
  it("the task list and the summary are coloured, and NO_COLOR turns every colour off", () => {
    const coloured = onTerminal({});
    expect(coloured).toContain("Check the server");
    expect(coloured).toMatch(COLOUR);
    const plain = onTerminal({ NO_COLOR: "1" });
    expect(plain).toContain("Check the server");
    expect(plain).not.toMatch(COLOUR);
  });

  it("a terminal that reports no width gets one line per event, not the live list wrapped at one character", () => {
    const lines = onTerminal({ NO_COLOR: "1" }, 0);
    expect(lines).toMatch(/✔ \[\d\d:\d\d:\d\d\] Check the server/);
  });
});
