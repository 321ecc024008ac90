import { runWorker, WorkerProgress, workerScript } from "../../release/worker.js";
import type { DeployContext, Ready, StepView } from "../context.js";
import { timed } from "../tasks.js";
import { startStep } from "./upload.js";

/** What a dry run says in place of Build and start. */
export function buildSkip(c: DeployContext): string | false {
  if (!c.settings.dryRun) return false;
  const built = (c.plan?.services ?? []).filter((s) => s.hasBuild).map((s) => s.name);
  const compose = c.compose?.kind === "v1" ? "docker-compose" : "docker compose";
  const switched = (c.zeroDowntime?.blueGreen ?? []).map((s) => `${s.service} (drain ${s.drainSeconds} s)`);
  const blueGreen = switched.length ? `switch ${switched.join(", ")} to a new container through the runtime proxy, then ` : "";
  return `Build and start: would ${built.length ? `build ${built.join(", ")} and ` : ""}${blueGreen}run ${compose} up -d${blueGreen ? " for the rest" : ""}`;
}

/** A deploy with nothing to ship starts a worker of its own: build and `up`, no file step. */
export function startWorker(c: Ready<DeployContext, "plan" | "compose" | "zeroDowntime" | "remote" | "target" | "release">): WorkerProgress {
  return runWorker(c.remote, workerScript(c.target.layout, undefined, startStep(c, c.release)), new WorkerProgress(c.remote.target.host));
}

/** Build and start, a deploy's and a rollback's: follows the worker that builds the images and brings the containers up. */
export async function buildAndStart(c: { timings: Record<string, number> }, worker: WorkerProgress, step: StepView): Promise<void> {
  worker.follow((line) => {
    step.output = line;
  });
  await timed(c, "start", () => worker.started);
}
