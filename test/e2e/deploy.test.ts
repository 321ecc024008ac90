import { mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CACHE, freePort, onServer, projectCopy, removeStack, runCli, uniqueName } from "./harness.js";

const name = uniqueName("e2e-demo");
const app = `apps/${name}`;
const port = await freePort();
let dir: string;

/** KEY=value pairs of the server's .env (read over SSH, kept in the test's memory only). */
function serverEnv(): Map<string, string> {
  const text = onServer(`cat ${app}/.env`);
  return new Map(
    text
      .split("\n")
      .filter((line) => /^[A-Z_]+=/.test(line))
      .map((line) => line.split(/=(.*)/s).slice(0, 2) as [string, string]),
  );
}

describe("deploying the bundled demo", () => {
  beforeAll(() => {
    dir = projectCopy("compose/demo", name);
    // The developer's own local files: they must never reach the server.
    writeFileSync(join(dir, ".env"), "DEPLOY_SETTLE=20\nLOCAL_ONLY_SECRET=do-not-ship-me\n");
    writeFileSync(join(dir, ".env.local"), "ANOTHER_LOCAL=do-not-ship-me-either\n");
  });
  afterAll(() => removeStack(name, app));

  let first: Awaited<ReturnType<typeof runCli>>;
  let secrets: Map<string, string>;

  it("ships it, generates its secrets, starts it and reports it healthy", async () => {
    first = await runCli([dir, "--path", `~/${app}`, "--json"], { DEMO_PORT: port });
    expect(first.stderr).not.toContain("    at ");
    expect(first.code).toBe(0);
    const summary = JSON.parse(first.stdout);
    expect(summary).toMatchObject({
      name,
      status: "deployed",
      composeCommand: "v2",
      path: `/home/deploy/${app}`,
    });
    expect(summary.secrets.generated).toEqual(["DB_PASSWORD", "APP_SECRET"]);
    expect(summary.secrets.provided).toEqual(["DEMO_PORT"]);
    expect(summary.images).toEqual({ web: `${name}/web:latest` });
    expect(
      summary.services.map((s: { service: string; flagged: boolean }) => [s.service, s.flagged]),
    ).toEqual([
      ["db", false],
      ["web", false],
    ]);

    secrets = serverEnv();
    expect(secrets.get("DB_PASSWORD")).toMatch(/^[0-9a-f]{64}$/);
    expect(secrets.get("APP_SECRET")).toMatch(/^[0-9a-f]{64}$/);
    expect(secrets.get("DEMO_PORT")).toBe(port);
    expect(onServer(`stat -c %a ${app}/.env`).trim()).toBe("600");
    expect(onServer(`ls -A ${app}`).split("\n").filter(Boolean).sort()).toEqual([
      ".env",
      ".env.example",
      "compose.deploy-vps.yaml",
      "compose.yaml",
      "data",
      "web",
    ]);
    expect(onServer(`grep -c LOCAL_ONLY_SECRET ${app}/.env || true`).trim()).toBe("0");
    // The app folder, extracted on the way beside the release, is the release: same files,
    // modes and contents, and nothing of the upload's own (manifest, .env) left in staging.
    const listing = (folder: string) =>
      onServer(`cd ${folder} && find . -path ./.env -prune -o -path ./data -prune -o -printf '%p %y %m %s\n' | sort && find . -path ./data -prune -o -type f ! -name .env -exec md5sum {} + | sort`);
    const release = onServer(`cat apps/.deploy-vps/${name}/current`).trim();
    expect(listing(app)).toBe(listing(`apps/.deploy-vps/${name}/releases/${release}`));
    expect(onServer(`ls -A apps/.deploy-vps/${name}`).split("\n")).not.toContain("staging");

    // The project's compose file is shipped as it is; deploy-vps's own file, passed last with -f, pins the image.
    expect(onServer(`cat ${app}/compose.yaml`)).toBe(readFileSync(join(dir, "compose.yaml"), "utf8"));
    expect(onServer(`cat ${app}/compose.deploy-vps.yaml`)).toContain(`  "web":\n    image: "${name}/web:latest"\n    pull_policy: never\n`);

    const page = await fetch(`http://127.0.0.1:${port}/`).then((r) => r.text());
    expect(page).toContain("<h1>Hello from deploy-vps</h1>");
    for (const value of secrets.values())
      if (value.length >= 32) expect(first.stdout + first.stderr).not.toContain(value);
  });

  it("redeploys in place: secrets and data kept, removed files removed, previous version backed up", async () => {
    onServer(`echo precious > ${app}/data/user-upload.txt`);
    const before = onServer(`cat apps/.deploy-vps/${name}/current`).trim();
    writeFileSync(join(dir, "web/site/index.html.in"), "<h1>version two</h1>\n");
    writeFileSync(join(dir, "web/site/extra.txt"), "shipped once\n");
    expect((await runCli([dir, "--path", `~/${app}`], { DEMO_PORT: port })).code).toBe(0);
    expect(onServer(`cat ${app}/web/site/extra.txt`)).toBe("shipped once\n");

    rmSync(join(dir, "web/site/extra.txt"));
    const second = await runCli([dir, "--path", `~/${app}`, "--json"], { DEMO_PORT: port });
    expect(second.code).toBe(0);
    const summary = JSON.parse(second.stdout);
    expect(summary.secrets.generated).toEqual([]);
    expect(summary.secrets.kept).toEqual(["DB_PASSWORD", "APP_SECRET", "DEMO_PORT", "GREETING", "DEMO_HOST"]);
    expect(serverEnv()).toEqual(secrets);
    expect(onServer(`cat ${app}/data/user-upload.txt`)).toBe("precious\n");
    expect(onServer(`test -e ${app}/web/site/extra.txt && echo present || echo gone`).trim()).toBe("gone");
    expect(await fetch(`http://127.0.0.1:${port}/`).then((r) => r.text())).toContain("version two");

    const releases = onServer(`ls apps/.deploy-vps/${name}/releases`).split("\n").filter(Boolean);
    expect(releases).toHaveLength(3);
    expect(releases).toContain(before);
    const backups = onServer(`ls apps/.deploy-vps/${name}/env-backups`).split("\n").filter(Boolean);
    expect(backups).toHaveLength(2);
    expect(onServer(`stat -c %a apps/.deploy-vps/${name}/env-backups/${backups[0]}`).trim()).toBe("600");
    expect(onServer(`stat -c %a apps/.deploy-vps/${name}`).trim()).toBe("700");
  });

  // The demo's 6 files, and compose.deploy-vps.yaml.
  it("a redeploy with nothing changed ships nothing and keeps the live release, in 3 round trips plus one watch poll", async () => {
    const live = onServer(`cat apps/.deploy-vps/${name}/current`).trim();
    const run = await runCli([dir, "--path", `~/${app}`, "--settle", "0", "--json"], { DEMO_PORT: port });
    expect(run.code).toBe(0);
    const summary = JSON.parse(run.stdout);
    expect(summary.upload).toEqual({ mode: "unchanged", reason: null, sent: 0, deleted: 0, unchanged: 7 });
    expect(summary.release).toBe(live);
    // probe + lock, build and start, one watch poll, log + unlock
    expect(summary.roundTrips).toBe(4);
    expect(summary.uploadedBytes).toBe(0);
    expect(summary.peakRssBytes).toBeLessThan(150 * 1024 * 1024);
    // Same files, but the server's .env lost a key by hand: a new release with no file sent.
    onServer(`sed -i '/^GREETING=/d' ${app}/.env`);
    const envOnly = JSON.parse((await runCli([dir, "--path", `~/${app}`, "--settle", "0", "--json"], { DEMO_PORT: port })).stdout);
    expect(envOnly.upload).toEqual({ mode: "incremental", reason: null, sent: 0, deleted: 0, unchanged: 7 });
    expect(envOnly.release).not.toBe(live);
    expect(onServer(`grep -c '^GREETING=Hello from deploy-vps$' ${app}/.env`).trim()).toBe("1");
    const keptManifests = () => readdirSync(join(CACHE, "deploy-vps", "manifests"));
    const kept = keptManifests();
    writeFileSync(join(dir, "web/site/index.html.in"), "<h1>version three</h1>\n");
    const changed = JSON.parse((await runCli([dir, "--path", `~/${app}`, "--settle", "0", "--json"], { DEMO_PORT: port })).stdout);
    expect(changed.upload).toEqual({ mode: "incremental", reason: null, sent: 1, deleted: 0, unchanged: 6 });
    // probe + lock, upload with the switch and start, one watch poll, log + unlock
    expect(changed.roundTrips).toBe(4);
    // The manifest it sent replaced the one kept for this app: one per app, not one per deploy.
    expect(keptManifests()).toEqual(kept);
    const full = JSON.parse((await runCli([dir, "--path", `~/${app}`, "--settle", "0", "--json", "--full"], { DEMO_PORT: port })).stdout);
    expect(full.upload).toMatchObject({ mode: "full", reason: "--full", sent: 7 });
  });

  it("a one-file redeploy writes that file in place and nothing else, and brings back a file removed by hand", async () => {
    // ctime moves on any write: the unchanged files must keep theirs. The changed one keeps its
    // inode, so a file bind-mounted on its own (a config) shows the new content.
    const stat = (path: string) => onServer(`stat -c '%i %Z' ${app}/${path}`).trim();
    const untouched = stat("web/start.sh");
    const [inode] = stat("web/site/index.html.in").split(" ");
    onServer(`rm ${app}/web/Dockerfile`);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    writeFileSync(join(dir, "web/site/index.html.in"), "<h1>version four</h1>\n");
    const run = JSON.parse((await runCli([dir, "--path", `~/${app}`, "--settle", "0", "--json"], { DEMO_PORT: port })).stdout);
    expect(run.upload).toMatchObject({ mode: "incremental", sent: 1 });
    expect(stat("web/start.sh")).toBe(untouched);
    expect(stat("web/site/index.html.in").split(" ")[0]).toBe(inode);
    expect(onServer(`cat ${app}/web/site/index.html.in`)).toBe("<h1>version four</h1>\n");
    expect(onServer(`cat ${app}/web/Dockerfile`)).toContain("FROM");
  });

  it("a dry run of a one-file redeploy says it would send that file, goes through every step, and changes nothing on the server", async () => {
    const state = () => onServer(`cat apps/.deploy-vps/${name}/current; ls -A apps/.deploy-vps/${name} apps/.deploy-vps/${name}/releases; cat ${app}/web/site/index.html.in`);
    const before = state();
    writeFileSync(join(dir, "web/site/index.html.in"), "<h1>version five, not shipped</h1>\n");
    const run = await runCli([dir, "--path", `~/${app}`, "--dry-run", "--verbose"], { DEMO_PORT: port });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/\[SKIPPED: Upload: would send 1 file \(\d+ B\) of 7: web\/site\/index\.html\.in\]/);
    expect(run.stderr).toContain("[SKIPPED: Switch: would make a new release live, keeping ");
    expect(run.stderr).toContain("[SKIPPED: Build and start: would build web and run docker compose up -d]");
    expect(run.stderr).toContain("[SKIPPED: Watch: would watch ");
    expect(run.stdout).toContain("would send 1 changed, delete 0, keep 6 of release ");
    const json = JSON.parse((await runCli([dir, "--path", `~/${app}`, "--dry-run", "--json"], { DEMO_PORT: port })).stdout);
    expect(json).toMatchObject({ status: "planned", release: null, upload: null, uploadedBytes: 0 });
    expect(state()).toBe(before);
    writeFileSync(join(dir, "web/site/index.html.in"), "<h1>version four</h1>\n");
  });

  it("a file that becomes a folder, and back, goes as a full upload and lands right", async () => {
    const deploy = async () => JSON.parse((await runCli([dir, "--path", `~/${app}`, "--settle", "0", "--json"], { DEMO_PORT: port })).stdout);
    writeFileSync(join(dir, "web/notes"), "a file\n");
    expect((await deploy()).upload).toMatchObject({ mode: "incremental", sent: 1 });
    rmSync(join(dir, "web/notes"));
    mkdirSync(join(dir, "web/notes"));
    writeFileSync(join(dir, "web/notes/today.txt"), "now a folder\n");
    expect((await deploy()).upload).toMatchObject({ mode: "full", reason: "web/notes/today.txt was a folder or under a file in the live release" });
    expect(onServer(`cat ${app}/web/notes/today.txt`)).toBe("now a folder\n");
    rmSync(join(dir, "web/notes"), { recursive: true });
    writeFileSync(join(dir, "web/notes"), "a file again\n");
    expect((await deploy()).upload).toMatchObject({ mode: "full", reason: "web/notes was a folder or under a file in the live release" });
    expect(onServer(`cat ${app}/web/notes`)).toBe("a file again\n");
  });

  it("a folder emptied by a deletion makes way for a file of its name, incrementally", async () => {
    const deploy = async () => JSON.parse((await runCli([dir, "--path", `~/${app}`, "--settle", "0", "--json"], { DEMO_PORT: port })).stdout);
    mkdirSync(join(dir, "web/old"));
    writeFileSync(join(dir, "web/old/x.txt"), "x\n");
    expect((await deploy()).upload).toMatchObject({ mode: "incremental", sent: 1 });
    rmSync(join(dir, "web/old"), { recursive: true });
    expect((await deploy()).upload).toMatchObject({ mode: "incremental", deleted: 1 });
    writeFileSync(join(dir, "web/old"), "now a file\n");
    const run = await deploy();
    expect(run.upload).toMatchObject({ mode: "incremental", sent: 1 });
    expect(run.status).toBe("deployed");
    expect(onServer(`cat ${app}/web/old`)).toBe("now a file\n");
  });

  it("after a switch that stopped half-way, the next deploy copies the whole release, and a link never gets written through", async () => {
    const deploy = async (...flags: string[]) =>
      JSON.parse((await runCli([dir, "--path", `~/${app}`, "--settle", "0", "--json", ...flags], { DEMO_PORT: port })).stdout);
    // What a switch that died leaves: its marker, and an app folder that matches no release.
    onServer(`touch apps/.deploy-vps/${name}/switching && echo edited-by-hand > ${app}/web/start.sh`);
    writeFileSync(join(dir, "web/site/index.html.in"), "<h1>version five</h1>\n");
    expect((await deploy()).upload).toMatchObject({ mode: "incremental", sent: 1 });
    expect(onServer(`cat ${app}/web/start.sh`)).not.toContain("edited-by-hand");
    expect(onServer(`test -e apps/.deploy-vps/${name}/switching && echo left || echo gone`).trim()).toBe("gone");
    // A link shipped once, then replaced by a file: a full copy must replace the link, not write to its target.
    symlinkSync("site/index.html.in", join(dir, "web/cfg"));
    await deploy();
    rmSync(join(dir, "web/cfg"));
    writeFileSync(join(dir, "web/cfg"), "a plain file\n");
    expect((await deploy("--full")).upload).toMatchObject({ mode: "full" });
    expect(onServer(`cat ${app}/web/cfg; cat ${app}/web/site/index.html.in`)).toBe("a plain file\n<h1>version five</h1>\n");
    expect(onServer(`test -L ${app}/web/cfg && echo link || echo file`).trim()).toBe("file");
  });

  it("never ships local env files or DEPLOY_* settings", () => {
    const lines = (text: string) => text.split("\n").filter(Boolean).sort();
    const releases = lines(onServer(`ls apps/.deploy-vps/${name}/releases`));
    expect(releases.length).toBeGreaterThan(1);
    // Of the .env family, each release holds the template and nothing else.
    expect(lines(onServer(`cd apps/.deploy-vps/${name}/releases && find . -name '.env*'`))).toEqual(
      releases.map((id) => `./${id}/.env.example`).sort(),
    );
    // Nor did a local value or a DEPLOY_* key reach a file on the server.
    expect(onServer(`grep -rl -e DEPLOY_SETTLE -e do-not-ship-me apps/.deploy-vps/${name} ${app} || true`)).toBe("");
  });
});

describe("a first deploy into a folder that already holds files", () => {
  const other = uniqueName("e2e-prefilled");
  const otherApp = `apps/${other}`;
  afterAll(() => removeStack(other, otherApp));

  it("keeps what was there and adds the release around it", async () => {
    onServer(`mkdir -p ${otherApp}/data && echo kept > ${otherApp}/data/keep.txt && echo stray > ${otherApp}/notes.txt`);
    const project = projectCopy("compose/demo", other);
    const run = await runCli([project, "--path", `~/${otherApp}`, "--settle", "0", "--json"], { DEMO_PORT: await freePort() });
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout).upload).toMatchObject({ mode: "full", reason: "first deploy" });
    expect(onServer(`cat ${otherApp}/data/keep.txt ${otherApp}/notes.txt`)).toBe("kept\nstray\n");
    expect(onServer(`ls -A ${otherApp}`).split("\n").filter(Boolean).sort()).toEqual([
      ".env",
      ".env.example",
      "compose.deploy-vps.yaml",
      "compose.yaml",
      "data",
      "notes.txt",
      "web",
    ]);
  });
});
