import { hostname, userInfo } from "node:os";
import { EnvironmentError } from "../errors.js";
import { remoteScript, type ScriptValue } from "../remote/script.js";
import type { Shell } from "../ssh/quote.js";

/** Who holds an app folder's deploy lock, as the lock's `info` file records it. */
export interface LockHolder {
  by: string;
  machine: string;
  pid: number;
  action: string;
  since: string;
}

export function lockHolder(action: string, now: Date): LockHolder {
  return { by: userInfo().username, machine: hostname(), pid: process.pid, action, since: now.toISOString() };
}

export function describeHolder(holder: LockHolder | undefined): string {
  if (!holder) return "an unknown deploy (its lock has no info)";
  return `${holder.action} by ${holder.by}@${holder.machine} (pid ${holder.pid}) since ${holder.since}`;
}

/**
 * The lock.sh command that takes, reports, registers a worker in, or releases the app folder's
 * deploy lock (see src/remote/lock.sh). `take HOLDER FORCE` reports `lock=taken|stale|broke|held`
 * and the previous holder; `report`, `lockseen=running|dead` and the holder.
 */
export function lockScript(layout: Readonly<Record<string, ScriptValue>>, ...args: LockArgs): Shell {
  return remoteScript("lock", { env: layout, args });
}

type LockArgs = ["take", string, 0 | 1] | ["report"] | ["register", Shell] | ["release"];

export type LockOutcome =
  | { status: "taken" }
  | { status: "stale" | "broke"; previous?: LockHolder }
  | { status: "held"; holder?: LockHolder; workers: number[] };

/** A lock seen by a run that did not try to take it (monitor-vps, releases). */
export interface LockSeen {
  holder?: LockHolder;
  /** Its client or one of its detached steps still runs; otherwise the next run clears it. */
  running: boolean;
}

function decodeHolder(raw: string | undefined): LockHolder | undefined {
  try {
    return raw ? (JSON.parse(Buffer.from(raw, "base64").toString("utf8")) as LockHolder) : undefined;
  } catch {
    return undefined;
  }
}

export function parseLock(fields: Map<string, string>): LockOutcome | undefined {
  const status = fields.get("lock");
  if (!status) return undefined;
  const holder = decodeHolder(fields.get("holder"));
  if (status === "held") return { status, holder, workers: (fields.get("workers") ?? "").split(" ").filter(Boolean).map(Number) };
  if (status === "stale" || status === "broke") return { status, previous: holder };
  return { status: "taken" };
}

export function parseLockSeen(fields: Map<string, string>): LockSeen | undefined {
  const seen = fields.get("lockseen");
  if (!seen) return undefined;
  return { holder: decodeHolder(fields.get("holder")), running: seen === "running" };
}

/** What a run that found the lock held says, and what the user can do about it. */
export function heldError(host: string, app: string, lock: { holder?: LockHolder; workers: number[] }, forced: boolean): EnvironmentError {
  const who = `${host}:${app} is locked by ${describeHolder(lock.holder)}`;
  if (lock.workers.length > 0) {
    const pids = lock.workers.join(", ");
    return new EnvironmentError(
      `${who}, whose switch, build or start still runs on the server (pid ${pids}) and ends by itself; ` +
        `wait for it with --lock-wait SECONDS${forced ? " (--force-unlock never breaks a lock while that runs: two at once would interleave)" : ""}.`,
    );
  }
  return new EnvironmentError(`${who}; wait for it (--lock-wait SECONDS), or if you know it is dead or hung, run again with --force-unlock.`);
}
