import type { Settings } from "../config/settings.js";
import { runDeploy } from "../deploy/pipeline.js";
import { deploySummary, humanSummary } from "../deploy/report.js";
import { ExitCode } from "../errors.js";

export async function deploy(settings: Settings, color: boolean): Promise<number> {
  const ctx = await runDeploy(settings, process.env);
  const summary = deploySummary(ctx);
  if (settings.json) process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
  // --quiet: the final line only (errors still go to stderr).
  else process.stdout.write(`${settings.quiet ? humanSummary(ctx, color).split("\n")[0] : humanSummary(ctx, color)}\n`);
  return summary.status === "unhealthy" ? ExitCode.unhealthy : ExitCode.ok;
}
