import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { freePort, onServer, projectCopy, removeStacks, runCli, uniqueName } from "./harness.js";

const stacks: string[] = [];
afterAll(() => removeStacks(stacks));
const rollbackPort = await freePort();

describe("deploy v1, deploy v2, rollback", () => {
  const name = uniqueName("e2e-rb");
  const app = `apps/${name}`;
  const port = rollbackPort;
  const page = () => fetch(`http://127.0.0.1:${port}/`).then((r) => r.text());
  let dir: string;
  let envBefore: string;
  stacks.push(name);

  it("rollback with no previous version: exit 2, nothing changed", async () => {
    dir = projectCopy("compose/demo", name);
    writeFileSync(join(dir, "web/site/index.html.in"), "<h1>version one</h1>\n");
    expect((await runCli([dir, "--path", `~/${app}`, "--settle", "5"], { DEMO_PORT: port })).code).toBe(0);
    envBefore = onServer(`md5sum ${app}/.env`);
    const before = onServer(`cat apps/.deploy-vps/${name}/current; ls ${app}`);
    const run = await runCli(["rollback", dir, "--path", `~/${app}`]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("no previous version to roll back to");
    expect(onServer(`cat apps/.deploy-vps/${name}/current; ls ${app}`)).toBe(before);
  });

  it("goes back one version per rollback; .env and data unchanged", async () => {
    onServer(`echo kept > ${app}/data/uploaded.txt`);
    writeFileSync(join(dir, "web/site/index.html.in"), "<h1>version two</h1>\n");
    expect((await runCli([dir, "--path", `~/${app}`, "--settle", "5"], { DEMO_PORT: port })).code).toBe(0);
    writeFileSync(join(dir, "web/site/index.html.in"), "<h1>version three</h1>\n");
    writeFileSync(join(dir, "web/site/new-in-v3.txt"), "v3 only\n");
    expect((await runCli([dir, "--path", `~/${app}`, "--settle", "5"], { DEMO_PORT: port })).code).toBe(0);
    expect(await page()).toContain("version three");

    const listed = await runCli(["releases", dir, "--path", `~/${app}`, "--json", "--log"]);
    expect(listed.code).toBe(0);
    const doc = JSON.parse(listed.stdout);
    expect(doc.releases).toHaveLength(3);
    expect(doc.releases.map((r: { live: boolean }) => r.live)).toEqual([true, false, false]);
    // The demo's 6 files, new-in-v3.txt and compose.deploy-vps.yaml.
    expect(doc.releases[0]).toMatchObject({ files: 8, git: null });
    expect(doc.releases[0].by).toMatch(/@/);
    expect(doc.log.map((e: { action: string; outcome: string }) => `${e.action}:${e.outcome}`)).toEqual([
      "deploy:healthy",
      "deploy:healthy",
      "deploy:healthy",
    ]);

    const first = await runCli(["rollback", dir, "--path", `~/${app}`, "--settle", "5", "--json"]);
    expect(first.code).toBe(0);
    expect(JSON.parse(first.stdout)).toMatchObject({ status: "rolled-back", from: doc.releases[0].id, release: doc.releases[1].id });
    expect(await page()).toContain("version two");
    expect(onServer(`test -e ${app}/web/site/new-in-v3.txt && echo present || echo gone`).trim()).toBe("gone");

    const second = await runCli(["rollback", dir, "--path", `~/${app}`, "--settle", "5"]);
    expect(second.code).toBe(0);
    expect(await page()).toContain("version one");
    expect(onServer(`md5sum ${app}/.env`)).toBe(envBefore);
    expect(onServer(`cat ${app}/data/uploaded.txt`)).toBe("kept\n");

    // A deploy after a rollback is a normal deploy.
    expect((await runCli([dir, "--path", `~/${app}`, "--settle", "5"], { DEMO_PORT: port })).code).toBe(0);
    expect(await page()).toContain("version three");
    const log = JSON.parse((await runCli(["releases", dir, "--path", `~/${app}`, "--json"])).stdout).log;
    expect(log.map((e: { action: string }) => e.action)).toEqual(["deploy", "deploy", "deploy", "rollback", "rollback", "deploy"]);
  });
});

describe("a deploy whose build fails", () => {
  const name = uniqueName("e2e-bad");
  const app = `apps/${name}`;
  const stateDir = `apps/.deploy-vps/${name}`;
  const path = ["--path", `~/${app}`];
  stacks.push(name);
  let dir: string;
  let port: string;
  let good: string;
  let failed: string;
  const page = () => fetch(`http://127.0.0.1:${port}/marker.txt`).then((r) => r.text());
  const deploy = (marker: string) => {
    writeFileSync(join(dir, "web/site/marker.txt"), `${marker}\n`);
    return runCli([dir, ...path, "--settle", "3"], { DEMO_PORT: port });
  };

  it("leaves the files at its release and the containers at the last good one: monitor-vps and releases say so, monitor-vps exits 3", async () => {
    dir = projectCopy("compose/demo", name);
    port = await freePort();
    expect((await deploy("good")).code).toBe(0);
    good = onServer(`cat ${stateDir}/current`).trim();
    const dockerfile = join(dir, "web/Dockerfile");
    writeFileSync(dockerfile, `${readFileSync(dockerfile, "utf8")}RUN false\n`);
    const broken = await deploy("broken");
    expect(broken.code).toBe(1);
    expect(broken.stderr).toContain("docker compose failed");
    failed = onServer(`cat ${stateDir}/current`).trim();
    expect(failed).not.toBe(good);
    expect(await page()).toBe("good\n");

    const monitor = await runCli(["monitor-vps", dir, ...path, "--json"]);
    expect(monitor.code).toBe(3);
    expect(JSON.parse(monitor.stdout)).toMatchObject({ healthy: false, release: { files: failed, containers: good } });
    const screen = await runCli(["monitor-vps", dir, ...path]);
    expect(screen.code).toBe(3);
    expect(screen.stdout).toContain(`files at ${failed}, containers at ${good}`);
    const releases = await runCli(["releases", dir, ...path]);
    expect(releases.stdout).toContain(`files at ${failed}, containers at ${good}`);
    expect(releases.stdout).toMatch(new RegExp(`${failed} .*\\(deploy failed\\)`));
  });

  it("the next deploy says so and brings them in line", async () => {
    const dockerfile = join(dir, "web/Dockerfile");
    writeFileSync(dockerfile, readFileSync(dockerfile, "utf8").replace("RUN false\n", ""));
    const fixed = await deploy("fixed");
    expect(fixed.code).toBe(0);
    expect(fixed.stderr).toContain(`files at ${failed}, containers at ${good}: this deploy brings them in line`);
    expect(await page()).toBe("fixed\n");
    expect((await runCli(["monitor-vps", dir, ...path])).code).toBe(0);
  });

  it("rollback skips the release whose deploy failed, and says so; --to picks it all the same", async () => {
    const back = await runCli(["rollback", dir, ...path, "--settle", "3", "--json"]);
    expect(back.code).toBe(0);
    expect(JSON.parse(back.stdout)).toMatchObject({ status: "rolled-back", release: good, skipped: [failed] });
    expect(back.stderr).toContain(`skipped ${failed} (its deploy failed)`);
    expect(await page()).toBe("good\n");

    const chosen = await runCli(["rollback", dir, ...path, "--settle", "3", "--to", failed]);
    expect(chosen.code).toBe(1);
    expect(chosen.stderr).toContain("docker compose failed");
    expect(onServer(`cat ${stateDir}/current`).trim()).toBe(failed);
  });
});

describe("Next: after a failing deploy names the release a rollback would go to", () => {
  const name = uniqueName("e2e-next");
  // Long enough for a crash loop to show on a loaded machine.
  const path = ["--path", `~/apps/${name}`, "--settle", "20"];
  stacks.push(name);

  it("none on the first release, even redeployed; the one before once there is one, even after a redeploy that changed nothing", async () => {
    const dir = projectCopy("test/fixtures/crashloop", name);
    const first = await runCli([dir, ...path]);
    expect(first.code).toBe(3);
    expect(first.stdout).toContain("no earlier release to roll back to");
    const r1 = onServer(`cat apps/.deploy-vps/${name}/current`).trim();
    const again = await runCli([dir, ...path]);
    expect(again.code).toBe(3);
    expect(again.stdout).not.toContain(`rollback to go back to ${r1}`);
    expect(again.stdout).toContain("no earlier release to roll back to");

    writeFileSync(join(dir, "note.txt"), "a change\n");
    const second = await runCli([dir, ...path]);
    expect(second.code).toBe(3);
    expect(second.stdout).toContain(`deploy-vps rollback to go back to ${r1}.`);
    const unchanged = await runCli([dir, ...path]);
    expect(unchanged.code).toBe(3);
    expect(unchanged.stdout).toContain(`deploy-vps rollback to go back to ${r1}.`);
  });
});

describe("rollback and fix-compose on an app folder that does not exist", () => {
  it.each([["rollback"], ["fix-compose"]])("%s: exit 2, and no state folder is left behind", async (command) => {
    const name = uniqueName("e2e-none");
    const run = await runCli([command, "--path", `~/apps/${name}`]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("does not exist");
    expect(onServer(`test -e apps/.deploy-vps/${name} && echo left || echo none`).trim()).toBe("none");
  });
});

describe("monitor-vps", () => {
  it("a healthy stack: exit 0, and the JSON document has host resources and every service", async () => {
    const name = uniqueName("e2e-mon");
    stacks.push(name);
    const dir = projectCopy("compose/demo", name);
    expect((await runCli([dir, "--path", `~/apps/${name}`], { DEMO_PORT: await freePort() })).code).toBe(0);
    const run = await runCli(["monitor-vps", dir, "--path", `~/apps/${name}`, "--json"]);
    expect(run.code).toBe(0);
    const doc = JSON.parse(run.stdout);
    expect(doc).toMatchObject({ version: 1, name, healthy: true, path: `/home/deploy/apps/${name}` });
    expect(doc.resources.load).toHaveLength(3);
    expect(doc.resources.memory.totalBytes).toBeGreaterThan(0);
    expect(doc.resources.disk.usedPercent).toBeGreaterThan(0);
    expect(doc.services.map((s: { service: string; state: string; flagged: boolean }) => [s.service, s.state, s.flagged])).toEqual([
      ["db", "running", false],
      ["web", "running", false],
    ]);
    expect(doc.services[1].health).toBe("healthy");
    expect(doc.services[1].cpuPercent).toEqual(expect.any(Number));
    const screen = await runCli(["monitor", dir, "--path", `~/apps/${name}`]);
    expect(screen.code).toBe(0);
    expect(screen.stdout).toMatch(/web\s+\S+\s+running\s+healthy\s+0/);
  });

  it("a crash-looping stack: exit 3, the service flagged with its log line", async () => {
    const name = uniqueName("e2e-moncrash");
    stacks.push(name);
    const dir = projectCopy("test/fixtures/crashloop", name);
    expect((await runCli([dir, "--path", `~/apps/${name}`, "--settle", "3"])).code).toBe(3);
    const run = await runCli(["monitor-vps", dir, "--path", `~/apps/${name}`, "--json"]);
    expect(run.code).toBe(3);
    const doc = JSON.parse(run.stdout);
    const api = doc.services.find((s: { service: string }) => s.service === "api");
    expect(api.flagged).toBe(true);
    expect(doc.logs[api.container]).toContain("Error: connect ECONNREFUSED 172.18.0.2:5432");
    const screen = await runCli(["monitor-vps", dir, "--path", `~/apps/${name}`]);
    expect(screen.code).toBe(3);
    expect(screen.stdout).toContain(`api (${api.container}): last log lines`);
  });

  it("an unreachable host: exit 1", async () => {
    const run = await runCli(["monitor-vps", "--host", "127.0.0.1", "--port", "1", "--path", "/tmp"]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("connection refused by 127.0.0.1:1");
  });
});

describe("fix-compose on a stack deployed by hand", () => {
  const name = uniqueName("e2e-hand");
  const app = `apps/${name}`;
  stacks.push(name);

  it("rewrites the seed's registry image so that pull and up work, keeps a backup, checks .env", async () => {
    const compose = [
      "services:",
      "  # built on the server, never pushed anywhere",
      "  web:",
      "    build: ./web",
      "    image: ${REGISTRY:-ghcr.io/x}/x-web:${IMAGE_TAG:-latest}",
      "    environment:",
      "      API_TOKEN: ${API_TOKEN}",
      "      SMTP_PASSWORD: ${SMTP_PASSWORD}",
      "    init: true",
      "",
    ].join("\n");
    onServer(
      `mkdir -p ${app}/web && printf 'FROM local/busybox:latest\\nCMD ["sleep", "2147483647"]\\n' > ${app}/web/Dockerfile && ` +
        `printf '%s' '${compose.replaceAll("'", "'\\''")}' > ${app}/compose.yaml && printf 'SMTP_PASSWORD=changeme\\n' > ${app}/.env`,
    );
    const broken = onServer(`cd ${app} && docker compose -p ${name} pull >/dev/null 2>&1; echo $?`).trim();
    expect(broken).not.toBe("0");

    const dry = await runCli(["fix-compose", "--path", `~/${app}`, "--dry-run"]);
    expect(dry.stdout).toContain(`+    image: ${name}/web:latest`);
    expect(dry.stdout).toContain("nothing written");
    expect(onServer(`cat ${app}/compose.yaml`)).toBe(compose);

    const run = await runCli(["fix-compose", "--path", `~/${app}`]);
    expect(run.code).toBe(2);
    expect(run.stdout).toContain("-    image: ${REGISTRY:-ghcr.io/x}/x-web:${IMAGE_TAG:-latest}");
    expect(run.stdout).toContain("Missing or empty in .env, and used without a default: API_TOKEN");
    expect(run.stdout).toContain("Placeholder values in .env: SMTP_PASSWORD");
    expect(run.stdout).not.toContain("changeme");
    const fixed = onServer(`cat ${app}/compose.yaml`);
    expect(fixed).toContain(`    image: ${name}/web:latest\n    pull_policy: never\n`);
    expect(fixed).toContain("# built on the server, never pushed anywhere");
    expect(onServer(`cat ${app}/compose.yaml.*.bak`)).toBe(compose);

    const works = onServer(
      `cd ${app} && docker compose -p ${name} build -q >/dev/null 2>&1 && docker compose -p ${name} pull -q >/dev/null 2>&1 && docker compose -p ${name} up -d >/dev/null 2>&1; echo $?`,
    ).trim();
    expect(works).toBe("0");

    const again = await runCli(["fix-compose", "--path", `~/${app}`]);
    expect(again.stdout).toContain("nothing to change");
    expect(onServer(`ls ${app} | grep -c '\\.bak$'`).trim()).toBe("1");
  });

  it("a compose file that does not parse: exit 2 with file:line:col, file untouched", async () => {
    onServer(`printf 'services:\\n  web: [\\n' > ${app}/compose.yaml`);
    const run = await runCli(["fix-compose", "--path", `~/${app}`]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/deploy-vps: compose\.yaml:\d+:\d+: /);
    expect(onServer(`cat ${app}/compose.yaml`)).toBe("services:\n  web: [\n");
  });
});
