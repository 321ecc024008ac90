import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DEPLOY_LOCK_RECHECK_MS, type IdleInput, idleLeftSeconds, idleVerdict } from "../../../src/proxy/idle.js";
import type { UnitState } from "../../../src/proxy/model.js";

const MINUTE = 60_000;
const quiet: IdleInput = { idleMs: 30 * MINUTE, lastActivityAt: 1_000_000, openConnections: 0, deployLocked: false, state: "ready", now: 1_000_000 };
const at = (elapsedMs: number, changes: Partial<IdleInput> = {}): IdleInput => ({ ...quiet, now: quiet.lastActivityAt + elapsedMs, ...changes });

describe("idleVerdict", () => {
  it("stops a ready unit once its idle time has passed since the last activity, not a millisecond before", () => {
    expect(idleVerdict(at(30 * MINUTE))).toEqual({ stop: true });
    expect(idleVerdict(at(30 * MINUTE - 1))).toEqual({ stop: false, checkAt: quiet.lastActivityAt + 30 * MINUTE, why: "active 1799s ago" });
  });

  it("waits for an event while a connection is open, whatever the time", () => {
    expect(idleVerdict(at(5 * 60 * MINUTE, { openConnections: 1 }))).toEqual({ stop: false, checkAt: null, why: "1 connection open" });
    expect(idleVerdict(at(0, { openConnections: 3 }))).toMatchObject({ checkAt: null, why: "3 connections open" });
  });

  it("never stops a unit whose idle is never", () => {
    expect(idleVerdict(at(1e12, { idleMs: null }))).toEqual({ stop: false, checkAt: null, why: "idle is never" });
  });

  it("does not stop under a deploy's lock, and looks again a little later", () => {
    const input = at(31 * MINUTE, { deployLocked: true });
    expect(idleVerdict(input)).toEqual({ stop: false, checkAt: input.now + DEPLOY_LOCK_RECHECK_MS, why: "a deploy holds its lock" });
    // Before its time, the lock changes nothing: the next look is at the idle time.
    expect(idleVerdict(at(MINUTE, { deployLocked: true }))).toMatchObject({ checkAt: quiet.lastActivityAt + 30 * MINUTE });
  });

  it("stops only a ready unit; the others wait for a state change", () => {
    for (const state of ["sleeping", "starting", "stopping", "failed", "disabled"] as const) {
      expect(idleVerdict(at(31 * MINUTE, { state }))).toEqual({ stop: false, checkAt: null, why: `${state}: only a ready unit stops for idleness` });
    }
  });

  it("stops exactly when ready, quiet, unlocked and past its time; and a check time is never in the past", () => {
    const input = fc.record({
      idleMs: fc.option(fc.integer({ min: 0, max: 10 * MINUTE })),
      lastActivityAt: fc.integer({ min: 0, max: 10 * MINUTE }),
      openConnections: fc.nat(3),
      deployLocked: fc.boolean(),
      state: fc.constantFrom<UnitState>("sleeping", "starting", "ready", "stopping", "failed", "disabled"),
      now: fc.integer({ min: 0, max: 30 * MINUTE }),
    });
    fc.assert(
      fc.property(input, (i) => {
        const verdict = idleVerdict(i);
        const due = i.state === "ready" && i.idleMs !== null && i.openConnections === 0 && !i.deployLocked && i.now >= i.lastActivityAt + i.idleMs;
        expect(verdict.stop).toBe(due);
        if (!verdict.stop && verdict.checkAt !== null) expect(verdict.checkAt).toBeGreaterThan(i.now);
        const left = idleLeftSeconds(i);
        if (verdict.stop) expect(left).toBe(0);
      }),
    );
  });
});

describe("idleLeftSeconds", () => {
  it("counts down in whole seconds from the last activity, to 0", () => {
    expect(idleLeftSeconds(at(0))).toBe(1800);
    expect(idleLeftSeconds(at(10 * MINUTE + 500))).toBe(1200);
    expect(idleLeftSeconds(at(40 * MINUTE))).toBe(0);
  });

  it("holds the full idle time while a connection is open", () => {
    expect(idleLeftSeconds(at(20 * MINUTE, { openConnections: 2 }))).toBe(1800);
  });

  it("has none when idle is never or the unit is not ready", () => {
    expect(idleLeftSeconds(at(0, { idleMs: null }))).toBeNull();
    expect(idleLeftSeconds(at(0, { state: "sleeping" }))).toBeNull();
  });
});
