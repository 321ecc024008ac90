/**
 * The --json documents as docs/json.md describes them: each command's real output has exactly
 * the fields of the example under its heading, nested the same way (maps aside).
 */
import { afterAll, describe, expect, it } from "vitest";
import { freePort, projectCopy, removeStack, runCli, uniqueName } from "./harness.js";
import { expectShape } from "./json-shape.js";

const name = uniqueName("e2e-json");
afterAll(() => removeStack(name, `apps/${name}`));

describe("docs/json.md", () => {
  it("describes deploy, monitor-vps, releases and rollback as they print", async () => {
    const dir = projectCopy("compose/demo", name);
    const path = ["--path", `~/apps/${name}`];
    const env = { DEMO_PORT: await freePort() };
    const deploy = await runCli([dir, ...path, "--settle", "5", "--json"], env);
    expect(deploy.code).toBe(0);
    expectShape(JSON.parse(deploy.stdout), "deploy");
    expect((await runCli([dir, ...path, "--settle", "0", "--json", "--full"], env)).code).toBe(0);
    const monitor = await runCli(["monitor-vps", dir, ...path, "--json"]);
    expectShape(JSON.parse(monitor.stdout), "monitor-vps");
    const releases = await runCli(["releases", dir, ...path, "--json"]);
    expectShape(JSON.parse(releases.stdout), "releases");
    const rollback = await runCli(["rollback", dir, ...path, "--settle", "5", "--json"]);
    expect(rollback.code).toBe(0);
    expectShape(JSON.parse(rollback.stdout), "rollback");
  });
});
