import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
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

/** Whether a detached step of the app's last deploy is running. */
function workerAlive(name: string): boolean {
  return onServer(
    `for p in $(cat apps/.deploy-vps/${name}/lock/pids 2>/dev/null); do [ -d /proc/$p ] && echo alive; done; true`,
  ).includes("alive");
}

/** Waits until no detached step of the app's last deploy is running. */
async function workerDone(name: string): Promise<void> {
  for (let i = 0; i < 120; i++) {
    if (!workerAlive(name)) return;
    await sleep(500);
  }
}

describe("one deploy at a time", () => {
  const name = uniqueName("e2e-lock");
  const app = `apps/${name}`;
  stacks.push(name);
  let dir: string;

  it("a second deploy meets the first one's lock: refused with who holds it (exit 1), or waits with --lock-wait", async () => {
    dir = projectCopy("test/fixtures/slowbuild", name);
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

  it("--force-unlock breaks a live lock and says whose", async () => {
    writeFileSync(join(dir, "web/version.txt"), "v-force\n");
    const first = startCli([dir, "--path", `~/${app}`, "--settle", "0"]);
    await first.reached(/Build and start/);
    const forced = await runCli([dir, "--path", `~/${app}`, "--settle", "0", "--force-unlock"]);
    expect(forced.stderr).toMatch(/--force-unlock broke the lock of deploy by \S+@\S+ \(pid \d+\)/);
    await first.done;
    expect(forced.code).toBe(0);
  });

  it("a deploy killed during the build leaves a lock that clears itself once its detached build is over", async () => {
    writeFileSync(join(dir, "web/version.txt"), "v-killed\n");
    const first = startCli([dir, "--path", `~/${app}`, "--settle", "0"]);
    await first.reached(/Build and start/);
    first.child.kill("SIGKILL");
    await first.done;
    await workerDone(name);
    const next = await runCli([dir, "--path", `~/${app}`, "--settle", "0"]);
    expect(next.code).toBe(0);
    expect(next.stderr).toMatch(/cleared a lock left by a deploy that died: deploy by \S+/);
    expect(await fetch(`http://127.0.0.1:${slowPort}/`).then((r) => r.text())).toBe("v-killed\n");
  });
});

describe("an interrupted deploy leaves the old version or the new one, never half", () => {
  const name = uniqueName("e2e-cut");
  const app = `apps/${name}`;
  const port = cutPort;
  stacks.push(name);
  let dir: string;
  let v1: { files: string; env: string; containers: string };

  const state = () => ({ files: liveFiles(app), env: onServer(`md5sum ${app}/.env`), containers: containers(name) });
  /** Seconds the test host's tar hook (test/host/setup.sh) holds this app's switch; 0: none. */
  const slowSwitch = (seconds: number) =>
    onServer(seconds ? `echo ${seconds} > .slow-switch-${name}` : `rm -f .slow-switch-${name}`);
  afterAll(() => slowSwitch(0));

  /** After an interrupted switch: .env as it was, the live folder exactly the release `current` names. */
  const expectWholeRelease = () => {
    const after = state();
    expect(after.env).toBe(v1.env);
    const current = onServer(`cat apps/.deploy-vps/${name}/current`).trim();
    const live = after.files
      .split("\n")
      .filter((line) => !line.endsWith("  ./.env"))
      .join("\n");
    expect(live).toBe(liveFiles(`apps/.deploy-vps/${name}/releases/${current}`));
    return after;
  };

  it("deploys v1", async () => {
    dir = projectCopy("compose/demo", name);
    expect((await runCli([dir, "--path", `~/${app}`, "--settle", "0"], { DEMO_PORT: port })).code).toBe(0);
    v1 = state();
  });

  it("killed during the upload: the live folder, .env and containers are as they were; the next deploy works", async () => {
    // 60 MB that gzip cannot shrink: the upload lasts long enough to be cut in the middle.
    writeFileSync(join(dir, "web/site/big.bin"), randomBytes(60 * 1024 * 1024));
    const run = startCli([dir, "--path", `~/${app}`, "--settle", "0"], { DEMO_PORT: port });
    await run.reached(/Upload/);
    await sleep(300);
    run.child.kill("SIGKILL");
    await run.done;
    expect(state()).toEqual(v1);
  });

  it("the TCP connection cut during the upload (sshd's session killed): same", async () => {
    // The killed run's sshd session holds its lock until the server notices it is gone.
    await workerDone(name);
    const run = startCli([dir, "--path", `~/${app}`, "--settle", "0"], { DEMO_PORT: port });
    await run.reached(/Upload/);
    await sleep(300);
    cutConnection(run.child.pid ?? 0);
    expect(await run.done).toBe(1);
    expect(run.output()).toMatch(/connection .*lost|upload .* failed|closed/i);
    expect(state()).toEqual(v1);
  });

  it("killed during the switch: the switch, detached, still ends whole at the new version", async () => {
    await workerDone(name);
    const before = onServer(`cat apps/.deploy-vps/${name}/current`).trim();
    // The test host's tar hook holds the switch's extraction for 3 s: the kill lands mid-switch.
    slowSwitch(3);
    const run = startCli([dir, "--path", `~/${app}`, "--settle", "0"], { DEMO_PORT: port });
    await run.reached(/Switch to the new version/);
    await sleep(150);
    run.child.kill("SIGKILL");
    await run.done;
    expect(workerAlive(name)).toBe(true);
    await workerDone(name);
    const after = expectWholeRelease();
    expect(onServer(`cat apps/.deploy-vps/${name}/current`).trim()).not.toBe(before);
    expect(after.files).toContain("./web/site/big.bin");
    // Killed before compose up: the containers are the old ones, untouched.
    expect(after.containers).toBe(v1.containers);
  });

  it("the TCP connection cut during the switch (extraction, .env writing): the switch still ends whole at the new version", async () => {
    await workerDone(name);
    const before = onServer(`cat apps/.deploy-vps/${name}/current`).trim();
    writeFileSync(join(dir, "web/site/cut-during-switch.txt"), "new\n");
    slowSwitch(3);
    const run = startCli([dir, "--path", `~/${app}`, "--settle", "0"], { DEMO_PORT: port });
    await run.reached(/Switch to the new version/);
    await sleep(150);
    cutConnection(run.child.pid ?? 0);
    expect(await run.done).toBe(1);
    expect(workerAlive(name)).toBe(true);
    await workerDone(name);
    expectWholeRelease();
    expect(onServer(`cat apps/.deploy-vps/${name}/current`).trim()).not.toBe(before);
    expect(onServer(`cat ${app}/web/site/cut-during-switch.txt`)).toBe("new\n");
    slowSwitch(0);
  });

  it("the next deploy succeeds and cleans up the staging folder", async () => {
    const next = await runCli([dir, "--path", `~/${app}`, "--settle", "0"], { DEMO_PORT: port });
    expect(next.code).toBe(0);
    expect(onServer(`ls -A apps/.deploy-vps/${name}`).split("\n")).not.toContain("staging");
    expect(await fetch(`http://127.0.0.1:${port}/`).then((r) => r.text())).toContain("Hello from deploy-vps");
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
