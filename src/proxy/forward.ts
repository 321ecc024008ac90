/**
 * The proxy's forwarding layer: one request (or one websocket tunnel) from a client to the upstream
 * a route named, with Node's own `http`/`net`. Bodies stream both ways with backpressure and are
 * never buffered; request bodies are not size-limited here (the app decides what it accepts).
 */
import { Agent, type ClientRequest, type ClientRequestArgs, type IncomingMessage, type OutgoingHttpHeaders, request, type ServerResponse, STATUS_CODES } from "node:http";
import { connect, type Socket } from "node:net";
import type { Duplex } from "node:stream";

export interface Upstream {
  host: string;
  port: number;
}

/** The daemon's view of one forwarded exchange: `onEnd` is called exactly once, when it is over. */
export interface Exchange {
  onEnd(): void;
}

export interface ForwardOptions {
  /** The peer is the host's nginx: its X-Forwarded-Proto/-Host and X-Real-IP are kept. */
  trustForwarded: boolean;
}

/** Headers that describe one connection, never the message: RFC 9110 §7.6.1, plus the legacy ones nginx drops. */
const HOP_BY_HOP = new Set(["connection", "keep-alive", "proxy-connection", "proxy-authenticate", "proxy-authorization", "te", "trailer", "transfer-encoding", "upgrade"]);

/** Set by the proxy from this connection (or kept from a trusted sender), never copied blindly. */
const FORWARDED = new Set(["x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "x-real-ip"]);

/** Also dropped from requests: the listener has already answered `Expect: 100-continue` itself. */
const REQUEST_ONLY = new Set([...FORWARDED, "expect"]);

const BAD_GATEWAY = JSON.stringify({ type: "about:blank", title: "Bad Gateway", status: 502, detail: "The service did not answer." });
const BAD_GATEWAY_HEADERS = {
  "content-type": "application/problem+json",
  "content-length": Buffer.byteLength(BAD_GATEWAY),
  "cache-control": "no-store",
};

const TOO_LARGE = JSON.stringify({ type: "about:blank", title: "Content Too Large", status: 413, detail: "The request body is larger than this proxy accepts." });
const TOO_LARGE_HEADERS = { "content-type": "application/problem+json", "content-length": Buffer.byteLength(TOO_LARGE), "cache-control": "no-store", connection: "close" };

/** The default bound on one request body: large uploads pass, an endless one does not. */
export const DEFAULT_MAX_BODY_BYTES = 1024 ** 3;

/** Idle keep-alive sockets to an upstream are closed before Node's own 5 s server timeout can race a reuse. */
const FREE_SOCKET_TIMEOUT_MS = 4_000;

export class Forwarder {
  private readonly agents = new Map<string, Agent>();
  private readonly maxSockets: number;
  private readonly maxBodyBytes: number;

  constructor(options: { maxSocketsPerUpstream?: number; maxBodyBytes?: number } = {}) {
    this.maxSockets = options.maxSocketsPerUpstream ?? 256;
    this.maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  }

  http(req: IncomingMessage, res: ServerResponse, upstream: Upstream, exchange: Exchange, options: ForwardOptions): void {
    // The client may have left while the daemon held its request (a cold start).
    if (res.destroyed) {
      exchange.onEnd();
      return;
    }
    if (Number(req.headers["content-length"] ?? 0) > this.maxBodyBytes) {
      res.on("close", () => exchange.onEnd());
      res.writeHead(413, TOO_LARGE_HEADERS).end(TOO_LARGE);
      return;
    }
    let upstreamRequest = this.send(req, res, upstream, options);
    upstreamRequest.on("error", () => {
      // The app closed a kept-alive connection as it was reused: a request without a body is sent
      // once more on a new one, as nginx does; anything else is the app's failure.
      if (upstreamRequest.reusedSocket && !res.headersSent && !res.destroyed && replayable(req)) {
        upstreamRequest = this.send(req, res, upstream, options);
        upstreamRequest.on("error", () => failed(res));
        upstreamRequest.end();
      } else failed(res);
    });
    res.on("close", () => {
      // The client went away before the answer was complete: nothing more is wanted upstream.
      if (!res.writableFinished) upstreamRequest.destroy();
      exchange.onEnd();
    });
    if (!hasBody(req)) {
      upstreamRequest.end();
      return;
    }
    // A chunked body has no length to check first: it is counted as it passes.
    if (req.headers["content-length"] === undefined) {
      let received = 0;
      req.on("data", (chunk: Buffer) => {
        received += chunk.length;
        if (received <= this.maxBodyBytes) return;
        req.unpipe(upstreamRequest);
        // Its failure is this answer's doing, not a 502.
        upstreamRequest.removeAllListeners("error").on("error", () => undefined);
        upstreamRequest.destroy();
        if (res.headersSent) res.destroy();
        else res.writeHead(413, TOO_LARGE_HEADERS).end(TOO_LARGE);
      });
    }
    req.pipe(upstreamRequest);
  }

  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, upstream: Upstream, exchange: Exchange, options: ForwardOptions): void {
    if (socket.destroyed) {
      exchange.onEnd();
      return;
    }
    let answered = false;
    // A client that hangs up before the upstream answers is gone (Node's server keeps reading the
    // socket, unflowing: what the client sends meanwhile waits in it for the tunnel).
    socket.on("end", destroySelf);
    socket.on("error", destroySelf);
    socket.on("close", () => {
      upstreamRequest.destroy();
      exchange.onEnd();
    });
    // Tunnels never return to a pool: each gets its own connection, outside the keep-alive agent.
    const upstreamRequest = request({
      createConnection: connectDirect,
      host: upstream.host,
      port: upstream.port,
      method: req.method,
      path: req.url,
      headers: requestHeaders(req, options.trustForwarded, true),
    });
    upstreamRequest.on("upgrade", (upstreamResponse: IncomingMessage, upstreamSocket: Socket, upstreamHead: Buffer) => {
      answered = true;
      socket.off("end", destroySelf);
      upstreamSocket.setNoDelay(true);
      socket.write(responseHead(upstreamResponse, [...endToEndHeaders(upstreamResponse.rawHeaders, true), "Connection", "upgrade"]));
      if (upstreamHead.length > 0) socket.write(upstreamHead);
      if (head.length > 0) upstreamSocket.write(head);
      tunnel(socket, upstreamSocket);
    });
    upstreamRequest.on("response", (upstreamResponse: IncomingMessage) => {
      // A refused upgrade is an ordinary answer, delimited by closing the connection.
      answered = true;
      socket.write(responseHead(upstreamResponse, [...endToEndHeaders(upstreamResponse.rawHeaders, false), "Connection", "close"]));
      upstreamResponse.on("close", () => {
        if (!upstreamResponse.complete) socket.destroy();
      });
      upstreamResponse.pipe(socket);
      socket.on("finish", destroySelf);
    });
    upstreamRequest.on("error", () => {
      if (!answered && socket.writable) socket.end(rawBadGateway, () => socket.destroy());
      else socket.destroy();
    });
    upstreamRequest.end();
  }

  /** Closes the idle keep-alive connections to every upstream (exchanges in progress go on). */
  close(): void {
    for (const agent of this.agents.values()) agent.destroy();
    this.agents.clear();
  }

  /** Sends the request's head upstream and relays the answer to `res`; the body is the caller's to send. */
  private send(req: IncomingMessage, res: ServerResponse, upstream: Upstream, options: ForwardOptions): ClientRequest {
    const upstreamRequest = request({
      agent: this.agentFor(upstream),
      host: upstream.host,
      port: upstream.port,
      method: req.method,
      path: req.url,
      headers: requestHeaders(req, options.trustForwarded, false),
    });
    // The agent's sockets do not take `noDelay` from its options; without it Nagle holds small writes ~40 ms.
    upstreamRequest.setNoDelay(true);
    upstreamRequest.on("response", (upstreamResponse: IncomingMessage) => {
      res.writeHead(upstreamResponse.statusCode ?? 502, endToEndHeaders(upstreamResponse.rawHeaders, false));
      // A response without a length is a stream (SSE, a long poll): its client hears the head at once.
      if (!hasHeader(upstreamResponse.rawHeaders, "content-length")) res.flushHeaders();
      upstreamResponse.on("close", () => {
        // The upstream died mid-body: cut the client too, so it cannot take a partial body for a whole one.
        if (!upstreamResponse.complete) res.destroy();
      });
      upstreamResponse.pipe(res);
    });
    return upstreamRequest;
  }

  private agentFor(upstream: Upstream): Agent {
    const key = `${upstream.host}:${upstream.port}`;
    let agent = this.agents.get(key);
    if (agent === undefined) {
      agent = new Agent({ keepAlive: true, maxSockets: this.maxSockets, maxFreeSockets: this.maxSockets, timeout: FREE_SOCKET_TIMEOUT_MS });
      this.agents.set(key, agent);
    }
    return agent;
  }
}

/**
 * The X-Forwarded-* and X-Real-IP headers to send upstream, as nginx sets them: X-Forwarded-For is
 * always appended to (`$proxy_add_x_forwarded_for`); the others are kept only from a trusted sender.
 */
export function forwardedHeaders(req: IncomingMessage, trustForwarded: boolean): OutgoingHttpHeaders {
  const headers = req.headers;
  const peer = peerAddress(req.socket.remoteAddress);
  const priorFor = headers["x-forwarded-for"];
  const forwarded: OutgoingHttpHeaders = {
    "x-forwarded-for": priorFor === undefined || priorFor === "" ? peer : `${String(priorFor)}, ${peer}`,
    "x-forwarded-proto": (trustForwarded && headers["x-forwarded-proto"]) || ("encrypted" in req.socket ? "https" : "http"),
    "x-real-ip": (trustForwarded && headers["x-real-ip"]) || peer,
  };
  const host = (trustForwarded && headers["x-forwarded-host"]) || headers.host;
  if (host !== undefined && host !== "") forwarded["x-forwarded-host"] = host;
  return forwarded;
}

/**
 * Raw headers (name, value, name, value…) without the hop-by-hop ones, nor those the Connection
 * header names; `keepUpgrade` keeps Upgrade for a websocket handshake.
 */
export function endToEndHeaders(raw: readonly string[], keepUpgrade: boolean, alsoDrop?: ReadonlySet<string>): string[] {
  const named = connectionTokens(raw);
  const kept: string[] = [];
  for (let index = 0; index + 1 < raw.length; index += 2) {
    const name = raw[index] ?? "";
    const lower = name.toLowerCase();
    if (keepUpgrade && lower === "upgrade") kept.push(name, raw[index + 1] ?? "");
    else if (!HOP_BY_HOP.has(lower) && !alsoDrop?.has(lower) && !named?.includes(lower)) kept.push(name, raw[index + 1] ?? "");
  }
  return kept;
}

/** The header names a Connection header lists (`Connection: close, X-Secret`), lower-cased. */
function connectionTokens(raw: readonly string[]): string[] | undefined {
  let tokens: string[] | undefined;
  for (let index = 0; index + 1 < raw.length; index += 2) {
    if (raw[index]?.toLowerCase() === "connection") {
      for (const token of (raw[index + 1] ?? "").split(",")) (tokens ??= []).push(token.trim().toLowerCase());
    }
  }
  return tokens;
}

function hasHeader(raw: readonly string[], lowerName: string): boolean {
  for (let index = 0; index < raw.length; index += 2) if (raw[index]?.toLowerCase() === lowerName) return true;
  return false;
}

/** The headers sent upstream: the client's end-to-end ones, the forwarded ones, and the framing of a body without a length. */
function requestHeaders(req: IncomingMessage, trustForwarded: boolean, upgrade: boolean): string[] {
  const headers = endToEndHeaders(req.rawHeaders, upgrade, REQUEST_ONLY);
  for (const [name, value] of Object.entries(forwardedHeaders(req, trustForwarded))) headers.push(name, String(value));
  if (upgrade) headers.push("Connection", "upgrade");
  // Node would send a GET's or DELETE's body unframed; a body without a length is re-chunked.
  else if (req.headers["transfer-encoding"] !== undefined) headers.push("Transfer-Encoding", "chunked");
  return headers;
}

function hasBody(req: IncomingMessage): boolean {
  return req.headers["transfer-encoding"] !== undefined || (req.headers["content-length"] ?? "0") !== "0";
}

/** A request that may be sent twice: a safe method and no body. */
function replayable(req: IncomingMessage): boolean {
  const method = req.method;
  return (method === "GET" || method === "HEAD" || method === "OPTIONS") && !hasBody(req);
}

/** The upstream failed: a client still waiting for a head gets a 502, one mid-answer is cut. */
function failed(res: ServerResponse): void {
  if (res.headersSent) res.destroy();
  else if (!res.destroyed) res.writeHead(502, BAD_GATEWAY_HEADERS).end(BAD_GATEWAY);
}

function peerAddress(address: string | undefined): string {
  if (address === undefined) return "unknown";
  return address.startsWith("::ffff:") ? address.slice(7) : address;
}

function responseHead(response: IncomingMessage, headers: readonly string[]): string {
  const status = response.statusCode ?? 502;
  let head = `HTTP/1.1 ${status} ${response.statusMessage || STATUS_CODES[status] || ""}\r\n`;
  for (let index = 0; index + 1 < headers.length; index += 2) head += `${headers[index]}: ${headers[index + 1]}\r\n`;
  return `${head}\r\n`;
}

const rawBadGateway = `HTTP/1.1 502 Bad Gateway\r\n${Object.entries(BAD_GATEWAY_HEADERS)
  .map(([name, value]) => `${name}: ${value}\r\n`)
  .join("")}Connection: close\r\n\r\n${BAD_GATEWAY}`;

/** Either side closing (or failing) closes the other. */
function tunnel(client: Duplex, upstream: Socket): void {
  const cut = (): void => {
    client.destroy();
    upstream.destroy();
  };
  upstream.on("error", cut);
  upstream.on("close", cut);
  client.on("close", cut);
  client.pipe(upstream);
  upstream.pipe(client);
}

function connectDirect(options: ClientRequestArgs): Socket {
  return connect({ host: options.host ?? undefined, port: Number(options.port), noDelay: true });
}

function destroySelf(this: Duplex): void {
  this.destroy();
}
