import type { ComposeInvocation } from "../compose/commands.js";
import type { LocalImages } from "../compose/local-images.js";
import type { Settings } from "../config/settings.js";
import type { ServiceVerdict } from "../health/classify.js";
import type { ServerLayout } from "../release/layout.js";
import type { UploadPlan } from "../release/manifest.js";
import type { ServerState } from "../release/probe.js";
import type { EnvMergeResult } from "../secrets/merge.js";
import type { WorkerProgress } from "../release/worker.js";
import type { Remote } from "../ssh/connection.js";
import type { ProjectPlan } from "./plan.js";

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
  /** The worker that switches the files and brings the containers up, started by the upload's script. */
  worker?: WorkerProgress;
  /** The release a rollback after this deploy would go to, if any. */
  previous?: string;
  uploadedBytes: number;
  services: ServiceVerdict[];
  logs: Map<string, string[]>;
  timings: Record<string, number>;
}

/** What a step may change on screen: its title, its live output line, or skip itself. */
export interface StepView {
  title: string;
  output: string;
  skip(message?: string): void;
}
