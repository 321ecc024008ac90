import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, describe, expect, it } from "vitest";
import { cliEnv, freePort, onServer, projectCopy, ROOT, removeProject, removeStack, runCli, testHost, uniqueName } from "./harness.js";

const stacks: string[] = [];
const slowPort = await freePort();
const cutPort = await freePort();
const fullPort = await freePort();
afterAll(() => {
  for (const name of stacks) removeStack(name, `apps/${name}`);
});

/** Starts the CLI and resolves when its progress output shows `marker`, so a test can strike then. */
function startCli(args: string[], env: Record<string, string> = {}): { child: ChildProcess; output: () => string; reached: (marker: RegExp) => Promise<void>; done: Promise<number | null> } {
  const child = spawn(process.execPath, [join(ROOT, "dist/cli.js"), ...args], {
    env: cliEnv(env),
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout?.on("data", (chunk) => {
    output += chunk;
  });
  child.stderr?.on("data", (chunk) => {
    output += chunk;
  });
  const done = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
  const reached = async (marker: RegExp) => {
    for (let i = 0; i < 600 && !marker.test(output); i++) await sleep(50);
    if (!marker.test(output)) throw new Error(`never reached ${marker}: ${output}`);
  };
  return { child, output: () => output, reached, done };
}

/** Kills the sshd session serving this CLI's connection (found with ss), like a dropped link. */
function cutConnection(cliPid: number): void {
  const sockets = execFileSync("ss", ["-tnpH", "state", "established"], { encoding: "utf8" }).split("\n");
  const port = testHost().DEPLOY_PORT;
  const mine = sockets.find((line) => line.includes(`pid=${cliPid},`) && line.includes(`:${port} `));
  const local = mine?.match(/127\.0\.0\.1:(\d+)\s+127\.0\.0\.1:/)?.[1];
  if (!local) throw new Error(`no SSH connection of pid ${cliPid}`);
  const serving = sockets.filter((line) => new RegExp(`:${port}\\s+127\\.0\\.0\\.1:${local}\\b`).test(line));
  const pids = serving.flatMap((line) => [...line.matchAll(/pid=(\d+)/g)].map((m) => m[1] ?? ""));
  if (pids.length === 0) throw new Error(`no sshd serving port ${local}`);
  for (const pid of new Set(pids)) {
    // sshd's monitor may exit on its own once its session process is killed: gone is fine.
    try {
      process.kill(Number(pid), "SIGKILL");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ESRCH") throw error;
    }
  }
}

/** Every shipped file of the live folder with its checksum (data written by containers aside). */
function liveFiles(app: string): string {
  return onServer(`cd ${app} && find . -path ./data -prune -o -type f -print0 | sort -z | xargs -0 md5sum`);
}

function containers(name: string): string {
  return onServer(`docker ps -aq --no-trunc --filter label=com.docker.compose.project=${name} | sort`);
}

/** Whether a detached step (switch, build, up) of the app's last deploy or rollback is running. */
function workerAlive(name: string): boolean {
  return onServer(
    `for p in $(cut -d' ' -f1 apps/.deploy-vps/${name}/lock/workers 2>/dev/null); do [ -d /proc/$p ] && echo alive; done; true`,
  ).includes("alive");
}

/** Waits until no detached step of the app's last deploy is running. */
async function workerDone(name: string): Promise<void> {
  for (let i = 0; i < 240 && workerAlive(name); i++) await sleep(500);
  if (workerAlive(name)) throw new Error(`the worker of ${name} still runs after 2 minutes`);
}

/** Waits until a detached step of the app's deploy or rollback runs (the CLI reached its step). */
async function workerStarted(name: string): Promise<void> {
  for (let i = 0; i < 100 && !workerAlive(name); i++) await sleep(100);
  if (!workerAlive(name)) throw new Error(`no worker of ${name} started`);
}

/** monitor-vps --json: its exit code and document. */
async function monitorVerdict(dir: string, app: string): Promise<{ code: number | null; doc: { healthy: boolean; release: { files: string | null; containers: string | null }; lock: string | null } }> {
  const run = await runCli(["monitor-vps", dir, "--path", `~/${app}`, "--json"]);
  return { code: run.code, doc: JSON.parse(run.stdout) };
}

describe("one deploy at a time", () => {
  const name = uniqueName("e2e-lock");
  const app = `apps/${name}`;
  stacks.push(name);
  let dir: string;

  it("a second deploy meets the first one's lock: refused with who holds it (exit 1), or waits with --lock-wait", async () => {
    dir = projectCopy("test/fixtures/slowbuild", name);
    // A content no earlier run built: Docker's layer cache would skip the slow step.
    writeFileSync(join(dir, "web/version.txt"), `v-first ${name}\n`);
    const first = startCli([dir, "--path", `~/${app}`, "--settle", "0"], { SLOW_PORT: slowPort });
    await first.reached(/Build and start/);
    const refused = await runCli([dir, "--path", `~/${app}`, "--settle", "0"]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(new RegExp(`is locked by deploy by \\S+@\\S+ \\(pid ${first.child.pid}\\) since 20`));
    expect(refused.stderr).toContain("--lock-wait");
    const waited = await runCli([dir, "--path", `~/${app}`, "--settle", "0", "--lock-wait", "120"]);
    expect(await first.done).toBe(0);
    expect(waited.code).toBe(0);
    expect(onServer(`test -e apps/.deploy-vps/${name}/lock && echo held || echo free`).trim()).toBe("free");
  });

  it("--force-unlock never races a running build: refused while it runs, waited for with --lock-wait", async () => {
    writeFileSync(join(dir, "web/version.txt"), `v-force-wait ${name}\n`);
    const first = startCli([dir, "--path", `~/${app}`, "--settle", "0"]);
    await first.reached(/Build and start/);
    // The first deploy's worker is building (the fixture's build sleeps): observed, not hoped for.
    expect(workerAlive(name)).toBe(true);
    const refused = await runCli([dir, "--path", `~/${app}`, "--settle", "0", "--force-unlock"]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/whose switch, build or start still runs on the server \(pid \d+\) and ends by itself/);
    expect(refused.stderr).toContain("--force-unlock never breaks a lock while that runs");
    const waited = await runCli([dir, "--path", `~/${app}`, "--settle", "0", "--force-unlock", "--lock-wait", "120"]);
    expect(waited.code).toBe(0);
    expect(await first.done).toBe(0);
    expect(await fetch(`http://127.0.0.1:${slowPort}/`).then((r) => r.text())).toBe(`v-force-wait ${name}\n`);
  });

  it("--force-unlock breaks the lock of a hung deploy (alive, nothing running on the server) and says whose", async () => {
    writeFileSync(join(dir, "web/version.txt"), `v-hung ${name}\n`);
    const first = startCli([dir, "--path", `~/${app}`, "--settle", "60"]);
    // In the watch, the worker is over: stopped there, the first deploy holds the lock and does nothing.
    await first.reached(/Watch for crash loops/);
    first.child.kill("SIGSTOP");
    try {
      expect(workerAlive(name)).toBe(false);
      writeFileSync(join(dir, "web/version.txt"), `v-forced ${name}\n`);
      const forced = await runCli([dir, "--path", `~/${app}`, "--settle", "0", "--force-unlock"]);
      expect(forced.stderr).toMatch(new RegExp(`--force-unlock broke the lock of deploy by \\S+@\\S+ \\(pid ${first.child.pid}\\)`));
      expect(forced.code).toBe(0);
      expect(await fetch(`http://127.0.0.1:${slowPort}/`).then((r) => r.text())).toBe(`v-forced ${name}\n`);
      // The forced run released its own lock.
      expect(onServer(`test -e apps/.deploy-vps/${name}/lock && echo held || echo free`).trim()).toBe("free");
    } finally {
      first.child.kill("SIGKILL");
      await first.done;
    }
  });

  it("a deploy killed during the build leaves a lock that clears itself once its detached build is over", async () => {
    writeFileSync(join(dir, "web/version.txt"), `v-killed ${name}\n`);
    const first = startCli([dir, "--path", `~/${app}`, "--settle", "0"]);
    await first.reached(/Build and start/);
    first.child.kill("SIGKILL");
    await first.done;
    await workerDone(name);
    const next = await runCli([dir, "--path", `~/${app}`, "--settle", "0"]);
    expect(next.code).toBe(0);
    expect(next.stderr).toMatch(/cleared a lock left by a deploy that died: deploy by \S+/);
    expect(await fetch(`http://127.0.0.1:${slowPort}/`).then((r) => r.text())).toBe(`v-killed ${name}\n`);
  });
});

describe("an interrupted deploy or rollback leaves the old version or the new one, never between", () => {
  const name = uniqueName("e2e-cut");
  const app = `apps/${name}`;
  const port = cutPort;
  const stateDir = `apps/.deploy-vps/${name}`;
  stacks.push(name);
  let dir: string;
  let v1: { files: string; env: string; containers: string };

  const state = () => ({ files: liveFiles(app), env: onServer(`md5sum ${app}/.env`), containers: containers(name) });
  const current = () => onServer(`cat ${stateDir}/current`).trim();
  /** Seconds the test host's tar hook (test/host/setup.sh) holds this app's switch; 0: none. */
  const slowSwitch = (seconds: number) =>
    onServer(seconds ? `echo ${seconds} > .slow-switch-${name}` : `rm -f .slow-switch-${name}`);
  afterAll(() => slowSwitch(0));
  const page = (path: string) => fetch(`http://127.0.0.1:${port}/${path}`).then((r) => (r.ok ? r.text() : `HTTP ${r.status}`));

  /**
   * After the run was killed and its worker is over: .env as it was, the live folder exactly
   * the release `current` names, the containers brought up from that release (and serving its
   * files), no process holding the lock, and monitor-vps healthy (exit 0).
   */
  const expectWholeAt = async (release: string, served: { path: string; text: string }) => {
    await workerDone(name);
    const after = state();
    expect(after.env).toBe(v1.env);
    expect(current()).toBe(release);
    const live = after.files
      .split("\n")
      .filter((line) => !line.endsWith("  ./.env"))
      .join("\n");
    expect(live).toBe(liveFiles(`${stateDir}/releases/${release}`));
    expect(onServer(`cat ${stateDir}/containers`).trim()).toBe(release);
    expect(await page(served.path)).toBe(served.text);
    const monitor = await monitorVerdict(dir, app);
    expect(monitor.doc.release).toEqual({ files: release, containers: release });
    expect(monitor.doc.healthy).toBe(true);
    expect(monitor.code).toBe(0);
    // The killed run's lock stays until the next run clears it, but nothing of it runs any more.
    expect(monitor.doc.lock ?? "").not.toMatch(/under way/);
    return after;
  };

  it("deploys v1", async () => {
    dir = projectCopy("compose/demo", name);
    // web ignores its stop signal for 3 s: each `up` that recreates it lasts that long, so a
    // worker is seen running before the test strikes.
    const compose = join(dir, "compose.yaml");
    writeFileSync(compose, readFileSync(compose, "utf8").replace("    init: true  #", "    stop_signal: SIGWINCH\n    stop_grace_period: 3s\n    init: true  #"));
    writeFileSync(join(dir, "web/site/marker.txt"), "v1\n");
    expect((await runCli([dir, "--path", `~/${app}`, "--settle", "0"], { DEMO_PORT: port })).code).toBe(0);
    v1 = state();
    expect(onServer(`cat ${stateDir}/containers`).trim()).toBe(current());
  });

  it("killed during the upload: the live folder, .env and containers are as they were; monitor-vps healthy", async () => {
    // 60 MB that gzip cannot shrink: the upload lasts long enough to be cut in the middle.
    writeFileSync(join(dir, "web/site/big.bin"), randomBytes(60 * 1024 * 1024));
    writeFileSync(join(dir, "web/site/marker.txt"), "v2\n");
    const run = startCli([dir, "--path", `~/${app}`, "--settle", "0"], { DEMO_PORT: port });
    await run.reached(/Upload/);
    await sleep(300);
    run.child.kill("SIGKILL");
    await run.done;
    expect(state()).toEqual(v1);
    await expectWholeAt(current(), { path: "marker.txt", text: "v1\n" });
  });

  it("the TCP connection cut during the upload (sshd's session killed): same", async () => {
    const run = startCli([dir, "--path", `~/${app}`, "--settle", "0"], { DEMO_PORT: port });
    await run.reached(/Upload/);
    await sleep(300);
    cutConnection(run.child.pid ?? 0);
    expect(await run.done).toBe(1);
    expect(run.output()).toMatch(/connection .*lost|upload .* failed|closed/i);
    expect(state()).toEqual(v1);
    await expectWholeAt(current(), { path: "marker.txt", text: "v1\n" });
  });

  it("killed during the switch: the worker goes on, files and containers end at the new version together", async () => {
    const before = current();
    // The test host's tar hook holds the switch's extraction for 3 s: the kill lands mid-switch.
    slowSwitch(3);
    const run = startCli([dir, "--path", `~/${app}`, "--settle", "0"], { DEMO_PORT: port });
    await run.reached(/Switch to the new version/);
    await workerStarted(name);
    run.child.kill("SIGKILL");
    await run.done;
    expect(current()).toBe(before);
    const after = await expectWholeAt(onServer(`ls ${stateDir}/releases | sort | tail -n 1`).trim(), { path: "marker.txt", text: "v2\n" });
    expect(current()).not.toBe(before);
    expect(after.files).toContain("./web/site/big.bin");
    expect(after.containers).not.toBe(v1.containers);
  });

  it("the TCP connection cut during the switch: the same", async () => {
    const before = current();
    writeFileSync(join(dir, "web/site/marker.txt"), "v3\n");
    slowSwitch(3);
    const run = startCli([dir, "--path", `~/${app}`, "--settle", "0"], { DEMO_PORT: port });
    await run.reached(/Switch to the new version/);
    await workerStarted(name);
    cutConnection(run.child.pid ?? 0);
    expect(await run.done).toBe(1);
    await expectWholeAt(onServer(`ls ${stateDir}/releases | sort | tail -n 1`).trim(), { path: "marker.txt", text: "v3\n" });
    expect(current()).not.toBe(before);
    slowSwitch(0);
  });

  it("killed during build and up: the worker still brings the containers to the new version", async () => {
    writeFileSync(join(dir, "web/site/marker.txt"), "v4\n");
    const run = startCli([dir, "--path", `~/${app}`, "--settle", "0"], { DEMO_PORT: port });
    await run.reached(/Build and start/);
    run.child.kill("SIGKILL");
    await run.done;
    await expectWholeAt(onServer(`ls ${stateDir}/releases | sort | tail -n 1`).trim(), { path: "marker.txt", text: "v4\n" });
  });

  it("a rollback killed during 'Restore the files': its worker still ends with files and containers at the release it went to", async () => {
    const releases = onServer(`ls ${stateDir}/releases | sort`).trim().split("\n");
    const target = releases.at(-2) ?? "";
    const run = startCli(["rollback", dir, "--path", `~/${app}`, "--settle", "0"]);
    await run.reached(/Restore the files/);
    await workerStarted(name);
    run.child.kill("SIGKILL");
    await run.done;
    await expectWholeAt(target, { path: "marker.txt", text: "v3\n" });
  });

  it("the next deploy clears the dead run's lock, succeeds and cleans up the staging folder", async () => {
    const next = await runCli([dir, "--path", `~/${app}`, "--settle", "0"], { DEMO_PORT: port });
    expect(next.code).toBe(0);
    expect(next.stderr).toMatch(/cleared a lock left by a deploy that died: rollback by \S+/);
    expect(onServer(`ls -A ${stateDir}`).split("\n")).not.toContain("staging");
    expect(await page("marker.txt")).toBe("v4\n");
  });
});

describe("the server's disk full during the upload", () => {
  const name = uniqueName("e2e-full");
  // A small tmpfs as the app's parent: the staging folder beside the app fills it.
  const mount = `/home/deploy/${name}`;
  afterAll(() => {
    // The network too: each one left takes one of Docker's address pools, and when they are
    // all taken every later deploy on this host fails to create its network.
    removeProject(name);
    execFileSync("umount", [mount]);
    execFileSync("rmdir", [mount]);
  });

  it("fails with a clear error and leaves the old version intact", async () => {
    execFileSync("mkdir", ["-p", mount]);
    const uid = execFileSync("id", ["-u", "deploy"], { encoding: "utf8" }).trim();
    execFileSync("mount", ["-t", "tmpfs", "-o", `size=4m,uid=${uid},gid=${uid},mode=755`, "tmpfs", mount]);
    const dir = projectCopy("compose/demo", name);
    const path = ["--path", `~/${name}/app`, "--settle", "0"];
    expect((await runCli([dir, ...path], { DEMO_PORT: fullPort })).code).toBe(0);
    const before = liveFiles(`${name}/app`);
    writeFileSync(join(dir, "web/site/video.bin"), randomBytes(8 * 1024 * 1024));
    const run = await runCli([dir, ...path], { DEMO_PORT: fullPort });
    expect(run.code).toBe(1);
    expect(run.stderr.trim().split("\n").at(-1)).toMatch(/^deploy-vps: upload to 127\.0\.0\.1:.* failed: the server's disk is full\. The live version was not touched\.$/);
    expect(liveFiles(`${name}/app`)).toBe(before);
    expect(onServer(`test -e ${name}/.deploy-vps/app/lock && echo held || echo free`).trim()).toBe("free");
  });
});
