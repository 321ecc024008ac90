import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { PLAIN_START } from "../../../src/blue-green/start.js";
import { DeployError, EnvironmentError, ExitCode } from "../../../src/errors.js";
import { serverLayout } from "../../../src/release/layout.js";
import { SWITCHED, WorkerProgress, workerScript } from "../../../src/release/worker.js";
import { Shell } from "../../../src/ssh/quote.js";

const switchFailed = (reason: string) => new EnvironmentError(`switching failed: ${reason}`);
const settled = async (promise: Promise<void>) => promise.then(() => "done", (error: Error) => error.message);

describe("WorkerProgress", () => {
  it("settles the switch at its marker, then the start when the worker ends well; compose's lines go to the follower, those before it too", async () => {
    const progress = new WorkerProgress("vps", switchFailed);
    progress.line("copying");
    let switched = false;
    void progress.switched.then(() => (switched = true));
    await Promise.resolve();
    expect(switched).toBe(false);
    progress.line(SWITCHED);
    await progress.switched;
    progress.line(" Container shop-web-1  Started");
    const seen: string[] = [];
    progress.follow((line) => seen.push(line));
    progress.line(" Container shop-db-1  Started");
    progress.finish(0);
    await progress.started;
    expect(seen).toEqual([" Container shop-web-1  Started", " Container shop-db-1  Started"]);
  });

  it("a worker that failed before its marker failed its switch, with its last lines", async () => {
    const progress = new WorkerProgress("vps", switchFailed);
    progress.line("mv: cannot move");
    progress.line("No space left on device");
    progress.finish(1);
    expect(await settled(progress.switched)).toBe("switching failed: mv: cannot move / No space left on device");
    expect(await settled(progress.started)).toBe("switching failed: mv: cannot move / No space left on device");
  });

  it("a worker that failed after its marker failed compose: the switch stands", async () => {
    const progress = new WorkerProgress("vps", switchFailed);
    progress.line(SWITCHED);
    progress.line("failed to solve: process \"/bin/sh -c false\" did not complete successfully: exit code: 1");
    progress.finish(17);
    expect(await settled(progress.switched)).toBe("done");
    expect(await settled(progress.started)).toBe(
      'docker compose failed on vps (exit 17): failed to solve: process "/bin/sh -c false" did not complete successfully: exit code: 1',
    );
  });

  it("with no file step, every line is compose's", async () => {
    const progress = new WorkerProgress("vps");
    await progress.switched;
    progress.line("Building web");
    progress.finish(1);
    expect(await settled(progress.started)).toBe("docker compose failed on vps (exit 1): Building web");
  });

  it("a zero-downtime script's exit 3 is the unhealthy exit naming the service, with the new container's log lines; its step lines are the output", async () => {
    const progress = new WorkerProgress("vps");
    const seen: string[] = [];
    progress.follow((line) => seen.push(line));
    progress.line("deploy-vps:step web: starting a new container beside the one serving");
    progress.line("deploy-vps:log Error: cannot reach db");
    progress.line("deploy-vps:unready web: its new container was not ready within 120 s (not ready); it was removed, the old one still serves");
    progress.finish(3);
    const error = await progress.started.then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(DeployError);
    expect((error as DeployError).exitCode).toBe(ExitCode.unhealthy);
    expect((error as DeployError).message).toBe(
      "web: its new container was not ready within 120 s (not ready); it was removed, the old one still serves (on vps).\nIts last log lines:\n  Error: cannot reach db",
    );
    expect(seen).toEqual(["web: starting a new container beside the one serving"]);
  });

  it("an exit 3 without the unready line is a compose failure as before", async () => {
    const progress = new WorkerProgress("vps");
    progress.line("no such service");
    progress.finish(3);
    const error = await progress.started.then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(EnvironmentError);
  });

  it("a lost connection fails what has not settled", async () => {
    const progress = new WorkerProgress("vps", switchFailed);
    progress.line(SWITCHED);
    progress.fail(new EnvironmentError("the SSH connection to vps was lost."));
    expect(await settled(progress.switched)).toBe("done");
    expect(await settled(progress.started)).toBe("the SSH connection to vps was lost.");
  });
});

describe("workerScript run under /bin/sh, with a stand-in docker", () => {
  const dir = mkdtempSync(join(tmpdir(), "deploy-vps-worker-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const bin = join(dir, "bin");
  mkdirSync(bin);
  // Records each call, prints a line as compose would, and fails when asked to.
  // Its `up` lasts a moment, as a real one does: the worker is still running when it registers with the lock.
  writeFileSync(join(bin, "docker"), `#!/bin/sh\nprintf '%s\\n' "$*" >> "${dir}/calls"\necho "compose says $*"\ncase "$*" in *" up "*) sleep 0.5 ;; esac\n[ ! -e "${dir}/fail" ]\n`, { mode: 0o755 });
  let apps = 0;
  const start = (release: string) => ({
    compose: { kind: "v2" as const, project: "shop", files: ["compose.yaml", "more files.yaml"] },
    build: true,
    plan: PLAIN_START,
    release,
    failed: { time: "t", by: "ana@laptop", action: "deploy" as const, release, outcome: "failed" as const },
  });

  function runWorker(files: Shell | undefined, options: { composeFails?: boolean } = {}) {
    const layout = serverLayout(join(dir, `app${++apps}`));
    mkdirSync(layout.app, { recursive: true });
    mkdirSync(layout.lock, { recursive: true });
    rmSync(join(dir, "calls"), { force: true });
    if (options.composeFails) writeFileSync(join(dir, "fail"), "");
    else rmSync(join(dir, "fail"), { force: true });
    const run = spawnSync("/bin/sh", ["-c", workerScript(layout, files, start("r2")).code], {
      cwd: dir,
      env: { PATH: `${bin}:${process.env.PATH}`, HOME: dir },
      encoding: "utf8",
    });
    const read = (path: string) => (existsSync(path) ? readFileSync(path, "utf8") : undefined);
    return { layout, run, calls: read(join(dir, "calls")), containers: read(layout.containers), log: read(layout.log), workers: read(join(layout.lock, "workers")) };
  }

  it("runs the file step, then build and up in the app folder, and records the containers' release after up", () => {
    const { run, calls, containers, log, workers, layout } = runWorker(new Shell("echo switching; pwd > /dev/null"));
    expect(run.status).toBe(0);
    expect(run.stdout.split("\n")).toEqual([
      "switching",
      SWITCHED,
      "compose says compose -p shop --env-file .env -f compose.yaml -f more files.yaml build",
      "compose says compose -p shop --env-file .env -f compose.yaml -f more files.yaml up -d --remove-orphans",
      "",
    ]);
    expect(calls?.split("\n").length).toBe(3);
    expect(containers).toBe("r2\n");
    expect(log).toBeUndefined();
    // It ran as a worker of the lock, and left no output on the server.
    expect(workers).toMatch(/^\d+ \d+\n$/);
    expect(readFileSync(layout.workerLog, "utf8")).toBe("");
  });

  it("logs a failed up itself and records no containers' release", () => {
    const { run, containers, log } = runWorker(undefined, { composeFails: true });
    expect(run.status).toBe(1);
    expect(run.stdout).not.toContain(SWITCHED);
    expect(containers).toBeUndefined();
    expect(JSON.parse(log ?? "")).toMatchObject({ release: "r2", outcome: "failed" });
  });

  it("starts nothing when the file step fails", () => {
    const { run, calls, log } = runWorker(new Shell("echo half-way; exit 4"));
    expect(run.status).toBe(4);
    expect(run.stdout).toBe("half-way\n");
    expect(calls).toBeUndefined();
    expect(JSON.parse(log ?? "")).toMatchObject({ outcome: "failed" });
  });
});
