import type { ZeroDowntimePlan } from "../blue-green/plan.js";
import type { ComposeInvocation } from "../compose/commands.js";
import type { LocalImages } from "../compose/local-images.js";
import type { Settings } from "../config/settings.js";
import type { ServiceVerdict } from "../health/classify.js";
import type { UploadPlan } from "../release/manifest.js";
import type { ServerState } from "../release/probe.js";
import type { RunLock } from "../release/session.js";
import type { Target } from "../release/target.js";
import type { WorkerProgress } from "../release/worker.js";
import type { EnvMergeResult } from "../secrets/merge.js";
import type { Remote } from "../ssh/connection.js";
import type { ProjectPlan } from "./plan.js";

/**
 * What the steps hand to each other; the report is made from it. It is built up as the steps
 * run: each optional field is set by the step named beside it, and a step declares the fields
 * it needs with `Ready<...>` (a dry run or a run without a host skips some steps).
 */
export interface DeployContext {
  settings: Settings;
  /** The app folder's lock, once Check the server took it. */
  lock: RunLock;
  uploadedBytes: number;
  services: ServiceVerdict[];
  logs: Map<string, string[]>;
  timings: Record<string, number>;
  /** Read the project. */
  plan?: ProjectPlan;
  /** Connect. */
  remote?: Remote;
  /** Check the server. */
  server?: ServerState;
  target?: Target;
  compose?: ComposeInvocation;
  /** The zero-downtime work in place of a plain `up -d`. */
  zeroDowntime?: ZeroDowntimePlan;
  /** Check the server, else Use local images (no host: the local name). */
  project?: string;
  /** Prepare secrets. */
  env?: EnvMergeResult;
  /** Use local images. */
  images?: LocalImages;
  /** Upload: the new release, or the live one when nothing changed (none in a dry run). */
  release?: string;
  upload?: UploadPlan;
  /** Nothing to ship and the same .env: the live release stays. */
  unchanged?: boolean;
  /** The worker that switches the files and brings the containers up, started by the upload's script. */
  worker?: WorkerProgress;
  /** Watch: the release a rollback after this deploy would go to, if any. */
  previous?: string;
}

/** `C` once the steps that set `K` have run. */
export type Ready<C, K extends keyof C> = C & { [P in K]-?: NonNullable<C[P]> };

function assertSet<C extends object, K extends keyof C>(c: C, keys: K[]): asserts c is Ready<C, K> {
  const missing = keys.filter((key) => c[key] === undefined);
  if (missing.length > 0) throw new Error(`internal error: a step needs ${missing.join(", ")}, which no earlier step set`);
}

/** `c` for a step that needs `keys`: an internal error if an earlier step did not set them. */
export function ready<C extends object, K extends keyof C>(c: C, ...keys: K[]): Ready<C, K> {
  assertSet(c, keys);
  return c;
}

/** What a step may change on screen: its title, its live output line, or skip itself. */
export interface StepView {
  title: string;
  output: string;
  skip(message?: string): void;
}
