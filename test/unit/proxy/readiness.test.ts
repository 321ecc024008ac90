import { createServer, type Server } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import type { ReadinessCheck } from "../../../src/proxy/model.js";
import { addressOf, afterFailedTry, httpAnswers, probeText, tcpAccepts, tryProbe } from "../../../src/proxy/readiness.js";
import { containerFacts } from "./facts.js";
import { closedPort, onUndo, startServer, undo } from "./loopback.js";

afterEach(undo);

/** A TCP server that accepts and never answers: an HTTP try against it must give up at its timeout. */
async function silentServer(): Promise<number> {
  const server: Server = createServer((socket) => onUndo(() => void socket.destroy()));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  onUndo(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("not listening");
  return address.port;
}

const running = containerFacts({ state: "running", addresses: { shared: "127.0.0.1" } });

describe("one try of a readiness check", () => {
  it("tcp: a listening port accepts, a closed one does not", async () => {
    const { port } = await startServer((_req, res) => res.end());
    expect(await tcpAccepts("127.0.0.1", port, 1_000)).toBe(true);
    expect(await tcpAccepts("127.0.0.1", await closedPort(), 1_000)).toBe(false);
  });

  it("http: 2xx and 3xx pass, 4xx and 5xx fail, the path is the one asked", async () => {
    const paths: string[] = [];
    const { port } = await startServer((req, res) => {
      paths.push(req.url ?? "");
      const status = Number((req.url ?? "").slice(1));
      res.writeHead(status, status === 302 ? { location: "/elsewhere" } : {}).end();
    });
    expect(await httpAnswers("127.0.0.1", port, "/200", 1_000)).toBe(true);
    expect(await httpAnswers("127.0.0.1", port, "/302", 1_000)).toBe(true);
    expect(await httpAnswers("127.0.0.1", port, "/404", 1_000)).toBe(false);
    expect(await httpAnswers("127.0.0.1", port, "/503", 1_000)).toBe(false);
    expect(paths).toEqual(["/200", "/302", "/404", "/503"]);
    expect(await httpAnswers("127.0.0.1", await closedPort(), "/", 1_000)).toBe(false);
  });

  it("http: a server that accepts and never answers fails the try at its timeout", async () => {
    const port = await silentServer();
    const began = Date.now();
    expect(await httpAnswers("127.0.0.1", port, "/", 300)).toBe(false);
    expect(Date.now() - began).toBeGreaterThanOrEqual(250);
    expect(Date.now() - began).toBeLessThan(2_000);
  });

  it("reaches the container at its address on its network", async () => {
    const { port } = await startServer((req, res) => res.writeHead(req.url === "/health" ? 204 : 500).end());
    expect(await tryProbe({ kind: "tcp", port }, running, async () => true, 1_000)).toBe(true);
    expect(await tryProbe({ kind: "http", port, path: "/health" }, running, async () => true, 1_000)).toBe(true);
    expect(await tryProbe({ kind: "http", port, path: "/" }, running, async () => true, 1_000)).toBe(false);
    // No address (stopped, or on no network): nothing to reach.
    expect(await tryProbe({ kind: "tcp", port }, { ...running, addresses: { shared: "" } }, async () => true, 1_000)).toBe(false);
  });

  it("runs a command inside the container as sh -c, and a failing exec is a failed try", async () => {
    const ran: { id: string; test: string[]; timeoutMs: number }[] = [];
    const exec = async (id: string, test: string[], timeoutMs: number) => {
      ran.push({ id, test, timeoutMs });
      return true;
    };
    expect(await tryProbe({ kind: "command", command: "pg_isready -U postgres" }, running, exec, 700)).toBe(true);
    expect(ran).toEqual([{ id: running.id, test: ["CMD-SHELL", "pg_isready -U postgres"], timeoutMs: 700 }]);
    expect(await tryProbe({ kind: "command", command: "true" }, running, () => Promise.reject(new Error("gone")), 700)).toBe(false);
  });

  it("picks the first network's address, in name order, skipping empty ones", () => {
    expect(addressOf(containerFacts({ addresses: { zeta: "10.0.0.9", alpha: "", beta: "10.0.0.2" } }))).toBe("10.0.0.2");
    expect(addressOf(containerFacts({ addresses: {} }))).toBeUndefined();
  });
});

describe("after a failed try", () => {
  const check: ReadinessCheck = { probe: { kind: "tcp", port: 5432 }, intervalMs: 1_000, timeoutMs: 10_000, retries: 3 };

  it("tries again one interval after the failed try began", () => {
    expect(afterFailedTry(check, 1, 0, 0, 40)).toEqual({ retryAt: 1_000 });
    expect(afterFailedTry(check, 2, 0, 1_000, 1_300)).toEqual({ retryAt: 2_000 });
  });

  it("fails once its retries are used up", () => {
    expect(afterFailedTry(check, 3, 0, 2_000, 2_010)).toEqual({ failed: "check 'tcp 5432' failed 3 times" });
  });

  it("fails once its timeout is reached, and makes its last try at the timeout itself", () => {
    const many = { ...check, retries: 100 };
    expect(afterFailedTry(many, 10, 0, 9_500, 9_600)).toEqual({ retryAt: 10_000 });
    expect(afterFailedTry(many, 11, 0, 10_000, 10_050)).toEqual({ failed: "check 'tcp 5432' did not pass within 10 s" });
  });

  it("names the probe as a label writes it", () => {
    expect(probeText({ kind: "http", port: 8080, path: "/health" })).toBe("http 8080 /health");
    expect(probeText({ kind: "command", command: "redis-cli ping" })).toBe("cmd redis-cli ping");
  });
});
