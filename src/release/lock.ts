import { hostname, userInfo } from "node:os";
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
 * Shell that takes the lock atomically (`mkdir`), spliced into the probe, which has set
 * `$state`. A lock whose processes are all gone (the sshd session of the deploy that took it,
 * and any detached step it started) was left by a deploy that died: it is cleared. `force`
 * breaks a live one. Reports `lock=taken|stale|broke|held` and the previous holder.
 */
export function takeLockScript(holder: LockHolder, force: boolean): Shell {
  return sh`( umask 077; mkdir -p "$state" )
# The sshd process that serves this connection: when it is gone, so is the deploy.
p=$$; conn=
while [ "$p" -gt 1 ] 2>/dev/null; do
  case "$(cat /proc/$p/comm 2>/dev/null)" in sshd|sshd-session) conn=$p; break ;; esac
  p=$(awk '{print $4}' /proc/$p/stat 2>/dev/null || echo 1)
done
lockstate=taken
if ! mkdir "$state/lock" 2>/dev/null; then
  alive=
  for pid in $(cat "$state/lock/pids" 2>/dev/null); do
    [ -d /proc/$pid ] && alive=yes
  done
  echo "holder=$(base64 < "$state/lock/info" 2>/dev/null | tr -d '\n')"
  if [ -n "$alive" ] && [ ${force ? 1 : 0} != 1 ]; then
    lockstate=held
  else
    if [ -n "$alive" ]; then lockstate=broke; else lockstate=stale; fi
    rm -rf "$state/lock"
    mkdir "$state/lock"
  fi
fi
if [ "$lockstate" != held ]; then
  printf '%s\n' ${JSON.stringify(holder)} > "$state/lock/info"
  echo "$conn" > "$state/lock/pids"
fi
echo "lock=$lockstate"`;
}

export function releaseLockScript(layout: ServerLayout): Shell {
  return sh`rm -rf ${`${layout.state}/lock`}`;
}

export type LockOutcome = { status: "taken" } | { status: "stale" | "broke"; previous?: LockHolder } | { status: "held"; holder?: LockHolder };

export function parseLock(fields: Map<string, string>): LockOutcome | undefined {
  const status = fields.get("lock");
  if (!status) return undefined;
  const raw = fields.get("holder");
  let holder: LockHolder | undefined;
  try {
    holder = raw ? (JSON.parse(Buffer.from(raw, "base64").toString("utf8")) as LockHolder) : undefined;
  } catch {
    holder = undefined;
  }
  if (status === "held") return { status, holder };
  if (status === "stale" || status === "broke") return { status, previous: holder };
  return { status: "taken" };
}

export function heldError(host: string, app: string, holder: LockHolder | undefined): EnvironmentError {
  return new EnvironmentError(
    `${host}:${app} is locked by ${describeHolder(holder)}; wait for it (--lock-wait SECONDS), or if you know it is dead, run again with --force-unlock.`,
  );
}
