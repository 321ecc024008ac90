import type { ContainerState } from "./containers.js";

/** A service that has run this long with no healthcheck and no restart is taken as started. */
export const STABLE_AFTER_MS = 10_000;

export type ServiceCondition =
  | "healthy"
  | "running"
  | "starting"
  | "completed"
  | "crash-looping"
  | "exited"
  | "unhealthy";

export interface ServiceVerdict {
  service: string;
  container: string;
  state: string;
  health?: string;
  restarts: number;
  condition: ServiceCondition;
  /** Crash-looping, exited with an error, or unhealthy. */
  flagged: boolean;
  /** Nothing more to wait for: fine for good, or flagged. */
  settled: boolean;
  /** Why it is flagged, in words. */
  reason?: string;
}

/**
 * Judges each container against the first time the watch saw it: a restart count that rises,
 * state `restarting`, a non-zero exit or health `unhealthy` is a crash loop or a failure;
 * one-shot services that exit 0 are fine.
 */
export function classify(container: ContainerState, firstRestartCount: number, now: number): ServiceVerdict {
  const base = {
    service: container.service,
    container: container.name,
    state: container.status,
    health: container.health,
    restarts: container.restartCount,
  };
  const flag = (condition: ServiceCondition, reason: string): ServiceVerdict => ({
    ...base,
    condition,
    flagged: true,
    settled: true,
    reason,
  });
  const ok = (condition: ServiceCondition, settled: boolean): ServiceVerdict => ({
    ...base,
    condition,
    flagged: false,
    settled,
  });

  if (container.status === "restarting")
    return flag("crash-looping", `restarting (exit code ${container.exitCode})`);
  if (container.restartCount > firstRestartCount)
    return flag(
      "crash-looping",
      `restarted ${container.restartCount - firstRestartCount} time${container.restartCount - firstRestartCount === 1 ? "" : "s"} while watched`,
    );
  if (container.status === "exited" || container.status === "dead") {
    if (container.exitCode === 0) return ok("completed", true);
    return flag("exited", `exited with code ${container.exitCode}`);
  }
  if (container.health === "unhealthy") return flag("unhealthy", "healthcheck reports unhealthy");
  if (container.health === "healthy") return ok("healthy", true);
  if (container.health === "starting" || container.status !== "running") return ok("starting", false);
  return ok("running", now - container.startedAt >= STABLE_AFTER_MS);
}

/**
 * The restart count a container is judged from. A container made moments before its current
 * start (by the `up` being watched) has restarted since the deploy started it, however late the
 * first poll comes: it counts from 0. One created long before keeps its past restarts.
 */
function restartBaseline(c: ContainerState): number {
  const recentlyCreated = c.createdAt > 0 && c.startedAt - c.createdAt < RECENT_RESTART_MS;
  return recentlyCreated ? 0 : c.restartCount;
}

/** Verdicts for one poll, one per container; `firstSeen` remembers restart counts across polls. */
export function assess(
  containers: ContainerState[],
  firstSeen: Map<string, number>,
  now: number,
): ServiceVerdict[] {
  return containers
    .filter((c) => !c.oneOff)
    .map((c) => {
      if (!firstSeen.has(c.id)) firstSeen.set(c.id, restartBaseline(c));
      return classify(c, firstSeen.get(c.id) ?? c.restartCount, now);
    })
    .sort((a, b) => a.service.localeCompare(b.service));
}

/** Lines that deserve the user's eye in a flagged service's logs. */
export function isErrorLine(line: string): boolean {
  // No leading \b for error/exception: they end compound names (ReferenceError, NullPointerException).
  return /(error|exception)\b|\b(fatal|panic|failed|denied|refused|cannot|traceback)\b/i.test(line);
}

/** A container that restarted and has been up less than this is taken as crash-looping. */
export const RECENT_RESTART_MS = 5 * 60_000;

/**
 * The watch's rules on a single look (monitor-vps has no earlier poll to compare with): a
 * restart count above zero counts as rising when the container came up only recently.
 */
export function classifySnapshot(container: ContainerState, now: number): ServiceVerdict {
  const verdict = classify(container, container.restartCount, now);
  if (verdict.flagged || container.restartCount === 0 || now - container.startedAt >= RECENT_RESTART_MS) return verdict;
  const up = Math.round((now - container.startedAt) / 1000);
  return { ...verdict, condition: "crash-looping", flagged: true, settled: true, reason: `restarted ${container.restartCount} times, up only ${up} s` };
}
