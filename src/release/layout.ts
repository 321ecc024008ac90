import { posix } from "node:path";

/**
 * Where a deploy keeps its own state on the server: beside the app folder, not inside it, so
 * that backups never end up in a `build: .` context or a `.:/app` bind mount.
 */
export interface ServerLayout {
  app: string;
  state: string;
  staging: string;
  releases: string;
  envBackups: string;
  current: string;
  project: string;
  lock: string;
  /** The release the containers were last brought up from, written only after a successful `up`. */
  containers: string;
  /** Output of the step running detached, streamed back while it runs. */
  workerLog: string;
  /** Each release's manifest and metadata, by release id. */
  meta: string;
  /** Present while a switch runs: one that stopped half-way left the app folder matching no release. */
  switching: string;
  /** The deploy log: one JSON line per deploy or rollback. */
  log: string;
}

export function serverLayout(app: string): ServerLayout {
  const state = posix.join(posix.dirname(app), ".deploy-vps", posix.basename(app));
  return {
    app,
    state,
    staging: `${state}/staging`,
    releases: `${state}/releases`,
    envBackups: `${state}/env-backups`,
    current: `${state}/current`,
    project: `${state}/project`,
    lock: `${state}/lock`,
    containers: `${state}/containers`,
    workerLog: `${state}/worker.log`,
    meta: `${state}/meta`,
    switching: `${state}/switching`,
    log: `${state}/log`,
  };
}

/** The layout as the variables every remote script reads it from (see src/remote/). */
export function layoutEnv(layout: ServerLayout): Record<string, string> {
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
  };
}

/** Sortable, filename-safe and unique enough for one app folder with a deploy lock. */
export function releaseId(now: Date): string {
  return now
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.(\d+)Z$/, "$1Z");
}
