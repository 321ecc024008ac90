import { Listr, type ListrRendererValue } from "listr2";
import type { Settings } from "../config/settings.js";
import { EnvironmentError, InputError } from "../errors.js";
import type { ServiceVerdict } from "../health/classify.js";
import { proxySwitchRefusal, recordedPlan } from "../blue-green/start.js";
import { makeLiveScript, syncReleaseScript } from "../release/apply.js";
import { describeSkipped, listReleases, logEntry, type ReleaseInfo, releaseDrift, rollbackTarget } from "../release/history.js";
import { layoutEnv, type ServerLayout } from "../release/layout.js";
import { type AppSession, openApp, RunLock, withLock } from "../release/session.js";
import { runWorker, WorkerProgress, workerScript } from "../release/worker.js";
import { remoteScript } from "../remote/script.js";
import { Remote } from "../ssh/connection.js";
import { sshTarget } from "../ssh/login.js";
import { type Shell, sh } from "../ssh/quote.js";
import { type Ready, ready, type StepView } from "./context.js";
import { buildAndStart } from "./steps/build-and-start.js";
import { type Watched, watchServices } from "./steps/watch.js";
import { listrOptions, timed } from "./tasks.js";

/** What the rollback's steps hand to each other, built up as they run (see DeployContext). */
export interface RollbackContext {
  lock: RunLock;
  /** Find the release. */
  remote?: Remote;
  session?: AppSession;
  from?: string;
  target?: ReleaseInfo;
  /** Newer releases passed over because their deploy failed. */
  skipped: string[];
  /** Restore: restores the files, then builds and starts; followed by the next step. */
  worker?: WorkerProgress;
  services: ServiceVerdict[];
  logs: Map<string, string[]>;
  timings: Record<string, number>;
}

/** A rollback that ran to its end: what the report is made from. */
export type RollbackReport = Ready<RollbackContext, "session" | "target">;

/** Puts a kept release's files back in the app folder; `.env` and data are not touched. */
export function restoreScript(layout: ServerLayout, id: string): Shell {
  return sh`umask 022 && ${syncReleaseScript(layout, `${layout.releases}/${id}`)} && umask 077 && ${makeLiveScript(layout, id)}`;
}

/** The restore, then build and `up`, in one detached worker: a kill or a dropped link cannot stop it between the two. */
function restoreAndStart(c: Ready<RollbackContext, "session" | "target">): WorkerProgress {
  const { session, target } = c;
  const { layout, remote } = session;
  const worker = workerScript(layout, restoreScript(layout, target.id), {
    compose: { kind: session.compose, project: session.project, files: target.meta?.composeFiles ?? [] },
    build: true,
    // The way its own deploy brought it up: a blue-green release goes back through the proxy.
    plan: recordedPlan(target.meta),
    release: target.id,
    failed: logEntry("rollback", target.id, "failed"),
  });
  const script = sh`${remoteScript("release-kept", { env: layoutEnv(layout), args: [target.id] })} || exit 1
${worker}`;
  return runWorker(remote, script, new WorkerProgress(remote.target.host, (reason) => new EnvironmentError(`restoring ${target.id} failed: ${reason}`)));
}

/** Connects, takes the app folder's lock with the probe, and picks the release to go back to. */
async function findRelease(c: RollbackContext, settings: Settings, to: string | undefined, step: StepView): Promise<void> {
  const session = await timed(c, "connect", async () => {
    c.remote = await Remote.connect(await sshTarget(settings));
    return openApp(settings, c.remote, {
      action: "rollback",
      held: c.lock,
      onNotice: (line) => {
        step.output = line;
      },
    });
  });
  c.session = session;
  const { server } = session;
  const { releases, log } = await listReleases(session.remote, session.layout);
  c.from = releases.find((r) => r.live)?.id;
  const choice = rollbackTarget(releases, c.from, log, to);
  if (typeof choice === "string") throw new InputError(`${settings.host}:${server.app}: ${choice}`);
  const { target } = choice;
  const refusal = proxySwitchRefusal(server, session.remote.target.host, recordedPlan(target.meta));
  if (refusal) throw refusal;
  c.target = target;
  c.skipped = choice.skipped;
  const notes = [releaseDrift(server.current, server.containers), describeSkipped(c.skipped)].filter(Boolean);
  step.title = `Roll back ${session.project} from ${c.from ?? "?"} to ${target.id}${notes.length ? ` (${notes.join("; ")})` : ""}`;
}

/** Restore the files of that release: ends when the worker has them in the app folder. */
async function restore(c: Ready<RollbackContext, "session" | "target">): Promise<void> {
  const worker = restoreAndStart(c);
  c.worker = worker;
  await timed(c, "restore", () => worker.switched);
}

/** The shared Watch, on the rolled-back release. */
function watchRollback(c: Ready<RollbackContext, "session" | "target">, settings: Settings, step: StepView): Promise<Watched> {
  const { session, target } = c;
  return watchServices(
    { remote: session.remote, project: session.project, layout: session.layout, server: session.server, timings: c.timings },
    { settle: settings.settle, action: "rollback", release: target.id },
    step,
  );
}

export async function runRollback(settings: Settings, to: string | undefined): Promise<RollbackReport> {
  const ctx: RollbackContext = { lock: new RunLock(), skipped: [], services: [], logs: new Map(), timings: {} };
  const tasks = new Listr<RollbackContext, ListrRendererValue, ListrRendererValue>(
    [
      {
        title: `Connect to ${settings.user}@${settings.host}:${settings.port} and find the releases`,
        task: (c, task) => findRelease(c, settings, to, task),
      },
      {
        title: "Restore the files of that release",
        task: (c) => restore(ready(c, "session", "target")),
      },
      {
        title: "Build and start",
        task: (c, task) => buildAndStart(c, ready(c, "worker").worker, task),
      },
      {
        title: `Watch for crash loops (up to ${settings.settle} s)`,
        task: async (c, task) => {
          Object.assign(c, await watchRollback(ready(c, "session", "target"), settings, task));
        },
      },
    ],
    { ...listrOptions(settings), ctx },
  );
  try {
    await withLock(ctx.lock, () => tasks.run());
  } finally {
    ctx.remote?.close();
  }
  return ready(ctx, "session", "target");
}
