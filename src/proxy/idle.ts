import type { UnitState } from "./model.js";

/**
 * When a ready unit stops for idleness. The idle clock runs only while no connection is open (a
 * websocket, an SSE stream, a long download is activity for as long as it lasts), and a unit whose
 * deploy holds its lock is never stopped under it.
 */

export interface IdleInput {
  /** The route's idle time; null: never stopped for idleness. */
  idleMs: number | null;
  /** The last proxied request, or the last open connection's close. */
  lastActivityAt: number;
  openConnections: number;
  deployLocked: boolean;
  state: UnitState;
  now: number;
}

export type IdleVerdict =
  | { stop: true }
  /** `checkAt`: the one time to decide again; null when only an event (a state change, the last connection closing) can change the verdict. */
  | { stop: false; checkAt: number | null; why: string };

/**
 * A deploy's lock going away is no Docker event and no request: past its idle time, a locked unit
 * is looked at again this often.
 */
export const DEPLOY_LOCK_RECHECK_MS = 10_000;

export function idleVerdict(input: IdleInput): IdleVerdict {
  const { idleMs, lastActivityAt, openConnections, deployLocked, state, now } = input;
  if (state !== "ready") return { stop: false, checkAt: null, why: `${state}: only a ready unit stops for idleness` };
  if (idleMs === null) return { stop: false, checkAt: null, why: "idle is never" };
  if (openConnections > 0) return { stop: false, checkAt: null, why: `${openConnections} connection${openConnections === 1 ? "" : "s"} open` };
  const due = lastActivityAt + idleMs;
  if (now < due) return { stop: false, checkAt: due, why: `active ${Math.floor((now - lastActivityAt) / 1000)}s ago` };
  if (deployLocked) return { stop: false, checkAt: now + DEPLOY_LOCK_RECHECK_MS, why: "a deploy holds its lock" };
  return { stop: true };
}

/** Whole seconds before an idle stop, for `status`; the full idle time while the clock is held by open connections. */
export function idleLeftSeconds(input: IdleInput): number | null {
  const { idleMs, lastActivityAt, openConnections, state, now } = input;
  if (state !== "ready" || idleMs === null) return null;
  if (openConnections > 0) return Math.ceil(idleMs / 1000);
  return Math.max(0, Math.ceil((lastActivityAt + idleMs - now) / 1000));
}
