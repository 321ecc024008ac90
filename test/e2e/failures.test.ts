import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { freePort, onServer, projectCopy, removeStacks, runCli, uniqueName } from "./harness.js";

const stacks: string[] = [];
afterAll(() => removeStacks(stacks));

/** The server's view of an app folder: its files and their checksums, and the live release. */
function snapshot(name: string): string {
  return onServer(
    `cd apps 2>/dev/null && { find ${name} -type f -exec md5sum {} + 2>/dev/null | sort; cat .deploy-vps/${name}/current 2>/dev/null; ls .deploy-vps/${name} 2>/dev/null; }; true`,
  );
}

describe("a crash-looping service", () => {
  it("is flagged with its name and its log lines, exit 3", async () => {
    const name = uniqueName("e2e-crash");
    stacks.push(name);
    const dir = projectCopy("test/fixtures/crashloop", name);
    const run = await runCli([dir, "--path", `~/apps/${name}`]);
    expect(run.code).toBe(3);
    expect(run.stdout).toMatch(/api\s+\S+.*✖ (restarting|restarted)/);
    expect(run.stdout).toContain("Error: connect ECONNREFUSED 172.18.0.2:5432");
    expect(run.stdout).toMatch(/steady\s+running, 0 restarts ✔/);
    // A first deploy: there is nothing to roll back to, and Next: says so.
    expect(run.stdout).toContain("Next: deploy-vps monitor-vps to follow it, no earlier release to roll back to.");
  });
});

describe("bad input stops before the server is touched", () => {
  const name = uniqueName("e2e-bad");
  stacks.push(name);

  it("deploys a good version first", async () => {
    const dir = projectCopy("compose/demo", name);
    expect(
      (await runCli([dir, "--path", `~/apps/${name}`, "--settle", "0"], { DEMO_PORT: await freePort() })).code,
    ).toBe(0);
  });

  it("a compose syntax error: exit 2 with file:line:col, server unchanged", async () => {
    const before = snapshot(name);
    const dir = projectCopy("compose/demo", name);
    writeFileSync(
      join(dir, "compose.yaml"),
      'services:\n  web:\n    image: busybox\n    ports: ["80:80"\n  db:\n    image: x\n',
    );
    const run = await runCli([dir, "--path", `~/apps/${name}`]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/compose\.yaml:\d+:\d+: /);
    expect(run.stderr).not.toContain("    at ");
    expect(run.stderr.trim().split("\n").at(-1)).toMatch(/^deploy-vps: compose\.yaml:\d+:\d+: /);
    expect(snapshot(name)).toBe(before);
  });

  it("valid YAML that is not a compose file: exit 2", async () => {
    const dir = projectCopy("compose/demo", name);
    writeFileSync(join(dir, "compose.yaml"), "version: '3'\nwebsites:\n  - web\n");
    const run = await runCli([dir, "--path", `~/apps/${name}`]);
    expect(run.code).toBe(2);
    // Checked against the Compose Specification before anything else: the key it does not know.
    expect(run.stderr.trim().split("\n").at(-1)).toBe('deploy-vps: compose.yaml:2:1: the top level: unknown key "websites"');
  });

  it("a variable the compose file needs and nobody sets: exit 2 naming it, server unchanged", async () => {
    const before = snapshot(name);
    const dir = projectCopy("compose/demo", name);
    const compose = join(dir, "compose.yaml");
    writeFileSync(
      compose,
      `${(await import("node:fs")).readFileSync(compose, "utf8")}\n  worker:\n    image: local/busybox:latest\n    environment:\n      SMTP_HOST: \${SMTP_HOST}\n`,
    );
    const run = await runCli([dir, "--path", `~/apps/${name}`]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("SMTP_HOST");
    expect(snapshot(name)).toBe(before);
  });

  it("an env template with a malformed line: exit 2 with its line number", async () => {
    const dir = projectCopy("compose/demo", name);
    writeFileSync(join(dir, ".env.example"), "DB_PASSWORD=\nthis line has no equals sign\n");
    const run = await runCli([dir, "--path", `~/apps/${name}`]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/\.env\.example:2:\d+: /);
  });

  it("no compose file, a missing folder, an unknown flag: exit 2", async () => {
    const empty = join(projectCopy("test/fixtures/crashloop", uniqueName("e2e-empty")), "sub");
    mkdirSync(empty);
    writeFileSync(join(empty, "README"), "no compose here\n");
    const none = await runCli([empty]);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain("no compose file");
    const missing = await runCli(["/nonexistent/project"]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("project folder not found: /nonexistent/project");
    const flag = await runCli(["--hots", "x"]);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toContain("unknown option '--hots'");
    expect(flag.stderr).toContain("--host");
  });
});

describe("Compose v1", () => {
  it("deploys the demo with docker-compose 1.29", async () => {
    const name = uniqueName("e2e-v1");
    stacks.push(name);
    const dir = projectCopy("compose/demo", name);
    const port = await freePort();
    const run = await runCli([dir, "--path", `~/apps/${name}`, "--compose", "v1", "--json"], { DEMO_PORT: port });
    expect(run.code).toBe(0);
    const summary = JSON.parse(run.stdout);
    expect(summary.composeCommand).toBe("v1");
    expect(summary.services.map((s: { service: string; flagged: boolean }) => [s.service, s.flagged])).toEqual([
      ["db", false],
      ["web", false],
    ]);
    expect(await fetch(`http://127.0.0.1:${port}/`).then((r) => r.text())).toContain("Hello from deploy-vps");
  });
});

describe("two app folders, one project name", () => {
  it("refuses to deploy a second folder under a name another folder's stack runs as (exit 2, first stack untouched)", async () => {
    const name = uniqueName("e2e-same");
    stacks.push(name);
    const dir = projectCopy("compose/demo", name);
    expect((await runCli([dir, "--path", `~/apps/${name}`, "--settle", "0"], { DEMO_PORT: await freePort() })).code).toBe(0);
    const before = onServer(`docker ps -q --filter label=com.docker.compose.project=${name} | sort`);
    const run = await runCli([dir, "--path", `~/apps/${name}-copy`]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`compose project "${name}" already runs from /home/deploy/apps/${name}`);
    expect(onServer(`docker ps -q --filter label=com.docker.compose.project=${name} | sort`)).toBe(before);
    expect(onServer(`test -e apps/${name}-copy && echo exists || echo absent`).trim()).toBe("absent");
  });
});
