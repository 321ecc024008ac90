/**
 * The seed's four dependency shapes (issue 16) as busybox stacks on the test host: every service
 * is busybox httpd that answers only after a chosen delay, so "ready" is a fact the tests can time;
 * a service that needs others checks them at its start and exits 1 if one does not answer (as
 * WordPress crashes without its database). Stacks of different projects meet on one external
 * network. No image to build or pull: local/busybox:latest is made by test/host/setup.sh.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { stringify } from "yaml";
import { onServer, shq, sideBySide } from "./harness.js";

/** One busybox service of a stack. */
export interface Box {
  /** Seconds between its start and its port answering. */
  delayS: number;
  port?: number;
  /** exit: exits 1 once the delay is over; never-ready: runs on without ever listening. */
  fails?: "exit" | "never-ready";
  /** `host:port` it fetches at its start (container names across projects): it exits 1 if one does not answer. */
  needs?: string[];
  /** A Docker healthcheck (every second) fetching its own port. */
  healthcheck?: boolean;
  /** Proxy labels without their prefix: `{ requires: "b/db", idle: "3s" }`. */
  labels?: Record<string, string | number>;
  /** compose depends_on: service → condition. */
  dependsOn?: Record<string, "service_started" | "service_healthy">;
  /** A fixed container name (the seed's dependencies.json names containers). */
  containerName?: string;
}

export const WEB_PORT = 8080;

// busybox's wget crashes with -T (1.35, Debian): a timeout is `timeout`'s.
// The lines around the delay are echoed so that `docker logs -t` times it (what it needs checked first); `$$` keeps compose from interpolating.
const SCRIPT = [
  'for need in $$BOX_NEEDS; do timeout 2 wget -q -O /dev/null "http://$$need/" || { echo "$$need does not answer"; exit 1; }; done',
  'echo "starting $$BOX_NAME"',
  "sleep $$BOX_DELAY",
  'case "$$BOX_FAILS" in exit) echo "failing"; exit 1;; never-ready) echo "never ready"; exec sleep 2147483647;; esac',
  'mkdir -p /www && echo "$$BOX_NAME" > /www/index.html',
  'echo "ready $$BOX_NAME"',
  "exec httpd -f -p $$BOX_PORT -h /www",
].join("; ");

function service(name: string, box: Box, network: string | undefined): Record<string, unknown> {
  const port = box.port ?? WEB_PORT;
  const entry: Record<string, unknown> = {
    image: "local/busybox:latest",
    init: true,
    stop_grace_period: "1s",
    command: ["sh", "-c", SCRIPT],
    environment: { BOX_NAME: name, BOX_DELAY: String(box.delayS), BOX_PORT: String(port), BOX_NEEDS: (box.needs ?? []).join(" "), BOX_FAILS: box.fails ?? "" },
    labels: Object.fromEntries(Object.entries(box.labels ?? {}).map(([key, value]) => [`deploy-vps.proxy.${key}`, String(value)])),
  };
  if (box.containerName) entry.container_name = box.containerName;
  if (box.healthcheck)
    entry.healthcheck = { test: ["CMD", "wget", "-q", "-O", "/dev/null", `http://127.0.0.1:${port}/`], interval: "1s", timeout: "2s", retries: 120 };
  if (box.dependsOn) entry.depends_on = Object.fromEntries(Object.entries(box.dependsOn).map(([on, condition]) => [on, { condition }]));
  if (network) entry.networks = ["default", "shared"];
  return entry;
}

/** compose.yaml of a stack of busybox services; on the external NETWORK too when given. */
export function boxCompose(services: Record<string, Box>, network?: string): string {
  const project: Record<string, unknown> = { services: Object.fromEntries(Object.entries(services).map(([name, box]) => [name, service(name, box, network)])) };
  if (network) project.networks = { shared: { name: network, external: true } };
  return stringify(project);
}

/** A compose project of the tests: its name (a uniqueName) and its services. */
export interface Stack {
  project: string;
  services: Record<string, Box>;
}

/** The container compose names for SERVICE of PROJECT (one replica), or the box's own name. */
export function containerOf(stack: Stack, service: string): string {
  return stack.services[service]?.containerName ?? `${stack.project}-${service}-1`;
}

/** The shell command that writes STACK's compose.yaml to apps/PROJECT (so removeStack takes it away) and runs `docker compose ARGS` there. */
function composeCommand(stack: Stack, network: string | undefined, args: string): string {
  const folder = `apps/${shq(stack.project)}`;
  return (
    `mkdir -p ${folder} && printf %s ${shq(boxCompose(stack.services, network))} > ${folder}/compose.yaml && ` +
    `docker compose -p ${shq(stack.project)} -f ${folder}/compose.yaml ${args} 2>&1`
  );
}

/** `docker compose ARGS` of every one of STACKS on the server, side by side; throws with compose's output if one fails. */
export function composeAll(stacks: readonly Stack[], network: string | undefined, args: string): void {
  onServer(`${sideBySide(stacks.map((stack) => composeCommand(stack, network, args)))}; exit "$failed"`);
}

/**
 * Creates the external network the stacks share, labelled as a compose project of its own name
 * (a uniqueName): the sweep of leftovers removes it once its run is gone.
 */
export function createNetwork(network: string): void {
  onServer(`docker network create --label ${shq(`com.docker.compose.project=${network}`)} ${shq(network)} >/dev/null`);
}

/**
 * Removes every stack (containers, networks, app folders), then the shared network, in one
 * command: the stacks bind-mount nothing, so their folders are the deploy user's own. Returns
 * the networks Docker would not remove though no container is on them: an endpoint the Engine
 * failed to release (a container removed as it restarted, on a busy host) keeps a network "in
 * use" until the Engine restarts, and not even `docker network disconnect -f` finds it.
 * A network that still holds a container throws, naming it.
 */
export function removeShapes(stacks: readonly Stack[], network: string): string[] {
  const projects = stacks.map((stack) => stack.project);
  const answer = onServer(
    `ids=$(for p in ${projects.map(shq).join(" ")}; do docker ps -aq --filter label=com.docker.compose.project="$p"; done); ` +
      `[ -z "$ids" ] || docker rm -f $ids >/dev/null; ` +
      // Docker may still be releasing the removed containers' endpoints (for long on a busy host).
      `left=0; for n in ${[...projects.map((project) => `${project}_default`), network].map(shq).join(" ")}; do ` +
      `try=0; while docker network inspect "$n" >/dev/null 2>&1 && ! docker network rm "$n" >/dev/null 2>&1 && [ "$try" -lt 15 ]; do try=$((try + 1)); sleep 1; done; ` +
      `if docker network inspect "$n" >/dev/null 2>&1; then holders=$(docker network inspect -f '{{range .Containers}}{{.Name}} {{end}}' "$n"); ` +
      `if [ -z "$holders" ]; then echo "stuck $n"; else echo "network $n still holds: $holders" >&2; left=1; fi; fi; done; ` +
      `rm -rf ${projects.map((project) => `apps/${shq(project)}`).join(" ")}; exit "$left"`,
  );
  return answer
    .split("\n")
    .filter((line) => line.startsWith("stuck "))
    .map((line) => line.slice("stuck ".length));
}

/** What is left on the server of these projects and the network: containers, networks, app folders. */
export function leftovers(stacks: readonly Stack[], network: string): string[] {
  const projects = stacks.map((stack) => stack.project);
  return onServer(
    `{ docker ps -a --format '{{.Label "com.docker.compose.project"}} {{.Names}}'; docker network ls --format '{{.Name}}'; ls -A apps; } 2>/dev/null`,
  )
    .split("\n")
    .filter((line) => line !== "" && (line.includes(network) || projects.some((project) => line.split(" ").includes(project) || line.startsWith(`${project}_`))));
}

/** One line of `docker logs -t`: when the container printed it, in ms since the epoch. */
export interface LoggedLine {
  atMs: number;
  text: string;
}

/** The lines CONTAINER printed (its every start), timed by Docker. */
export function loggedLines(container: string): LoggedLine[] {
  return onServer(`docker logs -t ${shq(container)} 2>&1`)
    .split("\n")
    .filter(Boolean)
    .map((line) => {
      const space = line.indexOf(" ");
      return { atMs: Date.parse(line.slice(0, space)), text: line.slice(space + 1) };
    });
}

/** A container event with Docker's own time. */
export interface TimedEvent {
  atMs: number;
  action: string;
  name: string;
}

/**
 * Container events (`start`, `die`, `health_status: healthy`…) of every one of PROJECTS while
 * ACTION runs, in time order. Recorded live by a `docker events` on the server: the Engine
 * replays only its last 256 events to `--since`, and busy healthchecks push them out in seconds.
 */
export async function eventsDuring(projects: readonly string[], action: () => unknown): Promise<TimedEvent[]> {
  const [pid = "", file = ""] = onServer(
    `f=$(mktemp); nohup docker events --since "$(date +%s.%N)" --filter type=container --filter event=start --filter event=die --filter event=health_status ` +
      `--format '{{.TimeNano}} {{index .Actor.Attributes "com.docker.compose.project"}} {{.Actor.Attributes.name}} {{.Action}}' </dev/null >"$f" 2>&1 & echo "$! $f"`,
  )
    .trim()
    .split(" ");
  let recorded = "";
  try {
    await action();
    // What the Engine did last reaches the stream a moment later.
    await sleep(500);
  } finally {
    recorded = onServer(`kill ${shq(pid)}; cat ${shq(file)}; rm -f ${shq(file)}`);
  }
  return recorded
    .split("\n")
    .map((line) => line.split(" "))
    .filter(([, project]) => project !== undefined && projects.includes(project))
    .map(([nanos = "0", , name = "", ...action]) => ({ atMs: Number(BigInt(nanos) / 1_000_000n), name, action: action.join(" ") }))
    .sort((a, b) => a.atMs - b.atMs);
}

/** When NAME first did ACTION among EVENTS; throws with the events if it never did. */
export function firstAt(events: readonly TimedEvent[], name: string, action: string): number {
  const found = events.find((event) => event.name === name && event.action === action);
  if (!found) throw new Error(`no '${action}' of ${name} among:\n${events.map((e) => `${e.atMs} ${e.name} ${e.action}`).join("\n")}`);
  return found.atMs;
}

/**
 * The earliest time SERVICE of STACK can have answered, by EVENTS: its container's start plus its
 * box's delay, less a margin for the Engine sending `start` a moment after the process began.
 * Docker's own `health_status: healthy` is no such bound: the proxy runs a healthcheck itself at
 * once, so a dependant may start before Docker's next probe says what the proxy already knew.
 */
export function answeringFrom(events: readonly TimedEvent[], stack: Stack, service: string): number {
  const box = stack.services[service];
  if (!box) throw new Error(`${stack.project} has no service ${service}`);
  return firstAt(events, containerOf(stack, service), "start") + box.delayS * 1000 - 250;
}

/** The shapes, named for one run: every project a uniqueName of NAME(role). */
export function wakeChainShapes(name: (role: string) => string) {
  const network = name("net");
  const p = {
    wp: name("wp"),
    ncSite: name("ncsite"),
    ncData: name("ncdata"),
    rf: name("rf"),
    mvUi: name("mvui"),
    mvApi: name("mvapi"),
    mvRedis: name("mvredis"),
    mvAdmin: name("mvadmin"),
    seed: name("seedwp"),
    failDeps: name("faildeps"),
    failReq: name("failreq"),
    failOpt: name("failopt"),
    cycA: name("cyca"),
    cycB: name("cycb"),
  };
  const routed = (project: string, labels: Record<string, string | number> = {}) => ({ host: `${project}.test`, port: WEB_PORT, mode: "blocking", "start-timeout": "60s", ...labels });
  // A check tried every 250 ms: what a wake waits beyond a dependency's own delay stays small.
  const checked = (check: string, labels: Record<string, string | number> = {}) => ({ check, "check-interval": "250ms", ...labels });
  const at = (project: string, service: string, port = WEB_PORT) => `${project}-${service}-1:${port}`;
  const seedNames = { db: `mysql-${p.seed}`, web: `wordpress-${p.seed}`, front: `nginx-${p.seed}` };
  const stacks = {
    // WordPress-like: one project, web waits for its database (healthy), a front after web.
    wp: {
      project: p.wp,
      services: {
        db: { delayS: 2, port: 3306, healthcheck: true },
        web: { delayS: 1, needs: ["db:3306"], dependsOn: { db: "service_healthy" }, labels: routed(p.wp) },
        front: { delayS: 0, port: 8081, dependsOn: { web: "service_started" } },
      },
    },
    // Nextcloud-like: the site in one project needs two services of another, on the shared network.
    ncData: {
      project: p.ncData,
      services: {
        postgresql: { delayS: 2, port: 5432, labels: checked("tcp 5432") },
        redis: { delayS: 1, port: 6379, labels: checked("http 6379 /") },
      },
    },
    ncSite: {
      project: p.ncSite,
      services: {
        web: { delayS: 1, needs: [at(p.ncData, "postgresql", 5432), at(p.ncData, "redis", 6379)], labels: routed(p.ncSite, { requires: `${p.ncData}/postgresql, ${p.ncData}/redis:healthy` }) },
      },
    },
    // RAGFlow-like: a server and four backends that become ready after 1, 2, 3 and 5 s.
    rf: {
      project: p.rf,
      services: {
        mysql: { delayS: 3, port: 3306, healthcheck: true },
        elasticsearch: { delayS: 5, port: 9200, healthcheck: true },
        minio: { delayS: 2, port: 9000, healthcheck: true },
        redis: { delayS: 1, port: 6379, healthcheck: true },
        server: {
          delayS: 1,
          needs: ["mysql:3306", "elasticsearch:9200", "minio:9000", "redis:6379"],
          dependsOn: { mysql: "service_healthy", elasticsearch: "service_healthy", minio: "service_healthy", redis: "service_healthy" },
          labels: routed(p.rf),
        },
      },
    },
    // MemVid-like: ui → api (another project) → redis (a third), both with an idle policy of
    // their own; a second site (admin) needs the same redis.
    mvRedis: { project: p.mvRedis, services: { redis: { delayS: 1, port: 6379, labels: checked("cmd wget -q -O /dev/null http://127.0.0.1:6379/", { idle: "3s" }) } } },
    mvApi: {
      project: p.mvApi,
      services: { api: { delayS: 1, port: 3000, needs: [at(p.mvRedis, "redis", 6379)], labels: checked("http 3000 /", { requires: `${p.mvRedis}/redis`, idle: "3s" }) } },
    },
    // ui is left in the default mode (dynamic): a browser gets the waiting page and its lines.
    mvUi: { project: p.mvUi, services: { ui: { delayS: 1, needs: [at(p.mvApi, "api", 3000)], labels: routed(p.mvUi, { requires: `${p.mvApi}/api`, mode: "dynamic" }) } } },
    mvAdmin: { project: p.mvAdmin, services: { admin: { delayS: 1, needs: [at(p.mvRedis, "redis", 6379)], labels: routed(p.mvAdmin, { requires: `${p.mvRedis}/redis` }) } } },
    // WordPress-like again, declared by the seed's dependencies.json only: fixed container names, no depends_on.
    seed: {
      project: p.seed,
      services: {
        mysql: { delayS: 2, port: 3306, containerName: seedNames.db },
        wordpress: { delayS: 1, needs: [`${seedNames.db}:3306`], containerName: seedNames.web, labels: routed(p.seed) },
        nginx: { delayS: 0, port: 8081, needs: [`${seedNames.web}:8080`], containerName: seedNames.front },
      },
    },
    // A required dependency that exits, an optional one that never answers, each needed by its own site.
    failDeps: {
      project: p.failDeps,
      services: {
        broken: { delayS: 1, port: 5432, fails: "exit", labels: checked("tcp 5432", { "check-timeout": "5s" }) },
        flaky: { delayS: 1, port: 6379, fails: "never-ready", labels: checked("tcp 6379", { "check-timeout": "3s" }) },
      },
    },
    failReq: { project: p.failReq, services: { web: { delayS: 0, labels: routed(p.failReq, { requires: `${p.failDeps}/broken` }) } } },
    failOpt: { project: p.failOpt, services: { web: { delayS: 0, labels: routed(p.failOpt, { wants: `${p.failDeps}/flaky` }) } } },
    // Two sites that need each other.
    cycA: { project: p.cycA, services: { web: { delayS: 0, labels: routed(p.cycA, { requires: `${p.cycB}/web` }) } } },
    cycB: { project: p.cycB, services: { web: { delayS: 0, labels: routed(p.cycB, { requires: `${p.cycA}/web` }) } } },
  } satisfies Record<string, Stack>;
  return { network, stacks, seedNames };
}

/** The seed's dependencies.json for the `seed` stack, as the seed writes it (docker exec prefixes, ms, startOrder). */
export function seedDependenciesFile(key: string, names: { db: string; web: string; front: string }, composeDir: string): string {
  const probe = (container: string, port: number) => `docker exec ${container} wget -q -O /dev/null http://127.0.0.1:${port}/`;
  return JSON.stringify(
    {
      services: {
        [key]: {
          name: names.web,
          port: WEB_PORT,
          composeDir,
          network: "shared",
          dependencies: [
            { container: names.db, type: "required", startOrder: 1, healthCheck: { command: probe(names.db, 3306), interval: 500, timeout: 30000, retries: 60 } },
            { container: names.web, type: "required", startOrder: 2, healthCheck: { command: probe(names.web, WEB_PORT), interval: 500, timeout: 30000, retries: 60 } },
            { container: names.front, type: "optional", startOrder: 3, healthCheck: { command: probe(names.front, 8081), interval: 500, timeout: 10000, retries: 20 } },
          ],
        },
      },
    },
    null,
    2,
  );
}
