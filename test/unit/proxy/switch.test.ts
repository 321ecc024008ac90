import { afterEach, describe, expect, it } from "vitest";
import { InFlight } from "../../../src/proxy/drain.js";
import type { ContainerFacts } from "../../../src/proxy/model.js";
import type { SwitchRequest } from "../../../src/proxy/status.js";
import { runSwitch, type SwitchWork, untilReady } from "../../../src/proxy/switch.js";
import { containerFacts } from "./facts.js";
import { startServer, undo } from "./loopback.js";

afterEach(undo);

/** A running container whose address is loopback: the probes reach a test server. */
const running = (overrides: Partial<ContainerFacts> = {}) =>
  containerFacts({ id: "new", name: "shop-web-2", state: "running", addresses: { shop_default: "127.0.0.1" }, ...overrides });
const old = containerFacts({ id: "old", name: "shop-web-1", state: "running" });

const request = (changes: Partial<SwitchRequest> = {}): SwitchRequest => ({ service: "shop", to: "new", drainSeconds: 1, readySeconds: 1, after: "remove", ...changes });

/** A switch's work whose side effects are recorded in `steps`. */
function work(target: ContainerFacts, port: number, changes: Partial<SwitchWork> = {}) {
  const steps: string[] = [];
  const inFlight = new InFlight();
  const done: SwitchWork = {
    request: request(),
    target,
    port,
    factsOf: (id) => (id === target.id ? target : undefined),
    runInContainer: () => Promise.resolve(true),
    inFlight,
    pin: () => {
      steps.push("pin");
      return Promise.resolve({ from: [old], addresses: ["10.0.0.1:8080"] });
    },
    retire: (container, remove) => {
      steps.push(`${remove ? "remove" : "stop"} ${container.name}`);
      return Promise.resolve();
    },
    log: (message, fields) => steps.push(`${message} ${String(fields.phase)}`),
    ...changes,
  };
  return { work: done, steps, inFlight };
}

const noWait = { factsOf: () => undefined, runInContainer: () => Promise.resolve(true) };

describe("untilReady", () => {
  it("is ready once its port accepts a connection, without a health path", async () => {
    const app = await startServer((_req, res) => res.end("ok"));
    const facts = running();
    expect(await untilReady("new", app.port, { ...noWait, factsOf: () => facts }, 1_000)).toEqual({ ok: true });
  });

  it("with a health path, needs a 2xx or 3xx answer to a GET of it: an open port is not enough", async () => {
    const paths: string[] = [];
    const app = await startServer((req, res) => {
      paths.push(req.url ?? "");
      res.writeHead(req.url === "/_health" ? 204 : 404).end();
    });
    const healthy = running({ labels: { "deploy-vps.proxy.health-path": "/_health" } });
    expect(await untilReady("new", app.port, { ...noWait, factsOf: () => healthy }, 1_000)).toEqual({ ok: true });
    const broken = running({ labels: { "deploy-vps.proxy.health-path": "/missing" } });
    expect(await untilReady("new", app.port, { ...noWait, factsOf: () => broken }, 300)).toEqual({
      ok: false,
      reason: `was not ready within 0.3 s (GET /missing on port ${app.port} does not answer 2xx or 3xx)`,
    });
    expect(paths).toContain("/_health");
  });

  it("runs the Docker healthcheck now, and waits for it before the port", async () => {
    const app = await startServer((_req, res) => res.end("ok"));
    const facts = running({ healthTest: ["CMD", "true"], health: "starting" });
    let tries = 0;
    const runInContainer = () => Promise.resolve(++tries >= 3);
    expect(await untilReady("new", app.port, { factsOf: () => facts, runInContainer }, 5_000)).toEqual({ ok: true });
    expect(tries).toBe(3);
    const never = await untilReady("new", app.port, { factsOf: () => facts, runInContainer: () => Promise.resolve(false) }, 300);
    expect(never).toEqual({ ok: false, reason: "was not ready within 0.3 s (its Docker healthcheck does not pass)" });
  });

  it("fails at once when the container exits or is removed", async () => {
    const began = Date.now();
    expect(await untilReady("new", 8080, { ...noWait, factsOf: () => running({ state: "exited", exitCode: 3 }) }, 10_000)).toEqual({
      ok: false,
      reason: "exited (exit code 3) before it was ready",
    });
    expect(await untilReady("new", 8080, noWait, 10_000)).toEqual({ ok: false, reason: "was removed before it was ready" });
    expect(Date.now() - began).toBeLessThan(1_000);
  });
});

describe("runSwitch", () => {
  it("refuses with 422 and never moves the route when the new container is not ready in time", async () => {
    const { work: w, steps } = work(running({ state: "created" }), 1, { request: request({ readySeconds: 0.2 }) });
    const { answer } = await runSwitch(w);
    expect(answer).toEqual({ status: 422, body: { error: "shop-web-2 was not ready within 0.2 s (it is created); shop still forwards where it did", container: "shop-web-2" } });
    expect(steps).toEqual(["switch unready"]);
  });

  it("once ready: pins, lets the old exchanges finish, then removes the old container, and answers what it did", async () => {
    const app = await startServer((_req, res) => res.end("ok"));
    const { work: w, steps, inFlight } = work(running(), app.port);
    let cut = false;
    const end = inFlight.begin("10.0.0.1:8080", () => (cut = true));
    setTimeout(end, 100);
    const { answer, drained } = await runSwitch(w);
    expect(steps).toEqual(["switch ready", "pin", "switch switched", "switch drained", "remove shop-web-1", "switch removed"]);
    expect(cut).toBe(false);
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ service: "shop", to: { id: "new", name: "shop-web-2", port: app.port }, from: [{ id: "old", name: "shop-web-1" }], cut: 0, after: "remove" });
    expect(drained?.ms).toBeGreaterThanOrEqual(90);
  });

  it("cuts what outlives the drain (a websocket), then stops the old container, or keeps it", async () => {
    const app = await startServer((_req, res) => res.end("ok"));
    const stopped = work(running(), app.port, { request: request({ drainSeconds: 0.1, after: "stop" }) });
    let cut = 0;
    stopped.inFlight.begin("10.0.0.1:8080", () => (cut += 1));
    const { answer } = await runSwitch(stopped.work);
    expect(answer.body).toMatchObject({ cut: 1, after: "stop" });
    expect(cut).toBe(1);
    expect(stopped.steps.slice(-2)).toEqual(["stop shop-web-1", "switch stopped"]);

    const kept = work(running(), app.port, { request: request({ after: "keep" }) });
    expect((await runSwitch(kept.work)).answer.body).toMatchObject({ cut: 0, after: "keep" });
    expect(kept.steps.at(-1)).toBe("switch kept");
    expect(kept.steps.filter((step) => step.startsWith("stop") || step.startsWith("remove"))).toEqual([]);
  });

  it("answers 500 naming the old container's trouble when it cannot be retired (the route has moved)", async () => {
    const app = await startServer((_req, res) => res.end("ok"));
    const { work: w } = work(running(), app.port, { retire: () => Promise.reject(new Error("Docker said no")) });
    const { answer } = await runSwitch(w);
    expect(answer).toEqual({ status: 500, body: { error: "shop switched to shop-web-2, but the old container could not be retired: Docker said no" } });
  });
});
