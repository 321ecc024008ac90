import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { callOutcome } from "../../../src/cli/proxy.js";
import { dialSocket } from "../../../src/docker/transport.js";
import { EnvironmentError, InputError } from "../../../src/errors.js";
import { controlCall, controlStream } from "../../../src/proxy/control-client.js";
import { controlRoute, type ProxyControl, startControlServer } from "../../../src/proxy/control-server.js";
import type { StatusDocument } from "../../../src/proxy/status.js";

const scratch = mkdtempSync(join(tmpdir(), "deploy-vps-control-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
let count = 0;
const socketPath = () => join(scratch, `${++count}.sock`);

const doc: StatusDocument = {
  services: [
    {
      name: "shop",
      project: "shop",
      hosts: ["shop.example.com"],
      mode: "blocking",
      state: "sleeping",
      reason: null,
      idle: "30m",
      idleLeftSeconds: null,
      lastStartMs: 4200,
      memoryBytes: null,
      memoryFreedBytes: 120_000_000,
      source: "labels on shop-web-1",
    },
  ],
  memoryFreedBytes: 120_000_000,
  configError: null,
  conflicts: [],
  version: "1",
};

/** A control whose log can be fed by the test, and which records the calls it got. */
function fakeControl() {
  const listeners = new Set<(line: string) => void>();
  const calls: string[] = [];
  const control: ProxyControl = {
    status: () => doc,
    wake: (name, dryRun) => {
      calls.push(`wake ${name} ${dryRun}`);
      if (name !== "shop") return Promise.resolve({ status: 404, body: { error: `no service named ${name}` } });
      if (dryRun) return Promise.resolve({ status: 200, body: { plan: { name, project: name, alreadyRunning: [], start: [] } } });
      return Promise.resolve({ status: 502, body: { state: "failed", reason: "exited with code 1", container: "shop-web-1", logs: ["boom"] } });
    },
    sleep: (name) => {
      calls.push(`sleep ${name}`);
      return Promise.resolve({ status: 200, body: { state: "sleeping" } });
    },
    switch: (request) => {
      calls.push(`switch ${request.service} ${request.to} ${request.after}`);
      return Promise.resolve({ status: 422, body: { error: `${request.to} was not ready within ${request.readySeconds} s`, container: "shop-web-2" } });
    },
    live: (name) => {
      calls.push(`live ${name}`);
      return { status: 200, body: { id: "a".repeat(64), name: "shop-web-1", port: 8080 } };
    },
    logs: (lines) => ["one", "two", "three"].slice(-lines),
    onLog: (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
  return { control, calls, emit: (line: string) => listeners.forEach((l) => l(line)), listening: () => listeners.size };
}

describe("controlRoute", () => {
  it("reads the contract's paths", () => {
    expect(controlRoute("GET", "/services")).toEqual({ kind: "status" });
    expect(controlRoute("POST", "/services/shop/wake?dry-run=1")).toEqual({ kind: "wake", name: "shop", dryRun: true });
    expect(controlRoute("POST", "/services/my%20shop/wake")).toEqual({ kind: "wake", name: "my shop", dryRun: false });
    expect(controlRoute("POST", "/services/shop/sleep")).toEqual({ kind: "sleep", name: "shop" });
    expect(controlRoute("GET", "/logs?lines=20&follow=1")).toEqual({ kind: "logs", lines: 20, follow: true });
    expect(controlRoute("GET", "/logs")).toEqual({ kind: "logs", lines: 200, follow: false });
  });

  it("reads a blue-green switch's parameters, with the defaults of drain and ready", () => {
    const id = "0123456789abcdef".repeat(4);
    expect(controlRoute("POST", `/services/shop/switch?to=${id}&port=1338&drain=45&ready=2m&after=stop`)).toEqual({
      kind: "switch",
      request: { service: "shop", to: id, port: 1338, drainSeconds: 45, readySeconds: 120, after: "stop" },
    });
    expect(controlRoute("POST", "/services/shop/switch?to=shop-web-2&after=remove&drain=0.5")).toEqual({
      kind: "switch",
      request: { service: "shop", to: "shop-web-2", drainSeconds: 0.5, readySeconds: 60, after: "remove" },
    });
    expect(controlRoute("GET", "/services/shop/live")).toEqual({ kind: "live", name: "shop" });
  });

  it("refuses a switch's bad parameters with a 400 naming the parameter", () => {
    const refused = (query: string) => controlRoute("POST", `/services/shop/switch?${query}`);
    expect(refused("after=remove")).toMatchObject({ kind: "error", status: 400, message: expect.stringMatching(/^to must name a container/) });
    expect(refused("to=../etc&after=remove")).toMatchObject({ status: 400, message: expect.stringMatching(/^to must name a container/) });
    expect(refused("to=web2")).toMatchObject({ status: 400, message: "after must be one of remove, stop, keep, got ''" });
    expect(refused("to=web2&after=delete")).toMatchObject({ status: 400, message: expect.stringMatching(/^after must be one of/) });
    for (const port of ["0", "65536", "80.5", "http", "-1"]) expect(refused(`to=web2&after=keep&port=${port}`)).toMatchObject({ status: 400, message: `port must be a port (1-65535), got '${port}'` });
    expect(refused("to=web2&after=keep&drain=soon")).toMatchObject({ status: 400, message: "drain must be a duration (30, 30s, 1m30s), got 'soon'" });
    expect(refused("to=web2&after=keep&ready=-5")).toMatchObject({ status: 400, message: expect.stringMatching(/^ready must be a duration/) });
    expect(refused("to=web2&after=keep&drian=5")).toMatchObject({ status: 400, message: expect.stringMatching(/^unknown parameter 'drian'/) });
    expect(controlRoute("GET", "/services/shop/switch?to=web2&after=keep")).toMatchObject({ kind: "error", status: 405 });
    expect(controlRoute("POST", "/services/shop/live")).toMatchObject({ kind: "error", status: 405 });
  });

  it("answers 404, 405 and 400 for what it does not know", () => {
    expect(controlRoute("GET", "/nope")).toMatchObject({ kind: "error", status: 404 });
    expect(controlRoute("GET", "/services/shop/wake")).toMatchObject({ kind: "error", status: 405 });
    expect(controlRoute("POST", "/services")).toMatchObject({ kind: "error", status: 405 });
    expect(controlRoute("POST", "/services/%E0%A4%A/wake")).toMatchObject({ kind: "error", status: 400 });
    expect(controlRoute("GET", "/logs?lines=-3")).toMatchObject({ kind: "error", status: 400 });
  });
});

describe("the control socket, both ends", () => {
  it("answers status, wake, sleep, switch, live and unknown names over a unix socket, mode 0600", async () => {
    const path = socketPath();
    const { control, calls } = fakeControl();
    const server = await startControlServer(path, control);
    try {
      expect(statSync(path).mode & 0o777).toBe(0o600);
      const dial = dialSocket(path);
      expect(await controlCall(dial, "GET", "/services", 5000)).toEqual({ status: 200, body: doc });
      expect(await controlCall(dial, "POST", "/services/shop/wake?dry-run=1")).toMatchObject({ status: 200, body: { plan: { name: "shop" } } });
      expect(await controlCall(dial, "POST", "/services/shop/wake")).toMatchObject({ status: 502, body: { container: "shop-web-1", logs: ["boom"] } });
      expect(await controlCall(dial, "POST", "/services/other/wake")).toEqual({ status: 404, body: { error: "no service named other" } });
      expect(await controlCall(dial, "POST", "/services/shop/sleep")).toEqual({ status: 200, body: { state: "sleeping" } });
      expect(await controlCall(dial, "POST", "/services/shop/switch?to=shop-web-2&ready=2&after=remove")).toEqual({
        status: 422,
        body: { error: "shop-web-2 was not ready within 2 s", container: "shop-web-2" },
      });
      expect(await controlCall(dial, "POST", "/services/shop/switch?to=shop-web-2")).toMatchObject({ status: 400 });
      expect(await controlCall(dial, "GET", "/services/shop/live", 5000)).toEqual({ status: 200, body: { id: "a".repeat(64), name: "shop-web-1", port: 8080 } });
      expect(calls).toEqual(["wake shop true", "wake shop false", "wake other false", "sleep shop", "switch shop shop-web-2 remove", "live shop"]);
    } finally {
      await server.close();
    }
    expect(() => statSync(path)).toThrow();
  });

  it("streams the last log lines, then new ones while followed, and stops listening when the client leaves", async () => {
    const path = socketPath();
    const fake = fakeControl();
    const server = await startControlServer(path, fake.control);
    try {
      const dial = dialSocket(path);
      let text = "";
      await controlStream(dial, "/logs?lines=2", (chunk) => (text += chunk.toString()));
      expect(text).toBe("two\nthree\n");

      let followed = "";
      const stream = await dial();
      const done = controlStream(() => Promise.resolve(stream), "/logs?lines=1&follow=1", (chunk) => {
        followed += chunk.toString();
        if (followed === "three\n") fake.emit("four");
        if (followed.endsWith("four\n")) stream.destroy();
      });
      await done.catch(() => undefined);
      expect(followed).toBe("three\nfour\n");
      await expect.poll(() => fake.listening()).toBe(0);
    } finally {
      await server.close();
    }
  });

  it("lets a switch run to its end when the caller hangs up, and keeps serving", async () => {
    const path = socketPath();
    const { control } = fakeControl();
    let ended = false;
    const server = await startControlServer(path, {
      ...control,
      switch: async () => {
        await new Promise((resolve) => setTimeout(resolve, 200));
        ended = true;
        return { status: 200, body: { after: "remove" } };
      },
    });
    try {
      const dial = dialSocket(path);
      const stream = await dial();
      const call = controlCall(() => Promise.resolve(stream), "POST", "/services/shop/switch?to=web2&after=remove").catch((error: Error) => error);
      setTimeout(() => stream.destroy(), 50);
      expect(await call).toBeInstanceOf(Error);
      expect(ended).toBe(false);
      await expect.poll(() => ended).toBe(true);
      expect((await controlCall(dial, "GET", "/services", 5000)).status).toBe(200);
    } finally {
      await server.close();
    }
  });

  it("answers 500 with the message when the control throws, and keeps serving", async () => {
    const path = socketPath();
    const { control } = fakeControl();
    const server = await startControlServer(path, { ...control, sleep: () => Promise.reject(new Error("docker went away")) });
    try {
      const dial = dialSocket(path);
      expect(await controlCall(dial, "POST", "/services/shop/sleep")).toEqual({ status: 500, body: { error: "docker went away" } });
      expect((await controlCall(dial, "GET", "/services", 5000)).status).toBe(200);
    } finally {
      await server.close();
    }
  });

  it("replaces a socket file nothing answers on (a daemon killed with -9)", async () => {
    const path = socketPath();
    // A process that listens, then is killed with -9: its socket file stays, with nobody behind it.
    spawnSync(process.execPath, ["-e", `require("net").createServer().listen(${JSON.stringify(path)}, () => process.kill(process.pid, "SIGKILL"))`]);
    expect(statSync(path).isSocket()).toBe(true);
    const server = await startControlServer(path, fakeControl().control);
    try {
      expect((await controlCall(dialSocket(path), "GET", "/services", 5000)).status).toBe(200);
    } finally {
      await server.close();
    }
  });

  it("refuses to start where a live daemon answers", async () => {
    const path = socketPath();
    const first = await startControlServer(path, fakeControl().control);
    try {
      await expect(startControlServer(path, fakeControl().control)).rejects.toThrow(/another daemon already answers/);
      expect((await controlCall(dialSocket(path), "GET", "/services", 5000)).status).toBe(200);
    } finally {
      await first.close();
    }
  });

  it("fails a call whose answer is not JSON, saying what came", async () => {
    const path = socketPath();
    const server = createServer((socket) => socket.end("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello"));
    await new Promise<void>((resolve) => server.listen(path, resolve));
    try {
      await expect(controlCall(dialSocket(path), "GET", "/services", 5000)).rejects.toThrow(/HTTP 200, not JSON: hello/);
    } finally {
      server.close();
    }
  });
});

describe("callOutcome (what `proxy wake` and `proxy sleep` make of the daemon's answer)", () => {
  it("exits 0 once ready or asleep", () => {
    expect(callOutcome("shop", 200, { state: "ready", ms: 4200 }, "shop is ready (4.2 s).")).toEqual({ code: 0, out: "shop is ready (4.2 s)." });
  });

  it("exits 3 on a failed start, naming the container and its last log lines", () => {
    const failed = { state: "failed", reason: "exited with code 1", container: "shop-web-1", logs: ["Error: boom"] };
    expect(callOutcome("shop", 502, failed, "")).toEqual({ code: 3, err: "shop failed: shop-web-1: exited with code 1\n  shop-web-1 | Error: boom" });
    expect(callOutcome("shop", 504, { ...failed, reason: "not ready within 5m" }, "").code).toBe(3);
  });

  it("an unknown name is bad input (exit 2) in the daemon's words; anything else is the server's fault (exit 1)", () => {
    expect(() => callOutcome("nope", 404, { error: "no service named nope" }, "")).toThrow(new InputError("no service named nope"));
    const cycle = "nextcloud cannot be woken: dependency cycle a/web → b/api → a/web";
    expect(() => callOutcome("nextcloud", 422, { error: cycle, cycle: ["a/web", "b/api", "a/web"] }, "")).toThrow(new InputError(cycle));
    const error = (() => {
      try {
        callOutcome("shop", 500, { error: "docker went away" }, "");
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(EnvironmentError);
    expect((error as Error).message).toBe('the proxy answered HTTP 500: {"error":"docker went away"}');
  });
});
