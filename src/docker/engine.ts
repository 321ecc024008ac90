import type { IncomingMessage } from "node:http";
import { setTimeout as sleep } from "node:timers/promises";
import type { ContainerFacts } from "../proxy/model.js";
import { type EventHandlers, followEventStream } from "./events.js";
import {
  AnswerShapeError,
  type ContainerSummary,
  demultiplex,
  type EngineInfo,
  type EngineVersion,
  type InspectedContainer,
  lastLines,
  parseContainers,
  parseCreated,
  parseExecState,
  parseInfo,
  parseInspect,
  parseMemory,
  parseVersion,
} from "./responses.js";
import {
  type Dial,
  describeRequest,
  dialSocket,
  EngineAnswerError,
  type EngineRequest,
  exchange,
  readBody,
  send,
} from "./transport.js";

export type { EventHandlers } from "./events.js";
export type { ContainerEvent } from "./responses.js";

export const DOCKER_SOCKET = "/var/run/docker.sock";

/** The newest API version these calls are written against; an older engine is spoken to in its own. */
export const NEWEST_API_VERSION = "1.47";

/** Label filters as the Engine takes them: `key` (the label is set) or `key=value`. */
export interface ContainerFilter {
  label: string[];
}

/** The events the daemon follows (the others say nothing about whether a unit is up). */
const FOLLOWED_EVENTS = ["create", "start", "die", "stop", "destroy", "health_status", "rename", "kill", "oom"];

/** Inspects run side by side up to this many: a resync of many stacks should not flood dockerd. */
const PARALLEL_INSPECTS = 8;

/** What a start did: see Engine.startContainer. */
export type StartAnswer = "started" | "running" | "gone";

/** Docker's own default when a container sets no StopTimeout. */
const DEFAULT_STOP_SECONDS = 10;

/** How often an exec that has closed its output is asked whether its exit code is in. */
const EXEC_STATE_PAUSE_MS = 10;

interface Answer {
  request: EngineRequest;
  status: number;
  body: Buffer;
}

/**
 * The API version to speak: the engine's own when it is older than these calls (20.10 speaks
 * 1.41), else the newest they are written against (Docker 29 refuses anything under 1.44).
 */
export function chooseApiVersion(engineVersion: string): string {
  const parse = (version: string) => {
    const match = /^(\d+)\.(\d+)$/.exec(version);
    if (!match) throw new AnswerShapeError(`the answer.ApiVersion '${version}' is not MAJOR.MINOR`);
    return [Number(match[1]), Number(match[2])] as const;
  };
  const [major, minor] = parse(engineVersion);
  const [newestMajor, newestMinor] = parse(NEWEST_API_VERSION);
  return major < newestMajor || (major === newestMajor && minor < newestMinor) ? engineVersion : NEWEST_API_VERSION;
}

/**
 * The command a healthcheck's test runs, as Docker runs it: `CMD` is an argv, `CMD-SHELL` a
 * shell line. `undefined`: there is nothing to run (`NONE`, or an empty test).
 */
export function probeCommand(test: string[]): string[] | undefined {
  const [kind, ...rest] = test;
  if (kind === undefined || kind === "NONE") return undefined;
  if (kind === "CMD") return rest.length > 0 ? rest : undefined;
  if (kind === "CMD-SHELL") return rest.length > 0 ? ["/bin/sh", "-c", rest.join(" ")] : undefined;
  throw new EngineAnswerError(`a healthcheck test starts with '${kind}', not CMD, CMD-SHELL or NONE`);
}

/** Runs `work` on every item, at most `limit` at a time, keeping the order. */
async function mapBounded<T, R>(items: readonly T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  // One iterator shared by the workers: each takes the next item as it frees up.
  const queue = items.entries();
  const worker = async () => {
    for (const [index, item] of queue) results[index] = await work(item);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** Resolves once the body has ended (true) or, past `timeoutMs`, closes it (false). */
function ended(body: IncomingMessage, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      body.destroy();
      resolve(false);
    }, timeoutMs);
    const finish = () => {
      clearTimeout(timer);
      body.destroy();
      resolve(true);
    };
    body.on("end", finish);
    body.on("close", finish);
    body.on("error", finish);
    body.resume();
  });
}

/**
 * Docker's Engine API, the calls deploy-vps needs, each typed. Every request dials its own
 * stream: over SSH those are channels of one connection, so calls made together run together.
 * The CLI's calls (version, info, containers) go unversioned, one round trip each; the daemon's
 * go under the version `negotiate` chose.
 */
export class Engine {
  private negotiated: Promise<string> | undefined;

  constructor(
    private readonly dial: Dial,
    /** Where the socket is, for messages. */
    readonly socket: string,
    private readonly timeoutMs = 30_000,
  ) {}

  /** Rejects with EngineUnreachable when the socket cannot be reached, EngineAnswerError when the exchange fails. */
  private async ask(request: EngineRequest, timeoutMs = this.timeoutMs): Promise<Answer> {
    const stream = await this.dial();
    const { status, body } = await exchange(stream, request, timeoutMs);
    return { request, status, body };
  }

  private expect(answer: Answer, ...statuses: number[]): void {
    if (!statuses.includes(answer.status)) {
      throw new EngineAnswerError(`Docker's Engine API answered ${describeRequest(answer.request)} with ${answer.status}: ${errorMessage(answer.body.toString("utf8"))}`);
    }
  }

  private read<T>(answer: Answer, parse: (body: unknown) => T): T {
    const text = answer.body.toString("utf8");
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new EngineAnswerError(`Docker's Engine API answered ${describeRequest(answer.request)} with something that is not JSON: ${text.slice(0, 80)}`);
    }
    return this.shaped(answer, () => parse(json));
  }

  /** An answer of another shape becomes an error naming the call. */
  private shaped<T>(answer: Answer, parse: () => T): T {
    try {
      return parse();
    } catch (error) {
      if (error instanceof AnswerShapeError) throw new EngineAnswerError(`Docker's Engine API answered ${describeRequest(answer.request)} unexpectedly: ${error.message}`);
      throw error;
    }
  }

  private async get<T>(path: string, parse: (body: unknown) => T): Promise<T> {
    const answer = await this.ask({ method: "GET", path });
    this.expect(answer, 200);
    return this.read(answer, parse);
  }

  /** A request whose answer is read as it comes (events, an exec's output); any status but 200 is an error. */
  private async open(request: EngineRequest, signal?: AbortSignal): Promise<IncomingMessage> {
    const stream = await this.dial();
    const body = await send(stream, request, this.timeoutMs, signal);
    if (body.statusCode !== 200) {
      this.expect({ request, status: body.statusCode ?? 0, body: await readBody(body, request, this.timeoutMs) }, 200);
    }
    return body;
  }

  /** `/v1.47/containers/...`, in the version negotiated. */
  private async versioned(path: string): Promise<string> {
    return `/v${await this.negotiate()}${path}`;
  }

  private async container(id: string, rest: string): Promise<string> {
    return this.versioned(`/containers/${encodeURIComponent(id)}${rest}`);
  }

  version(): Promise<EngineVersion> {
    return this.get("/version", parseVersion);
  }

  info(): Promise<EngineInfo> {
    return this.get("/info", parseInfo);
  }

  /** Every container (running or not) that matches the filter, newest first. */
  containers(filter: ContainerFilter): Promise<ContainerSummary[]> {
    const query = new URLSearchParams({ all: "1", filters: JSON.stringify(filter) });
    return this.get(`/containers/json?${query}`, parseContainers);
  }

  /** Asks the engine's version once (again after the event stream was lost) and answers the one spoken. */
  negotiate(): Promise<string> {
    this.negotiated ??= this.version().then(
      ({ apiVersion }) => {
        try {
          return chooseApiVersion(apiVersion);
        } catch (error) {
          throw new EngineAnswerError(`Docker's Engine API answered GET /version unexpectedly: ${error instanceof Error ? error.message : String(error)}`);
        }
      },
    );
    // A failed negotiation is asked again by the next call, not remembered.
    this.negotiated.catch(() => (this.negotiated = undefined));
    return this.negotiated;
  }

  private async inspect(id: string): Promise<InspectedContainer | undefined> {
    const answer = await this.ask({ method: "GET", path: await this.container(id, "/json") });
    if (answer.status === 404) return undefined;
    this.expect(answer, 200);
    return this.read(answer, parseInspect);
  }

  /** `undefined`: no such container (any more). */
  async inspectContainer(id: string): Promise<ContainerFacts | undefined> {
    return (await this.inspect(id))?.facts;
  }

  /** Every container, running or not, that Compose made, inspected; those removed meanwhile are left out. */
  async composeContainers(): Promise<ContainerFacts[]> {
    const query = new URLSearchParams({ all: "1", filters: JSON.stringify({ label: ["com.docker.compose.project"] }) });
    const listed = await this.get(await this.versioned(`/containers/json?${query}`), parseContainers);
    const facts = await mapBounded(listed, PARALLEL_INSPECTS, (container) => this.inspectContainer(container.id));
    return facts.filter((fact) => fact !== undefined);
  }

  /**
   * Starts it: `started` when this call did, `running` when it already ran (304), `gone` when
   * compose is replacing it (`up -d` recreating it renames it and marks it for removal) or it is
   * gone already: its successor is the one to start.
   */
  async startContainer(id: string): Promise<StartAnswer> {
    const answer = await this.ask({ method: "POST", path: await this.container(id, "/start") });
    if (answer.status === 404 || (answer.status === 409 && /marked for removal|removal .*in progress/i.test(answer.body.toString("utf8")))) return "gone";
    this.expect(answer, 204, 304);
    return answer.status === 204 ? "started" : "running";
  }

  /**
   * Stops it as `docker stop` does: its stop signal, then SIGKILL after `timeoutSeconds`, or after
   * its own StopTimeout (compose's `stop_grace_period`) when none is given. Already stopped (304) is fine.
   */
  async stopContainer(id: string, timeoutSeconds?: number): Promise<void> {
    // The answer comes once the container is down: the exchange may take the whole grace period.
    const graceSeconds = timeoutSeconds ?? (await this.inspect(id))?.stopTimeoutSeconds ?? DEFAULT_STOP_SECONDS;
    const query = timeoutSeconds === undefined ? "" : `?t=${Math.ceil(timeoutSeconds)}`;
    const answer = await this.ask({ method: "POST", path: await this.container(id, `/stop${query}`) }, this.timeoutMs + Math.max(graceSeconds, 0) * 1000);
    this.expect(answer, 204, 304);
  }

  /**
   * Removes a stopped container as `docker rm` does (its anonymous volumes are kept, as compose
   * keeps them). One already gone (404) is as good as removed.
   */
  async removeContainer(id: string): Promise<void> {
    this.expect(await this.ask({ method: "DELETE", path: await this.container(id, "") }), 204, 404);
  }

  /**
   * Runs the container's healthcheck test now, in the container (as Docker's own check does),
   * instead of waiting Docker's first interval. True when it exits 0 within `timeoutMs`; a
   * container that is not running fails it. A test that outlives `timeoutMs` is left to end
   * in the container: the API cannot kill an exec.
   */
  async runProbe(id: string, test: string[], timeoutMs: number): Promise<boolean> {
    const command = probeCommand(test);
    if (command === undefined) return true;
    const deadline = Date.now() + timeoutMs;
    const created = await this.ask({
      method: "POST",
      path: await this.container(id, "/exec"),
      body: { AttachStdout: true, AttachStderr: true, Cmd: command },
    });
    if (created.status === 409) return false;
    this.expect(created, 201);
    const exec = `/exec/${encodeURIComponent(this.read(created, parseCreated))}`;
    const output = await this.open({ method: "POST", path: await this.versioned(`${exec}/start`), body: { Detach: false, Tty: false } });
    if (!(await ended(output, deadline - Date.now()))) return false;
    // The output closes as the command ends; its exit code is recorded a moment later.
    const statePath = await this.versioned(`${exec}/json`);
    for (;;) {
      const state = await this.get(statePath, parseExecState);
      if (!state.running && state.exitCode !== null) return state.exitCode === 0;
      if (Date.now() >= deadline) return false;
      await sleep(EXEC_STATE_PAUSE_MS);
    }
  }

  /** Its last `lines` lines of stdout and stderr, in the order written. */
  async tailLogs(id: string, lines: number): Promise<string[]> {
    const inspected = await this.inspect(id);
    if (!inspected) throw new EngineAnswerError(`Docker has no container ${id}`);
    const query = new URLSearchParams({ stdout: "1", stderr: "1", tail: String(Math.max(lines, 0)) });
    const answer = await this.ask({ method: "GET", path: await this.container(id, `/logs?${query}`) });
    this.expect(answer, 200);
    const payloads = inspected.tty ? [answer.body] : this.shaped(answer, () => demultiplex(answer.body));
    return lastLines(Buffer.concat(payloads).toString("utf8"), lines);
  }

  /** Memory in use as `docker stats` shows it; `undefined` when it is not running (or gone). */
  async memoryBytes(id: string): Promise<number | undefined> {
    // one-shot: one reading, not two a second apart for a CPU percentage no one asked for.
    const answer = await this.ask({ method: "GET", path: await this.container(id, "/stats?stream=false&one-shot=true") });
    if (answer.status === 404) return undefined;
    this.expect(answer, 200);
    return this.read(answer, parseMemory);
  }

  /**
   * Follows the container events until `signal` aborts, reconnecting when the stream is lost
   * (see followEventStream). Returns at once; the handlers are called as things happen.
   */
  followEvents(handlers: EventHandlers, signal: AbortSignal): void {
    const filters = JSON.stringify({ type: ["container"], event: FOLLOWED_EVENTS });
    const open = async (abort: AbortSignal) =>
      this.open({ method: "GET", path: await this.versioned(`/events?${new URLSearchParams({ filters })}`) }, abort);
    void followEventStream(open, handlers, signal, () => (this.negotiated = undefined));
  }
}

/** Docker's errors come as `{"message": "..."}`; anything else is shown as it came, cut short. */
function errorMessage(text: string): string {
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed === "object" && parsed !== null && "message" in parsed && typeof parsed.message === "string") return parsed.message;
  } catch {
    // not JSON: the text itself says it
  }
  return text.trim().slice(0, 200) || "no message";
}

/** The Engine on this machine (the runtime daemon on the server). */
export function localEngine(socket = DOCKER_SOCKET): Engine {
  return new Engine(dialSocket(socket), socket);
}
