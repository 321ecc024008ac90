import { type Remote, SocketRefused } from "../ssh/connection.js";
import {
  AnswerShapeError,
  type ContainerSummary,
  type EngineInfo,
  type EngineVersion,
  parseContainers,
  parseInfo,
  parseVersion,
} from "./responses.js";
import { type Dial, dialSocket, EngineAnswerError, EngineUnreachable, exchange } from "./transport.js";

export const DOCKER_SOCKET = "/var/run/docker.sock";

/** Label filters as the Engine takes them: `key` (the label is set) or `key=value`. */
export interface ContainerFilter {
  label: string[];
}

/**
 * Docker's Engine API, the calls deploy-vps needs, each typed. Every request dials its own
 * stream: over SSH those are channels of one connection, so calls made together run together.
 */
export class Engine {
  constructor(
    private readonly dial: Dial,
    /** Where the socket is, for messages. */
    readonly socket: string,
    private readonly timeoutMs = 30_000,
  ) {}

  /** Rejects with EngineUnreachable when the socket cannot be reached, EngineAnswerError for a bad answer. */
  private async get<T>(path: string, parse: (body: unknown) => T): Promise<T> {
    const stream = await this.dial();
    const { status, body } = await exchange(stream, path, this.timeoutMs);
    const text = body.toString("utf8");
    if (status !== 200) throw new EngineAnswerError(`Docker's Engine API answered GET ${path} with ${status}: ${errorMessage(text)}`);
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new EngineAnswerError(`Docker's Engine API answered GET ${path} with something that is not JSON: ${text.slice(0, 80)}`);
    }
    try {
      return parse(json);
    } catch (error) {
      if (error instanceof AnswerShapeError) throw new EngineAnswerError(`Docker's Engine API answered GET ${path} unexpectedly: ${error.message}`);
      throw error;
    }
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

/** The Engine on the server, reached through the SSH connection (no docker command started). */
export function engineOverSsh(remote: Remote, socket = DOCKER_SOCKET): Engine {
  return new Engine(async () => {
    try {
      return await remote.openSocket(socket);
    } catch (error) {
      if (error instanceof SocketRefused) throw new EngineUnreachable(socket, error.reason);
      throw error;
    }
  }, socket);
}

/** The Engine on this machine (the runtime daemon on the server). */
export function localEngine(socket = DOCKER_SOCKET): Engine {
  return new Engine(dialSocket(socket), socket);
}
