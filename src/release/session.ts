import { projectComposeFiles } from "../compose/model.js";
import { resolveProjectName } from "../compose/project-name.js";
import type { Settings } from "../config/settings.js";
import { setTimeout as sleep } from "node:timers/promises";
import { Remote } from "../ssh/connection.js";
import { sshTarget } from "../ssh/login.js";
import { type Shell, sh } from "../ssh/quote.js";
import { type LogEntry, logScript } from "./history.js";
import { describeHolder, heldError, lockHolder, lockScript } from "./lock.js";
import { layoutEnv, type ServerLayout, serverLayout } from "./layout.js";
import { chooseCompose, probeServer, type ServerState, serverError } from "./probe.js";

/** A connection to the server with what the probe learned about the app folder. */
export interface AppSession {
  remote: Remote;
  server: ServerState;
  layout: ServerLayout;
  /** Recorded by deploy-vps, else read from the containers' labels, else the local name. */
  project: string;
  compose: ReturnType<typeof chooseCompose>;
}

export interface LocalNames {
  compose?: string;
  config?: string;
  folder: string;
}

/** The local view of the project's name: compose's (COMPOSE_PROJECT_NAME or `name:`), the config's, else the folder's. */
export function localNames(composeName: string | undefined, settings: Settings): LocalNames {
  return { compose: composeName, config: settings.name, folder: settings.folderName };
}

/** The same, for commands that may run where there is no compose file. */
export async function localProjectName(settings: Settings): Promise<LocalNames> {
  const project = await projectComposeFiles(settings.projectDir, settings.files, process.env).catch(() => undefined);
  return localNames(project?.name, settings);
}

/** --path, else ~/apps/<project>, the default a deploy uses. */
export function appPath(settings: Settings, local: LocalNames): string {
  return settings.path ?? `~/apps/${resolveProjectName(local).name}`;
}

/**
 * Opens the connection and checks the server, for the commands that work on a deployed app;
 * with `lock`, the app folder's deploy lock is taken in the same round trip.
 */
export async function openApp(settings: Settings, lock?: { action: string; onNotice: (line: string) => void }): Promise<AppSession> {
  const target = await sshTarget(settings);
  const local = await localProjectName(settings);
  const remote = await Remote.connect(target);
  const path = appPath(settings, local);
  const candidate = resolveProjectName(local).name;
  let server: ServerState | undefined;
  try {
    // .env is read only to hide its values from compose's messages and the containers' logs.
    const options = { env: true, candidate, appMustExist: true };
    server = lock
      ? await probeAndLock(remote, path, options, settings, lock.action, lock.onNotice)
      : await probeServer(remote, path, options);
    const refusal = serverError(server, target.host, { forced: settings.compose, mustExist: true });
    if (refusal) throw refusal;
    const project = resolveProjectName({ ...local, server: server.project ?? server.labelledProject }).name;
    return { remote, server, layout: serverLayout(server.app), project, compose: chooseCompose(server, settings.compose) };
  } catch (error) {
    if (lock && server) await releaseLock(remote, serverLayout(server.app));
    remote.close();
    throw error;
  }
}

/**
 * The probe that also takes the app folder's lock: waits up to `settings.lockWait` seconds for
 * another deploy to finish, then refuses, naming who holds it. `onNotice` tells which lock a
 * dead or forced deploy left behind was cleared. `--force-unlock` breaks a live client's lock,
 * but waits like any run for a detached switch or build of its to end.
 */
export async function probeAndLock(
  remote: Remote,
  path: string,
  options: { env: boolean; candidate: string; appMustExist?: boolean },
  settings: Settings,
  action: string,
  onNotice: (line: string) => void,
): Promise<ServerState> {
  const deadline = Date.now() + settings.lockWait * 1000;
  for (;;) {
    const server = await probeServer(remote, path, {
      ...options,
      lock: { holder: lockHolder(action, new Date()), force: settings.forceUnlock },
    });
    const lock = server.lock;
    if (lock?.status === "stale") onNotice(`cleared a lock left by a deploy that died: ${describeHolder(lock.previous)}`);
    if (lock?.status === "broke") onNotice(`--force-unlock broke the lock of ${describeHolder(lock.previous)}`);
    if (lock?.status !== "held") return server;
    if (Date.now() >= deadline) throw heldError(remote.target.host, server.app, lock, settings.forceUnlock);
    const running = lock.workers.length ? `, whose switch, build or start still runs (pid ${lock.workers.join(", ")})` : "";
    onNotice(`waiting for ${describeHolder(lock.holder)}${running}`);
    await sleep(Math.min(2_000, Math.max(0, deadline - Date.now())));
  }
}

/** Appends the run's outcome to the server's log and releases the lock, in one round trip. */
export async function finishRun(remote: Remote, layout: ServerLayout, entry: LogEntry): Promise<void> {
  await remote.run(sh`${logScript(layout, entry)}; ${releaseLockScript(layout)}`);
}

/** After a failure: release the lock if the connection still allows it. */
export async function releaseLock(remote: Remote | undefined, layout: ServerLayout | undefined): Promise<void> {
  if (remote && layout) await remote.run(releaseLockScript(layout)).catch(() => undefined);
}

function releaseLockScript(layout: ServerLayout): Shell {
  return lockScript(layoutEnv(layout), "release");
}
