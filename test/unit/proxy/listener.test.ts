import type { IncomingMessage, ServerResponse } from "node:http";
import { connect } from "node:net";
import type { Duplex } from "node:stream";
import { afterEach, describe, expect, it } from "vitest";
import { type ListenerOptions, startListener } from "../../../src/proxy/listener.js";
import { onUndo, rawExchange, send, sleep, undo, waitFor } from "./loopback.js";

afterEach(undo);

/** A listener whose requests answer with their body's length. */
async function listen(options: Partial<ListenerOptions> = {}) {
  const upgrades: Duplex[] = [];
  const listener = await startListener({
    host: "127.0.0.1",
    port: 0,
    onRequest: (req: IncomingMessage, res: ServerResponse) => {
      let bytes = 0;
      req.on("data", (chunk: Buffer) => (bytes += chunk.length));
      req.on("end", () => res.end(`${req.method} ${req.url} ${bytes}`));
    },
    onUpgrade: (_req, socket) => upgrades.push(socket),
    ...options,
  });
  onUndo(() => listener.close());
  return { ...listener, upgrades };
}

const still = async (port: number) => expect((await send(port, { path: "/after" })).body).toBe("GET /after 0");

describe("startListener", () => {
  it("listens on a free port, hands requests and upgrades over, and close() ends everything, tunnels included", async () => {
    const listener = await listen();
    expect((await send(listener.port, { method: "POST", path: "/x", body: "abc" })).body).toBe("POST /x 3");
    const tunnel = connect(listener.port, "127.0.0.1");
    tunnel.write("GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n");
    await waitFor(() => listener.upgrades.length === 1, "the upgrade");
    const tunnelClosed = new Promise((resolve) => tunnel.on("close", resolve));
    await Promise.race([listener.close(), sleep(2_000).then(() => Promise.reject(new Error("close() did not finish")))]);
    await tunnelClosed;
    await expect(send(listener.port)).rejects.toThrow(/ECONNREFUSED/);
  });

  it("fails to start on a port already taken", async () => {
    const listener = await listen();
    await expect(startListener({ host: "127.0.0.1", port: listener.port, onRequest: () => undefined, onUpgrade: () => undefined })).rejects.toThrow(/EADDRINUSE/);
  });

  it.each([
    ["garbage", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 not http at all\r\n\r\n"],
    ["a bad Content-Length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: abc\r\n\r\n"],
    ["two Content-Lengths", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab"],
    ["Content-Length with Transfer-Encoding", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"],
    ["no Host", "GET / HTTP/1.1\r\n\r\n"],
    ["a bad chunk size", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"],
  ])("answers 400 to %s, closes that connection and goes on serving", async (_name, bytes) => {
    const listener = await listen();
    const received = await rawExchange(listener.port, bytes);
    expect(received).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    await still(listener.port);
  });

  it("answers 431 to headers over 16 KiB and accepts them under it", async () => {
    const listener = await listen();
    expect((await send(listener.port, { headers: { "x-big": "a".repeat(12 * 1024) } })).status).toBe(200);
    const received = await rawExchange(listener.port, `GET / HTTP/1.1\r\nHost: a\r\nX-Big: ${"a".repeat(17 * 1024)}\r\n\r\n`);
    expect(received).toMatch(/^HTTP\/1\.1 431 Request Header Fields Too Large\r\n/);
    await still(listener.port);
  });

  it("answers 408 to headers too slow to come, but never times out a slow body", async () => {
    const listener = await listen({ headersTimeoutMs: 300 });
    expect(listener.server.requestTimeout).toBe(0);
    const received = await rawExchange(listener.port, "GET / HTTP/1.1\r\nHost: a\r\n");
    expect(received).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
    const slowBody = await new Promise<string>((resolve) => {
      const socket = connect(listener.port, "127.0.0.1");
      let text = "";
      socket.on("data", (chunk: Buffer) => {
        text += chunk.toString();
        if (text.endsWith("POST / 3")) socket.end();
      });
      socket.on("close", () => resolve(text));
      socket.write("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\n");
      let sent = 0;
      const timer = setInterval(() => {
        socket.write("x");
        if (++sent === 3) clearInterval(timer);
      }, 400);
    });
    expect(slowBody).toMatch(/^HTTP\/1\.1 200 OK\r\n[^]*POST \/ 3$/);
  });

  it("survives a half request whose client hangs up", async () => {
    const listener = await listen();
    const socket = connect(listener.port, "127.0.0.1");
    socket.write("POST /upload HTTP/1.1\r\nHost: a\r\nContent-Le");
    await sleep(50);
    socket.destroy();
    const bodyCut = connect(listener.port, "127.0.0.1");
    bodyCut.write("POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\nonly some");
    await sleep(50);
    bodyCut.destroy();
    await still(listener.port);
  });

  it("does not write an error head into a response already under way", async () => {
    const listener = await listen({
      onRequest: (_req, res) => {
        res.writeHead(200, { "content-type": "text/plain" });
        res.write("streaming;");
      },
    });
    const received = await rawExchange(listener.port, "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\nzz\r\n");
    expect(received).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(received).toContain("streaming;");
    expect(received).not.toContain("400 Bad Request");
  });
});
