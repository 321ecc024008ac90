import { isErrorLine, type ServiceVerdict } from "../health/classify.js";
import { formatBytes } from "./format.js";
import type { DeployReport } from "./pipeline.js";

/** Bumped when a field of a JSON document changes meaning or goes away. */
export const SUMMARY_VERSION = 1;

export const paint = (code: number, color: boolean) => (text: string) =>
  color ? `\u001b[${code}m${text}\u001b[0m` : text;

/**
 * Services as the JSON documents of deploy and rollback show them, with the last log lines of
 * each flagged one (null for the others: their logs are not fetched).
 */
export function servicesJson(services: ServiceVerdict[], logs: Map<string, string[]>) {
  return services.map((s) => ({
    service: s.service,
    container: s.container,
    state: s.state,
    health: s.health ?? null,
    restarts: s.restarts,
    condition: s.condition,
    flagged: s.flagged,
    reason: s.reason ?? null,
    logs: logs.get(s.container) ?? null,
  }));
}

/** One line a service, then the last log lines of each flagged one, error lines in red. */
export function servicesReport(services: ServiceVerdict[], logs: Map<string, string[]>, color: boolean): string[] {
  const red = paint(31, color);
  const bold = paint(1, color);
  const lines: string[] = [];
  for (const s of services) {
    const mark = s.flagged ? red(`✖ ${s.reason}`) : "✔";
    lines.push(`  ${s.service.padEnd(16)} ${s.state}${s.health ? ` (${s.health})` : ""}, ${s.restarts} restarts ${mark}`);
  }
  for (const s of services.filter((v) => v.flagged)) {
    lines.push("", bold(`${s.service} (${s.container}): last log lines`));
    for (const line of logs.get(s.container) ?? []) lines.push(`  ${isErrorLine(line) ? red(line) : line}`);
  }
  return lines;
}

/** The `--json` document of a deploy: names and counts only, never a secret value. */
export function deploySummary(ctx: DeployReport) {
  const { plan, settings } = ctx;
  return {
    version: SUMMARY_VERSION,
    status: ctx.services.some((s) => s.flagged) ? "unhealthy" : settings.dryRun ? "planned" : "deployed",
    dryRun: settings.dryRun,
    name: ctx.project,
    host: settings.host ?? null,
    path: ctx.server?.app ?? settings.path ?? null,
    release: ctx.release ?? null,
    composeCommand: ctx.compose?.kind ?? null,
    files: {
      shipped: { count: plan.tree.files.length, bytes: plan.tree.bytes },
      skipped: {
        count: plan.tree.skipped.files + plan.tree.skipped.folders.length,
        bytes: plan.tree.skipped.bytes,
        folders: plan.tree.skipped.folders,
      },
    },
    // A dry run's plan is in its task list and summary; the document keeps `upload: null` (docs/json.md).
    upload:
      ctx.upload && !settings.dryRun
        ? {
            mode: ctx.unchanged ? "unchanged" : ctx.upload.base ? "incremental" : "full",
            reason: ctx.upload.fullBecause ?? null,
            sent: ctx.upload.send.length,
            deleted: ctx.upload.deleted.length,
            unchanged: ctx.upload.unchanged,
          }
        : null,
    uploadedBytes: ctx.uploadedBytes,
    /** The CLI's own peak memory, for the benchmark's flat-memory check. */
    peakRssBytes: process.resourceUsage().maxRSS * 1024,
    roundTrips: ctx.remote?.roundTrips ?? 0,
    secrets: { generated: ctx.env.generated, kept: ctx.env.kept, provided: ctx.env.provided },
    images: ctx.images.images,
    services: servicesJson(ctx.services, ctx.logs),
    timings: ctx.timings,
  };
}

/** What a person reads in two seconds when the run is over. */
export function humanSummary(ctx: DeployReport, color: boolean): string {
  const bold = paint(1, color);
  const { settings, plan, env } = ctx;
  const lines: string[] = [];
  if (settings.dryRun) {
    lines.push(bold(`Dry run: nothing was changed${settings.host ? ` on ${settings.host}` : ""}.`));
    lines.push(
      `  would ship ${plan.tree.files.length} files (${formatBytes(plan.tree.bytes)}); skipped: ${plan.tree.skipped.folders.join(", ") || "no folder"}, ${plan.tree.skipped.files} files`,
    );
    const { upload } = ctx;
    if (upload?.base) {
      lines.push(
        ctx.unchanged
          ? `  would send nothing: release ${upload.base} is up to date`
          : `  would send ${upload.send.length} changed, delete ${upload.deleted.length}, keep ${upload.unchanged} of release ${upload.base}`,
      );
    } else if (upload) lines.push(`  would send every file: full upload, ${upload.fullBecause}`);
    lines.push(
      `  secrets: would generate ${env.generated.join(", ") || "none"}; keep ${env.kept.length}; provided ${env.provided.join(", ") || "none"}`,
    );
    for (const [service, image] of Object.entries(ctx.images.images)) {
      const builder = ctx.images.builtBy[service];
      lines.push(`  image: ${service} → ${image} (pull_policy: never${builder ? `, built by ${builder}` : ""})`);
    }
    for (const [file] of ctx.images.written) lines.push(`  writes ${file}, deploy-vps's own compose file`);
    lines.push(`  compose files: ${ctx.images.composeFiles.map((file) => `-f ${file}`).join(" ")}`);
    return lines.join("\n");
  }
  const total = Object.values(ctx.timings).reduce((a, b) => a + b, 0);
  const failing = ctx.services.some((s) => s.flagged);
  lines.push(
    bold(
      `${failing ? "Deployed, but failing" : "Deployed"}: ${ctx.project} to ${settings.host}:${ctx.server?.app} in ${(total / 1000).toFixed(1)} s (release ${ctx.release})`,
    ),
  );
  lines.push(`  shipped ${plan.tree.files.length} files (${formatBytes(plan.tree.bytes)}), ${formatBytes(ctx.uploadedBytes)} over the wire`);
  lines.push(`  secrets: ${env.generated.length} generated, ${env.kept.length} kept, ${env.provided.length} provided`);
  lines.push(...servicesReport(ctx.services, ctx.logs, color));
  if (failing) {
    lines.push(
      "",
      `Next: deploy-vps monitor-vps to follow it, ${ctx.previous ? `deploy-vps rollback to go back to ${ctx.previous}` : "no earlier release to roll back to"}.`,
    );
  }
  return lines.join("\n");
}
