/**
 * runChain against the real Docker Engine on its local socket: busybox containers labelled as
 * Compose labels them (made here, removed in afterAll), kept up to date by the Engine's events as
 * the daemon keeps them. The proxy daemon itself is not involved (wake-chains.test.ts drives it).
 */
import { execFileSync } from "node:child_process";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type ContainerEvent, localEngine } from "../../src/docker/engine.js";
import { ContainerJobs } from "../../src/proxy/container-jobs.js";
import type { ChainStep, ContainerFacts, ReadinessCheck } from "../../src/proxy/model.js";
import type { Phase } from "../../src/proxy/progress.js";
import { type ChainResult, type ChainWork, runChain, stopInLevels } from "../../src/proxy/wake.js";
import { uniqueName } from "./harness.js";

const docker = (...args: string[]) => execFileSync("docker", args, { encoding: "utf8" }).trim();

const project = uniqueName("e2e-wake-runtime");
const deps = `${project}-deps`;
const network = `${project}_shared`;

/** Each service: its project, its command, and Docker options (healthcheck...). */
const SERVICES = {
  // Ready one second after its start, when it listens on 5432: a `tcp 5432` check finds it so.
  db: { project: deps, options: [], command: "sleep 1; exec nc -ll -p 5432 -e true" },
  // Healthy one second after its start, by a healthcheck Docker would first run 30 s later.
  cache: { project: deps, options: ["--health-cmd", "test -f /tmp/ready", "--health-interval", "30s"], command: "sleep 1; touch /tmp/ready; exec sleep 3600" },
  web: { project, options: [], command: "exec sleep 3600" },
  broken: { project, options: [], command: "echo 'cannot open the database' >&2; sleep 0.3; exit 1" },
  extra: { project: deps, options: [], command: "exec sleep 3600" },
  // Docker says unhealthy after its first failed check, one second after its start.
  sick: { project: deps, options: ["--health-cmd", "false", "--health-interval", "1s", "--health-retries", "1"], command: "exec sleep 3600" },
  // A one-shot job (a migration): done once it exits 0.
  migrate: { project, options: [], command: "sleep 1; echo migrated" },
} as const;
type Service = keyof typeof SERVICES;

const engine = localEngine();
const ids = {} as Record<Service, string>;
const facts = new Map<string, ContainerFacts>();
const events: ContainerEvent[] = [];
const following = new AbortController();

/** As the daemon reads them: a read never replaces one asked after it (a start's read may answer after its death's). */
const readOf = new Map<string, number>();
let reads = 0;
const refresh = async (id: string) => {
  const asked = ++reads;
  const seen = await engine.inspectContainer(id);
  if (asked < (readOf.get(id) ?? 0) || !seen) return;
  readOf.set(id, asked);
  facts.set(id, seen);
};
const factsOf = (id: string) => facts.get(id);
const current = (service: Service): ContainerFacts => {
  const seen = facts.get(ids[service]);
  if (!seen) throw new Error(`no facts of ${service}`);
  return seen;
};

function step(service: Service, rest: Partial<ChainStep> = {}): ChainStep {
  return { container: current(service), own: SERVICES[service].project === project, need: "required", until: "started", routed: false, ...rest };
}

const tcpCheck: ReadinessCheck = { probe: { kind: "tcp", port: 5432 }, intervalMs: 100, timeoutMs: 20_000, retries: 200 };

interface Run {
  result: ChainResult;
  logs: { message: string; fields: Record<string, unknown> }[];
  phases: [string, Phase][];
}

interface WakeOptions {
  jobs?: ContainerJobs;
  timeoutMs?: number;
  /** Kept up by another unit: left out of the stops after a failure. */
  neededElsewhere?: (id: string) => boolean;
  signal?: AbortSignal;
}

async function wake(levels: ChainStep[][], options: WakeOptions = {}): Promise<Run> {
  const logs: Run["logs"] = [];
  const phases: Run["phases"] = [];
  const work: ChainWork = {
    service: "site",
    plan: { levels },
    upstream: () => undefined,
    timeoutMs: options.timeoutMs ?? 60_000,
    signal: options.signal ?? new AbortController().signal,
    refresh,
    onPhase: (id, phase) => phases.push([id, phase]),
    factsOf,
    jobs: options.jobs ?? new ContainerJobs(),
    // The stops after a failure, as the daemon's scheduler would give them (dependents first).
    stopsAfterFailure: (started) => [...started].filter((id) => !(options.neededElsewhere ?? (() => false))(id)).map((id) => [id]).reverse(),
    log: (message, fields) => logs.push({ message, fields }),
  };
  return { result: await runChain(engine, work), logs, phases };
}

const stepAt = (run: Run, container: string, phase: Phase): number => {
  const line = run.logs.find((l) => l.message === "wake step" && l.fields.container === container && l.fields.phase === phase);
  if (!line) throw new Error(`no '${phase}' line for ${container}: ${JSON.stringify(run.logs)}`);
  return Number(line.fields.atMs);
};

const isRunning = (service: Service) => docker("inspect", "--format", "{{.State.Running}}", ids[service]) === "true";
/** When Docker's last `start` event of it came. */
const startedAt = (service: Service) => events.filter((e) => e.id === ids[service] && e.action === "start").at(-1)?.time ?? Number.NaN;
const starts = (service: Service) => events.filter((e) => e.id === ids[service] && e.action === "start").length;

beforeAll(async () => {
  docker("network", "create", network);
  for (const [service, { project: owner, options, command }] of Object.entries(SERVICES)) {
    ids[service as Service] = docker(
      "create",
      "--name",
      `${owner}-${service}-1`,
      "--network",
      network,
      "--stop-timeout",
      "1",
      "--label",
      `com.docker.compose.project=${owner}`,
      "--label",
      `com.docker.compose.service=${service}`,
      "--label",
      "com.docker.compose.oneoff=False",
      ...options,
      "local/busybox:latest",
      "sh",
      "-c",
      command,
    );
  }
  await engine.negotiate();
  await new Promise<void>((resolve) => {
    engine.followEvents(
      {
        onEvent: (event) => {
          if (!Object.values(ids).includes(event.id)) return;
          events.push(event);
          void refresh(event.id);
        },
        onConnected: resolve,
        onDisconnected: () => undefined,
      },
      following.signal,
    );
  });
});

afterAll(() => {
  following.abort();
  for (const args of [["rm", "-f", ...Object.values(ids)], ["network", "rm", network]]) {
    try {
      docker(...args);
    } catch {
      // a failed beforeAll made only some of them: the others are still removed
    }
  }
});

beforeEach(async () => {
  const running = Object.values(ids).filter((id) => docker("inspect", "--format", "{{.State.Running}}", id) === "true");
  // `docker stop` returns once they are down (`kill` returns before: a wake would then see them die).
  if (running.length > 0) docker("stop", "--time", "0", ...running);
  await Promise.all(Object.values(ids).map(refresh));
});

describe("runChain against the Engine", () => {
  it("starts a level side by side, waits for each step's readiness, then the next level", async () => {
    const run = await wake([[step("db", { until: "ready", check: tcpCheck }), step("cache", { until: "ready" })], [step("web", { own: true })]]);
    expect(run.result.ok, JSON.stringify(run.result)).toBe(true);
    if (!run.result.ok) return;
    const names = { db: current("db").name, cache: current("cache").name, web: current("web").name };
    // The backends became ready before web started; they started together (1 s each, not 2 s in sequence).
    expect(stepAt(run, names.web, "starting")).toBeGreaterThanOrEqual(Math.max(stepAt(run, names.db, "ready"), stepAt(run, names.cache, "ready")));
    expect(Math.abs(stepAt(run, names.db, "starting") - stepAt(run, names.cache, "starting"))).toBeLessThan(500);
    expect(run.result.levelsMs).toHaveLength(2);
    expect(run.result.levelsMs[0]).toBeGreaterThanOrEqual(1_000);
    // Side by side: Docker started both before either could be ready (each needs 1 s after its start).
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(Math.abs(startedAt("db") - startedAt("cache"))).toBeLessThan(1_000);
    expect(startedAt("web")).toBeGreaterThan(Math.max(startedAt("db"), startedAt("cache")) + 1_000);
    // Docker's own first health probe would have come 30 s later.
    expect(run.result.ms).toBeLessThan(15_000);
    expect(run.result.steps.map(({ container, own, started, phase }) => ({ container, own, started, phase })).sort((a, b) => a.container.localeCompare(b.container))).toEqual(
      [
        { container: names.cache, own: false, started: true, phase: "ready" },
        { container: names.db, own: false, started: true, phase: "ready" },
        { container: names.web, own: true, started: true, phase: "ready" },
      ].sort((a, b) => a.container.localeCompare(b.container)),
    );
    expect(run.phases.filter(([id]) => id === ids.db).map(([, phase]) => phase)).toEqual(["starting", "ready"]);

    // A second wake leaves what runs and is ready alone.
    const again = await wake([[step("db", { until: "ready", check: tcpCheck }), step("cache", { until: "ready" })], [step("web", { own: true })]]);
    expect(again.result.ok).toBe(true);
    expect(again.result.steps.every((s) => !s.started)).toBe(true);
    expect(again.phases.map(([, phase]) => phase)).toEqual(["ready", "ready", "ready"]);
    expect(starts("db")).toBe(1);
  });

  it("a required step that exits ends the wake: its last lines, and what this wake started stopped unless needed elsewhere", async () => {
    const webStarts = starts("web");
    const run = await wake([[step("db"), step("cache"), step("broken", { until: "ready", check: tcpCheck })], [step("web", { own: true })]], { neededElsewhere: (id) => id === ids.db });
    expect(run.result.ok).toBe(false);
    if (run.result.ok) return;
    expect(run.result.cause).toBe("exited");
    expect(run.result.failure.container).toBe(current("broken").name);
    expect(run.result.failure.reason).toContain("exited (exit code 1)");
    expect(run.result.failure.logs.join("\n")).toContain("cannot open the database");
    await refresh(ids.cache);
    expect(isRunning("db")).toBe(true);
    expect(isRunning("cache")).toBe(false);
    expect(starts("web")).toBe(webStarts);
  });

  it("an optional step that fails its check is logged and the wake goes on", async () => {
    const failing: ReadinessCheck = { probe: { kind: "command", command: "test -f /nowhere" }, intervalMs: 100, timeoutMs: 10_000, retries: 3 };
    const run = await wake([[step("extra", { need: "optional", until: "ready", check: failing })], [step("web", { own: true })]]);
    expect(run.result.ok, JSON.stringify(run.result)).toBe(true);
    expect(run.logs.find((l) => l.message === "optional dependency failed")?.fields).toMatchObject({ service: "site", container: current("extra").name, reason: "check 'cmd test -f /nowhere' failed 3 times" });
    expect(run.phases.filter(([id]) => id === ids.extra).map(([, phase]) => phase)).toEqual(["starting", "failed"]);
    expect(isRunning("web")).toBe(true);
  });

  it("a dependency Docker says unhealthy fails the wake without waiting for the deadline", async () => {
    const run = await wake([[step("sick", { until: "ready" })], [step("web", { own: true })]]);
    expect(run.result.ok).toBe(false);
    if (run.result.ok) return;
    expect(run.result.cause).toBe("health_check_failed");
    expect(run.result.failure).toMatchObject({ container: current("sick").name, reason: "Docker's healthcheck says unhealthy", status: 502 });
    expect(run.result.ms).toBeLessThan(20_000);
    expect(isRunning("sick")).toBe(false);
  });

  it("a one-shot step awaited as completed: the next level starts once it exited 0", async () => {
    const run = await wake([[step("migrate", { until: "completed" })], [step("web", { own: true })]]);
    expect(run.result.ok, JSON.stringify(run.result)).toBe(true);
    const died = events.filter((e) => e.id === ids.migrate && e.action === "die").at(-1);
    expect(died?.exitCode).toBe(0);
    expect(startedAt("web")).toBeGreaterThanOrEqual(died?.time ?? Number.POSITIVE_INFINITY);
  });

  it("a wake put to sleep stops what it started, and reports no failure of its own", async () => {
    const sleep = new AbortController();
    const never: ReadinessCheck = { probe: { kind: "tcp", port: 6543 }, intervalMs: 100, timeoutMs: 60_000, retries: 1_000 };
    const pending = wake([[step("extra", { until: "ready", check: never }), step("db")], [step("web", { own: true })]], { signal: sleep.signal });
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    sleep.abort();
    const { result } = await pending;
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.cause).toBe("aborted");
    expect(isRunning("extra")).toBe(false);
    expect(isRunning("db")).toBe(false);
    expect(isRunning("web")).toBe(false);
  });

  it("the global deadline ends a step still waiting for its check (504)", async () => {
    const never: ReadinessCheck = { probe: { kind: "tcp", port: 6543 }, intervalMs: 100, timeoutMs: 60_000, retries: 1_000 };
    const began = Date.now();
    const run = await wake([[step("extra", { until: "ready", check: never })]], { timeoutMs: 1_500 });
    // Starting and stopping the container take what a busy host makes them take; the check alone
    // would have waited its own timeout, far longer.
    expect(Date.now() - began).toBeLessThan(never.timeoutMs / 2);
    expect(run.result.ok).toBe(false);
    if (run.result.ok) return;
    expect(run.result.cause).toBe("timeout");
    expect(run.result.failure.status).toBe(504);
    expect(isRunning("extra")).toBe(false);
  });

  it("two wakes sharing a dependency start it once; a wake waits for a stop in flight, then starts it again", async () => {
    const jobs = new ContainerJobs();
    const before = starts("db");
    const [a, b] = await Promise.all([wake([[step("db", { until: "ready", check: tcpCheck })]], { jobs }), wake([[step("db", { until: "ready", check: tcpCheck })]], { jobs })]);
    expect(a.result.ok && b.result.ok).toBe(true);
    expect([a, b].map((run) => run.result.steps[0]?.started).sort()).toEqual([false, true]);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(starts("db")).toBe(before + 1);

    await refresh(ids.db);
    const stopping = stopInLevels(engine, [[ids.db]], jobs, refresh);
    expect(jobs.busy(ids.db)).toBe("stop");
    const third = await wake([[step("db", { until: "ready", check: tcpCheck })]], { jobs });
    await stopping;
    expect(third.result.ok, JSON.stringify(third.result)).toBe(true);
    expect(third.result.steps[0]?.started).toBe(true);
    expect(isRunning("db")).toBe(true);
    expect(starts("db")).toBe(before + 2);
  });
});
