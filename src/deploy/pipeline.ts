import { Listr, type ListrRendererValue } from "listr2";
import { localImagesFor } from "../compose/local-images.js";
import { composeV1Refuses } from "../compose/model.js";
import { resolveProjectName } from "../compose/project-name.js";
import type { Settings } from "../config/settings.js";
import { InputError } from "../errors.js";
import { watchStack } from "../health/watch.js";
import { logEntry, releaseDrift, rollbackTarget } from "../release/history.js";
import { serverLayout } from "../release/layout.js";
import { chooseCompose, probeServer, serverError } from "../release/probe.js";
import { appPath, finishRun, localNames, probeAndLock, releaseLock } from "../release/session.js";
import { runWorker, WorkerProgress, workerScript } from "../release/worker.js";
import { prepareServerEnv } from "../secrets/server-env.js";
import { Remote } from "../ssh/connection.js";
import { sshTarget } from "../ssh/login.js";
import type { DeployContext } from "./context.js";
import { count, formatBytes } from "./format.js";
import { planProject } from "./plan.js";
import { listrOptions, timed } from "./tasks.js";
import { startStep, uploadRelease } from "./upload.js";

export async function runDeploy(settings: Settings, env: NodeJS.ProcessEnv): Promise<DeployContext> {
  const ctx = {
    settings,
    uploadedBytes: 0,
    services: [],
    logs: new Map(),
    timings: {},
  } as unknown as DeployContext;
  const online = settings.host !== undefined;
  const live = !settings.dryRun;
  // A dry run without a host plans locally; anything else needs one (sshTarget says so).
  const target = online || live ? await sshTarget(settings) : undefined;
  // The SSH handshake (7 round trips) runs while the project is read. Connecting changes
  // nothing on the server; a project that cannot be read still stops the run first, and
  // drops the connection.
  const planning = planProject(settings, env);
  planning.catch(() => undefined);
  const connecting = online && target ? Remote.connect(target, planning) : undefined;
  connecting?.catch(() => undefined);

  const tasks = new Listr<DeployContext, ListrRendererValue, ListrRendererValue>(
    [
      {
        title: "Read the project",
        task: async (c, task) => {
          c.plan = await timed(c, "plan", () => planning);
          const { tree } = c.plan;
          task.title = `Read the project: ${count(tree.files.length, "file")} (${formatBytes(tree.bytes)}) to ship, skipped ${count(tree.skipped.folders.length, "folder")} and ${count(tree.skipped.files, "file")}`;
        },
      },
      {
        title: `Connect to ${settings.user}@${settings.host}:${settings.port}`,
        enabled: online,
        task: async (c) => {
          if (connecting) c.remote = await timed(c, "connect", () => connecting);
        },
      },
      {
        title: "Check the server",
        enabled: online,
        task: async (c, task) => {
          const local = localNames(c.plan.model.name, settings);
          const probe = { env: true, candidate: resolveProjectName(local).name };
          // A dry run changes nothing, so it takes no lock.
          c.server = await timed(c, "probe", () =>
            live
              ? probeAndLock(c.remote, appPath(settings, local), probe, settings, "deploy", (line) => {
                  task.output = line;
                })
              : probeServer(c.remote, appPath(settings, local), probe),
          );
          c.layout = serverLayout(c.server.app);
          const refusal = serverError(c.server, settings.host ?? "", { forced: settings.compose });
          if (refusal) throw refusal;
          // A folder deployed by hand keeps its stack: its containers' project name is adopted.
          c.project = resolveProjectName({ ...local, server: c.server.project ?? c.server.labelledProject }).name;
          if (c.server.otherFolders.length > 0) {
            throw new InputError(
              `compose project "${c.project}" already runs from ${c.server.otherFolders.join(", ")} on ${settings.host}; deploying ${c.server.app} under the same name would replace it. Give this one its own name (name: in deploy-vps.yml or the compose file).`,
            );
          }
          c.compose = {
            kind: chooseCompose(c.server, settings.compose),
            project: c.project,
            files: c.plan.model.files.map((f) => f.path),
          };
          const drift = releaseDrift(c.server.current, c.server.containers);
          task.title = `Check the server: ${c.server.app}, project ${c.project}, Compose ${c.compose.kind}${c.server.current ? `, live release ${c.server.current}` : ", first deploy"}${drift ? ` (${drift}: this deploy brings them in line)` : ""}`;
        },
      },
      {
        title: "Prepare secrets",
        task: async (c, task) => {
          c.env = prepareServerEnv(c.plan.template, c.server?.env, c.plan.provided, c.plan.required);
          c.remote?.secrets.addEnv(c.env.text, c.env.generated);
          const { generated, kept, provided } = c.env;
          task.title = `Secrets: ${generated.length} generated, ${kept.length} kept, ${provided.length} provided${generated.length ? ` (new: ${generated.join(", ")})` : ""}`;
        },
      },
      {
        title: "Use local images",
        task: async (c, task) => {
          c.project ??= resolveProjectName(localNames(c.plan.model.name, settings)).name;
          const refused = c.compose?.kind === "v1" ? composeV1Refuses(c.plan.model) : undefined;
          if (refused) throw new InputError(`${refused}, which only Compose v2 reads, and ${settings.host} runs docker-compose v1`);
          c.images = localImagesFor(c.plan.model, c.project);
          if (c.compose) c.compose.files = c.images.composeFiles;
          const list = Object.entries(c.images.images).map(
            ([service, image]) => `${service} → ${image}${c.images.builtBy[service] ? ` (built by ${c.images.builtBy[service]})` : ""}`,
          );
          task.title = list.length
            ? `Local images: ${list.join(", ")}`
            : "Local images: no service is built here";
        },
      },
      {
        title: "Upload",
        enabled: live,
        task: (c, task) => uploadRelease(c, task),
      },
      {
        title: "Switch to the new version",
        enabled: live,
        skip: (c) => (c.unchanged ? `Switch: release ${c.release} stays live` : false),
        task: async (c, task) => {
          await timed(c, "apply", async () => c.worker?.switched);
          task.title = `Switch to the new version: release ${c.release}${c.server.current ? `, ${c.server.current} kept for rollback` : ""}`;
        },
      },
      {
        title: "Build and start",
        enabled: live,
        task: async (c, task) => {
          // After an upload, the worker it started goes on to this; a deploy with nothing to ship starts one of its own.
          const worker = c.worker ?? runWorker(c.remote, workerScript(c.layout, undefined, startStep(c)), new WorkerProgress(c.remote.target.host));
          worker.follow((line) => {
            task.output = line;
          });
          await timed(c, "start", () => worker.started);
        },
      },
      {
        title: `Watch for crash loops (up to ${settings.settle} s)`,
        enabled: live,
        task: async (c, task) => {
          const watched = await timed(c, "watch", () =>
            watchStack(c.remote, c.project, settings.settle, (verdicts) => {
              task.output = verdicts.map((v) => `${v.service}: ${v.condition}`).join(", ");
            }),
          );
          c.services = watched.services;
          c.logs = watched.logs;
          const flagged = c.services.filter((s) => s.flagged);
          const back = rollbackTarget((c.server.kept ?? []).map((id) => ({ id })), c.release, c.server.lastEntries ?? []);
          c.previous = typeof back === "string" ? undefined : back.target.id;
          await finishRun(c.remote, c.layout, logEntry("deploy", c.release, flagged.length ? "unhealthy" : "healthy"));
          task.title = flagged.length
            ? `Watch: ${flagged.map((s) => s.service).join(", ")} ${flagged.length === 1 ? "is" : "are"} failing`
            : `Watch: ${c.services.length} services up`;
        },
      },
    ],
    { ...listrOptions(settings), ctx },
  );
  try {
    await tasks.run();
  } catch (error) {
    // A failed switch or start is in the server's log already: its worker wrote it.
    if (ctx.server?.lock && ctx.server.lock.status !== "held") await releaseLock(ctx.remote, ctx.layout);
    throw error;
  } finally {
    ctx.remote?.close();
  }
  return ctx;
}
