import type { UnitState } from "./model.js";

/**
 * The life of one unit (a compose project) as a pure state machine: events in, the next status and
 * the effects the wake layer must carry out. It decides, it never does: starting, stopping and
 * answering the waiting requests are the effects' job.
 *
 * What the wake layer promises in return (the machine relies on it):
 * - it reports `started` or `startFailed` only for the start it is still carrying out; a start it
 *   abandons (a `stop` effect supersedes it, or the unit is disabled) reports nothing more, so a
 *   late report never passes for the next start's;
 * - on a failed start it stops what it started before reporting `startFailed`: a failed unit
 *   leaves nothing half-started running, and that cleanup is not this machine's job;
 * - `observed` reports what Docker says outside our own start and stop (a deploy, a manual `up`).
 */

/** Why a start did not give a ready unit, as the waiting clients and `status` see it. */
export interface Failure {
  /** The container to blame; empty when none is (stopped by request, service disabled). */
  container: string;
  reason: string;
  /** Its last log lines. */
  logs: string[];
  /** 504 when the start timed out, 502 otherwise. */
  status: 502 | 504;
}

export interface UnitStatus {
  state: UnitState;
  /** Why the unit is failed or disabled; null in every other state. */
  reason: string | null;
  /** When it entered this state. */
  since: number;
  /** A wake arrived while stopping: start again once stopped. */
  wakePending: boolean;
  /** Kept for `status` until a start succeeds. */
  lastFailure: Failure | null;
}

export type UnitEvent =
  /** A request, or `proxy wake`. */
  | { type: "wake" }
  /** The start this machine asked for is ready. */
  | { type: "started"; ms: number }
  | { type: "startFailed"; failure: Failure }
  /** The idle verdict, or `proxy sleep`. */
  | { type: "sleep" }
  | { type: "stopped" }
  | { type: "stopFailed"; reason: string }
  /** Docker (events or resync) says the unit's routed containers run or not, outside our own start and stop. */
  | { type: "observed"; running: boolean }
  | { type: "disable"; reason: string }
  | { type: "enable"; running: boolean };

export type Effect =
  | { type: "start" }
  | { type: "stop" }
  /** Answer every request waiting on this unit. */
  | { type: "settle"; ok: true }
  | { type: "settle"; ok: false; failure: Failure }
  | { type: "recordStart"; ms: number }
  | { type: "resetIdle" };

export interface Step {
  unit: UnitStatus;
  effects: Effect[];
}

export const STOPPED_WHILE_STARTING = "stopped by request while starting";

export function initialUnit(running: boolean, now: number): UnitStatus {
  return { state: running ? "ready" : "sleeping", reason: null, since: now, wakePending: false, lastFailure: null };
}

/**
 * A unit as the daemon finds it after a restart or a `kill -9`, from what it saved and what Docker
 * says runs. Nothing starts or stops because of the restart itself: Docker's word wins, except
 * that a start or a stop that was under way is finished (the wake layer then reports it as usual).
 * A failure or a disable is not carried over: the routes and the next wake say it again.
 */
export function resumeUnit(saved: { state: UnitState; since: number } | undefined, running: boolean, now: number): Step {
  const found = initialUnit(running, now);
  const underWay = (state: UnitState, effect: Effect): Step => ({ unit: { ...found, state, since: saved?.since ?? now }, effects: [effect] });
  if (saved?.state === "starting") return underWay("starting", { type: "start" });
  if (saved?.state === "stopping" && running) return underWay("stopping", { type: "stop" });
  return { unit: saved?.state === found.state ? { ...found, since: saved.since } : found, effects: [] };
}

export function step(unit: UnitStatus, event: UnitEvent, now: number): Step {
  const to = (state: UnitState, changes: Partial<UnitStatus> = {}): UnitStatus => ({
    ...unit,
    state,
    reason: null,
    since: state === unit.state ? unit.since : now,
    wakePending: false,
    ...changes,
  });
  return decide(unit, event, to) ?? { unit, effects: [] };
}

/** The step, or undefined when the event changes nothing (stale or already so). */
function decide(unit: UnitStatus, event: UnitEvent, to: (state: UnitState, changes?: Partial<UnitStatus>) => UnitStatus): Step | undefined {
  const waiting = unit.state === "starting" || unit.wakePending;
  const failWaiting = (reason: string): Effect[] => (waiting ? [settleFailed(reason)] : []);
  const { state } = unit;

  switch (event.type) {
    case "wake":
      if (state === "sleeping" || state === "failed") return { unit: to("starting"), effects: [{ type: "start" }] };
      if (state === "stopping") return { unit: { ...unit, wakePending: true }, effects: [] };
      if (state === "disabled") return { unit, effects: [settleFailed(unit.reason ?? "service disabled")] };
      return undefined;
    case "started":
      if (state !== "starting") return undefined;
      return {
        unit: to("ready", { lastFailure: null }),
        effects: [{ type: "settle", ok: true }, { type: "recordStart", ms: event.ms }, { type: "resetIdle" }],
      };
    case "startFailed":
      if (state !== "starting") return undefined;
      return {
        unit: to("failed", { reason: event.failure.reason, lastFailure: event.failure }),
        effects: [{ type: "settle", ok: false, failure: event.failure }],
      };
    case "sleep":
      if (state === "ready") return { unit: to("stopping"), effects: [{ type: "stop" }] };
      if (state === "starting") return { unit: to("stopping"), effects: [settleFailed(STOPPED_WHILE_STARTING), { type: "stop" }] };
      // The stop already under way wins over a wake that arrived since.
      if (state === "stopping") return { unit: to("stopping"), effects: failWaiting(STOPPED_WHILE_STARTING) };
      if (state === "sleeping" || state === "failed") return { unit: to("sleeping"), effects: [] };
      return undefined;
    case "stopped":
      if (state !== "stopping") return undefined;
      if (unit.wakePending) return { unit: to("starting"), effects: [{ type: "start" }] };
      return { unit: to("sleeping"), effects: [] };
    case "stopFailed":
      if (state !== "stopping") return undefined;
      return { unit: to("failed", { reason: event.reason }), effects: failWaiting(event.reason) };
    case "observed":
      // Starting and stopping: our own doing is in flight, and its report will say how it ended.
      if (event.running && (state === "sleeping" || state === "failed")) return { unit: to("ready"), effects: [{ type: "resetIdle" }] };
      if (!event.running && state === "ready") return { unit: to("sleeping"), effects: [] };
      return undefined;
    case "disable":
      if (state === "disabled" && unit.reason === event.reason) return undefined;
      return { unit: to("disabled", { reason: event.reason }), effects: failWaiting(event.reason) };
    case "enable":
      if (state !== "disabled") return undefined;
      // Its idle clock starts now: whatever was recorded before it was disabled says nothing of today's containers.
      return { unit: to(event.running ? "ready" : "sleeping"), effects: event.running ? [{ type: "resetIdle" }] : [] };
  }
}

function settleFailed(reason: string): Effect {
  return { type: "settle", ok: false, failure: { container: "", reason, logs: [], status: 502 } };
}
