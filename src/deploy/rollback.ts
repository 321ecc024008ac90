import { Listr, type ListrRendererValue } from "listr2";
import { startStack } from "../compose/start.js";
import type { Settings } from "../config/settings.js";
import { EnvironmentError, InputError } from "../errors.js";
import type { ServiceVerdict } from "../health/classify.js";
import { watchStack } from "../health/watch.js";
import { makeLiveScript, syncReleaseScript } from "../release/apply.js";
import { detached } from "../release/detached.js";
import { listReleases, localOrigin, type ReleaseInfo, rollbackTarget } from "../release/history.js";
import type { ServerLayout } from "../release/layout.js";
import { type AppSession, finishRun, openApp, releaseLock } from "../release/session.js";
import { type Shell, sh } from "../ssh/quote.js";
import { listrOptions, timed } from "./tasks.js";

export interface RollbackContext {
  session: AppSession;
  from?: string;
  target: ReleaseInfo;
  services: ServiceVerdict[];
  logs: Map<string, string[]>;
  timings: Record<string, number>;
}

/** Puts a kept release's files back in the app folder; `.env` and data are not touched. */
export function restoreScript(layout: ServerLayout, id: string): Shell {
  const release = sh`${layout.releases}/${id}`;
  const restore = sh`set -eu
umask 022
${syncReleaseScript(layout, release)}
umask 077
${makeLiveScript(layout, id)}`;
  return sh`[ -d ${release} ] || { echo "release ${id} is no longer kept" >&2; exit 1; }
${detached(restore, layout.workerLog, `${layout.lock}/pids`)}`;
}

export async function runRollback(settings: Settings, to: string | undefined): Promise<RollbackContext> {
  const ctx = { services: [], logs: new Map(), timings: {} } as unknown as RollbackContext;
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
          const { releases } = await listReleases(c.session.remote, c.session.layout);
          c.from = releases.find((r) => r.live)?.id;
          const target = rollbackTarget(releases, to);
          if (typeof target === "string") throw new InputError(`${settings.host}:${c.session.server.app}: ${target}`);
          c.target = target;
          task.title = `Roll back ${c.session.project} from ${c.from ?? "?"} to ${target.id}`;
        },
      },
      {
        title: "Restore the files of that release",
        task: async (c) => {
          const result = await timed(c, "restore", () => c.session.remote.run(restoreScript(c.session.layout, c.target.id)));
          if (result.code !== 0) throw new EnvironmentError(`restoring ${c.target.id} failed: ${result.stderr.trim()}`);
        },
      },
      {
        title: "Build and start",
        task: async (c, task) => {
          const { session } = c;
          const compose = { kind: session.compose, project: session.project, files: c.target.meta?.composeFiles ?? [] };
          await timed(c, "start", () =>
            startStack(session.remote, session.layout, compose, true, (line) => {
              task.output = line;
            }),
          );
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
          await finishRun(c.session.remote, c.session.layout, {
            time: new Date().toISOString(),
            by: localOrigin(),
            action: "rollback",
            release: c.target.id,
            outcome,
          });
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
