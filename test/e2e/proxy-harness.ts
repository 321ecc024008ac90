/**
 * What the runtime proxy's e2e tests stand on, beside harness.ts: the fixture app deployed with
 * chosen labels, the CLI's `proxy` commands and their JSON, the daemon's container, Docker's
 * events, and a second Docker engine of the test's own (the shared one is never restarted).
 * The parts that need no test host are in proxy-tools.mjs, shared with bench/proxy.mjs.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { UnitState } from "../../src/proxy/model.js";
import type { ServiceStatus, StatusDocument } from "../../src/proxy/status.js";
import { onServer, projectCopy, removeStack, ROOT, runCli, shq, sideBySide, tempDir, type CliRun } from "./harness.js";
import { fixtureCompose, waitForPort, type FixtureOptions } from "./proxy-tools.mjs";

export * from "./proxy-tools.mjs";

const FIXTURE = "test/fixtures/proxy-app";

/** The daemon's own compose project on the server (contract). */
export const DAEMON_PROJECT = "deploy-vps-proxy";

/** `proxy status --json`: the daemon's own types, so the tests read what the contract fixes. */
export type { ServiceStatus, StatusDocument };

export interface DeployedFixture {
  name: string;
  dir: string;
  app: string;
}

/**
 * Deploys test/fixtures/proxy-app as project NAME (a uniqueName) with the given proxy labels
 * and variant, through the CLI; throws with the CLI's output if the deploy fails.
 */
export async function deployFixture(name: string, options: FixtureOptions = {}): Promise<DeployedFixture> {
  const dir = projectCopy(FIXTURE, name);
  writeFileSync(join(dir, "compose.yaml"), fixtureCompose(options));
  const run = await runCli([dir, "--settle", "0"]);
  if (run.code !== 0) throw new Error(`deploy of ${name} exited ${run.code}:\n${run.stderr}`);
  return { name, dir, app: `apps/${name}` };
}

/**
 * Brings up project NAME from fixtureCompose(OPTIONS) with `docker compose` on the server, in
 * apps/NAME (so removeStack takes it away): for stacks whose deploy is not what is tested.
 */
export function composeUp(name: string, options: FixtureOptions): void {
  composeUpAll([[name, options]]);
}

/** composeUp of every [NAME, OPTIONS] of STACKS at once on the server; throws with their output if any fails. */
export function composeUpAll(stacks: readonly (readonly [string, FixtureOptions])[]): void {
  // The app's files are sent once, to a scratch folder each stack's folder copies them from.
  const app = ["server.js", "package.json"].map((file) => `printf %s ${shq(readFileSync(join(ROOT, FIXTURE, file), "utf8"))} > "$app"/${file}`);
  const ups = stacks.map(([name, options]) => {
    const folder = `apps/${shq(name)}`;
    return (
      `mkdir -p ${folder} && cp "$app"/* ${folder}/ && printf %s ${shq(fixtureCompose(options))} > ${folder}/compose.yaml && ` +
      `docker compose -p ${shq(name)} -f ${folder}/compose.yaml up -d --quiet-pull >&2`
    );
  });
  onServer(`app=$(mktemp -d) && ${app.join(" && ")} && { ${sideBySide(ups)}; rm -rf "$app"; exit "$failed"; }`);
}

/** Runs every one of STEPS in order, even after one failed; then throws their failures together, as WHAT. */
export async function everyStep(what: string, steps: readonly (() => unknown)[]): Promise<void> {
  const failures: unknown[] = [];
  for (const step of steps) {
    try {
      await step();
    } catch (error) {
      failures.push(error);
    }
  }
  if (failures.length > 0) throw new AggregateError(failures, what);
}

/** `deploy-vps proxy ARGS` against the test host. */
export function proxyCli(...args: string[]): Promise<CliRun> {
  return runCli(["proxy", ...args]);
}

/** `proxy status --json`, parsed; throws with the CLI's output if it fails. */
export async function proxyStatus(): Promise<StatusDocument> {
  const run = await proxyCli("status", "--json");
  if (run.code !== 0) throw new Error(`proxy status exited ${run.code}:\n${run.stderr}`);
  return JSON.parse(run.stdout) as StatusDocument;
}

/**
 * The installed daemon's GET /services, read on its control socket from here: the test host is
 * this machine. What `proxy status --json` prints as it came, without a Node start and an SSH
 * login a poll, which kept a core busy while the tests waited.
 */
export async function daemonStatus(): Promise<StatusDocument> {
  controlSocket ??= join(onServer('printf %s "$HOME"'), ".local/state", DAEMON_PROJECT, "control.sock");
  return servicesOn(controlSocket);
}
let controlSocket: string | undefined;

/** GET /services on the control socket at SOCKET. */
async function servicesOn(socket: string): Promise<StatusDocument> {
  const answer = await getOverSocket(socket, "/services");
  if (answer.status !== 200) throw new Error(`GET /services: ${answer.status} ${JSON.stringify(answer.body)}`);
  return answer.body as StatusDocument;
}

/** The installed daemon's status entry named NAME (see daemonStatus); throws (with the names listed) when there is none. */
export async function serviceStatus(name: string): Promise<ServiceStatus> {
  const document = await daemonStatus();
  const found = document.services.find((service) => service.name === name);
  if (!found) throw new Error(`no service ${name} in proxy status: ${document.services.map((s) => s.name).join(", ")}`);
  return found;
}

/**
 * Polls the daemon's status (daemonStatus) until NAME's entry satisfies WANTED (a state, or a test of the entry);
 * returns the entry, or throws with the last one seen after TIMEOUTMS.
 */
export async function waitForService(
  name: string,
  wanted: UnitState | ((service: ServiceStatus) => boolean),
  timeoutMs = 30_000,
): Promise<ServiceStatus> {
  const [found] = await waitForServices([name], wanted, timeoutMs);
  if (!found) throw new Error(`no status entry for ${name}`);
  return found;
}

/**
 * waitForService for every one of NAMES, read from one status per poll; their entries
 * in the order of NAMES.
 */
export async function waitForServices(
  names: readonly string[],
  wanted: UnitState | ((service: ServiceStatus) => boolean),
  timeoutMs = 30_000,
): Promise<ServiceStatus[]> {
  const test = typeof wanted === "string" ? (service: ServiceStatus) => service.state === wanted : wanted;
  const deadline = Date.now() + timeoutMs;
  let last: string | undefined;
  for (;;) {
    try {
      const document = await daemonStatus();
      const found = names.map((name) => document.services.find((service) => service.name === name));
      const missing = names.filter((_, i) => !found[i]);
      const waiting = found.filter((service): service is ServiceStatus => service !== undefined && !test(service));
      if (missing.length === 0 && waiting.length === 0) return found.filter((service): service is ServiceStatus => service !== undefined);
      last = missing.length > 0 ? `no service ${missing.join(", ")} in proxy status` : JSON.stringify(waiting);
    } catch (error) {
      last = error instanceof Error ? error.message : String(error);
    }
    if (Date.now() > deadline) throw new Error(`${names.join(", ")} not ${typeof wanted === "string" ? wanted : "as wanted"} after ${timeoutMs} ms; last seen: ${last}`);
    await sleep(250);
  }
}

/** The id of the daemon's running container on the test host; throws unless there is exactly one. */
export function daemonContainer(): string {
  const ids = onServer(`docker ps -q --filter label=com.docker.compose.project=${DAEMON_PROJECT}`).trim().split("\n").filter(Boolean);
  if (ids.length !== 1) throw new Error(`expected one running ${DAEMON_PROJECT} container, found ${ids.length}`);
  return ids[0] ?? "";
}

/** kill -9 of the daemon's node process (the container's own process, or its child under an init). */
export function killDaemon9(): void {
  const pid = onServer(`docker inspect -f '{{.State.Pid}}' ${shq(daemonContainer())}`).trim();
  onServer(`kill -9 $(pgrep -x node -P ${shq(pid)} || echo ${shq(pid)})`);
}

/** The test host's clock, in Docker's `--since` format (seconds with a fraction). */
export function serverClock(): string {
  return onServer("date +%s.%N").trim();
}

/** Container events (`start`, `stop`, `die`…) of compose project PROJECT between two serverClock() readings. */
export function containerEvents(project: string, since: string, until: string): string[] {
  return onServer(
    `docker events --since ${shq(since)} --until ${shq(until)} --filter type=container ` +
      `--filter ${shq(`label=com.docker.compose.project=${project}`)} --format '{{.Action}} {{.Actor.Attributes.name}}'`,
  )
    .split("\n")
    .filter(Boolean);
}

/** Names of the running containers of compose project PROJECT. */
export function runningContainers(project: string): string[] {
  return onServer(`docker ps --format '{{.Names}}' --filter ${shq(`label=com.docker.compose.project=${project}`)}`)
    .split("\n")
    .filter(Boolean)
    .sort();
}

/** Removes the daemon's compose project, app folder, state and config from the server. */
export function removeDaemon(): void {
  removeStack(DAEMON_PROJECT, `apps/${DAEMON_PROJECT}`);
  onServer(`rm -rf .local/state/${DAEMON_PROJECT} .config/${DAEMON_PROJECT}`);
}

/** An HTTP/1.1 GET over a unix socket (the daemon's control socket): status and parsed JSON body. */
export function getOverSocket(socketPath: string, path: string): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path, method: "GET", timeout: 10_000 }, (res) => {
      let text = "";
      res.on("data", (chunk) => (text += chunk));
      res.on("end", () => {
        try {
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) });
        } catch {
          reject(new Error(`${path}: not JSON: ${text}`));
        }
      });
    });
    req.on("timeout", () => req.destroy(new Error(`${path}: no answer`)));
    req.on("error", reject);
    req.end();
  });
}

/** Resolves when CHILD has exited, at once if it already has. */
function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once("exit", () => resolve()));
}

/** Runs COMMAND until it exits 0, every 250 ms, for up to TIMEOUTMS. */
async function until(command: () => Promise<boolean>, what: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await command())) {
    if (Date.now() > deadline) throw new Error(`${what} after ${timeoutMs} ms`);
    await sleep(250);
  }
}

function succeeds(file: string, args: string[]): Promise<boolean> {
  return new Promise((resolve) => {
    const child = spawn(file, args, { stdio: "ignore" });
    child.on("error", () => resolve(false));
    child.on("exit", (code) => resolve(code === 0));
  });
}

export interface SecondDockerd {
  socket: string;
  /** `docker -H unix://SOCKET ARGS`, throwing with stderr if it fails. */
  docker(args: string[], input?: string): Promise<string>;
  /** Stops the engine (SIGTERM, waited) and starts it again on the same socket and data. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A Docker engine of the test's own, beside the shared one: its own socket, data, exec root
 * (so its own containerd), its own bridge and no iptables changes, local/busybox loaded into it.
 * Never `--bridge=none`: dockerd then deletes the host's docker0, which the shared engine uses.
 */
export async function startSecondDockerd(): Promise<SecondDockerd> {
  const dir = tempDir("dockerd");
  const socket = join(dir, "docker.sock");
  const bridge = `dvpx${process.pid}`;
  execFileSync("ip", ["link", "add", bridge, "type", "bridge"]);
  execFileSync("ip", ["addr", "add", `10.231.${process.pid % 250}.1/24`, "dev", bridge]);
  execFileSync("ip", ["link", "set", bridge, "up"]);
  const args = [
    "-H", `unix://${socket}`, "--data-root", join(dir, "data"), "--exec-root", join(dir, "exec"),
    "--pidfile", join(dir, "docker.pid"), "--bridge", bridge, "--iptables=false", "--ip-masq=false", "--shutdown-timeout", "1",
  ];
  let engine: ChildProcess | undefined;
  const launch = async () => {
    engine = spawn("dockerd", args, { stdio: ["ignore", "ignore", "ignore"] });
    await until(() => succeeds("docker", ["-H", `unix://${socket}`, "info"]), "the second dockerd does not answer", 30_000);
  };
  const halt = async () => {
    if (!engine) return;
    engine.kill("SIGTERM");
    await exited(engine);
  };
  let bridgeUp = true;
  const stop = async () => {
    await halt();
    if (bridgeUp) execFileSync("ip", ["link", "delete", bridge]);
    bridgeUp = false;
  };
  const docker = (dockerArgs: string[], input?: string) =>
    new Promise<string>((resolve, reject) => {
      const child = spawn("docker", ["-H", `unix://${socket}`, ...dockerArgs], { stdio: ["pipe", "pipe", "pipe"] });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (chunk) => (stdout += chunk));
      child.stderr.on("data", (chunk) => (stderr += chunk));
      child.on("exit", (code) => (code === 0 ? resolve(stdout) : reject(new Error(`docker ${dockerArgs.join(" ")}: ${stderr}`))));
      child.stdin.end(input);
    });
  try {
    await launch();
    await new Promise<void>((resolve, reject) => {
      const load = spawn("sh", ["-c", `docker save local/busybox:latest | docker -H ${shq(`unix://${socket}`)} load -q`], { stdio: "ignore" });
      load.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`loading local/busybox into the second dockerd exited ${code}`))));
    });
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    socket,
    docker,
    restart: async () => {
      await halt();
      await launch();
    },
    stop,
  };
}

export interface LocalDaemon {
  state: string;
  listen: number;
  admin: number;
  /** The daemon's GET /services over its control socket. */
  status(): Promise<StatusDocument>;
  stop(): Promise<void>;
}

/** The daemon's bundled file run here (not in a container), against the engine at SOCKET: its argv is `proxy serve`'s options. */
export async function startLocalDaemon(socket: string, listen: number, admin: number): Promise<LocalDaemon> {
  const state = tempDir("daemon-state");
  const child = spawn(
    process.execPath,
    [join(ROOT, "dist/proxy/daemon.mjs"), "--docker-socket", socket, "--state", state, "--listen", `127.0.0.1:${listen}`, "--admin", `127.0.0.1:${admin}`],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  let stderr = "";
  child.stderr?.on("data", (chunk) => (stderr += chunk));
  const stop = async () => {
    child.kill("SIGTERM");
    await exited(child);
  };
  try {
    await Promise.race([
      waitForPort(admin, 15_000),
      exited(child).then(() => Promise.reject(new Error(`the daemon exited ${child.exitCode}: ${stderr}`))),
    ]);
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    state,
    listen,
    admin,
    status: () => servicesOn(join(state, "control.sock")),
    stop,
  };
}
