import { request } from "node:http";
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

export interface EngineResponse {
  status: number;
  body: Buffer;
}

/** Larger answers are refused rather than held in memory: no call here expects one. */
const MAX_BODY = 32 * 1024 * 1024;

/**
 * One HTTP/1.1 GET over a stream just dialled, read to its end (Node's parser handles
 * chunked and sized bodies alike). The stream is closed with the answer: one request each.
 */
export function exchange(stream: Duplex, path: string, timeoutMs: number): Promise<EngineResponse> {
  return new Promise((resolve, reject) => {
    const fail = (message: string) => {
      clearTimeout(timer);
      req.destroy();
      stream.destroy();
      reject(new EngineAnswerError(`Docker's Engine API, GET ${path}: ${message}`));
    };
    // No agent: the stream is handed over as the request's socket, and `Connection: close` sent.
    const req = request({ path, method: "GET", headers: { Host: "docker" }, createConnection: () => stream });
    const timer = setTimeout(() => fail(`no answer within ${timeoutMs / 1000} s`), timeoutMs);
    req.on("error", (error) => fail(error.message));
    req.on("response", (res) => {
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
        stream.destroy();
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) });
      });
    });
    req.end();
  });
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
