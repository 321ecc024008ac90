import { formatBytes } from "../deploy/format.js";
import type { FailedAnswer, ServiceStatus, StatusDocument, WakePlan } from "./status.js";

/** 750 -> "12m 30s", 7200 -> "2h 0m". */
export function formatSeconds(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
}

function idleLeft(service: ServiceStatus): string {
  if (service.idle === "never") return "never";
  return service.idleLeftSeconds === null ? "-" : formatSeconds(service.idleLeftSeconds);
}

const orDash = (value: number | null, format: (n: number) => string) => (value === null ? "-" : format(value));

function row(service: ServiceStatus): string[] {
  return [
    service.name,
    service.hosts.join(",") || "-",
    service.mode,
    service.state,
    idleLeft(service),
    orDash(service.lastStartMs, (ms) => `${(ms / 1000).toFixed(1)} s`),
    orDash(service.memoryBytes, formatBytes),
    orDash(service.memoryFreedBytes, formatBytes),
  ];
}

const HEADER = ["NAME", "HOSTS", "MODE", "STATE", "IDLE LEFT", "LAST START", "MEMORY", "FREED"];

function table(rows: string[][]): string[] {
  const widths = HEADER.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join("  "));
}

/** `proxy status` for people: one row a service, why a service is failed or disabled under it, then the total freed. */
export function renderStatus(host: string, doc: StatusDocument): string {
  const lines = [`Runtime proxy on ${host}: ${doc.services.length} service${doc.services.length === 1 ? "" : "s"}`];
  if (doc.services.length > 0) {
    const rows = table([HEADER, ...doc.services.map(row)]);
    lines.push(rows[0] ?? "");
    doc.services.forEach((service, i) => {
      lines.push(rows[i + 1] ?? "");
      // Which container takes the traffic: after a blue-green switch, not always the first one.
      if (service.live) lines.push(`  live: ${service.live.name} port ${service.live.port} (id ${service.live.id.slice(0, 12)})`);
      if (service.reason) lines.push(`  ${service.state}: ${service.reason}`);
      if (service.lastFailure) lines.push(`  last failure: ${service.lastFailure.container}: ${service.lastFailure.reason}`);
      if (service.conflict) lines.push(`  conflict: ${service.conflict}`);
    });
  } else {
    lines.push("  no service asks to be proxied yet (label one with deploy-vps.proxy.host and deploy-vps.proxy.port)");
  }
  for (const conflict of doc.conflicts) lines.push(`conflict: ${conflict}`);
  if (doc.configError) lines.push(`config file not applied (the last good one runs): ${doc.configError}`);
  if (doc.dependenciesError) lines.push(`dependencies file not applied (the last good one runs): ${doc.dependenciesError}`);
  lines.push(`Memory freed by the services asleep: ${formatBytes(doc.memoryFreedBytes)}`);
  return lines.join("\n");
}

/** `proxy wake NAME --dry-run`: what would start, level by level, dependencies first. */
export function renderPlan(plan: WakePlan): string {
  const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  const lines = [`Waking ${plan.service} would take about ${seconds(plan.estimatedMs)}:`];
  plan.levels.forEach((level, i) => {
    const steps = level.map((step) => {
      const name = `${step.project}/${step.service} (${step.container}${step.type === "optional" ? ", optional" : ""})`;
      return step.running ? `${name} already runs` : `${name} ~${seconds(step.estimatedMs)}`;
    });
    lines.push(`  ${i + 1}. ${level.length > 1 ? "side by side: " : ""}${steps.join(", ")}`);
  });
  if (plan.levels.every((level) => level.every((step) => step.running))) lines.push("  start nothing: every container already runs");
  return lines.join("\n");
}

/** A wake or sleep that failed: the container to blame and its last log lines. */
export function renderFailure(name: string, failure: FailedAnswer): string {
  return [`${name} failed: ${failure.container}: ${failure.reason}`, ...failure.logs.map((line) => `  ${failure.container} | ${line}`)].join("\n");
}
