import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { Engine, localEngine } from "../../../src/docker/engine.js";
import { dialSocket, EngineAnswerError, EngineUnreachable } from "../../../src/docker/transport.js";

// A stand-in Engine on a unix socket that writes raw bytes: the client's HTTP reading is tested
// on exactly what a server may send (chunks split anywhere, a body cut short).
const folder = mkdtempSync(join(tmpdir(), "deploy-vps-engine-"));
afterAll(() => rmSync(folder, { recursive: true, force: true }));
let servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  servers = [];
});

/** The request lines the server saw, and an Engine for it. */
async function engineAnswering(answer: (socket: Socket) => void, timeoutMs?: number): Promise<{ engine: Engine; requests: string[] }> {
  const path = join(folder, `${servers.length}-${Math.random().toString(16).slice(2)}.sock`);
  const requests: string[] = [];
  const server = createServer((socket) => {
    let head = "";
    // The client hangs up on answers it refuses.
    socket.on("error", () => undefined);
    socket.on("data", (chunk) => {
      head += chunk.toString("latin1");
      if (head.includes("\r\n\r\n")) {
        requests.push(head.split("\r\n")[0] ?? "");
        answer(socket);
      }
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(path, resolve));
  return { engine: new Engine(dialSocket(path), path, timeoutMs), requests };
}

const container = { Id: "4f2a", Names: ["/shop-web-1"], State: "running", Status: "Up", Labels: { "com.docker.compose.project": "shop" }, Created: 1 };

/** Writes the pieces one by one, each in its own tick, so the client sees them apart. */
async function writeSlowly(socket: Socket, pieces: string[]): Promise<void> {
  for (const piece of pieces) {
    socket.write(piece);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  socket.end();
}

function chunked(body: string, size: number): string[] {
  const pieces = ["HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"];
  for (let i = 0; i < body.length; i += size) {
    const part = body.slice(i, i + size);
    // The chunk's size line and its data arrive in separate writes, split mid-way.
    pieces.push(`${Buffer.byteLength(part).toString(16)}\r\n${part.slice(0, 2)}`, `${part.slice(2)}\r\n`);
  }
  pieces.push("0\r", "\n\r\n");
  return pieces;
}

describe("Engine over a socket", () => {
  it("reads a chunked answer split anywhere", async () => {
    const body = JSON.stringify([container, { ...container, Id: "77aa", Names: ["/shop-db-1"] }]);
    const { engine } = await engineAnswering((socket) => void writeSlowly(socket, chunked(body, 40)));
    const containers = await engine.containers({ label: ["com.docker.compose.project"] });
    expect(containers.map((c) => c.id)).toEqual(["4f2a", "77aa"]);
  });

  it("reads a sized answer, and sends every container and the label filter as JSON", async () => {
    const body = JSON.stringify([container]);
    const { engine, requests } = await engineAnswering((socket) =>
      socket.end(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n${body}`),
    );
    await engine.containers({ label: ["com.docker.compose.project.working_dir=/srv/my app"] });
    const url = new URL(`http://docker${(requests[0] ?? "").split(" ")[1]}`);
    expect(url.pathname).toBe("/containers/json");
    expect(url.searchParams.get("all")).toBe("1");
    expect(JSON.parse(url.searchParams.get("filters") ?? "")).toEqual({ label: ["com.docker.compose.project.working_dir=/srv/my app"] });
  });

  it("reads the version", async () => {
    const body = JSON.stringify({ Version: "20.10.24", ApiVersion: "1.41" });
    const { engine, requests } = await engineAnswering((socket) => socket.end(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n${body}`));
    expect(await engine.version()).toEqual({ version: "20.10.24", apiVersion: "1.41" });
    expect(requests).toEqual(["GET /version HTTP/1.1"]);
  });

  it("gives Docker's own message for an error status", async () => {
    const body = '{"message":"invalid filter \'labl\'"}';
    const { engine } = await engineAnswering((socket) => socket.end(`HTTP/1.1 400 Bad Request\r\nContent-Length: ${body.length}\r\n\r\n${body}`));
    await expect(engine.info()).rejects.toThrow(new EngineAnswerError("Docker's Engine API answered GET /info with 400: invalid filter 'labl'"));
  });

  it("refuses an answer that is not JSON", async () => {
    const { engine } = await engineAnswering((socket) => void writeSlowly(socket, chunked("<html>proxy error</html>", 5)));
    await expect(engine.info()).rejects.toThrow(/GET \/info with something that is not JSON: <html>proxy error<\/html>/);
  });

  it("refuses JSON of another shape, naming the field", async () => {
    const body = JSON.stringify([{ ...container, Labels: "shop" }]);
    const { engine } = await engineAnswering((socket) => socket.end(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n${body}`));
    await expect(engine.containers({ label: [] })).rejects.toThrow(/answered GET \/containers\/json\?.* unexpectedly: container \[0\]\.Labels is not an object/);
  });

  it("refuses a chunked body cut short", async () => {
    const { engine } = await engineAnswering((socket) => void writeSlowly(socket, chunked(JSON.stringify([container]), 40).slice(0, -2)));
    await expect(engine.info()).rejects.toThrow(/GET \/info: the answer was cut short/);
  });

  it("refuses a body cut short", async () => {
    const { engine } = await engineAnswering((socket) => socket.end("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n[{\"Id\""));
    await expect(engine.info()).rejects.toThrow(new EngineAnswerError("Docker's Engine API, GET /info: the answer was cut short (aborted)"));
  });

  it("refuses an answer too large to hold", async () => {
    const { engine } = await engineAnswering((socket) => {
      socket.write("HTTP/1.1 200 OK\r\nContent-Length: 40000000\r\n\r\n");
      socket.end(Buffer.alloc(33 * 1024 * 1024, 32));
    });
    await expect(engine.info()).rejects.toThrow(/GET \/info: the answer exceeds 33554432 bytes/);
  });

  it("gives up on a server that never answers", async () => {
    const { engine } = await engineAnswering(() => undefined, 200);
    await expect(engine.info()).rejects.toThrow(/GET \/info: no answer within 0.2 s/);
  });

  it("tells a socket it cannot reach apart from a bad answer", async () => {
    const missing = join(folder, "none.sock");
    const error = await localEngine(missing).info().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EngineUnreachable);
    expect(error).toMatchObject({ socket: missing, reason: `no such socket: ${missing}` });
  });
});
