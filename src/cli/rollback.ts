import type { Settings } from "../config/settings.js";
import { paint, SUMMARY_VERSION, servicesJson, servicesReport } from "../deploy/report.js";
import { runRollback } from "../deploy/rollback.js";
import { ExitCode } from "../errors.js";
import { describeSkipped } from "../release/history.js";

export async function rollback(settings: Settings, to: string | undefined, color: boolean): Promise<number> {
  const ctx = await runRollback(settings, to);
  const failing = ctx.services.some((s) => s.flagged);
  if (settings.json) {
    const document = {
      version: SUMMARY_VERSION,
      status: failing ? "unhealthy" : "rolled-back",
      name: ctx.session.project,
      host: settings.host,
      path: ctx.session.server.app,
      from: ctx.from ?? null,
      release: ctx.target.id,
      skipped: ctx.skipped,
      services: servicesJson(ctx.services, ctx.logs),
      timings: ctx.timings,
    };
    process.stdout.write(`${JSON.stringify(document, null, 2)}\n`);
  } else {
    const skipped = describeSkipped(ctx.skipped);
    const title = `${failing ? "Rolled back, but failing" : "Rolled back"}: ${ctx.session.project} on ${settings.host} from ${ctx.from ?? "?"} to ${ctx.target.id}${skipped ? `; ${skipped}` : ""}`;
    process.stdout.write(`${[paint(1, color)(title), ...servicesReport(ctx.services, ctx.logs, color)].join("\n")}\n`);
  }
  return failing ? ExitCode.unhealthy : ExitCode.ok;
}
