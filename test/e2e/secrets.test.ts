import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { type CliRun, freePort, onServer, projectCopy, removeStack, runCli, uniqueName } from "./harness.js";

const name = uniqueName("e2e-secret");
const app = `apps/${name}`;
afterAll(() => removeStack(name, app));

describe("no secret value ever leaves the server", () => {
  it("is in nothing the CLI prints across deploy, redeploy, monitor, releases, a failing deploy and a rollback, nor in the server's log", async () => {
    const dir = projectCopy("compose/demo", name);
    const env = { DEMO_PORT: await freePort() };
    const path = ["--path", `~/${app}`];
    const outputs: string[] = [];
    const keep = (run: CliRun) => {
      outputs.push(run.stdout, run.stderr);
      return run;
    };
    expect(keep(await runCli([dir, ...path, "--settle", "5"], env)).code).toBe(0);
    expect(keep(await runCli([dir, ...path, "--settle", "5", "--json"], env)).code).toBe(0);
    // --verbose prints every remote command and its output: the probe's, which carries .env, excepted.
    const verbose = keep(await runCli([dir, ...path, "--settle", "0", "--verbose"], env));
    expect(verbose.code).toBe(0);
    expect(verbose.stderr).toContain('  │ $ echo "kind=$kind"');
    expect(verbose.stderr).not.toMatch(/│ (env|kind)=/);
    expect(verbose.stderr).toMatch(/ {2}│ \(exit 0\)/);
    const quiet = keep(await runCli([dir, ...path, "--settle", "0", "--quiet"], env));
    expect(quiet.code).toBe(0);
    expect(quiet.stderr).toBe("");
    expect(quiet.stdout.trim().split("\n")).toHaveLength(1);
    expect(quiet.stdout).toMatch(/^Deployed: /);
    expect(keep(await runCli(["monitor-vps", dir, ...path, "--all-logs"])).code).toBe(0);
    expect(keep(await runCli(["monitor-vps", dir, ...path, "--json", "--all-logs"])).code).toBe(0);
    expect(keep(await runCli(["releases", dir, ...path, "--log", "--json"])).code).toBe(0);
    expect(keep(await runCli(["fix-compose", dir, ...path])).code).toBe(0);
    // A failing deploy: the web service is made to crash, printing its environment's names.
    writeFileSync(join(dir, "web/start.sh"), "#!/bin/sh\necho \"FATAL: refusing to start with DB_PASSWORD set\" >&2\nexit 1\n");
    expect(keep(await runCli([dir, ...path, "--settle", "10"], env)).code).toBe(3);
    expect(keep(await runCli(["rollback", dir, ...path, "--settle", "5", "--verbose"])).code).toBe(0);
    // A dry run that shows the plan.
    expect(keep(await runCli([dir, ...path, "--dry-run"], env)).code).toBe(0);

    const secrets = onServer(`grep -E '^(DB_PASSWORD|APP_SECRET)=' ${app}/.env | cut -d= -f2-`)
      .split("\n")
      .filter(Boolean);
    expect(secrets).toHaveLength(2);
    for (const value of secrets) expect(value).toMatch(/^[0-9a-f]{64}$/);
    const printed = outputs.join("\n");
    expect(printed).toContain("DB_PASSWORD");
    for (const value of secrets) {
      expect(printed).not.toContain(value);
      expect(printed).not.toContain(value.slice(0, 16));
    }
    const serverLog = onServer(`cat apps/.deploy-vps/${name}/log apps/.deploy-vps/${name}/meta/*.json`);
    for (const value of secrets) expect(serverLog).not.toContain(value);
    // .env and every backup of it: 0600; the state folder: 0700.
    expect(onServer(`stat -c '%a %n' ${app}/.env apps/.deploy-vps/${name}/env-backups/* | cut -d' ' -f1 | sort -u`).trim()).toBe("600");
    expect(onServer(`stat -c %a apps/.deploy-vps/${name}`).trim()).toBe("700");
  });
});
