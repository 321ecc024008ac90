/** The audit as a person reads it, as scripts read it (`--json`), and as docs (`--markdown`). */
import { formatBytes } from "../deploy/format.js";
import { type AuditKind, type AuditRow, isFinding, KINDS, type ServiceLine } from "./classify.js";

/** How each source was read: all of it, part of it (and what instead), or not at all (and why). */
export type SourceReading = { state: "read"; detail?: string } | { state: "partial"; detail: string } | { state: "unreadable"; detail: string };

export interface AuditSources {
  nginx: SourceReading;
  proxy: SourceReading;
  docker: SourceReading;
}

export interface AuditReport {
  server: string;
  rows: AuditRow[];
  sources: AuditSources;
  services: ServiceLine[];
  /** Unified diffs of what --fix would change, one per file. */
  fixes: { file: string; diff: string }[];
  /** Why a finding gets no fix (no host to write a site for, say). */
  unfixable: string[];
  /** SSH commands the audit made: one to read everything (three with --fix). */
  roundTrips: number;
}

/** The JSON contract: rows with kind, host, project, service, target, file, line, detail; and the sources. */
export function auditJson(report: AuditReport): object {
  return {
    version: 1,
    server: report.server,
    rows: report.rows.map((row) => ({
      kind: row.kind,
      host: row.host,
      project: row.project,
      service: row.service,
      target: row.target,
      file: row.file,
      line: row.line,
      detail: row.detail,
      evidence: row.evidence,
      memoryBytes: row.memoryBytes,
    })),
    sources: report.sources,
    fixes: report.fixes,
    unfixable: report.unfixable,
    roundTrips: report.roundTrips,
  };
}

const LABELS: Record<AuditKind, string> = {
  "through-proxy": "through proxy",
  direct: "direct",
  bypass: "BYPASS",
  "no-site": "NO SITE",
  dangling: "DANGLING",
  orphan: "ORPHAN",
  unmanaged: "UNMANAGED",
  "broken-dependency": "BROKEN DEP",
};

function sourceLine(name: string, reading: SourceReading): string {
  return `${name}: ${reading.state}${reading.detail ? ` (${reading.detail})` : ""}`;
}

/** What the terminal shows: one block per row, the source lines under it, then the counts and the fixes. */
export function auditText(report: AuditReport): string {
  const out = [`Audit of ${report.server}`, ...Object.entries(report.sources).map(([name, reading]) => `  ${sourceLine(name, reading)}`), ""];
  for (const row of report.rows) {
    const who = [row.project, row.service].filter((part) => part !== null).join("/");
    const memory = row.memoryBytes === null ? "" : `, ${formatBytes(row.memoryBytes)}`;
    const title = row.host === null ? `${who || "?"}${memory ? ` (${memory.slice(2)})` : ""}` : `${row.host}${row.target ? ` → ${row.target}` : ""}${who ? ` (${who}${memory})` : ""}`;
    out.push(`${LABELS[row.kind].padEnd(14)}${title}`);
    out.push(`${" ".repeat(14)}${row.detail}`);
    for (const line of row.evidence) out.push(`${" ".repeat(16)}${line}`);
  }
  const counts = KINDS.map((kind) => [kind, report.rows.filter((row) => row.kind === kind).length] as const).filter(([, count]) => count > 0);
  out.push("", counts.length === 0 ? "Nothing to report: no site, route or stack found." : counts.map(([kind, count]) => `${count} ${kind}`).join(", "));
  if (report.fixes.length > 0) {
    out.push("", "What `deploy-vps audit --fix` would change:", "");
    for (const fix of report.fixes) out.push(fix.diff.trimEnd(), "");
  }
  for (const line of report.unfixable) out.push(`Not fixable here: ${line}`);
  return out.join("\n").trimEnd();
}

const cell = (text: string) => text.replace(/\|/g, "\\|");

/** The docs table the seed's sync-autostart-config.sh wrote, from what runs rather than from the config. */
export function auditMarkdown(report: AuditReport): string {
  const through = report.services.filter((s) => s.routed === "through the proxy").length;
  const modes = new Map<string, number>();
  for (const service of report.services) modes.set(service.mode, (modes.get(service.mode) ?? 0) + 1);
  const lines = [
    `# Services on ${report.server}`,
    "",
    "Written by `deploy-vps audit --markdown` from nginx, the runtime proxy and Docker as they run (no date, so that a daily run changes this file only when the server changed). Do not edit by hand.",
    "",
    "| Metric | Value |",
    "|---|---|",
    `| Services the proxy routes | ${report.services.length} |`,
    `| Reached through the proxy | ${through} |`,
    ...[...modes].sort().map(([mode, count]) => `| Mode ${mode} | ${count} |`),
    `| Findings | ${report.rows.filter(isFinding).length} |`,
    "",
    "| Service | Hosts | Mode | Theme | Idle timeout | State | Memory | Routed |",
    "|---|---|---|---|---|---|---|---|",
    ...report.services.map((s) =>
      `| ${cell(s.name)} | ${cell(s.hosts.join(", ") || "-")} | ${s.mode} | ${s.theme ?? "-"} | ${s.idle} | ${s.state ?? "-"} | ${s.memoryBytes === null ? "-" : formatBytes(s.memoryBytes)} | ${s.routed} |`,
    ),
  ];
  const findings = report.rows.filter(isFinding);
  if (findings.length > 0) {
    lines.push("", "## Findings", "", "| Kind | Host | Project | Memory | Detail |", "|---|---|---|---|---|");
    for (const row of findings)
      lines.push(`| ${row.kind} | ${cell(row.host ?? "-")} | ${cell([row.project, row.service].filter((p) => p !== null).join("/") || "-")} | ${row.memoryBytes === null ? "-" : formatBytes(row.memoryBytes)} | ${cell(row.detail)} |`);
  }
  return `${lines.join("\n")}\n`;
}
