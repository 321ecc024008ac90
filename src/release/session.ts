import type { Settings } from "../config/settings.js";
import { setTimeout as sleep } from "node:timers/promises";
import { Remote } from "../ssh/connection.js";
import { type Shell, sh } from "../ssh/quote.js";
import { type LogEntry, logScript } from "./history.js";
import { describeHolder, heldError, lockHolder, lockScript } from "./lock.js";
import { layoutEnv, type ServerLayout, serverLayout } from "./layout.js";
import { probeServer, type ServerState } from "./probe.js";
import { remoteScript } from "../remote/script.js";
import { localProjectName, probeTarget, resolveTarget, type Target } from "./target.js";

/** A connection to the server with what the probe learned about the app folder. */
export interface AppSession extends Target {
  remote: Remote;
  server: ServerState;
}

/**
 * Checks the server over `remote`, for the commands that work on a deployed app; with `lock`,
 * the app folder's deploy lock is taken in the same round trip (and `lock.held` records it).
 */
export async function openApp(
  settings: Settings,
  remote: Remote,
  lock?: { action: string; onNotice: (line: string) => void; held: RunLock },
): Promise<AppSession> {
  const local = await localProjectName(settings);
  const { path, candidate } = probeTarget(settings, local);
  // .env is read only to hide its values from compose's messages and the containers' logs.
  const options = { env: true, candidate, appMustExist: true };
  const server = lock
    ? await probeAndLock(remote, path, options, settings, lock.action, lock.onNotice)
    : await probeServer(remote, path, options);
  lock?.held.took(remote, server);
  const target = resolveTarget(server, local, { host: remote.target.host, compose: settings.compose, mustExist: true });
  return { ...target, remote, server };
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
export async function finishRun(
  remote: Remote,
  layout: ServerLayout,
  entry: LogEntry,
  server: Pick<ServerState, "compose" | "composeKey">,
): Promise<void> {
  const { composeKey } = server;
  const v2 = server.compose.v2;
  const remember = composeKey && v2 ? sh`; ${remoteScript("remember-compose", { env: layoutEnv(layout), args: [composeKey, v2] })}` : sh``;
  await remote.run(sh`${logScript(layout, entry)}${remember}; ${releaseLockScript(layout)}`);
}

/** After a failure: release the lock if the connection still allows it. */
export async function releaseLock(remote: Pick<Remote, "run"> | undefined, layout: ServerLayout | undefined): Promise<void> {
  if (remote && layout) await remote.run(releaseLockScript(layout)).catch(() => undefined);
}

function releaseLockScript(layout: ServerLayout): Shell {
  return lockScript(layoutEnv(layout), "release");
}

/**
 * The app folder's lock as one run holds it: taken by its probe (probeAndLock), released with
 * the run's log entry by its last step (finishRun), or by `withLock` when the run fails first.
 * A lock the probe found held by another run is never this run's to release.
 */
export class RunLock {
  private taken?: { remote: Pick<Remote, "run">; layout: ServerLayout };

  /** The probe answered: what it says of the lock. */
  took(remote: Pick<Remote, "run">, server: Pick<ServerState, "app" | "lock">): void {
    if (server.lock && server.lock.status !== "held") this.taken = { remote, layout: serverLayout(server.app) };
  }

  release(): Promise<void> {
    return releaseLock(this.taken?.remote, this.taken?.layout);
  }
}

/** Runs `work`, which may take `lock`; if it fails, the lock is released (a failed switch or start is in the server's log already: its worker wrote it). */
export async function withLock<T>(lock: RunLock, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    await lock.release();
    throw error;
  }
}
