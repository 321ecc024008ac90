import { Listr, ListrLogger, PRESET_TIMESTAMP, ProcessOutput } from "listr2";
import { packProject } from "../archive/pack.js";
import { buildAndUpScript, type ComposeInvocation } from "../compose/commands.js";
import { type LocalImages, localImagesFor } from "../compose/local-images.js";
import { resolveProjectName } from "../compose/project-name.js";
import type { Settings } from "../config/settings.js";
import { EnvironmentError, InputError } from "../errors.js";
import type { ServiceVerdict } from "../health/classify.js";
import { fetchLogs, watchServices } from "../health/watch.js";
import { applyRelease } from "../release/apply.js";
import { appendLog, gitInfo, type LogEntry, localOrigin, type ReleaseMeta } from "../release/history.js";
import { releaseId, type ServerLayout, serverLayout } from "../release/layout.js";
import { chooseCompose, probeServer, type ServerState, serverProblems } from "../release/probe.js";
import { uploadRelease } from "../release/upload.js";
import type { EnvMergeResult } from "../secrets/merge.js";
import { prepareServerEnv } from "../secrets/server-env.js";
import { Remote } from "../ssh/connection.js";
import { sshTarget } from "../ssh/login.js";
import { formatBytes } from "./format.js";
import { type ProjectPlan, planProject } from "./plan.js";

/** What the steps hand to each other; the report is made from it. */
export interface DeployContext {
  settings: Settings;
  plan: ProjectPlan;
  remote: Remote;
  server: ServerState;
  project: string;
  layout: ServerLayout;
  compose: ComposeInvocation;
  env: EnvMergeResult;
  images: LocalImages;
  release: string;
  uploadedBytes: number;
  services: ServiceVerdict[];
  logs: Map<string, string[]>;
  timings: Record<string, number>;
}

/** Progress goes to stderr so that stdout carries only the result (`--json`). */
function listrOptions() {
  const logger = new ListrLogger({ processOutput: new ProcessOutput(process.stderr, process.stderr) });
  return {
    renderer: "default" as const,
    fallbackRenderer: "simple" as const,
    rendererOptions: { logger, collapseSubtasks: false },
    fallbackRendererOptions: { logger, timestamp: PRESET_TIMESTAMP },
    exitOnError: true,
    registerSignalListeners: false,
  };
}

function logEntry(ctx: DeployContext, outcome: LogEntry["outcome"]): LogEntry {
  return { time: new Date().toISOString(), by: localOrigin(), action: "deploy", release: ctx.release, outcome };
}

/** Wraps a step to record how long it took, for the summary's `timings`. */
function timed<T>(ctx: DeployContext, step: string, work: () => Promise<T>): Promise<T> {
  const start = Date.now();
  return work().finally(() => {
    ctx.timings[step] = Date.now() - start;
  });
}

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

  const tasks = new Listr<DeployContext>(
    [
      {
        title: "Read the project",
        task: async (c, task) => {
          c.plan = await timed(c, "plan", () => planProject(settings, env));
          const { tree } = c.plan;
          task.title = `Read the project: ${tree.files.length} files (${formatBytes(tree.bytes)}) to ship, skipped ${tree.skipped.folders.length} folders and ${tree.skipped.files} files`;
        },
      },
      {
        title: `Connect to ${settings.user}@${settings.host}:${settings.port}`,
        enabled: online,
        task: async (c) => {
          if (target) c.remote = await timed(c, "connect", () => Remote.connect(target));
        },
      },
      {
        title: "Check the server",
        enabled: online,
        task: async (c, task) => {
          const path =
            settings.path ??
            `~/apps/${resolveProjectName({ compose: c.plan.compose[0]?.name, config: settings.name, folder: settings.folderName }).name}`;
          c.server = await timed(c, "probe", () => probeServer(c.remote, path));
          const problem = serverProblems(c.server, settings.host ?? "", settings.compose);
          if (problem)
            throw c.server.appKind === "file" ? new InputError(problem) : new EnvironmentError(problem);
          c.layout = serverLayout(c.server.app);
          c.project = resolveProjectName({
            compose: c.plan.compose.find((file) => file.name)?.name,
            config: settings.name,
            server: c.server.project,
            folder: settings.folderName,
          }).name;
          c.compose = {
            kind: chooseCompose(c.server, settings.compose),
            project: c.project,
            files: c.plan.compose.map((f) => f.path),
          };
          task.title = `Check the server: ${c.server.app}, project ${c.project}, Compose ${c.compose.kind}${c.server.current ? `, live release ${c.server.current}` : ", first deploy"}`;
        },
      },
      {
        title: "Prepare secrets",
        task: async (c, task) => {
          c.env = prepareServerEnv(c.plan.template, c.server?.env, c.plan.provided, c.plan.required);
          const { generated, kept, provided } = c.env;
          task.title = `Secrets: ${generated.length} generated, ${kept.length} kept, ${provided.length} provided${generated.length ? ` (new: ${generated.join(", ")})` : ""}`;
        },
      },
      {
        title: "Use local images",
        task: async (c, task) => {
          c.project ??= resolveProjectName({
            compose: c.plan.compose.find((f) => f.name)?.name,
            config: settings.name,
            folder: settings.folderName,
          }).name;
          c.images = localImagesFor(c.plan.compose, c.project);
          const list = Object.entries(c.images.images).map(([service, image]) => `${service} → ${image}`);
          task.title = list.length
            ? `Local images: ${list.join(", ")}`
            : "Local images: no service is built here";
        },
      },
      {
        title: "Upload",
        enabled: live,
        task: async (c, task) => {
          const archive = packProject(settings.projectDir, c.plan.tree.files, c.images.replaced);
          const started = Date.now();
          c.uploadedBytes = await timed(c, "upload", () =>
            uploadRelease(c.remote, c.layout, archive, (bytes) => {
              const rate = bytes / Math.max(0.001, (Date.now() - started) / 1000);
              task.output = `${formatBytes(bytes)} sent, ${formatBytes(rate)}/s`;
            }),
          );
          task.title = `Upload: ${formatBytes(c.uploadedBytes)} sent in ${((Date.now() - started) / 1000).toFixed(1)} s`;
        },
      },
      {
        title: "Switch to the new version",
        enabled: live,
        task: async (c, task) => {
          c.release = releaseId(new Date());
          const meta: ReleaseMeta = {
            id: c.release,
            time: new Date().toISOString(),
            by: localOrigin(),
            git: await gitInfo(settings.projectDir),
            files: c.plan.tree.files.length,
            bytes: c.plan.tree.bytes,
            project: c.project,
            composeFiles: c.compose.files,
          };
          await timed(c, "apply", () => applyRelease(c.remote, c.layout, meta, c.env.text));
          task.title = `Switch to the new version: release ${c.release}${c.server.current ? `, ${c.server.current} kept for rollback` : ""}`;
        },
      },
      {
        title: "Build and start",
        enabled: live,
        task: async (c, task) => {
          const build = c.plan.services.some((s) => s.hasBuild);
          const tail: string[] = [];
          const result = await timed(c, "start", () =>
            c.remote.run(buildAndUpScript(c.layout.app, c.compose, build), {
              onLine: (line) => {
                task.output = line;
                tail.push(line);
                if (tail.length > 20) tail.shift();
              },
            }),
          );
          if (result.code !== 0) {
            throw new EnvironmentError(
              `docker compose failed on ${settings.host} (exit ${result.code}): ${tail.slice(-5).join(" / ")}`,
            );
          }
        },
      },
      {
        title: `Watch for crash loops (up to ${settings.settle} s)`,
        enabled: live,
        task: async (c, task) => {
          c.services = await timed(c, "watch", () =>
            watchServices(c.remote, c.project, settings.settle, (verdicts) => {
              task.output = verdicts.map((v) => `${v.service}: ${v.condition}`).join(", ");
            }),
          );
          const flagged = c.services.filter((s) => s.flagged);
          await appendLog(c.remote, c.layout, logEntry(c, flagged.length ? "unhealthy" : "healthy"));
          c.logs = await fetchLogs(
            c.remote,
            flagged.map((s) => s.container),
          );
          task.title = flagged.length
            ? `Watch: ${flagged.map((s) => s.service).join(", ")} ${flagged.length === 1 ? "is" : "are"} failing`
            : `Watch: ${c.services.length} services up`;
        },
      },
    ],
    { ...listrOptions(), ctx },
  );
  try {
    await tasks.run();
  } catch (error) {
    // Switched but not started: say so in the server's log, as far as the connection allows.
    if (ctx.release && ctx.services.length === 0) await appendLog(ctx.remote, ctx.layout, logEntry(ctx, "failed")).catch(() => undefined);
    throw error;
  } finally {
    ctx.remote?.close();
  }
  return ctx;
}
