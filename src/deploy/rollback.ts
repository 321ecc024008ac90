import { Listr, type ListrRendererValue } from "listr2";
import type { Settings } from "../config/settings.js";
import { EnvironmentError, InputError } from "../errors.js";
import type { ServiceVerdict } from "../health/classify.js";
import { watchStack } from "../health/watch.js";
import { makeLiveScript, syncReleaseScript } from "../release/apply.js";
import { describeSkipped, listReleases, logEntry, type ReleaseInfo, releaseDrift, rollbackTarget } from "../release/history.js";
import { layoutEnv, type ServerLayout } from "../release/layout.js";
import { type AppSession, finishRun, openApp, releaseLock } from "../release/session.js";
import { runWorker, WorkerProgress, workerScript } from "../release/worker.js";
import { remoteScript } from "../remote/script.js";
import { type Shell, sh } from "../ssh/quote.js";
import { listrOptions, timed } from "./tasks.js";

export interface RollbackContext {
  session: AppSession;
  from?: string;
  target: ReleaseInfo;
  /** Newer releases passed over because their deploy failed. */
  skipped: string[];
  /** Restores the files, then builds and starts: started by the restore step, followed by the next. */
  worker: WorkerProgress;
  services: ServiceVerdict[];
  logs: Map<string, string[]>;
  timings: Record<string, number>;
}

/** Puts a kept release's files back in the app folder; `.env` and data are not touched. */
export function restoreScript(layout: ServerLayout, id: string): Shell {
  return sh`umask 022 && ${syncReleaseScript(layout, `${layout.releases}/${id}`)} && umask 077 && ${makeLiveScript(layout, id)}`;
}

/** The restore, then build and `up`, in one detached worker: a kill or a dropped link cannot stop it between the two. */
function restoreAndStart(c: RollbackContext): WorkerProgress {
  const { session, target } = c;
  const { layout, remote } = session;
  const worker = workerScript(layout, restoreScript(layout, target.id), {
    compose: { kind: session.compose, project: session.project, files: target.meta?.composeFiles ?? [] },
    build: true,
    release: target.id,
    failed: logEntry("rollback", target.id, "failed"),
  });
  const script = sh`${remoteScript("release-kept", { env: layoutEnv(layout), args: [target.id] })} || exit 1
${worker}`;
  return runWorker(remote, script, new WorkerProgress(remote.target.host, (reason) => new EnvironmentError(`restoring ${target.id} failed: ${reason}`)));
}

export async function runRollback(settings: Settings, to: string | undefined): Promise<RollbackContext> {
  const ctx = { services: [], skipped: [], logs: new Map(), timings: {} } as unknown as RollbackContext;
  const tasks = new Listr<RollbackContext, ListrRendererValue, ListrRendererValue>(
    [
      {
        title: `Connect to ${settings.user}@${settings.host}:${settings.port} and find the releases`,
        task: async (c, task) => {
          c.session = await timed(c, "connect", () =>
            openApp(settings, {
              action: "rollback",
              onNotice: (line) => {
                task.output = line;
              },
            }),
          );
          const { server } = c.session;
          const { releases, log } = await listReleases(c.session.remote, c.session.layout);
          c.from = releases.find((r) => r.live)?.id;
          const choice = rollbackTarget(releases, c.from, log, to);
          if (typeof choice === "string") throw new InputError(`${settings.host}:${server.app}: ${choice}`);
          const { target } = choice;
          c.target = target;
          c.skipped = choice.skipped;
          const notes = [releaseDrift(server.current, server.containers), describeSkipped(c.skipped)].filter(Boolean);
          task.title = `Roll back ${c.session.project} from ${c.from ?? "?"} to ${target.id}${notes.length ? ` (${notes.join("; ")})` : ""}`;
        },
      },
      {
        title: "Restore the files of that release",
        task: async (c) => {
          c.worker = restoreAndStart(c);
          await timed(c, "restore", () => c.worker.switched);
        },
      },
      {
        title: "Build and start",
        task: async (c, task) => {
          c.worker.follow((line) => {
            task.output = line;
          });
          await timed(c, "start", () => c.worker.started);
        },
      },
      {
        title: `Watch for crash loops (up to ${settings.settle} s)`,
        task: async (c, task) => {
          const watched = await timed(c, "watch", () =>
            watchStack(c.session.remote, c.session.project, settings.settle, (verdicts) => {
              task.output = verdicts.map((v) => `${v.service}: ${v.condition}`).join(", ");
            }),
          );
          c.services = watched.services;
          c.logs = watched.logs;
          const outcome = c.services.some((s) => s.flagged) ? "unhealthy" : "healthy";
          await finishRun(c.session.remote, c.session.layout, logEntry("rollback", c.target.id, outcome));
        },
      },
    ],
    { ...listrOptions(settings), ctx },
  );
  try {
    await tasks.run();
  } catch (error) {
    await releaseLock(ctx.session?.remote, ctx.session?.layout);
    throw error;
  } finally {
    ctx.session?.remote.close();
  }
  return ctx;
}
