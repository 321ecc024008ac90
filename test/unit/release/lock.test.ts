import { spawn, spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { layoutEnv, serverLayout } from "../../../src/release/layout.js";
import { heldError, type LockHolder, lockScript, parseLock, parseLockSeen } from "../../../src/release/lock.js";
import { scriptFields } from "../../../src/release/probe.js";
import type { ScriptValue } from "../../../src/remote/script.js";
import { Shell } from "../../../src/ssh/quote.js";
import { runRemoteScript } from "../remote/run.js";

const scratch = mkdtempSync(join(tmpdir(), "deploy-vps-lock-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
let apps = 0;

const holder: LockHolder = { by: "ana", machine: "laptop", pid: 4242, action: "deploy", since: "2026-11-23T19:36:55.548Z" };
/** This test process as the lock records a process: "pid start-time". */
const self = `${process.pid} ${readFileSync("/proc/self/stat", "utf8").replace(/^.*\) /s, "").split(" ")[19]}`;
const dead = "999999999 1";

/** A new app's layout, and its layout variables. */
function app() {
  const layout = serverLayout(join(scratch, `app${++apps}`));
  return { layout, env: layoutEnv(layout) };
}

/** An app whose lock is held by a run with this session and these workers. */
function locked(session: string, workers: string[]) {
  const made = app();
  const { lock } = made.layout;
  mkdirSync(lock, { recursive: true });
  writeFileSync(join(lock, "info"), `${JSON.stringify(holder)}\n`);
  writeFileSync(join(lock, "session"), `${session}\n`);
  writeFileSync(join(lock, "workers"), workers.map((w) => `${w}\n`).join(""));
  return made;
}

function take(env: Record<string, ScriptValue>, force: boolean) {
  const run = runRemoteScript("lock", { env, args: ["take", JSON.stringify({ ...holder, by: "bo" }), force ? 1 : 0] }, { cwd: scratch });
  expect(run.code).toBe(0);
  return parseLock(scriptFields(run.stdout).fields);
}

/**
 * Runs lock.sh commands, one after the other, in one shell that stands for the sshd process
 * of an SSH connection: a copy of /bin/sh named `sshd`, which the lock takes for the session.
 */
const sshd = join(scratch, "sshd");
copyFileSync("/bin/sh", sshd);
function inConnection(...commands: Shell[]): string {
  const run = spawnSync(sshd, ["-c", `${commands.map((c) => c.code).join("\n")}\ntrue`], { cwd: scratch, encoding: "utf8" });
  return run.stdout;
}

describe("lock.sh take", () => {
  it("takes a free lock, creating the state folder private", () => {
    const { layout, env } = app();
    expect(take(env, false)).toEqual({ status: "taken" });
    expect(JSON.parse(readFileSync(join(layout.lock, "info"), "utf8")).by).toBe("bo");
    expect(readFileSync(join(layout.lock, "workers"), "utf8")).toBe("");
  });

  it("clears a lock whose session and workers are all gone", () => {
    expect(take(locked(dead, [dead]).env, false)).toEqual({ status: "stale", previous: holder });
  });

  it("takes a pid that runs another process now (its start time differs) for gone", () => {
    const reused = `${process.pid} 1`;
    expect(take(locked(reused, [reused]).env, false)).toEqual({ status: "stale", previous: holder });
  });

  it("takes a session that is a zombie (killed with its parent, not yet collected by init) for gone", async () => {
    // `sleep 0`'s parent becomes `sleep 5` by exec, which never waits for it: a zombie while that runs.
    const parent = spawn("sh", ["-c", "sleep 0 & echo $!; exec sleep 5"], { stdio: ["ignore", "pipe", "ignore"] });
    try {
      const pid = await new Promise<string>((resolve) => parent.stdout.once("data", (chunk: Buffer) => resolve(chunk.toString().trim())));
      const stat = () => readFileSync(`/proc/${pid}/stat`, "utf8").replace(/^.*\) /s, "").split(" ");
      for (let i = 0; i < 100 && stat()[0] !== "Z"; i++) await new Promise((resolve) => setTimeout(resolve, 20));
      expect(stat()[0]).toBe("Z");
      const zombie = `${pid} ${stat()[19]}`;
      expect(take(locked(zombie, []).env, false)).toEqual({ status: "stale", previous: holder });
    } finally {
      parent.kill();
    }
  });

  it("refuses a lock whose client is alive; --force-unlock breaks it", () => {
    expect(take(locked(self, []).env, false)).toEqual({ status: "held", holder, workers: [] });
    const { layout, env } = locked(self, [dead]);
    expect(take(env, true)).toEqual({ status: "broke", previous: holder });
    expect(JSON.parse(readFileSync(join(layout.lock, "info"), "utf8")).by).toBe("bo");
  });

  it("never breaks a lock while its worker runs, even with --force-unlock, and names the worker", () => {
    for (const force of [false, true]) {
      const { layout, env } = locked(dead, [dead, self]);
      expect(take(env, force)).toEqual({ status: "held", holder, workers: [process.pid] });
      expect(JSON.parse(readFileSync(join(layout.lock, "info"), "utf8")).by).toBe("ana");
    }
  });

  it("records the sshd process serving the connection as the session", () => {
    const { layout, env } = app();
    inConnection(lockScript(env, "take", JSON.stringify(holder), 0));
    const [pid, start] = readFileSync(join(layout.lock, "session"), "utf8").trim().split(" ");
    expect(Number(pid)).toBeGreaterThan(1);
    expect(start).toMatch(/^\d+$/);
  });
});

describe("lock.sh report", () => {
  const report = (env: Record<string, ScriptValue>) =>
    parseLockSeen(scriptFields(runRemoteScript("lock", { env, args: ["report"] }, { cwd: scratch }).stdout).fields);

  it("says who holds the lock and whether they still run, and nothing when it is free", () => {
    expect(report(locked(self, []).env)).toEqual({ holder, running: true });
    expect(report(locked(dead, [self]).env)).toEqual({ holder, running: true });
    expect(report(locked(dead, [dead]).env)).toEqual({ holder, running: false });
    expect(report(app().env)).toBeUndefined();
  });
});

describe("lock.sh register", () => {
  it("adds a process to the lock's workers, so that the lock stays held while it runs", () => {
    const { layout, env } = locked(dead, []);
    expect(runRemoteScript("lock", { env, args: ["register", process.pid] }, { cwd: scratch }).code).toBe(0);
    expect(readFileSync(join(layout.lock, "workers"), "utf8")).toBe(`${self}\n`);
    expect(take(env, true)).toMatchObject({ status: "held", workers: [process.pid] });
  });
  it("records a worker whose command name holds spaces and parentheses by its real start time", () => {
    const { layout, env } = locked(dead, []);
    const odd = join(scratch, "odd) (name x");
    copyFileSync("/bin/sleep", odd);
    chmodSync(odd, 0o755);
    const worker = spawn(odd, ["30"]);
    try {
      const pid = worker.pid ?? 0;
      const start = readFileSync(`/proc/${pid}/stat`, "utf8").replace(/^.*\) /s, "").split(" ")[19];
      expect(runRemoteScript("lock", { env, args: ["register", pid] }, { cwd: scratch }).code).toBe(0);
      expect(readFileSync(join(layout.lock, "workers"), "utf8")).toBe(`${pid} ${start}\n`);
    } finally {
      worker.kill();
    }
  });
  it("records nothing for a worker already over (a quick one on a loaded host): no line without its start time", async () => {
    const { layout, env } = locked(dead, []);
    const worker = spawn("true");
    await new Promise((resolve) => worker.once("exit", resolve));
    expect(runRemoteScript("lock", { env, args: ["register", worker.pid ?? 0] }, { cwd: scratch }).code).toBe(0);
    expect(existsSync(join(layout.lock, "workers")) ? readFileSync(join(layout.lock, "workers"), "utf8") : "").toBe("");
  });
});

describe("lock.sh release", () => {
  it("removes the lock only from the connection that holds it, and an emptied state folder", () => {
    const { layout, env } = app();
    inConnection(lockScript(env, "take", JSON.stringify(holder), 0));
    inConnection(lockScript(env, "release"));
    expect(existsSync(layout.lock)).toBe(true);
    rmSync(layout.lock, { recursive: true });

    inConnection(lockScript(env, "take", JSON.stringify(holder), 0), lockScript(env, "release"));
    expect(existsSync(layout.lock)).toBe(false);
    expect(existsSync(layout.state)).toBe(false);
  });

  it("keeps a state folder that holds more than the lock", () => {
    const { layout, env } = app();
    inConnection(lockScript(env, "take", JSON.stringify(holder), 0), new Shell(`: > ${layout.current}`), lockScript(env, "release"));
    expect(existsSync(layout.lock)).toBe(false);
    expect(existsSync(layout.current)).toBe(true);
  });
});

describe("heldError", () => {
  it("says a running worker ends by itself, and that --force-unlock does not race it", () => {
    expect(heldError("vps", "/srv/shop", { holder, workers: [77] }, true).message).toBe(
      "vps:/srv/shop is locked by deploy by ana@laptop (pid 4242) since 2026-11-23T19:36:55.548Z, whose switch, build or start still runs on the server (pid 77) and ends by itself; " +
        "wait for it with --lock-wait SECONDS (--force-unlock never breaks a lock while that runs: two at once would interleave).",
    );
    expect(heldError("vps", "/srv/shop", { holder, workers: [] }, false).message).toMatch(/run again with --force-unlock\.$/);
  });
});
