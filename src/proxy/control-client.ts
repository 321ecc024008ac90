import { request } from "node:http";
import type { Duplex } from "node:stream";
import type { Dial } from "../docker/transport.js";
import { EnvironmentError } from "../errors.js";

/** What the daemon answered: its status code and its JSON body. */
export interface ControlAnswer {
  status: number;
  body: unknown;
}

/** The control socket was reached but its answer makes no sense (not JSON, cut short). */
export class ControlAnswerError extends EnvironmentError {}

function send(stream: Duplex, method: string, path: string) {
  // The stream is handed over as the request's socket: one request each, no agent.
  const req = request({ method, path, headers: { Host: "deploy-vps-proxy" }, createConnection: () => stream });
  req.end();
  return req;
}

/**
 * One call over a stream just dialled, its JSON answer read to the end. `timeoutMs` bounds a
 * status read; a wake waits as long as the daemon does (its start timeout), so it passes none.
 */
export async function controlCall(dial: Dial, method: "GET" | "POST", path: string, timeoutMs?: number): Promise<ControlAnswer> {
  const stream = await dial();
  return new Promise((resolve, reject) => {
    const req = send(stream, method, path);
    const fail = (message: string) => {
      clearTimeout(timer);
      req.destroy();
      stream.destroy();
      reject(new ControlAnswerError(`the proxy's control socket, ${method} ${path}: ${message}`));
    };
    const timer = timeoutMs === undefined ? undefined : setTimeout(() => fail(`no answer within ${timeoutMs / 1000} s`), timeoutMs);
    req.on("error", (error) => fail(error.message));
    req.on("response", (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("error", (error) => fail(`the answer was cut short (${error.message})`));
      res.on("end", () => {
        clearTimeout(timer);
        stream.destroy();
        const text = Buffer.concat(chunks).toString("utf8");
        try {
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as unknown });
        } catch {
          fail(`HTTP ${res.statusCode}, not JSON: ${text.slice(0, 200)}`);
        }
      });
    });
  });
}

/** `GET path`, its body handed on chunk by chunk as it comes (logs, followed); resolves when it ends. */
export async function controlStream(dial: Dial, path: string, onChunk: (chunk: Buffer) => void): Promise<void> {
  const stream = await dial();
  return new Promise((resolve, reject) => {
    const req = send(stream, "GET", path);
    req.on("error", (error) => reject(new ControlAnswerError(`the proxy's control socket, GET ${path}: ${error.message}`)));
    req.on("response", (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        reject(new ControlAnswerError(`the proxy's control socket, GET ${path}: HTTP ${res.statusCode}`));
        return;
      }
      res.on("data", onChunk);
      res.on("error", (error) => reject(new ControlAnswerError(`the proxy's log stream was cut (${error.message})`)));
      res.on("end", () => {
        stream.destroy();
        resolve();
      });
    });
  });
}
