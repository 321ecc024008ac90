import type { ServiceVerdict } from "../../health/classify.js";
import { watchStack } from "../../health/watch.js";
import { type LogEntry, logEntry, rollbackTarget } from "../../release/history.js";
import type { ServerLayout } from "../../release/layout.js";
import type { ServerState } from "../../release/probe.js";
import { finishRun } from "../../release/session.js";
import type { Remote } from "../../ssh/connection.js";
import type { DeployContext, Ready, StepView } from "../context.js";
import { timed } from "../tasks.js";

export interface Watched {
  services: ServiceVerdict[];
  logs: Map<string, string[]>;
}

/** What a dry run says in place of Watch. */
export function watchSkip(c: DeployContext): string | false {
  if (!c.settings.dryRun) return false;
  const services = (c.plan?.services ?? []).map((s) => s.name);
  return `Watch: would watch ${services.join(", ") || "the services"} for crash loops for up to ${c.settings.settle} s`;
}

/**
 * Watch, a deploy's and a rollback's: watches the stack for crash loops for up to `settle`
 * seconds, then appends the run's outcome to the server's log and releases the lock.
 */
export async function watchServices(
  c: { remote: Remote; project: string; layout: ServerLayout; server: ServerState; timings: Record<string, number> },
  run: { settle: number; action: LogEntry["action"]; release: string },
  step: StepView,
): Promise<Watched> {
  const { services, logs } = await timed(c, "watch", () =>
    watchStack(c.remote, c.project, run.settle, (verdicts) => {
      step.output = verdicts.map((v) => `${v.service}: ${v.condition}`).join(", ");
    }),
  );
  const flagged = services.filter((s) => s.flagged);
  await finishRun(c.remote, c.layout, logEntry(run.action, run.release, flagged.length ? "unhealthy" : "healthy"), c.server);
  step.title = flagged.length
    ? `Watch: ${flagged.map((s) => s.service).join(", ")} ${flagged.length === 1 ? "is" : "are"} failing`
    : `Watch: ${services.length} services up`;
  return { services, logs };
}

/** The deploy's Watch, and the release a rollback after it would go to, if any. */
export async function watchDeploy(
  c: Ready<DeployContext, "remote" | "target" | "release" | "server">,
  step: StepView,
): Promise<Watched & { previous?: string }> {
  const { remote, target, release, server, timings } = c;
  const watched = await watchServices(
    { remote, project: target.project, layout: target.layout, server, timings },
    { settle: c.settings.settle, action: "deploy", release },
    step,
  );
  const back = rollbackTarget((server.kept ?? []).map((id) => ({ id })), release, server.lastEntries ?? []);
  return { ...watched, previous: typeof back === "string" ? undefined : back.target.id };
}
