import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { UnitState } from "../../../src/proxy/model.js";
import { type Effect, type Failure, initialUnit, resumeUnit, step, STOPPED_WHILE_STARTING, type UnitEvent, type UnitStatus } from "../../../src/proxy/unit-state.js";

const STATES: readonly UnitState[] = ["sleeping", "starting", "ready", "stopping", "failed", "disabled"];
const crash: Failure = { container: "shop-web-1", reason: "exited with code 1", logs: ["boom"], status: 502 };

/** Runs events from a status, collecting every effect, each step one millisecond after the last. */
function run(from: UnitStatus, events: UnitEvent[]): { unit: UnitStatus; effects: Effect[] } {
  let unit = from;
  const effects: Effect[] = [];
  events.forEach((event, i) => {
    const next = step(unit, event, from.since + i + 1);
    unit = next.unit;
    effects.push(...next.effects);
  });
  return { unit, effects };
}
const types = (effects: Effect[]) => effects.map((e) => (e.type === "settle" ? `settle ${e.ok ? "ok" : "failed"}` : e.type));

const sleeping = initialUnit(false, 1000);
const ready = initialUnit(true, 1000);
const starting = run(sleeping, [{ type: "wake" }]).unit;
const stopping = run(ready, [{ type: "sleep" }]).unit;

describe("step, by example", () => {
  it("starts a sleeping unit on the first wake, once however many wakes follow", () => {
    const { unit, effects } = run(sleeping, [{ type: "wake" }, { type: "wake" }, { type: "wake" }]);
    expect(unit).toEqual({ state: "starting", reason: null, since: 1001, wakePending: false, lastFailure: null });
    expect(types(effects)).toEqual(["start"]);
  });

  it("answers the waiting requests, records the start and resets the idle clock once ready", () => {
    const { unit, effects } = run(starting, [{ type: "started", ms: 4200 }]);
    expect(unit.state).toBe("ready");
    expect(effects).toEqual([{ type: "settle", ok: true }, { type: "recordStart", ms: 4200 }, { type: "resetIdle" }]);
  });

  it("does nothing for a wake when ready", () => {
    expect(step(ready, { type: "wake" }, 2000)).toEqual({ unit: ready, effects: [] });
  });

  it("fails a start with the failing container, and the waiting requests get it", () => {
    const { unit, effects } = run(starting, [{ type: "startFailed", failure: crash }]);
    expect(unit).toMatchObject({ state: "failed", reason: "exited with code 1", lastFailure: crash });
    expect(effects).toEqual([{ type: "settle", ok: false, failure: crash }]);
  });

  it("starts a failed unit again on the next wake, and forgets the failure once a start succeeds", () => {
    const failed = run(starting, [{ type: "startFailed", failure: crash }]).unit;
    const again = run(failed, [{ type: "wake" }]);
    expect(again.unit).toMatchObject({ state: "starting", reason: null, lastFailure: crash });
    expect(types(again.effects)).toEqual(["start"]);
    expect(run(again.unit, [{ type: "started", ms: 1 }]).unit.lastFailure).toBeNull();
  });

  it("ignores a stale started or startFailed outside starting", () => {
    for (const from of [sleeping, ready, stopping]) {
      expect(step(from, { type: "started", ms: 5 }, 2000)).toEqual({ unit: from, effects: [] });
      expect(step(from, { type: "startFailed", failure: crash }, 2000)).toEqual({ unit: from, effects: [] });
    }
  });

  it("stops a ready unit on sleep, and it sleeps once stopped", () => {
    const { unit, effects } = run(ready, [{ type: "sleep" }, { type: "stopped" }]);
    expect(unit).toEqual({ state: "sleeping", reason: null, since: 1002, wakePending: false, lastFailure: null });
    expect(types(effects)).toEqual(["stop"]);
  });

  it("fails the waiting requests when asked to sleep while starting, then stops", () => {
    const { unit, effects } = run(starting, [{ type: "sleep" }]);
    expect(unit.state).toBe("stopping");
    expect(effects).toEqual([
      { type: "settle", ok: false, failure: { container: "", reason: STOPPED_WHILE_STARTING, logs: [], status: 502 } },
      { type: "stop" },
    ]);
  });

  it("starts again once stopped when a wake arrived while stopping", () => {
    const { unit, effects } = run(stopping, [{ type: "wake" }, { type: "wake" }, { type: "stopped" }]);
    expect(unit).toMatchObject({ state: "starting", wakePending: false });
    expect(types(effects)).toEqual(["start"]);
  });

  it("a sleep while stopping drops the pending wake and fails its requests", () => {
    const { unit, effects } = run(stopping, [{ type: "wake" }, { type: "sleep" }, { type: "stopped" }]);
    expect(unit.state).toBe("sleeping");
    expect(types(effects)).toEqual(["settle failed"]);
  });

  it("puts a sleeping or failed unit to sleep with no effect", () => {
    const failed = run(starting, [{ type: "startFailed", failure: crash }]).unit;
    expect(run(failed, [{ type: "sleep" }])).toMatchObject({ unit: { state: "sleeping", reason: null }, effects: [] });
    expect(step(sleeping, { type: "sleep" }, 2000)).toEqual({ unit: sleeping, effects: [] });
  });

  it("fails a unit whose stop fails, and the requests waiting for it to start again", () => {
    expect(run(stopping, [{ type: "stopFailed", reason: "docker compose stop: exit 1" }])).toEqual({
      unit: { state: "failed", reason: "docker compose stop: exit 1", since: 1002, wakePending: false, lastFailure: null },
      effects: [],
    });
    expect(types(run(stopping, [{ type: "wake" }, { type: "stopFailed", reason: "x" }]).effects)).toEqual(["settle failed"]);
  });

  it("follows what Docker says outside our own start and stop", () => {
    expect(run(sleeping, [{ type: "observed", running: true }])).toMatchObject({ unit: { state: "ready" }, effects: [{ type: "resetIdle" }] });
    const failed = run(starting, [{ type: "startFailed", failure: crash }]).unit;
    expect(run(failed, [{ type: "observed", running: true }]).unit).toMatchObject({ state: "ready", reason: null });
    expect(run(ready, [{ type: "observed", running: false }])).toMatchObject({ unit: { state: "sleeping" }, effects: [] });
    for (const inFlight of [starting, stopping]) {
      for (const running of [true, false]) expect(step(inFlight, { type: "observed", running }, 2000)).toEqual({ unit: inFlight, effects: [] });
    }
  });

  it("disables from any state, failing the requests of a start, and answers later wakes with the reason", () => {
    const reason = "label deploy-vps.proxy.port on shop-web-1: 'abc' is not a port (1-65535)";
    const disabled = run(starting, [{ type: "disable", reason }]);
    expect(disabled.unit).toMatchObject({ state: "disabled", reason });
    expect(disabled.effects).toEqual([{ type: "settle", ok: false, failure: { container: "", reason, logs: [], status: 502 } }]);
    expect(step(disabled.unit, { type: "wake" }, 3000).effects).toEqual(disabled.effects);
    expect(run(ready, [{ type: "disable", reason }]).effects).toEqual([]);
  });

  it("enables to what Docker says runs", () => {
    const disabled = run(ready, [{ type: "disable", reason: "bad" }]).unit;
    expect(run(disabled, [{ type: "enable", running: true }])).toMatchObject({ unit: { state: "ready", reason: null }, effects: [{ type: "resetIdle" }] });
    expect(run(disabled, [{ type: "enable", running: false }])).toMatchObject({ unit: { state: "sleeping", reason: null }, effects: [] });
    expect(step(ready, { type: "enable", running: false }, 2000)).toEqual({ unit: ready, effects: [] });
  });

  it("keeps `since` while the state stays", () => {
    expect(run(starting, [{ type: "wake" }]).unit.since).toBe(starting.since);
  });
});

describe("resumeUnit", () => {
  it("takes Docker's word for what runs, and keeps the time a state began when it is the saved one", () => {
    expect(resumeUnit(undefined, true, 5000)).toEqual({ unit: initialUnit(true, 5000), effects: [] });
    expect(resumeUnit({ state: "ready", since: 100 }, true, 5000)).toEqual({ unit: { ...initialUnit(true, 5000), since: 100 }, effects: [] });
    expect(resumeUnit({ state: "ready", since: 100 }, false, 5000)).toEqual({ unit: initialUnit(false, 5000), effects: [] });
    expect(resumeUnit({ state: "sleeping", since: 100 }, true, 5000)).toEqual({ unit: initialUnit(true, 5000), effects: [] });
  });

  it("finishes a start or a stop that was under way", () => {
    for (const running of [true, false]) {
      expect(resumeUnit({ state: "starting", since: 100 }, running, 5000)).toEqual({
        unit: { state: "starting", reason: null, since: 100, wakePending: false, lastFailure: null },
        effects: [{ type: "start" }],
      });
    }
    expect(resumeUnit({ state: "stopping", since: 100 }, true, 5000)).toEqual({
      unit: { state: "stopping", reason: null, since: 100, wakePending: false, lastFailure: null },
      effects: [{ type: "stop" }],
    });
    expect(resumeUnit({ state: "stopping", since: 100 }, false, 5000)).toEqual({ unit: initialUnit(false, 5000), effects: [] });
  });

  it("carries no failure or disable over: the routes and the next wake say it again", () => {
    for (const state of ["failed", "disabled"] as const) {
      expect(resumeUnit({ state, since: 100 }, false, 5000)).toEqual({ unit: initialUnit(false, 5000), effects: [] });
    }
  });
});

const failure = fc.record({
  container: fc.constantFrom("", "shop-web-1"),
  reason: fc.string({ maxLength: 8 }),
  logs: fc.array(fc.string({ maxLength: 4 }), { maxLength: 2 }),
  status: fc.constantFrom(502 as const, 504 as const),
});
const event: fc.Arbitrary<UnitEvent> = fc.oneof(
  fc.constant({ type: "wake" as const }),
  fc.constant({ type: "wake" as const }),
  fc.record({ type: fc.constant("started" as const), ms: fc.nat(600_000) }),
  fc.record({ type: fc.constant("startFailed" as const), failure }),
  fc.constant({ type: "sleep" as const }),
  fc.constant({ type: "stopped" as const }),
  fc.record({ type: fc.constant("stopFailed" as const), reason: fc.string({ maxLength: 8 }) }),
  fc.record({ type: fc.constant("observed" as const), running: fc.boolean() }),
  fc.record({ type: fc.constant("disable" as const), reason: fc.constantFrom("bad port", "bad idle") }),
  fc.record({ type: fc.constant("enable" as const), running: fc.boolean() }),
);
const events = fc.array(event, { maxLength: 60 });
const start = fc.boolean().map((running) => initialUnit(running, 0));

/** Every status a sequence passes through, with the event and the effects of each step. */
function trace(from: UnitStatus, sequence: UnitEvent[]) {
  let unit = from;
  return sequence.map((ev, i) => {
    const before = unit;
    const next = step(unit, ev, i + 1);
    unit = next.unit;
    return { before, event: ev, after: next.unit, effects: next.effects };
  });
}

describe("step, over random event sequences", () => {
  it("is always in one of the six states, with a reason exactly when failed or disabled", () => {
    fc.assert(
      fc.property(start, events, (from, sequence) => {
        for (const { after } of trace(from, sequence)) {
          expect(STATES).toContain(after.state);
          expect(after.reason !== null).toBe(after.state === "failed" || after.state === "disabled");
          expect(after.wakePending && after.state !== "stopping").toBe(false);
        }
      }),
    );
  });

  it("never asks for a start while one is in flight", () => {
    fc.assert(
      fc.property(start, events, (from, sequence) => {
        // A start is in flight from its effect until the wake layer reports it, a stop ends it
        // (the wake layer abandons a start it is told to stop), or the unit is disabled.
        let inFlight = false;
        for (const { event: ev, effects } of trace(from, sequence)) {
          if (ev.type === "started" || ev.type === "startFailed" || ev.type === "stopped" || ev.type === "disable") inFlight = false;
          for (const effect of effects) {
            if (effect.type === "start") {
              expect(inFlight).toBe(false);
              inFlight = true;
            }
            if (effect.type === "stop") inFlight = false;
          }
        }
      }),
    );
  });

  it("leaves no wake unanswered once it is neither starting nor about to start again", () => {
    fc.assert(
      fc.property(start, events, (from, sequence) => {
        let unanswered = false;
        for (const { event: ev, before, after, effects } of trace(from, sequence)) {
          if (ev.type === "wake" && before.state !== "ready" && before.state !== "disabled") unanswered = true;
          if (effects.some((e) => e.type === "settle")) unanswered = false;
          if (unanswered) expect(after.state === "starting" || after.wakePending).toBe(true);
        }
      }),
    );
  });

  it("answers every wake that waits in starting when started, startFailed, sleep or disable arrives", () => {
    fc.assert(
      fc.property(start, events, (from, sequence) => {
        for (const { event: ev, before, effects } of trace(from, sequence)) {
          const ends = ev.type === "started" || ev.type === "startFailed" || ev.type === "sleep" || ev.type === "disable";
          if (before.state === "starting" && ends) expect(effects.filter((e) => e.type === "settle")).toHaveLength(1);
        }
      }),
    );
  });

  it("gives nothing out of disabled but failed answers, until enabled", () => {
    fc.assert(
      fc.property(start, events, (from, sequence) => {
        for (const { event: ev, before, effects } of trace(from, sequence)) {
          if (before.state !== "disabled" || ev.type === "enable") continue;
          for (const effect of effects) expect(effect).toMatchObject({ type: "settle", ok: false });
        }
      }),
    );
  });

  it("a second sleep changes nothing", () => {
    fc.assert(
      fc.property(start, events, (from, sequence) => {
        const reached = run(from, sequence).unit;
        const once = step(reached, { type: "sleep" }, 10_000).unit;
        expect(step(once, { type: "sleep" }, 10_001)).toEqual({ unit: once, effects: [] });
      }),
    );
  });
});
