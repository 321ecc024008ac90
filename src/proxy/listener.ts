/**
 * The proxied listener: an HTTP/1.1 server hardened for what reaches it. Node's own `clientError`
 * handling is what we want and is kept (tested): a malformed request gets 400 (431 for oversized
 * headers, 408 for headers too slow) and its connection is closed, never a second head inside a
 * response under way, and nothing a client sends can throw. Request bodies are not limited (the
 * app decides), and no request is timed out once its headers are in: downloads and streams may
 * last hours.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
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
