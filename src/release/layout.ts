import { posix } from "node:path";
import { ARCHIVE_ROOT } from "../archive/root.js";
import { quote, remotePath, Shell } from "../ssh/quote.js";
import type { ScriptValue } from "../remote/script.js";

/**
 * Where a deploy keeps its own state on the server: beside the app folder, not inside it, so
 * that backups never end up in a `build: .` context or a `.:/app` bind mount. `P` is how a
 * path is held: a string once the probe resolved the app folder, a shell word before (a path
 * typed as `~/x` is under a $HOME only the server knows).
 */
export interface ServerLayout<P = string> {
  app: P;
  state: P;
  staging: P;
  releases: P;
  envBackups: P;
  current: P;
  project: P;
  lock: P;
  /** The release the containers were last brought up from, written only after a successful `up`. */
  containers: P;
  /** Output of the step running detached, streamed back while it runs. */
  workerLog: P;
  /** Each release's manifest and metadata, by release id. */
  meta: P;
  /** Present while a switch runs: one that stopped half-way left the app folder matching no release. */
  switching: P;
  /** The deploy log: one JSON line per deploy or rollback. */
  log: P;
  /** `docker compose version`'s answer, kept with what identifies the binaries that gave it. */
  composeVersion: P;
  /** In staging: the uploaded tree, its manifest, the paths a redeploy changed and deleted, the new `.env`. */
  stagedFiles: P;
  stagedManifest: P;
  stagedChanged: P;
  stagedDeleted: P;
  stagedEnv: P;
  /** In staging, after a full upload to a missing app folder: the app folder to be, ready to move in. */
  freshApp: P;
}

const STATE_FOLDER = ".deploy-vps";

function layoutFrom<P>(app: P, state: P, under: (name: string) => P): ServerLayout<P> {
  return {
    app,
    state,
    staging: under("staging"),
    releases: under("releases"),
    envBackups: under("env-backups"),
    current: under("current"),
    project: under("project"),
    lock: under("lock"),
    containers: under("containers"),
    workerLog: under("worker.log"),
    meta: under("meta"),
    switching: under("switching"),
    log: under("log"),
    composeVersion: under("compose-version"),
    stagedFiles: under(`staging/${ARCHIVE_ROOT}`),
    stagedManifest: under("staging/manifest"),
    stagedChanged: under("staging/changed"),
    stagedDeleted: under("staging/deleted"),
    stagedEnv: under("staging/env"),
    freshApp: under("staging/fresh-app"),
  };
}

function stateFolder(app: string): string {
  return posix.join(posix.dirname(app), STATE_FOLDER, posix.basename(app));
}

export function serverLayout(app: string): ServerLayout {
  const state = stateFolder(app);
  return layoutFrom(app, state, (name) => `${state}/${name}`);
}

/**
 * The layout of an app path as the user typed it, for the probe, which resolves it: `~`, `~/x`
 * and a relative path are under the remote $HOME; slashes are tidied as the probe reports them.
 */
export function typedLayout(path: string): ServerLayout<ScriptValue> {
  const tidy = path.replace(/\/+/g, "/").replace(/(.)\/$/, "$1");
  if (tidy.startsWith("/")) return serverLayout(tidy);
  const rest = tidy === "~" ? "" : tidy.replace(/^~\//, "");
  const app = remotePath(tidy);
  const state = new Shell(
    rest === ""
      ? `"$(dirname -- "$HOME")"/${STATE_FOLDER}/"$(basename -- "$HOME")"`
      : `"$HOME"/${quote(stateFolder(rest))}`,
  );
  return layoutFrom<ScriptValue>(app, state, (name) => new Shell(`${state.code}/${name}`));
}

/** The layout as the variables every remote script reads it from (see src/remote/). */
export function layoutEnv(layout: ServerLayout<ScriptValue>): Record<string, ScriptValue> {
  return {
    APP: layout.app,
    STATE: layout.state,
    STAGING: layout.staging,
    RELEASES: layout.releases,
    ENV_BACKUPS: layout.envBackups,
    CURRENT: layout.current,
    PROJECT_FILE: layout.project,
    LOCK: layout.lock,
    CONTAINERS_FILE: layout.containers,
    WORKER_LOG: layout.workerLog,
    META: layout.meta,
    SWITCHING: layout.switching,
    LOG: layout.log,
    COMPOSE_VERSION_FILE: layout.composeVersion,
    STAGED_FILES: layout.stagedFiles,
    STAGED_MANIFEST: layout.stagedManifest,
    STAGED_CHANGED: layout.stagedChanged,
    STAGED_DELETED: layout.stagedDeleted,
    STAGED_ENV: layout.stagedEnv,
    FRESH_APP: layout.freshApp,
  };
}

/** Sortable, filename-safe and unique enough for one app folder with a deploy lock. */
export function releaseId(now: Date): string {
  return now
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.(\d+)Z$/, "$1Z");
}
