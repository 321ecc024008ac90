import { formatBytes } from "../deploy/format.js";
import { paint, SUMMARY_VERSION } from "../deploy/report.js";
import { isErrorLine } from "../health/classify.js";
import { DRIFT_ADVICE } from "../release/history.js";
import { describeLock, type Snapshot, snapshotHealthy } from "./snapshot.js";

function uptime(seconds: number | null): string {
  if (seconds === null) return "-";
  if (seconds < 120) return `${seconds}s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)}m`;
  if (seconds < 172_800) return `${Math.round(seconds / 3600)}h`;
  return `${Math.round(seconds / 86_400)}d`;
}

/** The `--json` document of monitor-vps (see docs/json.md). */
export function monitorJson(snapshot: Snapshot, host: string, path: string) {
  return {
    version: SUMMARY_VERSION,
    name: snapshot.project,
    host,
    path,
    healthy: snapshotHealthy(snapshot),
    release: { files: snapshot.release.files ?? null, containers: snapshot.release.containers ?? null },
    lock: describeLock(snapshot.lock) ?? null,
    live: snapshot.live,
    resources: snapshot.resources,
    services: snapshot.services.map((s) => ({
      service: s.service,
      container: s.container,
      state: s.state,
      health: s.health ?? null,
      restarts: s.restarts,
      uptimeSeconds: s.uptimeSeconds,
      cpuPercent: s.cpuPercent,
      memory: s.memory,
      flagged: s.flagged,
      reason: s.reason ?? null,
      logs: snapshot.logs.get(s.container) ?? [],
    })),
    logs: Object.fromEntries(snapshot.logs),
  };
}

/** One screen: the host, a row a service, then the logs of the flagged ones (or all of them). */
export function monitorScreen(snapshot: Snapshot, where: string, options: { allLogs: boolean; color: boolean }): string {
  const red = paint(31, options.color);
  const yellow = paint(33, options.color);
  const bold = paint(1, options.color);
  const { resources: r } = snapshot;
  const lock = describeLock(snapshot.lock);
  const lines = [
    bold(`${snapshot.project} on ${where}`),
    `load ${r.load.join(" ")} · memory ${formatBytes(r.memory.totalBytes - r.memory.availableBytes)} / ${formatBytes(r.memory.totalBytes)} (${r.memory.usedPercent} %) · disk ${formatBytes(r.disk.usedBytes)} / ${formatBytes(r.disk.totalBytes)} (${r.disk.usedPercent} %)`,
    ...r.warnings.map((w) => yellow(`warning: ${w}`)),
    ...(snapshot.drift ? [red(`${snapshot.drift}: ${DRIFT_ADVICE}`)] : []),
    ...(lock ? [yellow(lock)] : []),
    ...snapshot.live.map((l) => `live: the proxy's ${l.unit} sends to ${l.container}${l.service ? ` (${l.service})` : ""}`),
    "",
  ];
  if (snapshot.services.length === 0) lines.push(red(`no containers of project ${snapshot.project} on this host: is it deployed, and is --path right?`));
  const rows = [["SERVICE", "CONTAINER", "STATE", "HEALTH", "RESTARTS", "UPTIME", "CPU", "MEMORY", ""]];
  for (const s of snapshot.services) {
    rows.push([
      s.service,
      s.container,
      s.state,
      s.health ?? "-",
      String(s.restarts),
      uptime(s.uptimeSeconds),
      s.cpuPercent === null ? "-" : `${s.cpuPercent.toFixed(1)}%`,
      s.memory ?? "-",
      s.flagged ? `✖ ${s.reason}` : "✔",
    ]);
  }
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((row) => (row[i] ?? "").length))) ?? [];
  if (snapshot.services.length > 0) {
    for (const [index, row] of rows.entries()) {
      const line = row.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join("  ").trimEnd();
      lines.push(index > 0 && snapshot.services[index - 1]?.flagged ? red(line) : line);
    }
  }
  for (const s of snapshot.services.filter((v) => options.allLogs || v.flagged)) {
    lines.push("", bold(`${s.service} (${s.container}): last log lines`));
    for (const line of snapshot.logs.get(s.container) ?? []) lines.push(`  ${isErrorLine(line) ? red(line) : line}`);
  }
  return lines.join("\n");
}
