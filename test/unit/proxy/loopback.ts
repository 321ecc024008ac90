/** Real loopback servers and clients for the proxy's HTTP layer tests; everything made is undone by `undo()`. */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, request, type Server, type ServerResponse } from "node:http";
import { connect, type Socket } from "node:net";
import type { Duplex } from "node:stream";

const undoers: (() => Promise<void> | void)[] = [];

/** Runs at the end of each test (afterEach). */
export async function undo(): Promise<void> {
  for (const undoer of undoers.splice(0).reverse()) await undoer();
}

export function onUndo(undoer: () => Promise<void> | void): void {
  undoers.push(undoer);
}

export interface TestServer {
  server: Server;
  port: number;
  /** Connections open now. */
  open: Set<Socket>;
  /** Connections ever accepted. */
  accepted: () => number;
}

export async function startServer(onRequest: (req: IncomingMessage, res: ServerResponse) => void, onUpgrade?: (req: IncomingMessage, socket: Duplex, head: Buffer) => void): Promise<TestServer> {
  const server = createServer(onRequest);
  const open = new Set<Socket>();
  let accepted = 0;
  server.on("connection", (socket: Socket) => {
    accepted += 1;
    open.add(socket);
    socket.on("close", () => open.delete(socket));
  });
  if (onUpgrade !== undefined) server.on("upgrade", onUpgrade);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  onUndo(
    () =>
      new Promise<void>((resolve) => {
        for (const socket of open) socket.destroy();
        server.close(() => resolve());
      }),
  );
  return { server, port: portOf(server), open, accepted: () => accepted };
}

export function portOf(server: Server): number {
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("server not listening on TCP");
  return address.port;
}

/** A port nothing listens on (taken, then freed). */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = portOf(server);
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  /** False when the connection was cut before the body's end. */
  complete: boolean;
}

export function send(port: number, options: { method?: string; path?: string; headers?: Record<string, string>; body?: string | Buffer } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, agent: false, method: options.method ?? "GET", path: options.path ?? "/", headers: options.headers });
    req.on("error", reject);
    req.on("response", (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("error", () => undefined);
      res.on("close", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString(), complete: res.complete }));
    });
    req.end(options.body);
  });
}

/** Writes raw bytes on a new connection and collects what comes back until the server closes it. */
export function rawExchange(port: number, data: string | Buffer, timeoutMs = 5_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    let received = "";
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the server did not close the connection; it sent ${JSON.stringify(received)}`));
    }, timeoutMs);
    socket.on("data", (chunk: Buffer) => (received += chunk.toString("latin1")));
    socket.on("error", () => undefined);
    socket.on("close", () => {
      clearTimeout(timer);
      resolve(received);
    });
    socket.write(data);
  });
}

export async function waitFor(condition: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
