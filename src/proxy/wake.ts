import { connect } from "node:net";
import type { Engine } from "../docker/engine.js";
import type { Awaited, ContainerFacts } from "./model.js";
import type { Phase } from "./progress.js";
import { type StartPlan, startPlan, stopLevels } from "./start-plan.js";
import type { Failure } from "./unit-state.js";

/** Where the routed container is reached once it runs; undefined while it has no address. */
export type UpstreamOf = () => { host: string; port: number } | undefined;

export interface StartWork {
  /** The unit's compose project, for messages. */
  project: string;
  /** Its containers (one-off ones excluded), as the daemon knows them when the start begins. */
  containers: ContainerFacts[];
  /** The containers a request goes to: ready only once their port accepts connections. */
  routed: ReadonlySet<string>;
  upstream: UpstreamOf;
  timeoutMs: number;
  /** Aborted when the unit is put to sleep while it starts. */
  signal: AbortSignal;
  /** Reads a container's facts anew: right after its start, rather than when its event arrives. */
  refresh(id: string): Promise<void>;
  /** Each container's progress as it goes, for the waiting page. */
  onPhase(id: string, phase: Phase): void;
}

export type StartResult = { ok: true; ms: number } | { ok: false; failure: Failure };

/** The live facts of a container, kept up by Docker's events: nothing here polls the Engine for state. */
export type FactsOf = (id: string) => ContainerFacts | undefined;

const LOG_LINES = 20;
/** The fast readiness pace: Docker's own first health probe waits a whole interval. */
const PROBE_PACE_MS = 50;
const PROBE_TIMEOUT_MS = 2_000;

/**
 * Starts a unit level by level of its depends_on graph, each level once the one before is
 * ready, and returns when the routed container answers. A failure stops what this start began,
 * so nothing is left half-started.
 */
export async function startUnit(engine: Engine, work: StartWork, factsOf: FactsOf): Promise<StartResult> {
  const began = Date.now();
  const deadline = began + work.timeoutMs;
  const plan = startPlan(work.containers);
  if ("cycle" in plan) {
    return failed(work.project, `depends_on has a cycle: ${plan.cycle.join(" → ")}`, [], 502);
  }
  const until = awaitedOf(plan, work.routed);
  const startedHere: ContainerFacts[] = [];
  /** Their StartedAt before this start: until an event brings a newer one, "exited" is the old run's. */
  const previousRun = new Map<string, string>();
  try {
    for (const level of plan.levels) {
      await Promise.all(
        level.map(async ({ container }) => {
          const now = factsOf(container.id) ?? container;
          if (now.state === "running" || now.state === "restarting") return;
          startedHere.push(container);
          previousRun.set(container.id, now.startedAt);
          work.onPhase(container.id, "starting");
          await engine.startContainer(container.id);
          await work.refresh(container.id);
        }),
      );
      const results = await Promise.all(
        level.map(async ({ container }) => {
          const failure = await waitFor(engine, work, container, until.get(container.id) ?? "started", (id) => {
            const facts = factsOf(id);
            return facts && previousRun.get(id) === facts.startedAt && facts.state !== "running" ? { ...facts, state: "created" } : facts;
          }, deadline);
          work.onPhase(container.id, failure ? "failed" : "ready");
          return failure;
        }),
      );
      const failure = results.find((result): result is Failure => result !== undefined);
      if (failure) {
        if (!work.signal.aborted) await stopContainers(engine, startedHere);
        return { ok: false, failure };
      }
    }
  } catch (error) {
    if (!work.signal.aborted) await stopContainers(engine, startedHere);
    return failed(work.project, error instanceof Error ? error.message : String(error), [], 502);
  }
  return { ok: true, ms: Date.now() - began };
}

/**
 * What each container must reach before the start goes on: what its dependents' depends_on
 * conditions ask, and ready for the routed ones; merely running for the rest.
 */
function awaitedOf(plan: StartPlan, routed: ReadonlySet<string>): Map<string, Awaited> {
  const byService = new Map<string, Awaited>();
  for (const level of plan.levels) {
    for (const { after } of level) {
      for (const { service, until } of after) {
        const known = byService.get(service);
        if (known === undefined || known === "started") byService.set(service, until);
      }
    }
  }
  const until = new Map<string, Awaited>();
  for (const level of plan.levels) {
    for (const { container } of level) {
      until.set(container.id, routed.has(container.id) ? "ready" : (byService.get(container.service ?? container.name) ?? "started"));
    }
  }
  return until;
}

/** Stops a unit, dependents first; compose's stop_grace_period is each container's StopTimeout. */
export async function stopUnit(engine: Engine, containers: ContainerFacts[]): Promise<void> {
  const plan = startPlan(containers);
  const levels = "cycle" in plan ? [containers] : stopLevels(plan);
  for (const level of levels) {
    await Promise.all(level.filter((c) => c.state === "running" || c.state === "restarting").map((c) => engine.stopContainer(c.id)));
  }
}

async function stopContainers(engine: Engine, containers: ContainerFacts[]): Promise<void> {
  await Promise.allSettled([...containers].reverse().map((c) => engine.stopContainer(c.id)));
}

function failed(container: string, reason: string, logs: string[], status: 502 | 504): StartResult {
  return { ok: false, failure: { container, reason, logs, status } };
}

async function lastLines(engine: Engine, id: string): Promise<string[]> {
  return engine.tailLogs(id, LOG_LINES).catch(() => []);
}

/** Undefined once the container reached what is awaited of it; the failure otherwise (it exited, or the deadline passed). */
async function waitFor(
  engine: Engine,
  work: StartWork,
  container: ContainerFacts,
  until: Awaited,
  factsOf: FactsOf,
  deadline: number,
): Promise<Failure | undefined> {
  for (;;) {
    if (work.signal.aborted) return { container: container.name, reason: "put to sleep while it started", logs: [], status: 502 };
    const now = factsOf(container.id) ?? container;
    if (until === "completed" && now.state === "exited" && now.exitCode === 0) return undefined;
    if (now.state === "exited" || now.state === "dead" || now.state === "restarting") {
      const how = now.state === "restarting" ? "keeps restarting" : "exited";
      return { container: now.name, reason: `${how} (exit code ${now.exitCode}) while starting`, logs: await lastLines(engine, now.id), status: 502 };
    }
    if (now.state === "running" && until !== "completed" && (until === "started" || (await isReady(engine, work, now)))) return undefined;
    if (Date.now() >= deadline) {
      return {
        container: now.name,
        reason: `not ready after ${Math.round(work.timeoutMs / 1000)} s (deploy-vps.proxy.start-timeout)`,
        logs: await lastLines(engine, now.id),
        status: 504,
      };
    }
    await new Promise((resolve) => setTimeout(resolve, PROBE_PACE_MS));
  }
}

async function isReady(engine: Engine, work: StartWork, container: ContainerFacts): Promise<boolean> {
  if (container.health === "unhealthy") return false;
  if (container.healthTest && container.health !== "healthy") {
    if (!(await engine.runProbe(container.id, container.healthTest, PROBE_TIMEOUT_MS).catch(() => false))) return false;
  }
  if (!work.routed.has(container.id)) return true;
  const upstream = work.upstream();
  return upstream !== undefined && (await accepts(upstream.host, upstream.port));
}

function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(PROBE_TIMEOUT_MS, () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}
