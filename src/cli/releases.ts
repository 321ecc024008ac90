import type { Settings } from "../config/settings.js";
import { formatBytes } from "../deploy/format.js";
import { SUMMARY_VERSION } from "../deploy/report.js";
import { DRIFT_ADVICE, failedReleases, listReleases, type LogEntry, type ReleaseInfo, releaseDrift } from "../release/history.js";
import { openApp } from "../release/session.js";
import { Remote } from "../ssh/connection.js";
import { sshTarget } from "../ssh/login.js";

export function releasesJson(project: string, host: string, path: string, releases: ReleaseInfo[], log: LogEntry[], containers?: string) {
  return {
    version: SUMMARY_VERSION,
    name: project,
    host,
    path,
    containers: containers ?? null,
    releases: releases.map((r) => ({
      id: r.id,
      live: r.live,
      time: r.meta?.time ?? null,
      by: r.meta?.by ?? null,
      git: r.meta?.git ?? null,
      files: r.meta?.files ?? null,
      bytes: r.meta?.bytes ?? null,
      sizeOnServer: r.sizeKb * 1024,
    })),
    log,
  };
}

export function releasesTable(releases: ReleaseInfo[], log: LogEntry[]): string[] {
  const failed = failedReleases(log);
  return releases.map((r) => {
    const git = r.meta?.git ? `${r.meta.git.branch}@${r.meta.git.commit.slice(0, 7)}` : "-";
    const when = r.meta?.time.replace("T", " ").slice(0, 16) ?? "?";
    return `${r.live ? "*" : " "} ${r.id}  ${when}  ${(r.meta?.by ?? "?").padEnd(24)} ${git.padEnd(20)} ${formatBytes(r.sizeKb * 1024)}${r.live ? "  (live)" : ""}${failed.has(r.id) ? "  (deploy failed)" : ""}`;
  });
}

export async function releases(settings: Settings, options: { log?: boolean }): Promise<number> {
  const remote = await Remote.connect(await sshTarget(settings));
  try {
    const session = await openApp(settings, remote);
    const { releases: list, log } = await listReleases(session.remote, session.layout);
    const host = settings.host ?? "";
    if (settings.json) {
      process.stdout.write(`${JSON.stringify(releasesJson(session.project, host, session.server.app, list, log, session.server.containers), null, 2)}\n`);
      return 0;
    }
    const lines = [`Releases of ${session.project} on ${host}:${session.server.app}, newest first:`, ...releasesTable(list, log)];
    const drift = releaseDrift(session.server.current, session.server.containers);
    if (drift) lines.push(`  ${drift}: ${DRIFT_ADVICE}.`);
    if (list.length === 0) lines.push("  none: this folder was not deployed by deploy-vps yet.");
    if (options.log) {
      lines.push("", "Deploy log:");
      for (const e of log) lines.push(`  ${e.time}  ${e.action.padEnd(8)} ${e.release}  ${e.outcome.padEnd(9)} ${e.by}`);
    }
    process.stdout.write(`${lines.join("\n")}\n`);
    return 0;
  } finally {
    remote.close();
  }
}
