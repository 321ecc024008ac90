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
  /**
   * The container requests go to now (absent while none runs): the one a blue-green switch
   * made live, else the oldest running one of the routed service. A deploy reads it to find
   * what a switch it did not see end left behind.
   */
  live?: LiveTarget;
}

/** A container a route forwards to, and on which of its ports. */
export interface LiveTarget {
  id: string;
  name: string;
  port: number;
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

// ---- Blue-green switches (issue 17): the deploy asks, the daemon switches and drains ----

/** What happens to the containers the route leaves, once drained. */
export type AfterDrain =
  /** Stopped (their stop_grace_period) and removed: the proxy path, compose's view ends as one container. */
  | "remove"
  /** Stopped, kept for compose to recreate: the primary/standby layout's primary. */
  | "stop"
  /** Left running: the standby that takes the traffic back is stopped by the deploy itself. */
  | "keep";

/**
 * `POST /services/NAME/switch?to=ID[&port=N]&drain=S&ready=S&after=remove|stop|keep` on the
 * control socket. The daemon waits until container `to` is ready (its Docker healthcheck, fast
 * probed; else its `deploy-vps.proxy.health-path` label's GET; else a TCP connect), points the
 * route at it in one step (new requests and websockets go there; the choice is saved in its
 * state and outlives a restart), lets every exchange still on the old containers finish for up
 * to `drain` seconds, cuts what is left (websockets, SSE), then does `after` to them. It goes on
 * to the end if the caller hangs up. One switch per unit at a time.
 */
export interface SwitchRequest {
  service: string;
  /** A container of the unit's project (the new container of the service, or the standby). */
  to: string;
  /** The port of `to` to forward to; the route's own port when absent. */
  port?: number;
  drainSeconds: number;
  readySeconds: number;
  after: AfterDrain;
}

/** 200: switched and drained. */
export interface SwitchResult {
  service: string;
  to: LiveTarget;
  /** The containers the route left (usually one). */
  from: { id: string; name: string }[];
  readyMs: number;
  /** When the route pointed at `to` (ISO). */
  switchedAt: string;
  drainedMs: number;
  /** Exchanges still open at the drain's deadline, cut then (websockets and event streams). */
  cut: number;
  after: AfterDrain;
}

/**
 * 422: `to` never became ready within `readySeconds`; the route never moved. 404: no such unit;
 * 409: `to` is not a container of the unit's project, or another switch of it runs.
 */
export interface SwitchRefusal {
  error: string;
  container?: string;
}

/** Where the daemon keeps its state and its control socket, under the deploy user's home. */
export const STATE_FOLDER = ".local/state/deploy-vps-proxy";
export const CONFIG_FOLDER = ".config/deploy-vps-proxy";
export const CONTROL_SOCKET = "control.sock";
/** The control socket as a remote path, for scripts run over SSH (curl --unix-socket). */
export const CONTROL_SOCKET_PATH = `~/${STATE_FOLDER}/${CONTROL_SOCKET}`;

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
