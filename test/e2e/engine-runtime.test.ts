/**
 * The calls the runtime daemon makes, against the real Docker Engine on its local socket, with
 * busybox containers labelled as Compose labels them (made here, removed in afterAll).
 */
import { execFileSync, spawn } from "node:child_process";
import { join } from "node:path";
import type { Socket } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chooseApiVersion, type ContainerEvent, DOCKER_SOCKET, Engine, localEngine } from "../../src/docker/engine.js";
import { dialSocket } from "../../src/docker/transport.js";
import { ROOT, uniqueName } from "./harness.js";

const docker = (...args: string[]) => execFileSync("docker", args, { encoding: "utf8" }).trim();

const project = uniqueName("e2e-engine-runtime");
const network = `${project}_default`;
const web = `${project}-web-1`;
const pulse = `${project}-pulse-1`;
const raw = `${project}-tty-1`;

/** A container as Compose would make it: its labels, its network, a healthcheck Docker runs every 30 s. */
function create(name: string, service: string, options: string[], command: string): string {
  return docker(
    "create",
    "--name",
    name,
    "--network",
    network,
    "--label",
    `com.docker.compose.project=${project}`,
    "--label",
    `com.docker.compose.service=${service}`,
    "--label",
    `com.docker.compose.project.working_dir=/srv/${project}`,
    "--label",
    "com.docker.compose.oneoff=False",
    ...options,
    "local/busybox:latest",
    "sh",
    "-c",
    command,
  );
}

/** Waits for `check` to hold, up to `ms`. */
async function until(check: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms: ${what}`);
    await sleep(25);
  }
}

/**
 * Follows events from the built engine in a process of its own, and aborts once connected, or
 * once the stream was cut and five more attempts failed (the next wait being 4 s). Answers what
 * it printed and how long it took to exit after the abort.
 */
function followInChild(when: string): Promise<{ lines: string[]; exitMs: number }> {
  const script = `
    import { Engine } from ${JSON.stringify(join(ROOT, "dist/docker/engine.js"))};
    import { dialSocket, EngineUnreachable } from ${JSON.stringify(join(ROOT, "dist/docker/transport.js"))};
    const real = dialSocket(${JSON.stringify(DOCKER_SOCKET)});
    let streams = [];
    let cut = false;
    const dial = async () => {
      if (cut) throw new EngineUnreachable("test", "cut");
      const stream = await real();
      streams.push(stream);
      return stream;
    };
    const stop = new AbortController();
    const abort = () => { stop.abort(); console.log("aborted"); };
    let losses = 0;
    new Engine(dial, "test").followEvents({
      onEvent: () => undefined,
      onConnected: () => {
        console.log("connected");
        if (${JSON.stringify(when)} === "connected") return void setTimeout(abort, 200);
        cut = true;
        for (const stream of streams) stream.destroy();
      },
      onDisconnected: (reason) => {
        console.log("lost: " + reason);
        if (++losses === 5) abort();
      },
    }, stop.signal);
  `;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "inherit"] });
    let output = "";
    let abortedAt = 0;
    const killer = setTimeout(() => child.kill("SIGKILL"), 15_000);
    child.stdout.on("data", (chunk: Buffer) => {
      output += chunk.toString();
      if (abortedAt === 0 && output.split("\n").includes("aborted")) abortedAt = Date.now();
    });
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(killer);
      if (code !== 0) reject(new Error(`the follower exited with ${code}: ${output}`));
      else resolve({ lines: output.trim().split("\n"), exitMs: Date.now() - abortedAt });
    });
  });
}

describe("the Engine API for the runtime daemon (local socket)", () => {
  const engine = localEngine();
  let webId = "";
  let pulseId = "";
  let rawId = "";

  beforeAll(() => {
    docker("network", "create", "--label", `com.docker.compose.project=${project}`, network);
    // PID 1 is a shell that traps nothing: SIGTERM does not stop it, only the kill after StopTimeout.
    webId = create(
      web,
      "web",
      [
        "--label",
        "com.docker.compose.depends_on=pulse:service_healthy:false,tty:service_started:true",
        "--health-cmd",
        "test -f /tmp/ready",
        "--health-interval",
        "30s",
        "--stop-timeout",
        "1",
      ],
      // Docker copies stdout and stderr apart: the pauses keep their order in the log.
      "echo out-1; sleep 0.2; echo err-1 >&2; sleep 0.2; echo out-2; sleep 0.2; echo err-2 >&2; while true; do sleep 1; done",
    );
    pulseId = create(pulse, "pulse", ["--health-cmd", "true", "--health-interval", "1s", "--stop-timeout", "1"], "while true; do sleep 1; done");
    rawId = create(raw, "tty", ["--tty"], "echo one; echo two >&2; echo three; sleep 3600");
  });

  afterAll(() => {
    for (const args of [["rm", "-f", web, pulse, raw], ["network", "rm", network]]) {
      try {
        docker(...args);
      } catch {
        // some were never created (a failed beforeAll): the others are still removed
      }
    }
  });

  it("negotiates the engine's own API version, capped at the newest these calls know", async () => {
    const engineApi = docker("version", "--format", "{{.Server.APIVersion}}");
    expect(await engine.negotiate()).toBe(chooseApiVersion(engineApi));
    expect(chooseApiVersion(engineApi)).toBe(engineApi <= "1.47" ? engineApi : "1.47");
  });

  it("inspects a container into its facts, and a missing one into undefined", async () => {
    await engine.startContainer(webId);
    const facts = await engine.inspectContainer(webId);
    expect(facts).toMatchObject({
      id: webId,
      name: web,
      project,
      service: "web",
      workingDir: `/srv/${project}`,
      oneoff: false,
      state: "running",
      health: "starting",
      healthTest: ["CMD-SHELL", "test -f /tmp/ready"],
      exitCode: 0,
      finishedAt: "0001-01-01T00:00:00Z",
      dependsOn: [
        { service: "pulse", condition: "service_healthy" },
        { service: "tty", condition: "service_started" },
      ],
    });
    expect(Date.parse(facts?.startedAt ?? "")).toBeGreaterThan(Date.now() - 60_000);
    expect(facts?.addresses[network]).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    expect(await engine.inspectContainer(`${project}-none`)).toBeUndefined();
  });

  it("lists every compose container of the engine, running or not, inspected", async () => {
    const all = await engine.composeContainers();
    const ours = all.filter((facts) => facts.project === project).map((facts) => [facts.name, facts.state]);
    expect(ours.sort()).toEqual([
      [pulse, "created"],
      [raw, "created"],
      [web, "running"],
    ]);
  });

  it("runs the healthcheck now, long before Docker's first interval", async () => {
    const started = Date.now();
    const test = ["CMD-SHELL", "test -f /tmp/ready"];
    expect(await engine.runProbe(webId, test, 5_000)).toBe(false);
    expect(await engine.runProbe(webId, ["CMD", "touch", "/tmp/ready"], 5_000)).toBe(true);
    expect(await engine.runProbe(webId, test, 5_000)).toBe(true);
    expect(await engine.runProbe(webId, ["NONE"], 5_000)).toBe(true);
    expect(Date.now() - started).toBeLessThan(10_000);
    // Docker itself has not run its check yet.
    expect((await engine.inspectContainer(webId))?.health).toBe("starting");
  });

  it("gives up on a probe that outlives its time, and fails one in a stopped container", async () => {
    const started = Date.now();
    expect(await engine.runProbe(webId, ["CMD", "sleep", "5"], 300)).toBe(false);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(await engine.runProbe(pulseId, ["CMD", "true"], 1_000)).toBe(false);
  });

  it("tails stdout and stderr, demultiplexed, and a TTY's output as it came", async () => {
    await until(async () => (await engine.tailLogs(webId, 10)).length === 4, 5_000, "web's output");
    expect(await engine.tailLogs(webId, 10)).toEqual(["out-1", "err-1", "out-2", "err-2"]);
    expect(await engine.tailLogs(webId, 2)).toEqual(["out-2", "err-2"]);
    await engine.startContainer(rawId);
    await until(async () => (await engine.tailLogs(rawId, 10)).length === 3, 5_000, "the TTY's output");
    expect(await engine.tailLogs(rawId, 10)).toEqual(["one", "two", "three"]);
  });

  it("measures memory while it runs, none once stopped", async () => {
    expect(await engine.memoryBytes(webId)).toBeGreaterThan(0);
    expect(await engine.memoryBytes(pulseId)).toBeUndefined();
    expect(await engine.memoryBytes(`${project}-none`)).toBeUndefined();
  });

  it("starts and stops, already started or stopped being fine, the stop honouring StopTimeout", async () => {
    expect(await engine.startContainer(webId)).toBe("running");
    const started = Date.now();
    // StopTimeout is 1 s (compose's stop_grace_period: 1s); Docker's default would take 10 s.
    await engine.stopContainer(webId);
    const took = Date.now() - started;
    expect(took).toBeGreaterThan(800);
    expect(took).toBeLessThan(6_000);
    expect((await engine.inspectContainer(webId))?.state).toBe("exited");
    await engine.stopContainer(webId);
    await engine.stopContainer(rawId, 0);
    expect((await engine.inspectContainer(rawId))?.state).toBe("exited");
    // Gone (a wake racing compose's recreate meets the old one so): its successor is the one to start.
    expect(await engine.startContainer(`${project}-none`)).toBe("gone");
  });

  it("follows events, reconnects when the stream breaks, and leaves nothing behind when stopped", async () => {
    // Every stream this engine dials, so that the test can cut the events' one.
    const streams: Socket[] = [];
    const dial = dialSocket(DOCKER_SOCKET);
    const cuttable = new Engine(async () => {
      const stream = await dial();
      streams.push(stream as Socket);
      return stream;
    }, DOCKER_SOCKET);
    const events: ContainerEvent[] = [];
    const log: string[] = [];
    const stop = new AbortController();
    cuttable.followEvents(
      {
        onEvent: (event) => {
          if (event.id === pulseId) events.push(event);
        },
        onConnected: () => log.push("connected"),
        onDisconnected: (reason) => log.push(`disconnected: ${reason}`),
      },
      stop.signal,
    );
    await until(() => log.length === 1, 5_000, "the first connection");
    expect(log).toEqual(["connected"]);

    await engine.startContainer(pulseId);
    await until(() => events.some((event) => event.action === "health_status"), 10_000, "pulse's health_status event");
    const start = events.find((event) => event.action === "start");
    expect(start).toMatchObject({ id: pulseId, name: pulse, labels: { "com.docker.compose.service": "pulse" } });
    expect(Math.abs((start?.time ?? 0) - Date.now())).toBeLessThan(15_000);
    expect(events.find((event) => event.action === "health_status")).toMatchObject({ health: "healthy" });

    for (const stream of streams) stream.destroy();
    await until(() => log.length === 3, 5_000, "a reconnection");
    expect(log[1]).toMatch(/^disconnected: /);
    expect(log[2]).toBe("connected");

    // Still following after the reconnection.
    await engine.stopContainer(pulseId);
    await until(() => events.some((event) => event.action === "die"), 10_000, "pulse's die event");
    expect(events.find((event) => event.action === "die")?.exitCode).toBe(137);

    stop.abort();
    await sleep(300);
    expect(log.slice(3)).toEqual([]);
    expect(streams.every((stream) => stream.destroyed)).toBe(true);
  });

  // A process whose only work is following events ends by itself once told to stop: no socket
  // and no timer of the follower is left to keep it alive.
  it.each([
    ["while connected", "connected"],
    ["while waiting to reconnect after several failed attempts", "waiting"],
  ])("leaves nothing running when stopped %s", async (_, when) => {
    const { lines, exitMs } = await followInChild(when);
    expect(lines[0]).toBe("connected");
    expect(lines.at(-1)).toBe("aborted");
    if (when === "waiting") expect(lines.filter((line) => line.startsWith("lost: ")).length).toBeGreaterThanOrEqual(5);
    // The last wait was 4 s: a timer left behind would hold the process that long.
    expect(exitMs).toBeLessThan(1_500);
  }, 20_000);
});
