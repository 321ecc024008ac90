import { Listr, type ListrRendererValue } from "listr2";
import { digestCachePath, digestFiles } from "../archive/digest.js";
import { packRelease, tarBytes } from "../archive/pack.js";
import type { ComposeInvocation } from "../compose/commands.js";
import { type LocalImages, localImagesFor } from "../compose/local-images.js";
import { startStack } from "../compose/start.js";
import { resolveProjectName } from "../compose/project-name.js";
import type { Settings } from "../config/settings.js";
import { InputError } from "../errors.js";
import type { ServiceVerdict } from "../health/classify.js";
import { watchStack } from "../health/watch.js";
import { switchScript } from "../release/apply.js";
import { gitInfo, type LogEntry, localOrigin, type ReleaseMeta } from "../release/history.js";
import { releaseId, type ServerLayout, serverLayout } from "../release/layout.js";
import {
  formatManifest,
  MANIFEST_FILE,
  manifestDelta,
  manifestHash,
  planUpload,
  type UploadPlan,
} from "../release/manifest.js";
import { keepManifest, liveManifest } from "../release/manifest-store.js";
import { chooseCompose, probeServer, type ServerState, serverError } from "../release/probe.js";
import { appPath, finishRun, localNames, probeAndLock, releaseLock } from "../release/session.js";
import { uploadAndSwitch } from "../release/upload.js";
import type { EnvMergeResult } from "../secrets/merge.js";
import { prepareServerEnv } from "../secrets/server-env.js";
import { Remote } from "../ssh/connection.js";
import { sshTarget } from "../ssh/login.js";
import { count, formatBytes, uploadProgress } from "./format.js";
import { listrOptions, timed, traceRemote } from "./tasks.js";
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
  upload: UploadPlan;
  /** Nothing to ship and the same .env: the live release stays. */
  unchanged: boolean;
  /** The switch, which the upload's remote script runs once the archive is whole. */
  switching: Promise<void>;
  /** The archive arrived whole: from here on the server runs the switch. */
  uploaded: boolean;
  uploadedBytes: number;
  services: ServiceVerdict[];
  logs: Map<string, string[]>;
  timings: Record<string, number>;
}

function logEntry(ctx: DeployContext, outcome: LogEntry["outcome"]): LogEntry {
  return { time: new Date().toISOString(), by: localOrigin(), action: "deploy", release: ctx.release, outcome };
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

  const tasks = new Listr<DeployContext, ListrRendererValue, ListrRendererValue>(
    [
      {
        title: "Read the project",
        task: async (c, task) => {
          c.plan = await timed(c, "plan", () => planProject(settings, env));
          const { tree } = c.plan;
          task.title = `Read the project: ${count(tree.files.length, "file")} (${formatBytes(tree.bytes)}) to ship, skipped ${count(tree.skipped.folders.length, "folder")} and ${count(tree.skipped.files, "file")}`;
        },
      },
      {
        title: `Connect to ${settings.user}@${settings.host}:${settings.port}`,
        enabled: online,
        task: async (c) => {
          if (target) c.remote = await timed(c, "connect", () => Remote.connect(target));
          traceRemote(c.remote, settings.verbose);
        },
      },
      {
        title: "Check the server",
        enabled: online,
        task: async (c, task) => {
          const local = localNames(c.plan.compose, settings);
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
          c.project ??= resolveProjectName(localNames(c.plan.compose, settings)).name;
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
          const started = Date.now();
          const { entries } = await timed(c, "digest", () =>
            digestFiles(settings.projectDir, c.plan.tree.files, c.images.replaced, digestCachePath(settings.projectDir)),
          );
          const manifest = formatManifest(entries);
          const { current, manifestHash: liveHash } = c.server;
          const previous =
            current && liveHash && !settings.full ? await liveManifest(c.remote, c.layout, current, liveHash) : undefined;
          c.upload = planUpload(entries, { release: current, manifest: previous }, settings.full);
          const { base, send: changed, deleted } = c.upload;
          if (base && changed.length === 0 && deleted.length === 0 && c.env.text === c.server.env) {
            // Nothing to ship and the same .env: the live release stays; compose still makes sure it runs.
            c.release = base;
            c.unchanged = true;
            task.skip(`Upload: nothing changed since release ${base}`);
            return;
          }
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
          const switchOver = switchScript(c.layout, c.release, c.project, JSON.stringify(meta));
          // The switch follows the upload in the same remote script: this step ends when the
          // archive is whole on the server, the next one when the switch is done.
          const send = (plan: UploadPlan) => {
            const wanted = new Set(plan.send);
            const files = c.plan.tree.files.filter((file) => wanted.has(file.path));
            // A full upload carries the whole manifest; a redeploy only the lines that change.
            const extra =
              plan.base && previous ? manifestDelta(plan, previous, entries) : new Map([[MANIFEST_FILE, manifest]]);
            const total = tarBytes(files);
            let packed = 0;
            const archive = packRelease(settings.projectDir, files, { replaced: c.images.replaced, extra, beside: new Map([["env", c.env.text]]) }, (bytes) => {
              packed = bytes;
            });
            return uploadAndSwitch(c.remote, c.layout, { plan, manifestHash: manifestHash(manifest), archive, switchOver }, (sent) => {
              c.uploadedBytes = sent;
              task.output = uploadProgress({ sent, packed, total, elapsedMs: Date.now() - started });
            });
          };
          let transfer = send(c.upload);
          if (!(await timed(c, "upload", () => transfer.arrived))) {
            c.upload = { ...planUpload(entries, {}, true), fullBecause: "the live release is gone or differs from its manifest" };
            transfer = send(c.upload);
            await timed(c, "upload", () => transfer.arrived);
          }
          c.uploaded = true;
          c.switching = transfer.switched;
          await keepManifest(manifest);
          const { upload } = c;
          const what = upload.base
            ? `${upload.send.length} changed, ${upload.deleted.length} deleted, ${upload.unchanged} unchanged`
            : `${upload.send.length} files (full upload: ${upload.fullBecause})`;
          task.title = `Upload: ${what}, ${formatBytes(c.uploadedBytes)} sent in ${((Date.now() - started) / 1000).toFixed(1)} s`;
        },
      },
      {
        title: "Switch to the new version",
        enabled: live,
        skip: (c) => (c.unchanged ? `Switch: release ${c.release} stays live` : false),
        task: async (c, task) => {
          await timed(c, "apply", () => c.switching);
          task.title = `Switch to the new version: release ${c.release}${c.server.current ? `, ${c.server.current} kept for rollback` : ""}`;
        },
      },
      {
        title: "Build and start",
        enabled: live,
        task: async (c, task) => {
          const build = c.plan.services.some((s) => s.hasBuild);
          await timed(c, "start", () =>
            startStack(c.remote, c.layout, c.compose, build, (line) => {
              task.output = line;
            }),
          );
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
          await finishRun(c.remote, c.layout, logEntry(c, flagged.length ? "unhealthy" : "healthy"));
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
    if (ctx.server?.lock && ctx.server.lock.status !== "held") {
      // Switched but not started: say so in the server's log, as far as the connection allows.
      if ((ctx.unchanged || ctx.uploaded) && ctx.services.length === 0) {
        await finishRun(ctx.remote, ctx.layout, logEntry(ctx, "failed")).catch(() => undefined);
      } else await releaseLock(ctx.remote, ctx.layout);
    }
    throw error;
  } finally {
    ctx.remote?.close();
  }
  return ctx;
}
