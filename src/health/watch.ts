import { setTimeout as sleep } from "node:timers/promises";
import { EnvironmentError } from "../errors.js";
import type { Remote } from "../ssh/connection.js";
import { remoteScript } from "../remote/script.js";
import type { Shell } from "../ssh/quote.js";
import { assess, type ServiceVerdict } from "./classify.js";
import { parseInspect } from "./containers.js";

const POLL_MS = 2_000;
export const LOG_LINES = 30;

/** `docker inspect` of the project's containers, running or not (see project-containers.sh). */
export function inspectScript(project: string): Shell {
  return remoteScript("project-containers", { args: [project] });
}

/**
 * The last `lines` log lines of each container whose name comes on its stdin, one a line, as
 * `parseLogs` reads them (see container-logs.sh).
 */
export function containerLogsScript(lines: number): Shell {
  return remoteScript("container-logs", { args: [lines] });
}

/** Reads the logs out of a script's answer; its other lines are left alone. */
export function parseLogs(stdout: string): Map<string, string[]> {
  const logs = new Map<string, string[]>();
  let current: string[] | undefined;
  for (const row of stdout.split("\n")) {
    if (row.startsWith("logs ")) logs.set(row.slice(5), (current = []));
    else if (row.startsWith("| ")) current?.push(row.slice(2));
    else current = undefined;
  }
  return logs;
}

export async function inspectProject(remote: Remote, project: string) {
  // docker inspect shows each container's environment (Config.Env): the secrets. Never traced.
  const result = await remote.run(inspectScript(project), { secretOutput: true, raw: true });
  if (result.code !== 0)
    throw new EnvironmentError(`docker inspect failed on ${remote.target.host}: ${result.stderr.trim()}`);
  return parseInspect(result.stdout.toString("utf8"));
}

/**
 * Polls the project's containers for up to `settleSeconds`, one remote command a poll, and
 * stops as soon as every service is settled: healthy, up long enough, done, or flagged.
 */
export async function watchServices(
  remote: Remote,
  project: string,
  settleSeconds: number,
  onPoll: (verdicts: ServiceVerdict[]) => void,
): Promise<ServiceVerdict[]> {
  const deadline = Date.now() + settleSeconds * 1000;
  const firstSeen = new Map<string, number>();
  for (;;) {
    const verdicts = assess(await inspectProject(remote, project), firstSeen, Date.now());
    onPoll(verdicts);
    const settled = verdicts.length > 0 && verdicts.every((v) => v.settled);
    if (settled || Date.now() + POLL_MS > deadline) return verdicts;
    await sleep(POLL_MS);
  }
}

export async function fetchLogs(
  remote: Remote,
  containers: string[],
  lines = LOG_LINES,
): Promise<Map<string, string[]>> {
  if (containers.length === 0) return new Map();
  const result = await remote.run(containerLogsScript(lines), { stdin: containers.map((name) => `${name}\n`).join("") });
  return parseLogs(result.stdout.toString("utf8"));
}

/** The watch, then the last log lines of every flagged service: what deploy and rollback report. */
export async function watchStack(
  remote: Remote,
  project: string,
  settleSeconds: number,
  onPoll: (verdicts: ServiceVerdict[]) => void,
): Promise<{ services: ServiceVerdict[]; logs: Map<string, string[]> }> {
  const services = await watchServices(remote, project, settleSeconds, onPoll);
  const logs = await fetchLogs(remote, services.filter((s) => s.flagged).map((s) => s.container));
  return { services, logs };
}
