import { Listr, type ListrRendererValue } from "listr2";
import type { Settings } from "../config/settings.js";
import { RunLock, withLock } from "../release/session.js";
import { Remote } from "../ssh/connection.js";
import { sshTarget } from "../ssh/login.js";
import { type DeployContext, type Ready, ready } from "./context.js";
import { planProject } from "./plan.js";
import { buildAndStart, buildSkip, startWorker } from "./steps/build-and-start.js";
import { checkServer } from "./steps/check-server.js";
import { connect } from "./steps/connect.js";
import { prepareSecrets } from "./steps/prepare-secrets.js";
import { readProject } from "./steps/read-project.js";
import { switchRelease, switchSkip } from "./steps/switch.js";
import { uploadRelease } from "./steps/upload.js";
import { useLocalImages } from "./steps/use-local-images.js";
import { watchDeploy, watchSkip } from "./steps/watch.js";
import { listrOptions } from "./tasks.js";

/** A deploy that ran to its end: what the report is made from. */
export type DeployReport = Ready<DeployContext, "plan" | "project" | "env" | "images">;

export async function runDeploy(settings: Settings, env: NodeJS.ProcessEnv): Promise<DeployReport> {
  const ctx: DeployContext = { settings, lock: new RunLock(), uploadedBytes: 0, services: [], logs: new Map(), timings: {} };
  const online = settings.host !== undefined;
  // A dry run without a host plans locally; anything else needs one (sshTarget says so).
  const target = online || !settings.dryRun ? await sshTarget(settings) : undefined;
  // The SSH handshake runs while the project is read. Connecting changes
  // nothing on the server; a project that cannot be read still stops the run first, and
  // drops the connection.
  const planning = planProject(settings, env);
  planning.catch(() => undefined);
  const connecting = online && target ? Remote.connect(target, planning) : undefined;
  connecting?.catch(() => undefined);

  // A dry run goes through every step; those that would change the server skip, saying what they would do.
  const tasks = new Listr<DeployContext, ListrRendererValue, ListrRendererValue>(
    [
      {
        title: "Read the project",
        task: async (c, task) => {
          Object.assign(c, await readProject(c, planning, task));
        },
      },
      {
        title: `Connect to ${settings.user}@${settings.host}:${settings.port}`,
        enabled: online,
        task: async (c) => {
          if (connecting) Object.assign(c, await connect(c, connecting));
        },
      },
      {
        title: "Check the server",
        enabled: online,
        task: async (c, task) => {
          Object.assign(c, await checkServer(ready(c, "plan", "remote"), task));
        },
      },
      {
        title: "Prepare secrets",
        task: (c, task) => {
          Object.assign(c, prepareSecrets(ready(c, "plan"), task));
        },
      },
      {
        title: "Use local images",
        task: (c, task) => {
          Object.assign(c, useLocalImages(ready(c, "plan"), task));
        },
      },
      {
        title: "Upload",
        task: (c, task) => uploadRelease(ready(c, "plan", "env", "images", "project"), task),
      },
      {
        title: "Switch to the new version",
        skip: (c) => switchSkip(c),
        task: (c, task) => switchRelease(ready(c, "release", "server"), task),
      },
      {
        title: "Build and start",
        skip: (c) => buildSkip(c),
        // After an upload, the worker it started goes on to this; a deploy with nothing to ship starts one of its own.
        task: (c, task) => buildAndStart(c, c.worker ?? startWorker(ready(c, "plan", "compose", "zeroDowntime", "remote", "target", "release")), task),
      },
      {
        title: `Watch for crash loops (up to ${settings.settle} s)`,
        skip: (c) => watchSkip(c),
        task: async (c, task) => {
          Object.assign(c, await watchDeploy(ready(c, "remote", "target", "release", "server"), task));
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
  return ready(ctx, "plan", "project", "env", "images");
}
