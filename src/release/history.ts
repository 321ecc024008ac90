import { execFile } from "node:child_process";
import { hostname, userInfo } from "node:os";
import { promisify } from "node:util";
import type { ZeroDowntimePlan } from "../blue-green/plan.js";
import { EnvironmentError } from "../errors.js";
import type { Remote } from "../ssh/connection.js";
import type { Shell } from "../ssh/quote.js";
import { layoutEnv, type ServerLayout } from "./layout.js";
import { remoteScript } from "../remote/script.js";

/** What the server remembers of each release (never a secret). */
export interface ReleaseMeta {
  id: string;
  time: string;
  by: string;
  git?: { commit: string; branch: string };
  files: number;
  bytes: number;
  project: string;
  composeFiles: string[];
  /** How its containers were brought up, so that a rollback to it takes the same path (absent: a plain `up -d`, as before issue 17). */
  zeroDowntime?: ZeroDowntimePlan;
}

export interface LogEntry {
  time: string;
  by: string;
  action: "deploy" | "rollback";
  release: string;
  outcome: "healthy" | "unhealthy" | "failed";
}

export interface ReleaseInfo {
  id: string;
  sizeKb: number;
  live: boolean;
  meta?: ReleaseMeta;
}

/** `user@machine`, as the server's log and `releases` show who deployed. */
export function localOrigin(): string {
  return `${userInfo().username}@${hostname()}`;
}

/** A log entry of this run, from this machine, now. */
export function logEntry(action: LogEntry["action"], release: string, outcome: LogEntry["outcome"]): LogEntry {
  return { time: new Date().toISOString(), by: localOrigin(), action, release, outcome };
}

/** The project's git commit and branch, when it is a git work tree. */
export async function gitInfo(dir: string): Promise<ReleaseMeta["git"]> {
  const git = (args: string[]) => promisify(execFile)("git", ["-C", dir, ...args]).then((r) => r.stdout.trim());
  try {
    return { commit: await git(["rev-parse", "HEAD"]), branch: await git(["rev-parse", "--abbrev-ref", "HEAD"]) };
  } catch {
    return undefined;
  }
}

/** Appends one JSON line to the server's deploy log (log.sh). */
export function logScript(layout: ServerLayout, entry: LogEntry): Shell {
  return remoteScript("log", { env: layoutEnv(layout), args: [JSON.stringify(entry)] });
}

/** Releases with their size and metadata, the live id, and the log: one round trip. */
export function releasesScript(layout: ServerLayout): Shell {
  return remoteScript("releases", { env: layoutEnv(layout) });
}

export function parseReleases(stdout: string): { releases: ReleaseInfo[]; log: LogEntry[] } {
  let current: string | undefined;
  const releases: ReleaseInfo[] = [];
  let log: LogEntry[] = [];
  for (const line of stdout.split("\n")) {
    const [kind, ...rest] = line.split(" ");
    if (kind === "current") current = rest[0];
    if (kind === "release" && rest[0]) {
      const meta = rest[2] ? (JSON.parse(Buffer.from(rest[2], "base64").toString("utf8")) as ReleaseMeta) : undefined;
      releases.push({ id: rest[0], sizeKb: Number(rest[1]) || 0, live: false, meta });
    }
    if (kind === "log" && rest[0]) log = parseLogLines(Buffer.from(rest[0], "base64").toString("utf8"));
  }
  for (const release of releases) release.live = release.id === current;
  return { releases, log };
}

export async function listReleases(remote: Remote, layout: ServerLayout) {
  const result = await remote.run(releasesScript(layout));
  if (result.code !== 0) throw new EnvironmentError(`listing releases on ${remote.target.host} failed: ${result.stderr.trim()}`);
  return parseReleases(result.stdout.toString("utf8"));
}

/** Log entries as JSON lines; a line that does not parse (cut by a full disk, say) is left out. */
export function parseLogLines(text: string): LogEntry[] {
  return text.split("\n").flatMap((line) => {
    try {
      return line.trim() ? [JSON.parse(line) as LogEntry] : [];
    } catch {
      return [];
    }
  });
}

/** Releases whose last deploy or rollback failed (compose refused them, or the switch did). */
export function failedReleases(log: LogEntry[]): Set<string> {
  const last = new Map<string, LogEntry["outcome"]>();
  for (const entry of log) last.set(entry.release, entry.outcome);
  return new Set([...last].filter(([, outcome]) => outcome === "failed").map(([id]) => id));
}

export interface RollbackChoice<T> {
  target: T;
  /** Newer releases passed over because their deploy failed. */
  skipped: string[];
}

/**
 * The release a rollback goes to: the one named (even one that failed: the user chose it),
 * else the newest older than the live one whose deploy did not fail. Else why there is none.
 */
export function rollbackTarget<T extends { id: string }>(kept: T[], live: string | undefined, log: LogEntry[], to?: string): RollbackChoice<T> | string {
  if (to) {
    const named = kept.find((r) => r.id === to);
    return named ? { target: named, skipped: [] } : `no release ${to} on the server; \`deploy-vps releases\` lists them.`;
  }
  if (!live) return "nothing has been deployed here by deploy-vps, so there is nothing to roll back to.";
  const failed = failedReleases(log);
  const older = kept.filter((r) => r.id < live).sort((a, b) => (a.id < b.id ? 1 : -1));
  const target = older.find((r) => !failed.has(r.id));
  const skipped = older.filter((r) => target === undefined || r.id > target.id).map((r) => r.id);
  if (target) return { target, skipped };
  if (older.length === 0) return `release ${live} is the oldest kept; there is no previous version to roll back to.`;
  return `every release older than ${live} failed to deploy (${skipped.join(", ")}); pick one with --to if you mean it.`;
}

/** How a skipped release is named in the output. */
export function describeSkipped(skipped: string[]): string | undefined {
  return skipped.length ? `skipped ${skipped.join(", ")} (${skipped.length === 1 ? "its deploy" : "their deploys"} failed)` : undefined;
}

/**
 * "files at X, containers at Y" when the containers were last brought up from another release
 * than the one the app folder holds: a deploy or rollback whose build or `up` failed, or whose
 * worker died. Nothing when either is unknown (a stack deployed by hand, say).
 */
export function releaseDrift(files: string | undefined, containers: string | undefined): string | undefined {
  if (!files || !containers || files === containers) return undefined;
  return `files at ${files}, containers at ${containers}`;
}

/** What to do about a drift, after it is named. */
export const DRIFT_ADVICE = "the last deploy or rollback did not bring the containers up; deploy or roll back to bring them in line";
