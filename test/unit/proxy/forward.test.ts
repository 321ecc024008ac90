import { IncomingMessage, request } from "node:http";
import { connect, Socket } from "node:net";
import type { Duplex } from "node:stream";
import { afterEach, describe, expect, it } from "vitest";
import WebSocket, { WebSocketServer } from "ws";
import { endToEndHeaders, forwardedHeaders, Forwarder, type Upstream } from "../../../src/proxy/forward.js";
import { startListener } from "../../../src/proxy/listener.js";
import { closedPort, onUndo, rawExchange, send, sleep, startServer, undo, waitFor } from "./loopback.js";

afterEach(undo);

interface Proxy {
  port: number;
  forwarder: Forwarder;
  /** onEnd calls, one entry per exchange. */
  ends: number[];
}

/** The listener and a Forwarder in front of `upstream`; `holdMs` delays forwarding as a cold start would. */
async function proxyTo(upstream: Upstream, options: { trustForwarded?: boolean; holdMs?: number; maxBodyBytes?: number } = {}): Promise<Proxy> {
  const forwarder = new Forwarder({ maxBodyBytes: options.maxBodyBytes });
  const ends: number[] = [];
  const forwardOptions = { trustForwarded: options.trustForwarded ?? false };
  const exchange = () => {
    const index = ends.push(0) - 1;
    return { onEnd: () => (ends[index] = (ends[index] ?? 0) + 1) };
  };
  const listener = await startListener({
    host: "127.0.0.1",
    port: 0,
    onRequest: (req, res) => {
      const forward = () => forwarder.http(req, res, upstream, exchange(), forwardOptions);
      if (options.holdMs === undefined) forward();
      else {
        req.pause();
        setTimeout(forward, options.holdMs);
      }
    },
    onUpgrade: (req, socket, head) => forwarder.upgrade(req, socket, head, upstream, exchange(), forwardOptions),
  });
  onUndo(async () => {
    forwarder.close();
    await listener.close();
  });
  return { port: listener.port, forwarder, ends };
}

const at = (port: number): Upstream => ({ host: "127.0.0.1", port });

/** An upstream that answers with what it received, as JSON. */
async function echoServer() {
  return startServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      res.setHeader("set-cookie", ["a=1", "b=2"]);
      res.writeHead(req.method === "POST" ? 201 : 200, { "content-type": "application/json", "x-app": "yes" });
      res.end(JSON.stringify({ method: req.method, url: req.url, headers: req.headers, body: Buffer.concat(chunks).toString() }));
    });
  });
}

interface Echo {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: string;
}
const echoed = (body: string): Echo => JSON.parse(body) as Echo;

describe("forwardedHeaders", () => {
  function incoming(headers: Record<string, string>, remoteAddress = "203.0.113.9"): IncomingMessage {
    const socket = new Socket();
    Object.defineProperty(socket, "remoteAddress", { value: remoteAddress });
    const req = new IncomingMessage(socket);
    req.headers = headers;
    return req;
  }

  it("sets them from this connection when the sender is not trusted, appending to X-Forwarded-For", () => {
    const req = incoming({ host: "shop.example", "x-forwarded-for": "10.0.0.1", "x-forwarded-proto": "https", "x-forwarded-host": "evil.example", "x-real-ip": "10.0.0.2" });
    expect(forwardedHeaders(req, false)).toEqual({
      "x-forwarded-for": "10.0.0.1, 203.0.113.9",
      "x-forwarded-proto": "http",
      "x-forwarded-host": "shop.example",
      "x-real-ip": "203.0.113.9",
    });
  });

  it("keeps a trusted sender's Proto, Host and Real-IP, and still appends the peer to X-Forwarded-For", () => {
    const req = incoming({ host: "127.0.0.1:8890", "x-forwarded-for": "198.51.100.4", "x-forwarded-proto": "https", "x-forwarded-host": "shop.example", "x-real-ip": "198.51.100.4" }, "127.0.0.1");
    expect(forwardedHeaders(req, true)).toEqual({
      "x-forwarded-for": "198.51.100.4, 127.0.0.1",
      "x-forwarded-proto": "https",
      "x-forwarded-host": "shop.example",
      "x-real-ip": "198.51.100.4",
    });
  });

  it("fills in what a trusted sender left out, and writes IPv4-mapped peers as plain IPv4", () => {
    const req = incoming({ host: "shop.example" }, "::ffff:192.0.2.1");
    expect(forwardedHeaders(req, true)).toEqual({ "x-forwarded-for": "192.0.2.1", "x-forwarded-proto": "http", "x-forwarded-host": "shop.example", "x-real-ip": "192.0.2.1" });
  });
});

describe("endToEndHeaders", () => {
  it("drops hop-by-hop headers and those Connection names, keeping case and repeats", () => {
    const raw = ["Host", "a", "Connection", "keep-alive, X-Secret", "X-Secret", "s", "Keep-Alive", "timeout=5", "TE", "trailers", "Trailer", "X", "Transfer-Encoding", "chunked", "Proxy-Authorization", "Basic eA==", "Proxy-Connection", "keep-alive", "Upgrade", "websocket", "Cookie", "a=1", "Cookie", "b=2"];
    expect(endToEndHeaders(raw, false)).toEqual(["Host", "a", "Cookie", "a=1", "Cookie", "b=2"]);
    expect(endToEndHeaders(raw, true)).toEqual(["Host", "a", "Upgrade", "websocket", "Cookie", "a=1", "Cookie", "b=2"]);
  });
});

/** Resolves once `count` has not grown for a while (or after 10 s). */
async function stalled(count: () => number): Promise<void> {
  const deadline = Date.now() + 10_000;
  let last = -1;
  let steady = 0;
  while (steady < 3 && Date.now() < deadline) {
    await sleep(100);
    steady = count() === last ? steady + 1 : 0;
    last = count();
  }
}

describe("Forwarder.http", () => {
  it("forwards method, path, body and the original Host, and passes back status, headers (repeated ones too) and body", async () => {
    const upstream = await echoServer();
    const proxy = await proxyTo(at(upstream.port));
    const answer = await send(proxy.port, { method: "POST", path: "/cart?item=3", headers: { host: "shop.example", "content-type": "text/plain" }, body: "hello" });
    expect(answer.status).toBe(201);
    expect(answer.headers["x-app"]).toBe("yes");
    expect(answer.headers["set-cookie"]).toEqual(["a=1", "b=2"]);
    const seen = echoed(answer.body);
    expect(seen).toMatchObject({ method: "POST", url: "/cart?item=3", body: "hello" });
    expect(seen.headers.host).toBe("shop.example");
    expect(seen.headers["content-type"]).toBe("text/plain");
    expect(proxy.ends).toEqual([1]);
  });

  it("drops hop-by-hop headers both ways", async () => {
    const upstream = await startServer((req, res) => {
      res.writeHead(200, { Connection: "X-Up", "X-Up": "1", "Proxy-Authenticate": "Basic", "Keep-Alive": "timeout=99", "X-Kept": "yes" });
      res.end(JSON.stringify(req.headers));
    });
    const proxy = await proxyTo(at(upstream.port));
    const answer = await send(proxy.port, { headers: { Connection: "keep-alive, X-Secret", "X-Secret": "s", "Keep-Alive": "timeout=1", TE: "trailers", "Proxy-Authorization": "Basic eA==" } });
    const seen = JSON.parse(answer.body) as Record<string, string>;
    expect(Object.keys(seen)).not.toContain("x-secret");
    expect(Object.keys(seen)).not.toContain("te");
    expect(Object.keys(seen)).not.toContain("proxy-authorization");
    expect(seen["keep-alive"]).toBeUndefined();
    expect(answer.headers["x-kept"]).toBe("yes");
    expect(answer.headers["x-up"]).toBeUndefined();
    expect(answer.headers["proxy-authenticate"]).toBeUndefined();
    expect(answer.headers["keep-alive"]).not.toBe("timeout=99");
  });

  it("sets X-Forwarded-* and X-Real-IP as nginx does, keeping them only from a trusted sender", async () => {
    const upstream = await echoServer();
    const headers = { host: "shop.example", "x-forwarded-for": "198.51.100.4", "x-forwarded-proto": "https", "x-forwarded-host": "front.example", "x-real-ip": "198.51.100.4" };
    const untrusted = echoed((await send((await proxyTo(at(upstream.port))).port, { headers })).body).headers;
    expect(untrusted).toMatchObject({ "x-forwarded-for": "198.51.100.4, 127.0.0.1", "x-forwarded-proto": "http", "x-forwarded-host": "shop.example", "x-real-ip": "127.0.0.1" });
    const trusted = echoed((await send((await proxyTo(at(upstream.port), { trustForwarded: true })).port, { headers })).body).headers;
    expect(trusted).toMatchObject({ "x-forwarded-for": "198.51.100.4, 127.0.0.1", "x-forwarded-proto": "https", "x-forwarded-host": "front.example", "x-real-ip": "198.51.100.4" });
  });

  it("forwards a POST body the daemon held (paused) for seconds, with a length or chunked", async () => {
    const upstream = await echoServer();
    const proxy = await proxyTo(at(upstream.port), { holdMs: 1_500 });
    const body = "x".repeat(200_000);
    const sized = await send(proxy.port, { method: "POST", headers: { "content-length": String(body.length) }, body });
    expect(echoed(sized.body).body).toBe(body);
    const chunked = await new Promise<string>((resolve, reject) => {
      const req = request({ host: "127.0.0.1", port: proxy.port, method: "POST", agent: false, headers: { "transfer-encoding": "chunked" } });
      req.on("error", reject);
      req.on("response", (res: IncomingMessage) => {
        let text = "";
        res.on("data", (chunk: Buffer) => (text += chunk.toString()));
        res.on("end", () => resolve(text));
      });
      req.write("part one, ");
      setTimeout(() => req.end("part two"), 200);
    });
    expect(echoed(chunked).body).toBe("part one, part two");
    expect(echoed(chunked).headers["transfer-encoding"]).toBe("chunked");
  });

  it("refuses a body over the limit with 413, by its length before sending or by counting a chunked one", async () => {
    let received = 0;
    const upstream = await startServer((req, res) => {
      req.on("data", (chunk: Buffer) => (received += chunk.length));
      req.on("end", () => res.end("ok"));
    });
    const proxy = await proxyTo(at(upstream.port), { maxBodyBytes: 1000 });
    const sized = await send(proxy.port, { method: "POST", headers: { "content-length": "1001" }, body: "x".repeat(1001) });
    expect(sized.status).toBe(413);
    expect(received).toBe(0);
    const chunked = await new Promise<number>((resolve, reject) => {
      const req = request({ host: "127.0.0.1", port: proxy.port, method: "POST", agent: false, headers: { "transfer-encoding": "chunked" } });
      req.on("error", reject);
      req.on("response", (res: IncomingMessage) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.write("x".repeat(600));
      setTimeout(() => req.write("x".repeat(600)), 100);
    });
    expect(chunked).toBe(413);
    expect(received).toBeLessThanOrEqual(1000);
    const within = await send(proxy.port, { method: "POST", headers: { "content-length": "1000" }, body: "x".repeat(1000) });
    expect(within.status).toBe(200);
  });

  it("sends a body-less POST with Content-Length 0, not an invented chunked body", async () => {
    const upstream = await echoServer();
    const proxy = await proxyTo(at(upstream.port));
    const seen = echoed((await send(proxy.port, { method: "POST" })).body).headers;
    expect(seen["content-length"]).toBe("0");
    expect(seen["transfer-encoding"]).toBeUndefined();
  });

  it("streams server-sent events as the app writes them, head first", async () => {
    let release: () => void = () => undefined;
    const upstream = await startServer(async (_req, res) => {
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.flushHeaders();
      for (const event of ["one", "two", "three"]) {
        await new Promise<void>((resolve) => (release = resolve));
        res.write(`data: ${event}\n\n`);
      }
      res.end();
    });
    const proxy = await proxyTo(at(upstream.port));
    const events: string[] = [];
    await new Promise<void>((resolve, reject) => {
      const req = request({ host: "127.0.0.1", port: proxy.port, agent: false, path: "/events" }, (res) => {
        // The head arrives before any event is written: the app may wait long for its first one.
        release();
        res.on("data", (chunk: Buffer) => {
          events.push(chunk.toString());
          release();
        });
        res.on("end", resolve);
      });
      req.on("error", reject);
      req.end();
    });
    expect(events.join("")).toBe("data: one\n\ndata: two\n\ndata: three\n\n");
  });

  it("keeps a quiet answer open past the upstream sockets' idle timeout (a long poll, a quiet event stream)", async () => {
    const upstream = await startServer((_req, res) => {
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write("data: first\n\n");
      setTimeout(() => res.end("data: late\n\n"), 5_000);
    });
    const proxy = await proxyTo(at(upstream.port));
    const answer = await send(proxy.port);
    expect(answer.body).toBe("data: first\n\ndata: late\n\n");
    expect(answer.complete).toBe(true);
  });

  it("passes a large download with backpressure: a client that stops reading stops the app's writes", async () => {
    const total = 128 * 1024 * 1024;
    const chunk = Buffer.alloc(1024 * 1024, 7);
    let written = 0;
    const upstream = await startServer((_req, res) => {
      res.writeHead(200, { "content-length": String(total) });
      const pump = (): void => {
        while (written < total) {
          written += chunk.length;
          if (!res.write(chunk)) {
            res.once("drain", pump);
            return;
          }
        }
        res.end();
      };
      pump();
    });
    const proxy = await proxyTo(at(upstream.port));
    const { writtenWhilePaused, received } = await new Promise<{ writtenWhilePaused: number; received: number }>((resolve, reject) => {
      const req = request({ host: "127.0.0.1", port: proxy.port, agent: false }, (res) => {
        res.pause();
        void stalled(() => written).then(() => {
          const writtenWhilePaused = written;
          let received = 0;
          res.on("data", (data: Buffer) => (received += data.length));
          res.on("end", () => resolve({ writtenWhilePaused, received }));
          res.resume();
        });
      });
      req.on("error", reject);
      req.end();
    });
    // Socket buffers on two connections hold a few MiB; buffering in the proxy would let it all through.
    expect(writtenWhilePaused).toBeLessThan(48 * 1024 * 1024);
    expect(received).toBe(total);
  });

  it("answers 502 with a problem document naming nothing internal when the upstream refuses the connection", async () => {
    const port = await closedPort();
    const proxy = await proxyTo(at(port));
    const answer = await send(proxy.port, { method: "POST", body: "data" });
    expect(answer.status).toBe(502);
    expect(answer.headers["content-type"]).toBe("application/problem+json");
    expect(JSON.parse(answer.body)).toMatchObject({ status: 502, title: "Bad Gateway" });
    expect(answer.body).not.toContain(String(port));
    expect(answer.body).not.toContain("127.0.0.1");
    expect(proxy.ends).toEqual([1]);
  });

  it.each([
    ["with a length", { "content-length": "1000" }],
    ["chunked", {}],
  ])("cuts the client when the upstream dies mid-response (%s), never a fake complete answer", async (_name, headers) => {
    const upstream = await startServer((_req, res) => {
      res.writeHead(200, headers);
      res.write("partial");
      setTimeout(() => res.socket?.destroy(), 50);
    });
    const proxy = await proxyTo(at(upstream.port));
    const answer = await send(proxy.port);
    expect(answer.body).toBe("partial");
    expect(answer.complete).toBe(false);
    await waitFor(() => proxy.ends[0] === 1, "the exchange to end");
  });

  it.each([
    ["before the answer", false],
    ["during a streamed answer", true],
  ])("aborts the upstream request when the client goes away %s", async (_name, answerFirst) => {
    const upstream = await startServer((_req, res) => {
      if (answerFirst) {
        res.writeHead(200);
        res.write("first part");
      }
    });
    const proxy = await proxyTo(at(upstream.port));
    const req = request({ host: "127.0.0.1", port: proxy.port, agent: false });
    req.on("error", () => undefined);
    const answered = new Promise((resolve) => req.on("response", resolve));
    req.end();
    if (answerFirst) await answered;
    else await waitFor(() => upstream.open.size === 1, "the upstream request");
    req.destroy();
    await waitFor(() => upstream.open.size === 0, "the upstream connection to close");
    expect(proxy.ends).toEqual([1]);
  });

  it("ends a held exchange whose client already left without connecting upstream", async () => {
    const upstream = await echoServer();
    const proxy = await proxyTo(at(upstream.port), { holdMs: 300 });
    const socket = connect(proxy.port, "127.0.0.1");
    socket.write("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    await sleep(100);
    socket.destroy();
    await waitFor(() => proxy.ends[0] === 1, "the exchange to end");
    expect(upstream.accepted()).toBe(0);
  });

  it("sends a request without a body again when the app closed the kept-alive connection it reused, never a POST", async () => {
    const answered = new WeakMap<object, number>();
    let posts = 0;
    // Each connection answers once, then drops the next request as an app closing an idle connection would.
    const upstream = await startServer((req, res) => {
      if (req.method === "POST") posts += 1;
      const count = answered.get(req.socket) ?? 0;
      answered.set(req.socket, count + 1);
      if (count === 0) res.end("fresh connection");
      else req.socket.destroy();
    });
    const proxy = await proxyTo(at(upstream.port));
    expect((await send(proxy.port)).body).toBe("fresh connection");
    expect((await send(proxy.port)).body).toBe("fresh connection");
    expect(upstream.accepted()).toBe(2);
    expect((await send(proxy.port, { method: "POST", body: "once" })).status).toBe(502);
    expect(posts).toBe(1);
    expect(proxy.ends).toEqual([1, 1, 1]);
  });

  it("reuses upstream connections, and close() closes them", async () => {
    const upstream = await echoServer();
    const proxy = await proxyTo(at(upstream.port));
    for (let request = 0; request < 10; request += 1) expect((await send(proxy.port)).status).toBe(200);
    expect(upstream.accepted()).toBe(1);
    expect(proxy.ends).toEqual(Array(10).fill(1));
    expect(upstream.open.size).toBe(1);
    proxy.forwarder.close();
    // Well before the idle timeout would close it.
    await waitFor(() => upstream.open.size === 0, "the keep-alive connection to close", 1_000);
  });
});

describe("Forwarder.upgrade", () => {
  async function echoSockets() {
    const upstream = await startServer((_req, res) => res.end());
    const wss = new WebSocketServer({ server: upstream.server });
    const seen: IncomingMessage[] = [];
    wss.on("connection", (ws, req) => {
      seen.push(req);
      ws.on("message", (data) => ws.send(`echo:${String(data)}`));
    });
    onUndo(() => new Promise<void>((resolve) => wss.close(() => resolve())));
    return { upstream, wss, seen };
  }

  /** An upgraded socket is this test's own: it is read, so that its peer leaving is seen. */
  function closeWhenEnded(socket: Duplex): void {
    socket.on("end", () => socket.destroy());
    socket.on("error", () => undefined);
    socket.resume();
  }

  function open(port: number): Promise<WebSocket> {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/chat`, { headers: { host: "shop.example" } });
    onUndo(() => ws.terminate());
    return new Promise((resolve, reject) => {
      ws.once("open", () => resolve(ws));
      ws.once("error", reject);
    });
  }

  it("tunnels a websocket both ways, with the original Host and X-Forwarded-For", async () => {
    const { upstream, seen } = await echoSockets();
    const proxy = await proxyTo(at(upstream.port));
    const ws = await open(proxy.port);
    const reply = new Promise<string>((resolve) => ws.once("message", (data) => resolve(String(data))));
    ws.send("hi");
    expect(await reply).toBe("echo:hi");
    expect(seen[0]?.headers.host).toBe("shop.example");
    expect(seen[0]?.headers["x-forwarded-for"]).toBe("127.0.0.1");
    expect(proxy.ends).toEqual([0]);
  });

  it("closes the upstream side when the client leaves, and ends the exchange once", async () => {
    const { upstream } = await echoSockets();
    const proxy = await proxyTo(at(upstream.port));
    const ws = await open(proxy.port);
    ws.terminate();
    await waitFor(() => upstream.open.size === 0, "the upstream socket to close");
    await waitFor(() => proxy.ends[0] === 1, "the exchange to end");
    await sleep(50);
    expect(proxy.ends).toEqual([1]);
  });

  it.each([
    ["the client", "client"],
    ["the upstream", "upstream"],
  ])("cuts the whole tunnel when %s resets its connection", async (_name, resets) => {
    let upstreamSocket: Duplex | undefined;
    const upstream = await startServer(
      (_req, res) => res.end(),
      (_req, socket) => {
        upstreamSocket = socket;
        closeWhenEnded(socket);
        socket.write("HTTP/1.1 101 Switching Protocols\r\nUpgrade: raw\r\nConnection: Upgrade\r\n\r\n");
      },
    );
    const proxy = await proxyTo(at(upstream.port));
    const client = connect(proxy.port, "127.0.0.1");
    client.on("error", () => undefined);
    const clientClosed = new Promise((resolve) => client.on("close", resolve));
    client.write("GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: raw\r\n\r\n");
    await new Promise((resolve) => client.once("data", resolve));
    if (resets === "client") client.resetAndDestroy();
    else if (upstreamSocket instanceof Socket) upstreamSocket.resetAndDestroy();
    await clientClosed;
    await waitFor(() => upstream.open.size === 0, "the upstream socket to close");
    await waitFor(() => proxy.ends[0] === 1, "the exchange to end");
  });

  it("gives up the upstream request when the client leaves before the upstream answered", async () => {
    const upstream = await startServer((_req, res) => res.end(), (_req, socket) => closeWhenEnded(socket));
    const proxy = await proxyTo(at(upstream.port));
    const client = connect(proxy.port, "127.0.0.1");
    client.write("GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n");
    await waitFor(() => upstream.open.size === 1, "the upstream request");
    client.destroy();
    await waitFor(() => upstream.open.size === 0, "the upstream socket to close");
    await waitFor(() => proxy.ends[0] === 1, "the exchange to end");
  });

  it("closes the client side when the upstream leaves", async () => {
    const { upstream, wss } = await echoSockets();
    const proxy = await proxyTo(at(upstream.port));
    const ws = await open(proxy.port);
    const closed = new Promise((resolve) => ws.once("close", resolve));
    for (const client of wss.clients) client.terminate();
    await closed;
    await waitFor(() => proxy.ends[0] === 1, "the exchange to end");
  });

  it("passes bytes that came with either side's head (sent before the 101 was read)", async () => {
    const upstream = await startServer(
      (_req, res) => res.end(),
      (_req, socket) => {
        socket.write("HTTP/1.1 101 Switching Protocols\r\nUpgrade: raw\r\nConnection: Upgrade\r\n\r\nWELCOME;");
        socket.on("data", (data: Buffer) => socket.end(`got:${data.toString()}`));
      },
    );
    const proxy = await proxyTo(at(upstream.port));
    const received = await rawExchange(proxy.port, "GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: raw\r\n\r\nEARLY");
    expect(received).toMatch(/^HTTP\/1\.1 101 Switching Protocols\r\n/);
    expect(received).toMatch(/\r\nUpgrade: raw\r\n/);
    expect(received.split("\r\n\r\n")[1]).toBe("WELCOME;got:EARLY");
  });

  it("keeps what the client sends while the upstream has not answered yet, and passes it on once it has", async () => {
    const upstream = await startServer(
      (_req, res) => res.end(),
      (_req, socket) => {
        socket.on("data", (data: Buffer) => socket.end(`got:${data.toString()}`));
        setTimeout(() => socket.write("HTTP/1.1 101 Switching Protocols\r\nUpgrade: raw\r\nConnection: Upgrade\r\n\r\n"), 300);
      },
    );
    const proxy = await proxyTo(at(upstream.port));
    const client = connect(proxy.port, "127.0.0.1");
    let received = "";
    client.on("data", (chunk: Buffer) => (received += chunk.toString()));
    const closed = new Promise((resolve) => client.on("close", resolve));
    client.write("GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: raw\r\n\r\n");
    await waitFor(() => upstream.open.size === 1, "the upstream request");
    client.write("EARLY");
    await closed;
    expect(received.split("\r\n\r\n")[1]).toBe("got:EARLY");
  });

  it("ends the tunnel when the upstream closes, even if the client keeps its half open", async () => {
    const upstream = await startServer(
      (_req, res) => res.end(),
      (_req, socket) => socket.end("HTTP/1.1 101 Switching Protocols\r\nUpgrade: raw\r\nConnection: Upgrade\r\n\r\nbye"),
    );
    const proxy = await proxyTo(at(upstream.port));
    const client = connect({ port: proxy.port, host: "127.0.0.1", allowHalfOpen: true });
    onUndo(() => void client.destroy());
    client.on("error", () => undefined);
    client.write("GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: raw\r\n\r\n");
    await waitFor(() => proxy.ends[0] === 1, "the exchange to end");
  });

  it("passes a refused upgrade back as an ordinary answer", async () => {
    const upstream = await startServer(
      (_req, res) => res.end(),
      (_req, socket) => socket.end("HTTP/1.1 403 Forbidden\r\nContent-Length: 4\r\n\r\nnope"),
    );
    const proxy = await proxyTo(at(upstream.port));
    const status = await new Promise<number>((resolve) => {
      const ws = new WebSocket(`ws://127.0.0.1:${proxy.port}/`);
      ws.on("error", () => undefined);
      ws.on("unexpected-response", (_req, res: IncomingMessage) => {
        let body = "";
        res.on("data", (chunk: Buffer) => (body += chunk.toString()));
        res.on("end", () => resolve(body === "nope" ? (res.statusCode ?? 0) : -1));
      });
    });
    expect(status).toBe(403);
    await waitFor(() => proxy.ends[0] === 1, "the exchange to end");
  });

  it("answers 502 when the upstream refuses the connection", async () => {
    const proxy = await proxyTo(at(await closedPort()));
    const received = await rawExchange(proxy.port, "GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n");
    expect(received).toMatch(/^HTTP\/1\.1 502 Bad Gateway\r\n/);
    expect(received).toContain("application/problem+json");
    await waitFor(() => proxy.ends[0] === 1, "the exchange to end");
  });
});
