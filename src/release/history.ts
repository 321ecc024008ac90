import { execFile } from "node:child_process";
import { hostname, userInfo } from "node:os";
import { promisify } from "node:util";
import { EnvironmentError } from "../errors.js";
import type { Remote } from "../ssh/connection.js";
import { type Shell, sh } from "../ssh/quote.js";
import type { ServerLayout } from "./layout.js";

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

/** The project's git commit and branch, when it is a git work tree. */
export async function gitInfo(dir: string): Promise<ReleaseMeta["git"]> {
  const git = (args: string[]) => promisify(execFile)("git", ["-C", dir, ...args]).then((r) => r.stdout.trim());
  try {
    return { commit: await git(["rev-parse", "HEAD"]), branch: await git(["rev-parse", "--abbrev-ref", "HEAD"]) };
  } catch {
    return undefined;
  }
}

export function metaPath(layout: ServerLayout, id: string): string {
  return `${layout.state}/meta/${id}.json`;
}

/** Appends one JSON line to the server's deploy log. */
export function logScript(layout: ServerLayout, entry: LogEntry): Shell {
  return sh`umask 077; printf '%s\\n' ${JSON.stringify(entry)} >> ${`${layout.state}/log`}`;
}

/** Releases with their size and metadata, the live id, and the log: one round trip. */
export function releasesScript(layout: ServerLayout): Shell {
  return sh`cd ${layout.state} 2>/dev/null || exit 0
[ -f current ] && echo "current $(cat current)"
for r in $(ls -1 releases 2>/dev/null | sort -r); do
  meta=$( [ -f meta/"$r".json ] && base64 < meta/"$r".json | tr -d '\\n')
  echo "release $r $(du -sk releases/"$r" | cut -f1) $meta"
done
[ -f log ] && echo "log $(base64 < log | tr -d '\\n')"
true`;
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
    if (kind === "log" && rest[0]) {
      log = Buffer.from(rest[0], "base64")
        .toString("utf8")
        .split("\n")
        .filter(Boolean)
        .map((entry) => JSON.parse(entry) as LogEntry);
    }
  }
  for (const release of releases) release.live = release.id === current;
  return { releases, log };
}

export async function listReleases(remote: Remote, layout: ServerLayout) {
  const result = await remote.run(releasesScript(layout));
  if (result.code !== 0) throw new EnvironmentError(`listing releases on ${remote.target.host} failed: ${result.stderr.trim()}`);
  return parseReleases(result.stdout.toString("utf8"));
}

/** The release a rollback goes to: the one named, else the newest older than the live one. */
export function rollbackTarget(releases: ReleaseInfo[], to?: string): ReleaseInfo | string {
  if (to) return releases.find((r) => r.id === to) ?? `no release ${to} on the server; \`deploy-vps releases\` lists them.`;
  const live = releases.find((r) => r.live);
  if (!live) return "nothing has been deployed here by deploy-vps, so there is nothing to roll back to.";
  const older = releases.filter((r) => r.id < live.id).sort((a, b) => (a.id < b.id ? 1 : -1));
  return older[0] ?? `release ${live.id} is the oldest kept; there is no previous version to roll back to.`;
}
