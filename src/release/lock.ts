import { hostname, userInfo } from "node:os";
import { posix } from "node:path";
import { EnvironmentError } from "../errors.js";
import { type Shell, sh } from "../ssh/quote.js";
import type { ServerLayout } from "./layout.js";

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
 * Shell functions for the lock's processes. A process is recorded as "pid start-time", so that
 * a pid the kernel reused for another process is not taken for the one that held the lock.
 * `running FILE` prints the pids of FILE's processes still running; `connection` the sshd
 * process serving this SSH connection (when it is gone, so is the client that ran us).
 */
export const PROCESS_FUNCTIONS = sh`started() { sed 's/.*) //' /proc/"$1"/stat 2>/dev/null | cut -d' ' -f20; }
running() {
  [ -f "$1" ] || return 0
  while read -r pid start; do [ -n "$start" ] && [ "$(started "$pid")" = "$start" ] && echo "$pid"; done < "$1"
  return 0
}
connection() {
  p=$$
  while [ "$p" -gt 1 ] 2>/dev/null; do
    case "$(cat /proc/$p/comm 2>/dev/null)" in sshd|sshd-session) echo "$p"; return ;; esac
    p=$(sed 's/.*) //' /proc/$p/stat 2>/dev/null | cut -d' ' -f2); p=\${p:-1}
  done
}`;

/**
 * The lock folder holds `info` (who), `session` (the client's sshd process) and `workers` (the
 * detached steps it started). Sets $session and $workers to those still running, and prints
 * the holder.
 */
const INSPECT_LOCK = sh`session=$(running "$state/lock/session")
workers=$(running "$state/lock/workers" | tr '\\n' ' ' | sed 's/ $//')
echo "holder=$(base64 < "$state/lock/info" 2>/dev/null | tr -d '\\n')"
[ -n "$workers" ] && echo "workers=$workers"`;

/**
 * Shell that takes the lock atomically (`mkdir`), spliced into the probe, which has set
 * `$state`. A lock whose processes are all gone (the client's SSH session and any detached
 * step it started) was left by a run that died: it is cleared. `force` breaks the lock of a
 * client that is alive (hung, say), but never while one of its detached steps (a switch, a
 * build, `up`) still runs: two of those at once on one folder would interleave. Reports
 * `lock=taken|stale|broke|held` and the previous holder.
 */
export function takeLockScript(holder: LockHolder, force: boolean): Shell {
  return sh`( umask 077; mkdir -p "$state" )
${PROCESS_FUNCTIONS}
lockstate=taken
if ! mkdir "$state/lock" 2>/dev/null; then
${INSPECT_LOCK}
  if [ -z "$session$workers" ]; then lockstate=stale
  elif [ -z "$workers" ] && [ ${force ? 1 : 0} = 1 ]; then lockstate=broke
  else lockstate=held; fi
  if [ "$lockstate" != held ]; then
    rm -rf "$state/lock"
    mkdir "$state/lock" 2>/dev/null || lockstate=held
  fi
fi
if [ "$lockstate" != held ]; then
  printf '%s\\n' ${JSON.stringify(holder)} > "$state/lock/info"
  conn=$(connection)
  echo "$conn $(started "$conn")" > "$state/lock/session"
  : > "$state/lock/workers"
fi
echo "lock=$lockstate"`;
}

/** Shell for the probe of a run that takes no lock: who holds it, if anyone, and whether they still run. */
export function reportLockScript(): Shell {
  return sh`if [ -d "$state/lock" ]; then
${PROCESS_FUNCTIONS}
${INSPECT_LOCK}
  if [ -n "$session$workers" ]; then echo lockseen=running; else echo lockseen=dead; fi
fi`;
}

/** Adds the detached process `$1` to the lock's workers, so that the lock stays held while it runs. */
export function registerWorkerScript(layout: ServerLayout): Shell {
  return sh`${PROCESS_FUNCTIONS}
echo "$1 $(started "$1")" >> ${`${layout.lock}/workers`} 2>/dev/null || true`;
}

/**
 * Releases the lock, only if this connection holds it: a run whose lock was broken or cleared
 * meanwhile must not remove the next one's. A state folder left empty (a first run that was
 * refused) goes too.
 */
export function releaseLockScript(layout: ServerLayout): Shell {
  return sh`${PROCESS_FUNCTIONS}
conn=$(connection)
if [ -n "$conn" ] && [ "$(cat ${`${layout.lock}/session`} 2>/dev/null)" = "$conn $(started "$conn")" ]; then rm -rf ${layout.lock}; fi
rmdir ${layout.state} 2>/dev/null; rmdir ${posix.dirname(layout.state)} 2>/dev/null; true`;
}

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
