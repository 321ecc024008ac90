/**
 * The runtime proxy's vocabulary: what a routed service is, where its truth came from, what the
 * daemon knows of a container. Every other module of the proxy speaks in these types.
 */

/** How a sleeping service answers its first request (dynamic's waiting page is its own module). */
export type Mode = "dynamic" | "blocking" | "async";
export const MODES: readonly Mode[] = ["dynamic", "blocking", "async"];

/** What `proxy status` shows for a unit; `reason` says why for failed and disabled. */
export type UnitState = "sleeping" | "starting" | "ready" | "stopping" | "failed" | "disabled";

/** Where the proxy connects once the unit is up: only ever an address a route names. */
export type Target =
  /** The labelled container's own port, on its network (its address comes from Docker). */
  | { kind: "container"; service: string; port: number }
  /** The seed's config.json entries name a port published on the host. */
  | { kind: "host-port"; port: number };

/** Where a route was declared, for messages and for `status`. */
export type RouteSource =
  | { kind: "labels"; container: string }
  | { kind: "config"; file: string; line: number; col: number };

/** One routed service: a unit (a compose project) that starts on demand and stops when idle. */
export interface Route {
  /** The compose project for labelled stacks, the entry's `name` for config-file ones. */
  name: string;
  /** The compose project that starts and stops (for config entries: found by composeDir or name). */
  project: string;
  /** Lower-case host names; `*.example.com` matches one or more labels in front. */
  hosts: string[];
  mode: Mode;
  /** `null`: never stopped for idleness. */
  idleMs: number | null;
  startTimeoutMs: number;
  /** The `deploy-vps.proxy.estimate` label: the start estimate before any start was measured. */
  estimateMs?: number;
  /**
   * Waiting-page theme (dynamic mode), as written (the seed's `themeName`): a custom theme's file
   * is looked up by it, a built-in through normaliseTheme (`hackerTerminal` is hacker-terminal).
   */
  theme?: string;
  /** What the waiting page calls the service; the route's name when absent. */
  displayName?: string;
  target: Target;
  source: RouteSource;
}

/** A service that asked to be routed but cannot be: it is shown in `status`, never guessed at. */
export interface DisabledRoute {
  name: string;
  project?: string;
  hosts: string[];
  reason: string;
  source: RouteSource;
}

/** A compose `depends_on` entry, as Compose ≥ 2.17 records it on the container. */
export interface Dependency {
  service: string;
  condition: "service_started" | "service_healthy" | "service_completed_successfully";
}

/** What the daemon knows of one container, from the Engine's inspect (and kept up by its events). */
export interface ContainerFacts {
  id: string;
  /** Without Docker's leading slash. */
  name: string;
  labels: Record<string, string>;
  /** From the compose labels; absent for containers compose did not make. */
  project?: string;
  service?: string;
  workingDir?: string;
  /** `docker compose run` containers: never part of a unit. */
  oneoff: boolean;
  /** created, running, paused, restarting, removing, exited or dead. */
  state: string;
  /** Docker's health, when the container has a healthcheck. */
  health?: "starting" | "healthy" | "unhealthy";
  /** The healthcheck's test as Docker stores it (["CMD", ...] or ["CMD-SHELL", "..."]), for the fast probe. */
  healthTest?: string[];
  exitCode: number;
  /** ISO times from the Engine; "0001-01-01T00:00:00Z" when never. */
  startedAt: string;
  finishedAt: string;
  /** Its address on each network it is attached to, by network name. */
  addresses: Record<string, string>;
  dependsOn: Dependency[];
  /** Its `ports:` as configured (HostConfig.PortBindings: known while stopped too), TCP only. */
  published: { hostPort: number; containerPort: number }[];
}

// ---- Dependency wake chains (issue 16): the contract between labels, the dependencies file, the planner and the wake ----

/** How far a dependency must have come before what needs it starts (compose's depends_on conditions). */
export type Awaited =
  /** `service_started`: its container runs. */
  | "started"
  /** `service_healthy`: it is ready (healthy, or its readiness check passes), not only running. */
  | "ready"
  /** `service_completed_successfully`: it ran and exited with code 0. */
  | "completed";

/** A required dependency that fails stops the wake; an optional one is logged and the wake goes on. */
export type Need = "required" | "optional";

/** What a readiness check tries, against the dependency's own address on its network or inside it. */
export type CheckProbe =
  /** GET http://ADDRESS:port/path answers 2xx or 3xx. */
  | { kind: "http"; port: number; path: string }
  /** ADDRESS:port accepts a TCP connection. */
  | { kind: "tcp"; port: number }
  /** `sh -c command` run inside the container (Engine exec) exits 0. */
  | { kind: "command"; command: string };

/**
 * A check a label or the dependencies file names, used instead of Docker's healthcheck: tried at
 * once when the container runs (never a whole interval later), then every `intervalMs`; failed
 * after `retries` failed tries or `timeoutMs`, whichever comes first.
 */
export interface ReadinessCheck {
  probe: CheckProbe;
  intervalMs: number;
  timeoutMs: number;
  retries: number;
}

/** One thing a container needs started first, as declared (looked up among the containers later). */
export interface Requirement {
  /** `project/service` (every container of it), or a container's name. */
  target: { project: string; service: string } | { container: string };
  until: Awaited;
  need: Need;
  /** Where it was declared, for messages: "label deploy-vps.proxy.requires on nc-web-1", "dependencies.json:12:9". */
  source: string;
}

/** What the chain knows of a container beyond Docker's facts, from its labels and the dependencies file. */
export interface DependencyFacts {
  requirements: Requirement[];
  /** Its readiness, when Docker's healthcheck is not the one to use. */
  check?: ReadinessCheck;
  /**
   * `deploy-vps.proxy.idle` on a container that is no route: the proxy stops it once no running
   * unit has needed it for this long. Undefined: the proxy never stops it as a dependency.
   */
  idleMs?: number;
}

/** One container of a wake, with what the wake must see of it before the next level starts. */
export interface ChainStep {
  container: ContainerFacts;
  /** Of the unit's own compose project (else a dependency in another project). */
  own: boolean;
  need: Need;
  until: Awaited;
  check?: ReadinessCheck;
  /** A container requests go to: ready only once its port accepts connections. */
  routed: boolean;
  /**
   * The ids of the plan's steps it requires (optional ones left out): when one of them failed,
   * this step is not started and fails with it.
   */
  requires?: string[];
}

/** Level 0 needs nothing; each later level only needs containers of the levels before it. */
export interface ChainPlan {
  levels: ChainStep[][];
}
