/**
 * What the daemon's control socket answers and the CLI reads (the contract of
 * /work/notes/proxy-design.md): both ends import these types, so they cannot drift apart.
 */
import type { Mode, Need, UnitState } from "./model.js";

export interface ServiceStatus {
  name: string;
  project: string;
  hosts: string[];
  mode: Mode;
  state: UnitState;
  /** Why, for `failed` and `disabled`. */
  reason: string | null;
  /** "30m", or "never". */
  idle: string;
  idleLeftSeconds: number | null;
  lastStartMs: number | null;
  memoryBytes: number | null;
  memoryFreedBytes: number | null;
  /** "labels on web-1", "config.json:3:5". */
  source: string;
  conflict?: string;
  lastFailure?: { container: string; reason: string; logs: string[] };
}

export interface StatusDocument {
  services: ServiceStatus[];
  /** The seed's headline figure: memory freed by the units asleep. */
  memoryFreedBytes: number;
  configError: string | null;
  /** The dependencies file's error, when the last good one is in force (absent from daemons before wake chains). */
  dependenciesError?: string | null;
  conflicts: string[];
  version: string;
}

/** One container of a wake plan (the seed's dry-run, in levels). */
export interface WakePlanStep {
  project: string;
  service: string;
  container: string;
  type: Need;
  /** Learned from its own past starts (0 when it already runs and is ready: the wake leaves it alone). */
  estimatedMs: number;
  /** Already running and ready: nothing to do. */
  running: boolean;
}

/**
 * `proxy wake NAME --dry-run --json` and the admin listener's `POST /api/wake/NAME?dryRun=true`:
 * levels in start order, each level's containers started side by side.
 */
export interface WakePlan {
  service: string;
  levels: WakePlanStep[][];
  /** The sum, over the levels, of each level's slowest container still to start. */
  estimatedMs: number;
  /** Whether some level starts two or more containers side by side. */
  parallel: boolean;
}

/** A wake that cannot be planned (HTTP 422 from the daemon; the CLI exits 2): a cycle, or dependencies that do not exist. */
export interface PlanRefusal {
  error: string;
  cycle?: string[];
  missing?: string[];
}

/** A wake or a sleep that did not end well, as the daemon answers it (502/504). */
export interface FailedAnswer {
  state: "failed";
  reason: string;
  container: string;
  logs: string[];
}

/** Where the daemon keeps its state and its control socket, under the deploy user's home. */
export const STATE_FOLDER = ".local/state/deploy-vps-proxy";
export const CONFIG_FOLDER = ".config/deploy-vps-proxy";
export const CONTROL_SOCKET = "control.sock";

/** The shape of a status document, checked where it comes in (the CLI reads what a daemon of any version sent). */
export function isStatusDocument(value: unknown): value is StatusDocument {
  if (typeof value !== "object" || value === null) return false;
  const doc = value as Partial<Record<keyof StatusDocument, unknown>>;
  return Array.isArray(doc.services) && typeof doc.memoryFreedBytes === "number";
}

export function isFailedAnswer(value: unknown): value is FailedAnswer {
  if (typeof value !== "object" || value === null) return false;
  const answer = value as Partial<Record<keyof FailedAnswer, unknown>>;
  return answer.state === "failed" && typeof answer.container === "string" && typeof answer.reason === "string" && Array.isArray(answer.logs);
}
