/**
 * The proxied listener: an HTTP/1.1 server hardened for what reaches it. Malformed requests are
 * answered 400 (431 for oversized headers, 408 for headers too slow) and their connection closed;
 * nothing a client sends can throw. Request bodies are not limited (the app decides), and no
 * request is timed out once its headers are in: downloads and streams may last hours.
 */
import { createServer, type IncomingMessage, type Server, ServerResponse, STATUS_CODES } from "node:http";
import type { Duplex } from "node:stream";

/** nginx's default `large_client_header_buffers` is 4 × 8k; 16 KiB of headers is plenty behind it. */
export const MAX_HEADER_BYTES = 16 * 1024;
/** Longer than nginx's upstream `keepalive_timeout` (60 s), so nginx, not us, closes idle connections: no reuse race. */
const KEEP_ALIVE_TIMEOUT_MS = 75_000;
const HEADERS_TIMEOUT_MS = 20_000;

export interface ListenerOptions {
  host: string;
  port: number;
  onRequest(req: IncomingMessage, res: ServerResponse): void;
  onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  /** How long a client may take to send its request headers (default 20 s). */
  headersTimeoutMs?: number;
}

export interface Listener {
  server: Server;
  port: number;
  /** Stops listening and closes every connection at once, tunnels included. */
  close(): Promise<void>;
}

export async function startListener(options: ListenerOptions): Promise<Listener> {
  const headersTimeout = options.headersTimeoutMs ?? HEADERS_TIMEOUT_MS;
  const server = createServer({
    maxHeaderSize: MAX_HEADER_BYTES,
    requestTimeout: 0,
    headersTimeout,
    connectionsCheckingInterval: Math.min(headersTimeout, 5_000),
    keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
    noDelay: true,
  });
  // Upgraded sockets leave the server's own bookkeeping: they are tracked here so close() reaches them.
  const tunnels = new Set<Duplex>();
  server.on("request", options.onRequest);
  server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    tunnels.add(socket);
    socket.once("close", () => tunnels.delete(socket));
    options.onUpgrade(req, socket, head);
  });
  server.on("clientError", answerClientError);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : options.port;
  return {
    server,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        for (const socket of tunnels) socket.destroy();
      }),
  };
}

/** The status a request the parser refused gets: 431 for oversized headers, 408 for slow ones, else 400. */
export function clientErrorStatus(code: string | undefined): number {
  if (code === "HPE_HEADER_OVERFLOW") return 431;
  if (code === "ERR_HTTP_REQUEST_TIMEOUT") return 408;
  return 400;
}

function answerClientError(error: Error & { code?: string }, socket: Duplex): void {
  // A reset peer hears nothing; a response already under way must not get a second head in its body.
  if (error.code === "ECONNRESET" || !socket.writable || responseUnderway(socket)) {
    socket.destroy();
    return;
  }
  const status = clientErrorStatus(error.code);
  socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`, () => socket.destroy());
}

/** Node keeps the response in progress on its socket (the same check its own default handler makes). */
function responseUnderway(socket: Duplex): boolean {
  const message: unknown = Reflect.get(socket, "_httpMessage");
  return message instanceof ServerResponse && message.headersSent;
}
