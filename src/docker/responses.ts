/**
 * The Engine API's answers, checked once at the edge: what the calls return is typed, and an
 * answer of another shape is a clear error naming the call and the field, never a crash later.
 */

import type { ContainerFacts, Dependency } from "../proxy/model.js";

/** A field that is not what the Engine's API documents. */
export class AnswerShapeError extends Error {}

/** One container as /containers/json lists it. */
export interface ContainerSummary {
  id: string;
  /** With the leading slash Docker gives them ("/shop-web-1"). */
  names: string[];
  /** created, running, paused, restarting, removing, exited or dead. */
  state: string;
  /** Human words: "Up 2 minutes", "Exited (0) 3 seconds ago". */
  status: string;
  labels: Record<string, string>;
  /** Seconds since the epoch. */
  created: number;
}

export interface EngineVersion {
  version: string;
  apiVersion: string;
}

export interface EngineInfo {
  serverVersion: string;
}

type Json = unknown;

function object(value: Json, where: string): Record<string, Json> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new AnswerShapeError(`${where} is not an object`);
  return value as Record<string, Json>;
}

function string(record: Record<string, Json>, key: string, where: string): string {
  const value = record[key];
  if (typeof value !== "string") throw new AnswerShapeError(`${where}.${key} is not a string`);
  return value;
}

function number(record: Record<string, Json>, key: string, where: string): number {
  const value = record[key];
  if (typeof value !== "number" || !Number.isFinite(value)) throw new AnswerShapeError(`${where}.${key} is not a number`);
  return value;
}

/** Docker gives `null` for no labels or no names; both read as empty. */
function strings(record: Record<string, Json>, key: string, where: string): string[] {
  const value = record[key] ?? [];
  if (!Array.isArray(value) || !value.every((item) => typeof item === "string")) throw new AnswerShapeError(`${where}.${key} is not a list of strings`);
  return value;
}

function labels(record: Record<string, Json>, key: string, where: string): Record<string, string> {
  const value = record[key] ?? {};
  const map = object(value, `${where}.${key}`);
  for (const [name, text] of Object.entries(map)) {
    if (typeof text !== "string") throw new AnswerShapeError(`${where}.${key}["${name}"] is not a string`);
  }
  return map as Record<string, string>;
}

export function parseVersion(body: Json): EngineVersion {
  const record = object(body, "the answer");
  return { version: string(record, "Version", "the answer"), apiVersion: string(record, "ApiVersion", "the answer") };
}

export function parseInfo(body: Json): EngineInfo {
  const record = object(body, "the answer");
  return { serverVersion: string(record, "ServerVersion", "the answer") };
}

export function parseContainers(body: Json): ContainerSummary[] {
  if (!Array.isArray(body)) throw new AnswerShapeError("the answer is not a list");
  return body.map((item: Json, index) => {
    const where = `container [${index}]`;
    const record = object(item, where);
    return {
      id: string(record, "Id", where),
      names: strings(record, "Names", where),
      state: string(record, "State", where),
      status: string(record, "Status", where),
      labels: labels(record, "Labels", where),
      created: number(record, "Created", where),
    };
  });
}

/** A record whose key may be absent or `null` (Docker writes both): read as absent. */
function optionalObject(record: Record<string, Json>, key: string, where: string): Record<string, Json> | undefined {
  const value = record[key];
  return value === undefined || value === null ? undefined : object(value, `${where}.${key}`);
}

function optionalStrings(record: Record<string, Json>, key: string, where: string): string[] | undefined {
  return record[key] === undefined || record[key] === null ? undefined : strings(record, key, where);
}

function boolean(record: Record<string, Json>, key: string, where: string): boolean {
  const value = record[key];
  if (typeof value !== "boolean") throw new AnswerShapeError(`${where}.${key} is not true or false`);
  return value;
}

const PROJECT = "com.docker.compose.project";
const SERVICE = "com.docker.compose.service";
const WORKING_DIR = "com.docker.compose.project.working_dir";
const ONEOFF = "com.docker.compose.oneoff";
const DEPENDS_ON = "com.docker.compose.depends_on";

type Health = NonNullable<ContainerFacts["health"]>;
const HEALTH: readonly string[] = ["starting", "healthy", "unhealthy"] satisfies Health[];
const CONDITIONS: readonly string[] = ["service_started", "service_healthy", "service_completed_successfully"] satisfies Dependency["condition"][];

function isHealth(status: string | undefined): status is Health {
  return status !== undefined && HEALTH.includes(status);
}

function isCondition(condition: string): condition is Dependency["condition"] {
  return CONDITIONS.includes(condition);
}

/** Docker's health, when there is one ("none" and absent alike are no health). */
function health(status: string | undefined): Health | undefined {
  return isHealth(status) ? status : undefined;
}

/**
 * Compose ≥ 2.17 records `depends_on` as `svc:condition:restart,svc2:condition:restart`
 * (`restart` is whether a restart of the dependency restarts this one; not needed here).
 * Compose v1 writes no such label: no dependencies known.
 */
export function parseDependsOn(label: string | undefined, where: string): Dependency[] {
  if (label === undefined || label.trim() === "") return [];
  return label
    .split(",")
    .filter((entry) => entry.trim() !== "")
    .map((entry) => {
      const [service = "", condition = ""] = entry.trim().split(":");
      if (service === "" || !isCondition(condition)) {
        throw new AnswerShapeError(`${where} label ${DEPENDS_ON} has '${entry}', not service:condition[:restart]`);
      }
      return { service, condition };
    });
}

/** What the calls need of an inspect besides the facts: how its logs are framed, how long a stop may take. */
export interface InspectedContainer {
  facts: ContainerFacts;
  /** A container with a TTY writes its logs raw, one stream; without, in 8-byte-headed frames. */
  tty: boolean;
  /** compose's `stop_grace_period`; absent: Docker's default (10 s). */
  stopTimeoutSeconds?: number;
}

/** `{"8080/tcp": [{"HostIp": "127.0.0.1", "HostPort": "18080"}]}`: the TCP ports published on the host. */
function parsePortBindings(hostConfig: Record<string, Json> | undefined, where: string): ContainerFacts["published"] {
  const bindings = hostConfig ? (optionalObject(hostConfig, "PortBindings", where) ?? {}) : {};
  const published: ContainerFacts["published"] = [];
  for (const [port, hosts] of Object.entries(bindings)) {
    const [number, protocol] = port.split("/");
    if (protocol !== "tcp" || !Array.isArray(hosts)) continue;
    for (const binding of hosts) {
      const hostPort = Number(object(binding, `${where}.PortBindings["${port}"]`).HostPort);
      if (Number.isInteger(hostPort) && hostPort > 0) published.push({ hostPort, containerPort: Number(number) });
    }
  }
  return published;
}

export function parseInspect(body: Json): InspectedContainer {
  const record = object(body, "the container");
  const where = "the container";
  const config = object(record.Config, `${where}.Config`);
  const state = object(record.State, `${where}.State`);
  const healthState = optionalObject(state, "Health", `${where}.State`);
  const healthcheck = optionalObject(config, "Healthcheck", `${where}.Config`);
  const networkSettings = optionalObject(record, "NetworkSettings", where);
  const networks = networkSettings ? (optionalObject(networkSettings, "Networks", `${where}.NetworkSettings`) ?? {}) : {};
  const addresses: Record<string, string> = {};
  for (const [network, settings] of Object.entries(networks)) {
    const address = string(object(settings, `${where}.NetworkSettings.Networks["${network}"]`), "IPAddress", `${where}.NetworkSettings.Networks["${network}"]`);
    // A stopped container keeps its networks with an empty address.
    if (address !== "") addresses[network] = address;
  }
  const containerLabels = labels(config, "Labels", `${where}.Config`);
  const stopTimeout = config.StopTimeout;
  if (stopTimeout !== undefined && stopTimeout !== null && typeof stopTimeout !== "number") {
    throw new AnswerShapeError(`${where}.Config.StopTimeout is not a number`);
  }
  const name = string(record, "Name", where).replace(/^\//, "");
  const facts: ContainerFacts = {
    id: string(record, "Id", where),
    name,
    labels: containerLabels,
    oneoff: containerLabels[ONEOFF] === "True",
    state: string(state, "Status", `${where}.State`),
    exitCode: number(state, "ExitCode", `${where}.State`),
    startedAt: string(state, "StartedAt", `${where}.State`),
    finishedAt: string(state, "FinishedAt", `${where}.State`),
    addresses,
    dependsOn: parseDependsOn(containerLabels[DEPENDS_ON], name),
    published: parsePortBindings(optionalObject(record, "HostConfig", where), `${where}.HostConfig`),
  };
  const project = containerLabels[PROJECT];
  const service = containerLabels[SERVICE];
  const workingDir = containerLabels[WORKING_DIR];
  if (project !== undefined) facts.project = project;
  if (service !== undefined) facts.service = service;
  if (workingDir !== undefined) facts.workingDir = workingDir;
  const status = health(healthState ? string(healthState, "Status", `${where}.State.Health`) : undefined);
  if (status) facts.health = status;
  const test = healthcheck ? optionalStrings(healthcheck, "Test", `${where}.Config.Healthcheck`) : undefined;
  if (test) facts.healthTest = test;
  const inspected: InspectedContainer = { facts, tty: config.Tty === true };
  if (typeof stopTimeout === "number") inspected.stopTimeoutSeconds = stopTimeout;
  return inspected;
}

/** POST /containers/{id}/exec answers the new exec's id. */
export function parseCreated(body: Json): string {
  return string(object(body, "the answer"), "Id", "the answer");
}

export interface ExecState {
  running: boolean;
  /** `null` while it runs. */
  exitCode: number | null;
}

export function parseExecState(body: Json): ExecState {
  const record = object(body, "the exec");
  const running = boolean(record, "Running", "the exec");
  return { running, exitCode: record.ExitCode === null ? null : number(record, "ExitCode", "the exec") };
}

/**
 * Memory in use as `docker stats` counts it: the cgroup's usage less the page cache the kernel
 * may drop (`inactive_file` on cgroup v2, `total_inactive_file` on v1, `cache` on older engines).
 * A container that is not running has empty memory stats: `undefined`.
 */
export function parseMemory(body: Json): number | undefined {
  const memory = optionalObject(object(body, "the stats"), "memory_stats", "the stats");
  if (!memory || memory.usage === undefined) return undefined;
  const usage = number(memory, "usage", "the stats.memory_stats");
  const stats = optionalObject(memory, "stats", "the stats.memory_stats") ?? {};
  const key = ["inactive_file", "total_inactive_file", "cache"].find((name) => name in stats);
  const reclaimable = key === undefined ? 0 : number(stats, key, "the stats.memory_stats.stats");
  return reclaimable < usage ? usage - reclaimable : usage;
}

/**
 * A log answer without a TTY is a run of frames: 1 byte stream (1 stdout, 2 stderr), 3 zero
 * bytes, a 4-byte big-endian length, then the payload. The payloads, in order.
 */
export function demultiplex(body: Buffer): Buffer[] {
  const payloads: Buffer[] = [];
  let offset = 0;
  while (offset < body.length) {
    if (body.length - offset < 8) throw new AnswerShapeError(`the log stream ends inside a frame header at byte ${offset}`);
    const stream = body[offset];
    if (stream !== 0 && stream !== 1 && stream !== 2) throw new AnswerShapeError(`the log frame at byte ${offset} names stream ${stream}`);
    const length = body.readUInt32BE(offset + 4);
    if (offset + 8 + length > body.length) throw new AnswerShapeError(`the log frame at byte ${offset} is cut short`);
    payloads.push(body.subarray(offset + 8, offset + 8 + length));
    offset += 8 + length;
  }
  return payloads;
}

/** The last `count` lines of a log's text, without the empty line after its final newline. */
export function lastLines(text: string, count: number): string[] {
  const lines = text.split("\n").map((line) => line.replace(/\r$/, ""));
  if (lines.at(-1) === "") lines.pop();
  return count <= 0 ? [] : lines.slice(-count);
}

/** One container event, as the daemon follows them. */
export interface ContainerEvent {
  id: string;
  /** "start", "die", "health_status"... ("health_status: healthy" is split into action and health). */
  action: string;
  health?: Health;
  /** On `die`. */
  exitCode?: number;
  /** Milliseconds since the epoch. */
  time: number;
  /** The container's labels (the event's attributes less Docker's own: name, image, exitCode, signal). */
  labels: Record<string, string>;
  /** The container's name, without a leading slash (on rename: the new one). */
  name?: string;
}

const EVENT_ATTRIBUTES = new Set(["name", "image", "exitCode", "signal", "oldName"]);

export function parseEvent(body: Json): ContainerEvent {
  const record = object(body, "the event");
  const actor = object(record.Actor, "the event.Actor");
  const attributes = labels(actor, "Attributes", "the event.Actor");
  const [action = "", detail] = string(record, "Action", "the event").split(/:\s*/, 2);
  const time = typeof record.timeNano === "number" ? Math.floor(record.timeNano / 1e6) : number(record, "time", "the event") * 1000;
  const event: ContainerEvent = {
    id: string(actor, "ID", "the event.Actor"),
    action,
    time,
    labels: Object.fromEntries(Object.entries(attributes).filter(([key]) => !EVENT_ATTRIBUTES.has(key))),
  };
  const status = action === "health_status" ? health(detail) : undefined;
  if (status) event.health = status;
  if (attributes.exitCode !== undefined && /^-?\d+$/.test(attributes.exitCode)) event.exitCode = Number(attributes.exitCode);
  if (attributes.name !== undefined) event.name = attributes.name.replace(/^\//, "");
  return event;
}
