import type { Engine, StartAnswer } from "../docker/engine.js";
import type { ContainerJobs } from "./container-jobs.js";
import type { Awaited, ChainPlan, ChainStep, ContainerFacts } from "./model.js";
import type { Phase } from "./progress.js";
import { afterFailedTry, tcpAccepts, tryProbe } from "./readiness.js";
import type { Failure } from "./unit-state.js";

/** Where the routed container is reached once it runs; undefined while it has no address. */
export type UpstreamOf = () => { host: string; port: number } | undefined;

/** The live facts of a container, kept up by Docker's events: nothing here polls the Engine for state. */
export type FactsOf = (id: string) => ContainerFacts | undefined;

/** What a wake carries out: a plan, and the daemon's view of the containers while it runs. */
export interface ChainWork {
  /** The route's name, for the log and the metrics. */
  service: string;
  plan: ChainPlan;
  /** Where the routed containers' readiness is probed (their port accepting connections). */
  upstream: UpstreamOf;
  /** The whole wake's deadline (the route's start timeout). */
  timeoutMs: number;
  /** Aborted when the unit is put to sleep while it starts. */
  signal: AbortSignal;
  /** Reads a container's facts anew: right after its start, rather than when its event arrives. */
  refresh(id: string): Promise<void>;
  /** Each container's progress as it goes, for the waiting page. */
  onPhase(id: string, phase: Phase): void;
  factsOf: FactsOf;
  /** The daemon's starts and stops in flight, shared by every wake. */
  jobs: ContainerJobs;
  /**
   * After a failure, what to stop of the containers this wake started, in levels, dependents
   * first: those no other ready or starting unit needs, and no container staying up needs.
   */
  stopsAfterFailure(started: ReadonlySet<string>): string[][];
  log(message: string, fields: Record<string, unknown>): void;
}

/** Why a wake failed, as the failure metric counts it (`aborted`: put to sleep while it started). */
export type WakeFailureCause = "health_check_failed" | "exited" | "timeout" | "start_failed" | "aborted";

/** One container of a finished wake: how long it took from its level's beginning, and whether this wake started it. */
export interface ChainStepResult {
  container: string;
  project: string;
  service: string;
  own: boolean;
  ms: number;
  started: boolean;
  phase: "ready" | "failed";
}

export type ChainResult =
  | { ok: true; ms: number; steps: ChainStepResult[]; levelsMs: number[] }
  | { ok: false; ms: number; failure: Failure; cause: WakeFailureCause; steps: ChainStepResult[] };

const LOG_LINES = 20;
/** The fast readiness pace: Docker's own first health probe waits a whole interval. */
const PROBE_PACE_MS = 50;
const PROBE_TIMEOUT_MS = 2_000;
const MAX_HEALTH_PACE_MS = 250;
/** The longest one try of a check may take, unless its interval is longer. */
const TRY_TIMEOUT_MS = 5_000;

type StepEnd = { ok: true } | { ok: false; failure: Failure; cause: WakeFailureCause };

/**
 * Carries out a wake plan level by level, the steps of a level side by side, each level once the
 * one before has reached what its dependents wait for. A required step that fails ends the wake
 * and stops what this wake started that no other unit needs (dependents first); an optional one
 * is logged and the wake goes on.
 */
export async function runChain(engine: Engine, work: ChainWork): Promise<ChainResult> {
  const began = Date.now();
  const deadline = began + work.timeoutMs;
  // A required failure ends the other steps of its level at once, as a sleep does.
  const halt = new AbortController();
  const signal = AbortSignal.any([work.signal, halt.signal]);
  const startedHere: string[][] = [];
  const steps: ChainStepResult[] = [];
  const levelsMs: number[] = [];
  let failed: { failure: Failure; cause: WakeFailureCause } | undefined;
  /** Optional steps that failed: what requires one of them is not started, and fails with it. */
  const failedIds = new Set<string>();

  for (const level of work.plan.levels) {
    if (work.signal.aborted) failed ??= aborted(work.service);
    if (failed) break;
    const levelBegan = Date.now();
    const startedInLevel: string[] = [];
    startedHere.push(startedInLevel);
    await Promise.all(
      level.map(async (step) => {
        const lost = (step.requires ?? []).find((id) => failedIds.has(id));
        const { end, started } = lost
          ? { end: dependencyLost(work, step, lost), started: false }
          : await runStep(engine, work, step, { began, deadline, signal, onStarted: () => startedInLevel.push(step.container.id) });
        steps.push(stepResult(step, Date.now() - levelBegan, started, end.ok));
        if (end.ok) return;
        if (step.need === "optional") {
          failedIds.add(step.container.id);
          if (end.cause !== "aborted") work.log("optional dependency failed", { service: work.service, container: step.container.name, reason: end.failure.reason });
          return;
        }
        if (end.cause !== "aborted" || work.signal.aborted) failed ??= { failure: end.failure, cause: end.cause };
        halt.abort();
      }),
    );
    levelsMs.push(Date.now() - levelBegan);
    if (work.signal.aborted) failed ??= aborted(work.service);
  }

  if (failed) {
    await stopStarted(engine, work, startedHere);
    return { ok: false, ms: Date.now() - began, ...failed, steps };
  }
  return { ok: true, ms: Date.now() - began, steps, levelsMs };
}

/** A step whose required dependency (an optional one of the wake's) failed: never started, it fails too. */
function dependencyLost(work: ChainWork, step: ChainStep, lost: string): StepEnd {
  const { id, name } = step.container;
  work.onPhase(id, "failed");
  const lostName = work.factsOf(lost)?.name ?? lost;
  return { ok: false, failure: { container: name, reason: `not started: it requires ${lostName}, which failed`, logs: [], status: 502 }, cause: "start_failed" };
}

interface StepContext {
  began: number;
  deadline: number;
  signal: AbortSignal;
  onStarted(): void;
}

/** One step: left alone when it already runs and has reached what is awaited of it; else started (or its start joined) and waited for. */
async function runStep(engine: Engine, work: ChainWork, step: ChainStep, context: StepContext): Promise<{ end: StepEnd; started: boolean }> {
  const { id, name } = step.container;
  const phase = (to: Phase) => {
    work.onPhase(id, to);
    work.log("wake step", { service: work.service, container: name, phase: to, atMs: Date.now() - context.began });
  };
  const known = work.factsOf(id) ?? step.container;
  const up = known.state === "running" && work.jobs.busy(id) !== "stop";
  /** Its StartedAt before this start: until its refresh or an event brings a newer one, "exited" is the old run's. */
  const previousRun = up ? undefined : known.startedAt;
  const current = () => {
    const facts = work.factsOf(id) ?? step.container;
    return previousRun !== undefined && facts.startedAt === previousRun && facts.state !== "running" ? { ...facts, state: "created" } : facts;
  };
  const watch = new StepWatch(engine, work, step, current, context);

  if (up) {
    const first = await watch.look();
    if (first !== "pending") {
      phase(first.ok ? "ready" : "failed");
      return { end: first, started: false };
    }
  }
  if (context.signal.aborted) return { end: { ok: false, ...aborted(name) }, started: false };
  phase("starting");
  let started = false;
  if (!up) {
    try {
      // Stays `running` when another wake's start of it was joined.
      const answer: { outcome: StartAnswer } = { outcome: "running" };
      const ran = await work.jobs.start(id, async () => {
        answer.outcome = await engine.startContainer(id);
        await work.refresh(id);
      });
      // A deploy's `up -d` is replacing it: the wake goes on with the rest, its successor among them.
      if (answer.outcome === "gone") {
        phase("ready");
        return { end: { ok: true }, started: false };
      }
      // Only what this wake started is stopped again if it fails: not what compose started meanwhile.
      started = ran && answer.outcome === "started";
      if (started) context.onStarted();
    } catch (error) {
      phase("failed");
      const reason = `could not be started: ${error instanceof Error ? error.message : String(error)}`;
      return { end: { ok: false, failure: { container: name, reason, logs: await lastLines(engine, id), status: 502 }, cause: "start_failed" }, started: false };
    }
  }
  const end = await watch.until();
  phase(end.ok ? "ready" : "failed");
  return { end, started };
}

/** Looks at one step's container until it has reached what is awaited of it, or failed. */
class StepWatch {
  private checkBeganAt: number | undefined;
  private checkFailures = 0;
  private healthTries = 0;
  private nextTryAt = 0;
  /** Its check (or Docker's health) passed: what is left is the routed port. */
  private ready = false;

  constructor(
    private readonly engine: Engine,
    private readonly work: ChainWork,
    private readonly step: ChainStep,
    private readonly current: () => ContainerFacts,
    private readonly context: StepContext,
  ) {}

  async until(): Promise<StepEnd> {
    for (;;) {
      const seen = await this.look();
      if (seen !== "pending") return seen;
      if (Date.now() >= this.context.deadline) {
        const facts = this.current();
        const reason = `not ready after ${Math.round(this.work.timeoutMs / 1000)} s (deploy-vps.proxy.start-timeout)`;
        return { ok: false, failure: { container: facts.name, reason, logs: await lastLines(this.engine, facts.id), status: 504 }, cause: "timeout" };
      }
      await new Promise((resolve) => setTimeout(resolve, PROBE_PACE_MS));
    }
  }

  /** One look: reached, failed, or not yet. */
  async look(): Promise<StepEnd | "pending"> {
    const { step } = this;
    if (this.context.signal.aborted) return { ok: false, ...aborted(step.container.name) };
    const facts = this.current();
    const until: Awaited = step.until;
    if (until === "completed" && facts.state === "exited" && facts.exitCode === 0) return { ok: true };
    if (facts.state === "exited" || facts.state === "dead" || facts.state === "restarting") {
      const how = facts.state === "restarting" ? "keeps restarting" : "exited";
      return this.failure(facts, `${how} (exit code ${facts.exitCode}) while starting`, "exited");
    }
    if (facts.state !== "running" || until === "completed") return "pending";
    if (until === "started") return { ok: true };
    if (!this.ready) {
      const passed = await this.passes(facts);
      if (passed !== true) return passed;
      this.ready = true;
    }
    if (!step.routed) return { ok: true };
    const upstream = this.work.upstream();
    return upstream !== undefined && (await tcpAccepts(upstream.host, upstream.port, PROBE_TIMEOUT_MS)) ? { ok: true } : "pending";
  }

  /** Its own check when it has one; else Docker's healthcheck, run now rather than after Docker's first interval; else running is enough. */
  private async passes(facts: ContainerFacts): Promise<true | "pending" | StepEnd> {
    const check = this.step.check;
    const runInContainer = (id: string, test: string[], timeoutMs: number) => this.engine.runProbe(id, test, timeoutMs);
    if (check === undefined) {
      if (facts.health === "unhealthy") return this.failure(facts, "Docker's healthcheck says unhealthy", "health_check_failed");
      if (facts.healthTest === undefined || facts.health === "healthy") return true;
      // Each try is an exec in the container: paced up to a few a second, so that a level of
      // several containers does not spend the host's CPU on probes instead of on starting them.
      const now = Date.now();
      if (now < this.nextTryAt) return "pending";
      if (await runInContainer(facts.id, facts.healthTest, PROBE_TIMEOUT_MS).catch(() => false)) return true;
      this.healthTries += 1;
      this.nextTryAt = Date.now() + Math.min(PROBE_PACE_MS * 2 ** this.healthTries, MAX_HEALTH_PACE_MS);
      return "pending";
    }
    const now = Date.now();
    if (now < this.nextTryAt) return "pending";
    const beganAt = (this.checkBeganAt ??= now);
    const timeLeft = Math.min(beganAt + check.timeoutMs, this.context.deadline) - now;
    // A try has a time of its own: a connect to an address gone with its container hangs, and the
    // watch must come back to see that it exited.
    const tryMs = Math.max(1, Math.min(timeLeft, Math.max(check.intervalMs, TRY_TIMEOUT_MS)));
    if (await tryProbe(check.probe, facts, runInContainer, tryMs)) return true;
    this.checkFailures += 1;
    const next = afterFailedTry(check, this.checkFailures, beganAt, now, Date.now());
    if ("failed" in next) return this.failure(facts, next.failed, "health_check_failed");
    this.nextTryAt = next.retryAt;
    return "pending";
  }

  private async failure(facts: ContainerFacts, reason: string, cause: WakeFailureCause): Promise<StepEnd> {
    return { ok: false, failure: { container: facts.name, reason, logs: await lastLines(this.engine, facts.id), status: 502 }, cause };
  }
}

function stepResult(step: ChainStep, ms: number, started: boolean, ready: boolean): ChainStepResult {
  const { container } = step;
  return { container: container.name, project: container.project ?? "", service: container.service ?? container.name, own: step.own, ms, started, phase: ready ? "ready" : "failed" };
}

/** Put to sleep while it started, or ended by another step's failure: not the failure to report for it. */
function aborted(container: string): { failure: Failure; cause: WakeFailureCause } {
  return { failure: { container, reason: "put to sleep while it started", logs: [], status: 502 }, cause: "aborted" };
}

/** What this wake started and nothing else needs, stopped again, dependents first. */
async function stopStarted(engine: Engine, work: ChainWork, startedHere: string[][]): Promise<void> {
  const levels = work.stopsAfterFailure(new Set(startedHere.flat()));
  for (const level of levels) await Promise.allSettled(level.map((id) => stopContainer(engine, work.jobs, work.refresh, id)));
}

async function lastLines(engine: Engine, id: string): Promise<string[]> {
  return engine.tailLogs(id, LOG_LINES).catch(() => []);
}

/**
 * Stops levels of containers in turn, dependents first (compose's stop_grace_period is each
 * container's StopTimeout). A container whose start is still in flight is stopped once started,
 * so none is left running.
 */
export async function stopInLevels(engine: Engine, levels: readonly (readonly string[])[], jobs: ContainerJobs, refresh: (id: string) => Promise<void>): Promise<void> {
  for (const level of levels) await Promise.all(level.map((id) => stopContainer(engine, jobs, refresh, id)));
}

/** Stopped through the jobs, its facts read anew before the job ends: a wake coming next must not take it for running. */
function stopContainer(engine: Engine, jobs: ContainerJobs, refresh: (id: string) => Promise<void>, id: string): Promise<void> {
  return jobs.stop(id, async () => {
    await engine.stopContainer(id);
    await refresh(id);
  });
}
