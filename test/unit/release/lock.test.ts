import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { heldError, type LockHolder, parseLock, takeLockScript } from "../../../src/release/lock.js";
import { scriptFields } from "../../../src/release/probe.js";

const scratch = mkdtempSync(join(tmpdir(), "deploy-vps-lock-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
let states = 0;

const holder: LockHolder = { by: "ana", machine: "laptop", pid: 4242, action: "deploy", since: "2026-11-23T19:36:55.548Z" };
/** This test process as the lock records a process: "pid start-time". */
const self = `${process.pid} ${readFileSync("/proc/self/stat", "utf8").replace(/^.*\) /s, "").split(" ")[19]}`;
const dead = "999999999 1";

/** A state folder whose lock is held by a run with this session and these workers. */
function lockedState(session: string, workers: string[]): string {
  const state = join(scratch, String(++states));
  mkdirSync(join(state, "lock"), { recursive: true });
  writeFileSync(join(state, "lock/info"), `${JSON.stringify(holder)}\n`);
  writeFileSync(join(state, "lock/session"), `${session}\n`);
  writeFileSync(join(state, "lock/workers"), workers.map((w) => `${w}\n`).join(""));
  return state;
}

/** Runs the lock script against `state` here, as the probe does on the server. */
function take(state: string, force: boolean) {
  const stdout = execFileSync("sh", ["-c", `state='${state}'\n${takeLockScript({ ...holder, by: "bo" }, force).code}`], { encoding: "utf8" });
  return parseLock(scriptFields(stdout).fields);
}

describe("takeLockScript", () => {
  it("takes a free lock", () => {
    const state = join(scratch, "free");
    expect(take(state, false)).toEqual({ status: "taken" });
    expect(JSON.parse(readFileSync(join(state, "lock/info"), "utf8")).by).toBe("bo");
  });

  it("clears a lock whose session and workers are all gone", () => {
    expect(take(lockedState(dead, [dead]), false)).toEqual({ status: "stale", previous: holder });
  });

  it("takes a pid that runs another process now (its start time differs) for gone", () => {
    const reused = `${process.pid} 1`;
    expect(take(lockedState(reused, [reused]), false)).toEqual({ status: "stale", previous: holder });
  });

  it("refuses a lock whose client is alive; --force-unlock breaks it", () => {
    expect(take(lockedState(self, []), false)).toEqual({ status: "held", holder, workers: [] });
    const state = lockedState(self, [dead]);
    expect(take(state, true)).toEqual({ status: "broke", previous: holder });
    expect(JSON.parse(readFileSync(join(state, "lock/info"), "utf8")).by).toBe("bo");
  });

  it("never breaks a lock while its worker runs, even with --force-unlock, and names the worker", () => {
    for (const force of [false, true]) {
      const state = lockedState(dead, [dead, self]);
      expect(take(state, force)).toEqual({ status: "held", holder, workers: [process.pid] });
      expect(JSON.parse(readFileSync(join(state, "lock/info"), "utf8")).by).toBe("ana");
    }
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
