import { type IncomingMessage, request as httpRequest } from "node:http";
import { connect } from "node:net";
import type { Duplex } from "node:stream";
import { EnvironmentError } from "../errors.js";

/**
 * Opens one fresh byte stream to the Engine's socket, for one request. Whatever carries it
 * (a local unix socket, an SSH channel) is the transport's business; the calls never know.
 */
export type Dial = () => Promise<Duplex>;

/** The socket could not be reached at all: nothing was asked. The caller may try another way. */
export class EngineUnreachable extends EnvironmentError {
  constructor(
    readonly socket: string,
    readonly reason: string,
  ) {
    super(`cannot reach Docker's socket ${socket}: ${reason}`);
  }
}

/** The Engine was reached but its answer is not what was asked for (a status, a body). */
export class EngineAnswerError extends EnvironmentError {}

/** One call: a method, a path (with its query) and, for some POSTs, a JSON body. */
export interface EngineRequest {
  method: "GET" | "POST" | "DELETE";
  path: string;
  body?: unknown;
}

export interface EngineResponse {
  status: number;
  body: Buffer;
}

/** Larger answers are refused rather than held in memory: no buffered call expects one. */
const MAX_BODY = 32 * 1024 * 1024;

/** "POST /v1.47/containers/4f2a/start", for messages. */
export function describeRequest(request: EngineRequest): string {
  return `${request.method} ${request.path}`;
}

function failure(request: EngineRequest, message: string): EngineAnswerError {
  return new EngineAnswerError(`Docker's Engine API, ${describeRequest(request)}: ${message}`);
}

/**
 * Sends one HTTP/1.1 request over a stream just dialled and resolves once the answer's head has
 * come; the body is the caller's to read (to its end, or as a stream of events or an exec's
 * output). Destroying the body closes the stream: one request each.
 */
export function send(stream: Duplex, request: EngineRequest, timeoutMs: number, signal?: AbortSignal): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const payload = request.body === undefined ? undefined : Buffer.from(JSON.stringify(request.body));
    const headers: Record<string, string | number> = { Host: "docker" };
    if (payload) {
      headers["Content-Type"] = "application/json";
      headers["Content-Length"] = payload.length;
    }
    const fail = (message: string) => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", aborted);
      req.destroy();
      stream.destroy();
      reject(failure(request, message));
    };
    const aborted = () => fail("given up");
    // No agent: the stream is handed over as the request's socket, and `Connection: close` sent.
    const req = httpRequest({ path: request.path, method: request.method, headers, createConnection: () => stream });
    const timer = setTimeout(() => fail(`no answer within ${timeoutMs / 1000} s`), timeoutMs);
    req.on("error", (error) => fail(error.message));
    req.on("response", (res) => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", aborted);
      resolve(res);
    });
    if (signal?.aborted) aborted();
    else signal?.addEventListener("abort", aborted, { once: true });
    req.end(payload);
  });
}

/** Reads an answer's body to its end, within the time left and the size limit. */
export function readBody(res: IncomingMessage, request: EngineRequest, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const fail = (message: string) => {
      clearTimeout(timer);
      res.destroy();
      reject(failure(request, message));
    };
    const timer = setTimeout(() => fail(`no answer within ${timeoutMs / 1000} s`), Math.max(timeoutMs, 0));
    const chunks: Buffer[] = [];
    let size = 0;
    res.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY) fail(`the answer exceeds ${MAX_BODY} bytes`);
      else chunks.push(chunk);
    });
    // Node's parser fails the response ("aborted") when the stream ends before the body does.
    res.on("error", (error) => fail(`the answer was cut short (${error.message})`));
    res.on("end", () => {
      clearTimeout(timer);
      res.destroy();
      resolve(Buffer.concat(chunks));
    });
  });
}

/** One request, its answer read to its end (Node's parser handles chunked and sized bodies alike). */
export async function exchange(stream: Duplex, request: EngineRequest, timeoutMs: number): Promise<EngineResponse> {
  const started = Date.now();
  const res = await send(stream, request, timeoutMs);
  return { status: res.statusCode ?? 0, body: await readBody(res, request, timeoutMs - (Date.now() - started)) };
}

/** The words the docker CLI uses, so that the probe's reading of them holds for both paths. */
function socketReason(error: NodeJS.ErrnoException, path: string): string {
  if (error.code === "EACCES") return `permission denied while trying to connect to the Docker daemon socket at unix://${path}`;
  if (error.code === "ENOENT") return `no such socket: ${path}`;
  if (error.code === "ECONNREFUSED") return `nothing listens on ${path}; is dockerd running?`;
  return error.message;
}

/** The Engine's socket on this machine (the runtime daemon on the server reads it so). */
export function dialSocket(path: string): Dial {
  return () =>
    new Promise((resolve, reject) => {
      const socket = connect(path);
      const refused = (error: NodeJS.ErrnoException) => reject(new EngineUnreachable(path, socketReason(error, path)));
      socket.once("error", refused);
      socket.once("connect", () => {
        socket.off("error", refused);
        resolve(socket);
      });
    });
}
