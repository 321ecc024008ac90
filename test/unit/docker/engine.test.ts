import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { chooseApiVersion, Engine, localEngine, probeCommand } from "../../../src/docker/engine.js";
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

interface Seen {
  method: string;
  path: string;
  body: string;
  contentType?: string;
}

/** A stand-in Engine that answers each request by method and path (a raw HTTP answer, or its own writes). */
async function engineRouting(route: (seen: Seen, socket: Socket) => string | undefined, timeoutMs?: number): Promise<{ engine: Engine; seen: Seen[] }> {
  const seen: Seen[] = [];
  const { engine } = await engineAnswering(() => undefined, timeoutMs);
  const server = servers.at(-1);
  server?.removeAllListeners("connection");
  server?.on("connection", (socket: Socket) => {
    let data = "";
    socket.on("error", () => undefined);
    socket.on("data", (chunk) => {
      data += chunk.toString("utf8");
      const end = data.indexOf("\r\n\r\n");
      if (end < 0) return;
      const head = data.slice(0, end).split("\r\n");
      const length = Number(/content-length: (\d+)/i.exec(data.slice(0, end))?.[1] ?? 0);
      if (Buffer.byteLength(data.slice(end + 4)) < length) return;
      const [method = "", path = ""] = (head[0] ?? "").split(" ");
      const request: Seen = { method, path, body: data.slice(end + 4) };
      const contentType = /content-type: (.*)/i.exec(data.slice(0, end))?.[1];
      if (contentType) request.contentType = contentType;
      seen.push(request);
      data = "";
      const answer = route(request, socket);
      if (answer !== undefined) socket.end(answer);
    });
  });
  return { engine, seen };
}

const json = (status: number, body: unknown) => {
  const text = JSON.stringify(body);
  return `HTTP/1.1 ${status} X\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`;
};
const empty = (status: number) => `HTTP/1.1 ${status} X\r\nContent-Length: 0\r\n\r\n`;
const inspectAnswer = (extra: Record<string, unknown> = {}) => ({
  Id: "abc",
  Name: "/shop-web-1",
  State: { Status: "running", ExitCode: 0, StartedAt: "2026-11-30T12:00:00Z", FinishedAt: "0001-01-01T00:00:00Z" },
  Config: { Labels: {}, Tty: false, ...extra },
  NetworkSettings: { Networks: {} },
});

describe("the runtime daemon's calls", () => {
  it.each([
    ["1.41", "1.41"],
    ["1.47", "1.47"],
    ["1.51", "1.47"],
    ["2.0", "1.47"],
  ])("speak the engine's version %s as %s, asked once", async (engineVersion, spoken) => {
    const { engine, seen } = await engineRouting(({ path }) =>
      path === "/version" ? json(200, { Version: "x", ApiVersion: engineVersion }) : json(200, inspectAnswer()),
    );
    expect(await engine.negotiate()).toBe(spoken);
    await engine.inspectContainer("abc");
    await engine.inspectContainer("abc");
    expect(seen.map(({ method, path }) => `${method} ${path}`)).toEqual(["GET /version", `GET /v${spoken}/containers/abc/json`, `GET /v${spoken}/containers/abc/json`]);
  });

  it("asks the version again after a failed negotiation", async () => {
    let refuse = true;
    const { engine } = await engineRouting(({ path }) => {
      if (path !== "/version") return json(200, inspectAnswer());
      const answer = refuse ? json(500, { message: "starting up" }) : json(200, { Version: "x", ApiVersion: "1.44" });
      refuse = false;
      return answer;
    });
    await expect(engine.negotiate()).rejects.toThrow("answered GET /version with 500: starting up");
    expect(await engine.negotiate()).toBe("1.44");
  });

  it("reads a missing container as undefined, and other refusals as errors", async () => {
    const { engine } = await engineRouting(({ path }) => {
      if (path === "/version") return json(200, { Version: "x", ApiVersion: "1.41" });
      if (path.includes("/gone/")) return json(404, { message: "No such container: gone" });
      return json(500, { message: "boom" });
    });
    expect(await engine.inspectContainer("gone")).toBeUndefined();
    expect(await engine.memoryBytes("gone")).toBeUndefined();
    await expect(engine.inspectContainer("other")).rejects.toThrow("answered GET /v1.41/containers/other/json with 500: boom");
  });

  it("inspects every compose container in list order, leaving out one removed meanwhile", async () => {
    const ids = ["c1", "c2", "gone", "c4", "c5", "c6", "c7", "c8", "c9", "c10"];
    const { engine, seen } = await engineRouting(({ path }, socket) => {
      if (path === "/version") return json(200, { Version: "x", ApiVersion: "1.41" });
      if (path.startsWith("/v1.41/containers/json?")) return json(200, ids.map((id) => ({ ...container, Id: id })));
      const id = /containers\/([^/]+)\/json/.exec(path)?.[1] ?? "";
      if (id === "gone") return json(404, { message: "No such container" });
      // Later ones answer first: the order kept is the list's.
      setTimeout(() => socket.end(json(200, { ...inspectAnswer(), Id: id })), 50 - ids.indexOf(id) * 5);
      return undefined;
    });
    const facts = await engine.composeContainers();
    expect(facts.map((fact) => fact.id)).toEqual(ids.filter((id) => id !== "gone"));
    const listed = new URL(`http://docker${seen[1]?.path ?? ""}`);
    expect(JSON.parse(listed.searchParams.get("filters") ?? "")).toEqual({ label: ["com.docker.compose.project"] });
    expect(listed.searchParams.get("all")).toBe("1");
  });

  it("starts and stops: 204 and 304 alike, a start saying which it was", async () => {
    const statuses = [204, 304, 204, 304];
    const { engine, seen } = await engineRouting(({ path }) =>
      path === "/version" ? json(200, { Version: "x", ApiVersion: "1.41" }) : empty(statuses.shift() ?? 500),
    );
    expect(await engine.startContainer("abc")).toBe("started");
    expect(await engine.startContainer("abc")).toBe("running");
    await engine.stopContainer("abc", 2);
    await engine.stopContainer("abc", 0);
    await expect(engine.startContainer("abc")).rejects.toThrow("answered POST /v1.41/containers/abc/start with 500");
    expect(seen.slice(1, 5).map(({ method, path }) => `${method} ${path}`)).toEqual([
      "POST /v1.41/containers/abc/start",
      "POST /v1.41/containers/abc/start",
      "POST /v1.41/containers/abc/stop?t=2",
      "POST /v1.41/containers/abc/stop?t=0",
    ]);
  });

  it("a start of a container compose is replacing (marked for removal) or that is gone says so, and is no error", async () => {
    const answers = [json(409, { message: "container is marked for removal and cannot be started" }), json(404, { message: "No such container: abc" }), json(409, { message: "conflict" })];
    const { engine } = await engineRouting(({ path }) => (path === "/version" ? json(200, { Version: "x", ApiVersion: "1.41" }) : (answers.shift() ?? empty(500))));
    expect(await engine.startContainer("abc")).toBe("gone");
    expect(await engine.startContainer("abc")).toBe("gone");
    await expect(engine.startContainer("abc")).rejects.toThrow("with 409: conflict");
  });

  it("waits a stop out for the container's own grace period, past the usual timeout", async () => {
    const { engine, seen } = await engineRouting(({ path }, socket) => {
      if (path === "/version") return json(200, { Version: "x", ApiVersion: "1.41" });
      if (path.endsWith("/json")) return json(200, inspectAnswer({ StopTimeout: 1 }));
      setTimeout(() => socket.end(empty(204)), 400);
      return undefined;
    }, 200);
    await engine.stopContainer("abc");
    expect(seen.at(-1)?.path).toBe("/v1.41/containers/abc/stop");
  });

  it("runs a CMD-SHELL probe through sh in an exec, and waits for its exit code", async () => {
    const states = [{ Running: true, ExitCode: null }, { Running: false, ExitCode: 0 }];
    const { engine, seen } = await engineRouting(({ method, path }) => {
      if (path === "/version") return json(200, { Version: "x", ApiVersion: "1.41" });
      if (path === "/v1.41/containers/abc/exec") return json(201, { Id: "e1" });
      if (method === "POST" && path === "/v1.41/exec/e1/start") return "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.docker.raw-stream\r\n\r\n\u0001\u0000\u0000\u0000\u0000\u0000\u0000\u0003ok\n";
      if (path === "/v1.41/exec/e1/json") return json(200, states.shift());
      return json(500, { message: `unexpected ${method} ${path}` });
    });
    expect(await engine.runProbe("abc", ["CMD-SHELL", "test -f /tmp/ready"], 2_000)).toBe(true);
    expect(seen[1]).toMatchObject({ contentType: "application/json" });
    expect(JSON.parse(seen[1]?.body ?? "")).toEqual({ AttachStdout: true, AttachStderr: true, Cmd: ["/bin/sh", "-c", "test -f /tmp/ready"] });
    expect(JSON.parse(seen[2]?.body ?? "")).toEqual({ Detach: false, Tty: false });
    expect(seen.filter(({ path }) => path === "/v1.41/exec/e1/json")).toHaveLength(2);
  });

  it("fails a probe in a container that is not running (409), and runs no exec for NONE", async () => {
    const { engine, seen } = await engineRouting(({ path }) =>
      path === "/version" ? json(200, { Version: "x", ApiVersion: "1.41" }) : json(409, { message: "Container abc is not running" }),
    );
    expect(await engine.runProbe("abc", ["CMD", "true"], 1_000)).toBe(false);
    expect(await engine.runProbe("abc", ["NONE"], 1_000)).toBe(true);
    expect(seen).toHaveLength(2);
  });

  it("follows events split anywhere, and reconnects when the stream ends", async () => {
    const event = (action: string) => JSON.stringify({ Type: "container", Action: action, Actor: { ID: "abc", Attributes: {} }, time: 1 });
    let connections = 0;
    const { engine, seen } = await engineRouting(({ path }, socket) => {
      if (path === "/version") return json(200, { Version: "x", ApiVersion: "1.41" });
      connections++;
      socket.write("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n");
      if (connections > 1) return undefined;
      const text = `${event("start")}\n${event("health_status: healthy")}\n`;
      void writeSlowly(socket, [text.slice(0, 30), text.slice(30, 90), text.slice(90)]);
      return undefined;
    });
    const log: string[] = [];
    const stop = new AbortController();
    engine.followEvents(
      {
        onEvent: ({ action, health }) => log.push(`${action}${health ? ` ${health}` : ""}`),
        onConnected: () => log.push("connected"),
        onDisconnected: (reason) => log.push(`lost: ${reason}`),
      },
      stop.signal,
    );
    const deadline = Date.now() + 3_000;
    while (log.length < 5 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    stop.abort();
    expect(log).toEqual(["connected", "start", "health_status healthy", "lost: Docker ended the event stream", "connected"]);
    const asked = new URL(`http://docker${seen.find(({ path }) => path.startsWith("/v1.41/events?"))?.path ?? ""}`);
    expect(JSON.parse(asked.searchParams.get("filters") ?? "")).toEqual({
      type: ["container"],
      event: ["create", "start", "die", "stop", "destroy", "health_status", "rename", "kill", "oom"],
    });
  });
});

describe("probeCommand and chooseApiVersion", () => {
  it("run a test as Docker does", () => {
    expect(probeCommand(["CMD", "curl", "-f", "http://localhost"])).toEqual(["curl", "-f", "http://localhost"]);
    expect(probeCommand(["CMD-SHELL", "curl -f http://localhost || exit 1"])).toEqual(["/bin/sh", "-c", "curl -f http://localhost || exit 1"]);
    expect(probeCommand(["NONE"])).toBeUndefined();
    expect(probeCommand([])).toBeUndefined();
    expect(() => probeCommand(["SHELL", "x"])).toThrow("a healthcheck test starts with 'SHELL', not CMD, CMD-SHELL or NONE");
  });

  it("compare versions as numbers, not as text", () => {
    expect(chooseApiVersion("1.9")).toBe("1.9");
    expect(chooseApiVersion("1.100")).toBe("1.47");
    expect(() => chooseApiVersion("v1.41")).toThrow("the answer.ApiVersion 'v1.41' is not MAJOR.MINOR");
  });
});
