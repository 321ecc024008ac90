import { EventEmitter } from "node:events";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { ContainerEvent, Engine } from "../docker/engine.js";
import { serverLayout } from "../release/layout.js";
import { type ProxyConfig, parseProxyConfig } from "./config-file.js";
import { ContainerJobs } from "./container-jobs.js";
import type { DaemonLog } from "./daemon-log.js";
import { formatDuration } from "./durations.js";
import { estimateMs, estimateSeconds, rememberStart } from "./estimate.js";
import { idleLeftSeconds, idleVerdict } from "./idle.js";
import type { ProxyMetrics, UnitGauges } from "./metrics.js";
import type { ContainerFacts, DisabledRoute, Route, UnitState } from "./model.js";
import { advance, failureSentence, initialProgress, type Phase, type ProgressLine, type ProgressSnapshot, progressMessage } from "./progress.js";
import { buildRouteTable, type RouteTable } from "./routes.js";
import { readSavedState, type SavedState, type SavedUnit, StateWriter } from "./state-file.js";
import type { LiveTarget, PlanRefusal, ServiceStatus, StatusDocument, SwitchRefusal, SwitchRequest, SwitchResult, WakePlan } from "./status.js";
import { ThemeBook } from "./themes.js";
import { type Effect, type Failure, initialUnit, resumeUnit, step, type UnitEvent, type UnitStatus } from "./unit-state.js";
import { fileDependencies, parseDependenciesFile } from "./dependencies-file.js";
import { dependencyStops, failedWakeStops, sleepDecision } from "./dependency-stops.js";
import { addressKey, InFlight } from "./drain.js";
import { chooseLive, type Live, type Pin, pinKept } from "./live.js";
import { addressOf } from "./readiness.js";
import { runSwitch } from "./switch.js";
import { type ChainAnswer, declaredDependencies, type DependencyGraph, dependencyGraph, type UnitView, unitNeeds, wakeChain, wakePlanDocument } from "./wake-chain.js";
import { runChain, stopInLevels } from "./wake.js";

/** What a request waiting on a start is told when the start ends. */
export type StartOutcome = { ok: true } | { ok: false; failure: Failure };

/** One routed unit: its route, where its state machine stands, and what the daemon measures of it. */
export interface Unit {
  route: Route;
  status: UnitStatus;
  waiters: ((outcome: StartOutcome) => void)[];
  lastActivityAt: number;
  /** Proxied requests in flight and tunnels open (websockets, streams): the idle clock waits for 0. */
  open: number;
  startsMs: number[];
  lastStartMs: number | null;
  /** Last measured while it ran: in use while up, freed while asleep. */
  memoryBytes: number | null;
  idleTimer?: NodeJS.Timeout;
  starting?: AbortController;
  /** The last start's containers, each as far as it got: what the waiting page shows. */
  progress: ProgressLine[];
  /** When the last start began, and when the unit was last seen ready (the waiting page's switch). */
  startBegunAt: number | null;
  readyAt: number | null;
  /** The container the last blue-green switch made live (saved; forgotten once it is destroyed). */
  pin?: Pin;
  /** A switch runs: it counts as activity, so the idle clock never stops the unit under it. */
  switching: boolean;
}

export interface RuntimeOptions {
  engine: Engine;
  log: DaemonLog;
  stateDir: string;
  configFile?: string;
  /** The seed's dependencies file, if any. */
  dependenciesFile?: string;
  metrics?: ProxyMetrics;
  version: string;
}

const MEMORY_EVERY_MS = 30_000;
const SAVE_DEBOUNCE_MS = 200;
/** Activity alone is saved less often: a kill -9 then costs the idle clock a few seconds at most. */
const ACTIVITY_SAVE_MS = 5_000;
const REBUILD_DEBOUNCE_MS = 50;
const ROUTE_ACTIONS = new Set(["create", "destroy", "rename"]);

/**
 * The runtime: Docker's containers as its events tell them, the routes their labels (and the
 * config file) declare, and one state machine per unit whose effects it carries out.
 */
export class Runtime {
  private readonly containers = new Map<string, ContainerFacts>();
  /** Reads of the Engine are numbered: each container's facts come from the read numbered here. */
  private readonly readOf = new Map<string, number>();
  private reads = 0;
  /** Starts and stops in flight, shared by every wake and stop. */
  private readonly jobs = new ContainerJobs();
  /**
   * Every container joined by what it needs (depends_on, labels, the dependencies file), with why
   * a container's dependency labels were refused (the units that need it are disabled). Made
   * anew from the containers' current facts whenever one changed: the stop decisions read states.
   */
  private chainFacts: { graph: DependencyGraph; labelProblems: Map<string, string> } | undefined;
  /** When each container was last needed by a ready or starting unit. */
  private lastNeeded = new Map<string, number>();
  private dependencyTimer?: NodeJS.Timeout;
  /** Each container's last start durations, by name: the wake plans' estimates. */
  private containerStarts: Record<string, number[]> = {};
  /** The dependencies file as the graph takes it (the last good one). */
  private fromFile: FileDependencies = fileDependencies({ file: "", units: [] });
  private dependenciesError: string | null = null;
  private table: RouteTable = buildRouteTable([], undefined);
  readonly units = new Map<string, Unit>();
  /** The exchanges in flight per upstream address: what a switch drains. */
  readonly inFlight = new InFlight();
  private config: ProxyConfig | undefined;
  private configError: string | null = null;
  private saved: SavedState = { version: 1, units: {} };
  /** Units met since the daemon started: only their first meeting resumes what was saved. */
  private readonly met = new Set<string>();
  private readonly writer: StateWriter;
  private readonly changes = new EventEmitter();
  private readonly stopEvents = new AbortController();
  private rebuildTimer?: NodeJS.Timeout;
  private saveTimer?: NodeJS.Timeout;
  private saveDue = Infinity;
  private memoryTimer?: NodeJS.Timeout;
  private synced!: Promise<void>;
  private markSynced!: () => void;
  /** The waiting pages' themes: built in, or from the config's themes folder. */
  readonly themes: ThemeBook;

  constructor(private readonly options: RuntimeOptions) {
    this.writer = new StateWriter(join(options.stateDir, "state.json"));
    this.changes.setMaxListeners(0);
    this.themes = new ThemeBook({ log: options.log });
  }

  private get engine(): Engine {
    return this.options.engine;
  }

  private get log(): DaemonLog {
    return this.options.log;
  }

  /** Reads the saved state and the config, follows Docker's events; resolves after the first full sync. */
  async start(): Promise<void> {
    const { state, warning } = await readSavedState(join(this.options.stateDir, "state.json"));
    this.saved = state;
    this.containerStarts = state.containers ?? {};
    if (warning) this.log.warn(warning);
    await this.loadConfig();
    await this.loadDependencies();
    this.synced = new Promise((resolve) => (this.markSynced = resolve));
    await this.engine.negotiate();
    this.engine.followEvents(
      {
        onEvent: (event) => void this.onEvent(event).catch((error: unknown) => this.log.error("event handling failed", { error: String(error) })),
        onConnected: () => void this.resync().catch((error: unknown) => this.log.error("resync failed", { error: String(error) })),
        onDisconnected: (reason) => this.log.warn("lost Docker's events; reconnecting", { reason }),
      },
      this.stopEvents.signal,
    );
    await this.synced;
    this.memoryTimer = setInterval(() => void this.measureMemory(), MEMORY_EVERY_MS);
    this.memoryTimer.unref();
  }

  async stop(): Promise<void> {
    this.stopEvents.abort();
    clearInterval(this.memoryTimer);
    clearTimeout(this.rebuildTimer);
    clearTimeout(this.saveTimer);
    clearTimeout(this.dependencyTimer);
    for (const unit of this.units.values()) clearTimeout(unit.idleTimer);
    await this.writer.save(this.snapshot());
  }

  // ---- What Docker says ----

  /** Every container anew: after the first connection and after each reconnection (Docker may have restarted). */
  private async resync(): Promise<void> {
    const all = await this.engine.composeContainers();
    this.containers.clear();
    for (const container of all) this.containers.set(container.id, container);
    this.chainFacts = undefined;
    this.rebuild();
    // Only a full read tells that a pinned container is gone for good (destroyed while the daemon was away).
    this.forgetGonePins();
    this.log.info("synced with Docker", { containers: all.length, routes: this.table.routes.length });
    this.markSynced();
  }

  private async onEvent(event: ContainerEvent): Promise<void> {
    if (!event.labels["com.docker.compose.project"] && !this.containers.has(event.id)) return;
    if (event.action === "destroy") {
      this.containers.delete(event.id);
      this.chainFacts = undefined;
      this.forgetGonePins();
    }
    else await this.refresh(event.id);
    if (ROUTE_ACTIONS.has(event.action)) this.rebuildSoon();
    else this.observeAll();
  }

  /**
   * A container's facts read anew; one gone since is forgotten. A read never replaces one asked
   * after it: a wake's read right after a start may answer after the one its `die` event asked
   * for, and its "running" would then stand for good.
   */
  private async refresh(id: string): Promise<void> {
    const asked = ++this.reads;
    const facts = await this.engine.inspectContainer(id);
    if (asked < (this.readOf.get(id) ?? 0)) return;
    this.readOf.set(id, asked);
    this.chainFacts = undefined;
    if (facts) this.containers.set(id, facts);
    else {
      this.containers.delete(id);
      this.readOf.delete(id);
    }
  }

  private rebuildSoon(): void {
    clearTimeout(this.rebuildTimer);
    this.rebuildTimer = setTimeout(() => this.rebuild(), REBUILD_DEBOUNCE_MS);
  }

  /** Routes from labels and config; units follow them: new ones made, gone ones dropped. */
  private rebuild(): void {
    const table = buildRouteTable([...this.containers.values()], this.config);
    this.chainFacts = undefined;
    const now = Date.now();
    for (const route of table.routes) {
      const known = this.units.get(route.name);
      if (known) {
        known.route = route;
        continue;
      }
      const saved: SavedUnit | undefined = this.met.has(route.name) ? undefined : this.saved.units[route.name];
      this.met.add(route.name);
      const running = this.isRunning(route);
      // After a restart or a kill -9, nothing starts or stops because of it: a start or stop under way is finished.
      const resumed = saved ? resumeUnit(saved, running, now) : { unit: initialUnit(running, now), effects: [] };
      const unit: Unit = {
        route,
        status: resumed.unit,
        waiters: [],
        lastActivityAt: saved?.lastActivityAt ?? now,
        open: 0,
        startsMs: saved?.startsMs ?? [],
        lastStartMs: saved?.startsMs.at(-1) ?? null,
        memoryBytes: saved?.memoryBytes ?? null,
        progress: [],
        startBegunAt: null,
        readyAt: resumed.unit.state === "ready" ? now : null,
        pin: saved?.pin,
        switching: false,
      };
      this.units.set(route.name, unit);
      this.log.info("routing", { service: route.name, hosts: route.hosts, mode: route.mode, state: unit.status.state });
      for (const effect of resumed.effects) this.apply(unit, effect);
    }
    for (const [name, unit] of this.units) {
      if (table.byName(name)) continue;
      clearTimeout(unit.idleTimer);
      this.settle(unit, { ok: false, failure: { container: name, reason: "no longer routed", logs: [], status: 502 } });
      this.units.delete(name);
      this.log.info("no longer routed", { service: name });
    }
    for (const disabled of table.disabled) {
      if (!this.table.disabled.some((d) => d.name === disabled.name && d.reason === disabled.reason)) {
        this.log.warn("service disabled", { service: disabled.name, reason: disabled.reason });
      }
    }
    for (const conflict of table.conflicts) if (!this.table.conflicts.includes(conflict)) this.log.warn("conflict", { conflict });
    this.table = table;
    this.checkChains();
    this.observeAll();
    for (const unit of this.units.values()) this.scheduleIdle(unit);
    this.checkDependencies();
  }

  // ---- Wake chains ----

  private get graph(): DependencyGraph {
    this.chainFacts ??= this.joinContainers();
    return this.chainFacts.graph;
  }

  private get labelProblems(): Map<string, string> {
    this.chainFacts ??= this.joinContainers();
    return this.chainFacts.labelProblems;
  }

  /** Every container joined by what it needs: compose's depends_on, the dependency labels, the dependencies file. */
  private joinContainers(): { graph: DependencyGraph; labelProblems: Map<string, string> } {
    const { declared, problems } = declaredDependencies(this.containers.values(), this.fromFile.byContainer);
    return {
      graph: dependencyGraph([...this.containers.values()], declared),
      labelProblems: new Map([...problems].map(([id, found]) => [id, found.join("; ")])),
    };
  }

  /** Units whose wake cannot be planned are disabled, saying why; the others keep working (and come back once it can). */
  private checkChains(): void {
    for (const unit of this.units.values()) {
      const planned = this.planned(unit.route);
      if ("refusal" in planned) this.dispatch(unit.route.name, { type: "disable", reason: planned.refusal.error });
      else if (unit.status.state === "disabled") this.dispatch(unit.route.name, { type: "enable", running: this.isRunning(unit.route) });
    }
  }

  /** A unit as the chain planner sees it. */
  private chainUnit(route: Route): UnitView {
    const routed = this.routedContainers(route);
    // The file's KEY is the route's name, or its `name` the routed container's.
    const members = this.fromFile.members.get(route.name) ?? [...this.fromFile.members.values()].find((m) => routed.some((c) => c.name === m.main));
    const idsOf = (names: readonly string[]) => [...this.containers.values()].filter((c) => names.includes(c.name)).map((c) => c.id);
    return {
      name: route.name,
      project: route.project,
      members: idsOf(members?.containers ?? []),
      optionalMembers: new Set(idsOf(members?.optional ?? [])),
      routed: new Set(routed.map((c) => c.id)),
      state: this.units.get(route.name)?.status.state ?? "sleeping",
      idleMs: route.idleMs,
    };
  }

  private unitViews(): UnitView[] {
    return [...this.units.values()].map((unit) => this.chainUnit(unit.route));
  }

  /** The unit's wake in levels, or why it cannot be planned: a cycle, a missing dependency, a bad dependency label. */
  private planned(route: Route): ChainAnswer & { ok: true } | { refusal: PlanRefusal } {
    const answer = wakeChain(this.graph, this.chainUnit(route));
    if ("cycle" in answer) return { refusal: { error: `dependency cycle: ${answer.cycle.join(" → ")}`, cycle: answer.cycle } };
    if ("missing" in answer) return { refusal: { error: `missing dependency: ${answer.missing.join("; ")}`, missing: answer.missing } };
    const bad = answer.plan.levels.flat().map((s) => this.labelProblems.get(s.container.id)).find((problem) => problem !== undefined);
    return bad === undefined ? answer : { refusal: { error: bad } };
  }

  /** Dependencies with an idle policy that no running unit has needed for that long are stopped, dependents first. */
  private checkDependencies(): void {
    clearTimeout(this.dependencyTimer);
    const now = Date.now();
    const { stop, lastNeeded, nextCheckAt } = dependencyStops({ graph: this.graph, units: this.unitViews(), startsInFlight: this.jobs.startsInFlight(), lastNeeded: this.lastNeeded, now });
    this.lastNeeded = lastNeeded;
    const ids = stop.flat().filter((id) => this.jobs.busy(id) !== "stop");
    if (ids.length > 0) {
      this.log.info("stopping dependencies nobody needs", { containers: ids.map((id) => this.containers.get(id)?.name ?? id) });
      stopInLevels(this.engine, stop, this.jobs, (id) => this.refresh(id)).catch((error: unknown) =>
        this.log.error("dependency stop failed", { error: error instanceof Error ? error.message : String(error) }),
      );
    }
    if (nextCheckAt === null) return;
    this.dependencyTimer = setTimeout(() => this.checkDependencies(), Math.max(0, nextCheckAt - now));
    this.dependencyTimer.unref();
  }

  /** A container's start estimate: the median of its own last starts. */
  private containerEstimateMs(container: ContainerFacts): number {
    return estimateMs(this.containerStarts[container.name] ?? [], DEFAULT_STEP_ESTIMATE_MS);
  }

  private projectContainers(project: string): ContainerFacts[] {
    return [...this.containers.values()].filter((c) => c.project === project && !c.oneoff);
  }

  /** The containers a request of this route goes to (for a config entry: those publishing its port). */
  private routedContainers(route: Route): ContainerFacts[] {
    const all = this.projectContainers(route.project);
    const target = route.target;
    if (target.kind === "container") return all.filter((c) => c.service === target.service);
    const publishing = all.filter((c) => c.published.some((p) => p.hostPort === target.port));
    return publishing.length > 0 ? publishing : all;
  }

  /**
   * Where readiness is probed: the app itself. Docker's userland proxy in front of a published
   * port accepts connections before the app listens, so a config entry's port would say ready too soon.
   */
  private readinessAddress(route: Route): { host: string; port: number } | undefined {
    const target = route.target;
    if (target.kind === "container" || this.unitOf(route)?.pin) return this.upstream(route);
    for (const container of this.routedContainers(route)) {
      const port = this.containerPort(route, container);
      const address = addressOf(container);
      if (container.state === "running" && port !== undefined && address) return { host: address, port };
    }
    return this.upstream(route);
  }

  /** Up as far as Docker says (running, and not still in its health's `starting`), and its required dependencies too. */
  private isRunning(route: Route): boolean {
    const live = this.live(route);
    if (!live || !isUp(live.container)) return false;
    // A request is never forwarded to a unit whose required dependency in another project is down.
    const awaitedDone = (id: string) => this.graph.edges.some((e) => e.to === id && e.until === "completed");
    for (const [id, need] of unitNeeds(this.graph, this.chainUnit(route))) {
      const container = this.containers.get(id);
      if (need === "required" && container && container.project !== route.project && !isUp(container) && !awaitedDone(id)) return false;
    }
    return true;
  }

  private observeAll(): void {
    for (const unit of this.units.values()) {
      const running = this.isRunning(unit.route);
      const state = unit.status.state;
      if ((running && (state === "sleeping" || state === "failed")) || (!running && state === "ready")) {
        this.log.info(running ? "started outside the proxy" : "stopped outside the proxy", { service: unit.route.name });
        this.dispatch(unit.route.name, { type: "observed", running });
      }
    }
  }

  // ---- The state machine and its effects ----

  dispatch(name: string, event: UnitEvent): void {
    const unit = this.units.get(name);
    if (!unit) return;
    const before = unit.status.state;
    const { unit: status, effects } = step(unit.status, event, Date.now());
    // What it needed was needed until this moment: a dependency's idle time counts from now.
    if (isActive(before) && !isActive(status.state)) this.checkDependencies();
    unit.status = status;
    if (status.state === "ready" && before !== "ready") unit.readyAt = Date.now();
    for (const effect of effects) this.apply(unit, effect);
    if (status.state !== before) {
      this.log.info("state", { service: name, from: before, to: status.state, event: event.type });
      this.checkDependencies();
    }
    this.scheduleIdle(unit);
    this.saveSoon();
    this.changes.emit("change", name);
  }

  private apply(unit: Unit, effect: Effect): void {
    switch (effect.type) {
      case "start":
        this.beginStart(unit);
        return;
      case "stop":
        this.beginStop(unit);
        return;
      case "settle":
        this.settle(unit, effect.ok ? { ok: true } : { ok: false, failure: effect.failure });
        return;
      case "recordStart":
        unit.startsMs = rememberStart(unit.startsMs, effect.ms);
        unit.lastStartMs = effect.ms;
        this.options.metrics?.started(unit.route.name, effect.ms);
        setTimeout(() => void this.measureUnit(unit), 3_000).unref();
        return;
      case "resetIdle":
        unit.lastActivityAt = Date.now();
        return;
    }
  }

  private settle(unit: Unit, outcome: StartOutcome): void {
    const waiters = unit.waiters;
    unit.waiters = [];
    for (const waiter of waiters) waiter(outcome);
  }

  private beginStart(unit: Unit): void {
    const name = unit.route.name;
    const containers = this.projectContainers(unit.route.project);
    if (containers.length === 0) {
      queueMicrotask(() =>
        this.dispatch(name, {
          type: "startFailed",
          failure: { container: unit.route.project, reason: `compose project ${unit.route.project} has no containers (deploy it first)`, logs: [], status: 502 },
        }),
      );
      return;
    }
    const planned = this.planned(unit.route);
    if ("refusal" in planned) {
      this.options.metrics?.wakeFailed(name, planned.refusal.cycle ? "cycle" : "missing");
      queueMicrotask(() => this.dispatch(name, { type: "startFailed", failure: { container: name, reason: planned.refusal.error, logs: [], status: 502 } }));
      return;
    }
    const { plan } = planned;
    const controller = new AbortController();
    unit.starting = controller;
    this.log.info("starting", { service: name, containers: plan.levels.map((level) => level.map((step) => step.container.name)) });
    unit.progress = initialProgress(plan.levels.map((level) => level.map((step) => step.container)), unit.route.project);
    unit.startBegunAt = Date.now();
    const onPhase = (id: string, phase: Phase) => {
      if (controller.signal.aborted) return;
      unit.progress = advance(unit.progress, id, phase);
      this.changes.emit("change", name);
    };
    runChain(this.engine, {
      service: name,
      plan,
      upstream: () => this.readinessAddress(unit.route),
      timeoutMs: unit.route.startTimeoutMs,
      signal: controller.signal,
      refresh: (id) => this.refresh(id),
      onPhase,
      factsOf: (id) => this.containers.get(id),
      jobs: this.jobs,
      stopsAfterFailure: (started) => failedWakeStops(this.graph, this.unitViews(), name, started, this.jobs.startsInFlight()),
      log: (message, fields) => this.log.info(message, fields),
    }).then(
      (result) => {
        if (controller.signal.aborted) return;
        unit.starting = undefined;
        this.options.metrics?.wakeEnded(name, result);
        for (const step of result.steps) {
          if (step.started && step.phase === "ready") this.containerStarts[step.container] = rememberStart(this.containerStarts[step.container] ?? [], step.ms);
        }
        if (result.ok) {
          this.log.info("ready", { service: name, ms: result.ms });
          this.dispatch(name, { type: "started", ms: result.ms });
        } else {
          this.log.error("start failed", { service: name, container: result.failure.container, reason: result.failure.reason, logs: result.failure.logs });
          this.options.metrics?.startFailed(name);
          this.dispatch(name, { type: "startFailed", failure: result.failure });
        }
      },
      (error: unknown) => this.dispatch(name, { type: "startFailed", failure: { container: name, reason: String(error), logs: [], status: 502 } }),
    );
  }

  private beginStop(unit: Unit): void {
    const name = unit.route.name;
    unit.starting?.abort();
    unit.starting = undefined;
    // What another ready or starting unit needs stays up (it stops later, once nobody needs it).
    const decision = sleepDecision(this.graph, this.unitViews(), name, this.jobs.startsInFlight());
    const levels = "hold" in decision ? [] : decision.stop;
    const kept = "keep" in decision ? decision.keep.map((k) => this.containers.get(k.id)?.name ?? k.id) : [];
    this.log.info("stopping", { service: name, ...(kept.length > 0 ? { keptForOthers: kept } : {}) });
    stopInLevels(this.engine, levels, this.jobs, (id) => this.refresh(id)).then(
      () => this.dispatch(name, { type: "stopped" }),
      (error: unknown) => this.dispatch(name, { type: "stopFailed", reason: error instanceof Error ? error.message : String(error) }),
    );
  }

  // ---- Idleness ----

  private deployLocked(route: Route): boolean {
    return this.projectContainers(route.project).some((c) => c.workingDir !== undefined && existsSync(serverLayout(c.workingDir).lock));
  }

  private idleInput(unit: Unit, now: number) {
    const { idleMs } = unit.route;
    // The lock is a file: looked at only once the idle time is up, not on every request.
    const due = idleMs !== null && now >= unit.lastActivityAt + idleMs;
    return { idleMs, lastActivityAt: unit.lastActivityAt, openConnections: unit.open + (unit.switching ? 1 : 0), deployLocked: due && this.deployLocked(unit.route), state: unit.status.state, now };
  }

  private scheduleIdle(unit: Unit): void {
    clearTimeout(unit.idleTimer);
    unit.idleTimer = undefined;
    if (unit.status.state !== "ready") return;
    const input = this.idleInput(unit, Date.now());
    const verdict = idleVerdict(input);
    if (verdict.stop) {
      const holders = this.holders(unit);
      if (holders.length === 0) {
        this.log.info("idle", { service: unit.route.name, idle: formatDuration(unit.route.idleMs) });
        this.dispatch(unit.route.name, { type: "sleep" });
        return;
      }
      // Idle, but a running unit needs it: looked at again, as that unit may sleep meanwhile.
      unit.idleTimer = setTimeout(() => this.scheduleIdle(unit), HELD_RECHECK_MS);
      unit.idleTimer.unref();
      return;
    }
    if (verdict.checkAt === null) return;
    unit.idleTimer = setTimeout(() => this.scheduleIdle(unit), Math.max(0, verdict.checkAt - Date.now()));
    unit.idleTimer.unref();
  }

  /** A proxied exchange begins (monitors' requests never count). */
  opened(unit: Unit): void {
    unit.open += 1;
    unit.lastActivityAt = Date.now();
  }

  closed(unit: Unit): void {
    unit.open -= 1;
    unit.lastActivityAt = Date.now();
    // A timer already set looks again when it fires, at the activity of that moment: requests need not re-arm it.
    if (unit.open === 0 && unit.idleTimer === undefined) this.scheduleIdle(unit);
    this.saveSoon(ACTIVITY_SAVE_MS);
  }

  // ---- What requests and the control socket ask ----

  lookup(host: string): Route | undefined {
    return this.table.lookup(host);
  }

  byName(name: string): Route | undefined {
    return this.table.byName(name);
  }

  unitOf(route: Route): Unit | undefined {
    return this.units.get(route.name);
  }

  /**
   * Where a request of this route goes now: only ever an address Docker gave its live container
   * (with the port a switch chose, else the route's), or a config entry's host port until a switch pins it.
   */
  upstream(route: Route): { host: string; port: number } | undefined {
    const live = this.live(route);
    if (route.target.kind === "host-port" && !live?.pin) return { host: "127.0.0.1", port: route.target.port };
    const address = live && addressOf(live.container);
    return address ? { host: address, port: live.pin?.port ?? route.target.port } : undefined;
  }

  /** The container the route forwards to: the one a switch pinned while it runs, else the oldest running one of the routed service. */
  private live(route: Route): Live | undefined {
    return chooseLive(this.routedContainers(route), this.unitOf(route)?.pin, (id) => this.containers.get(id));
  }

  /** The live container as `status` and `GET /services/NAME/live` show it: its port is the one of the container itself. */
  liveTarget(route: Route): LiveTarget | undefined {
    const live = this.live(route);
    if (!live) return undefined;
    const { id, name } = live.container;
    return { id, name, port: live.pin?.port ?? this.containerPort(route, live.container) ?? route.target.port };
  }

  /** The port of CONTAINER the route reaches: its own port, or the one a config entry's host port is published from. */
  private containerPort(route: Route, container: ContainerFacts): number | undefined {
    const target = route.target;
    return target.kind === "container" ? target.port : container.published.find((p) => p.hostPort === target.port)?.containerPort;
  }

  private forgetGonePins(): void {
    for (const unit of this.units.values()) {
      if (unit.pin === undefined || pinKept(unit.pin, (id) => this.containers.has(id)) !== undefined) continue;
      this.log.info("live container gone; forwarding to the oldest running one", { service: unit.route.name, container: unit.pin.id });
      unit.pin = undefined;
      this.saveSoon();
    }
  }

  /**
   * A blue-green switch of the unit NAME to container `to` (see SwitchRequest): checked, then
   * carried out to its end whoever waits for the answer. One at a time per unit.
   */
  async switchTo(request: SwitchRequest): Promise<{ status: number; body: SwitchResult | SwitchRefusal }> {
    const route = this.byName(request.service);
    const unit = route && this.unitOf(route);
    if (!route || !unit) return { status: 404, body: { error: `no service named ${request.service}` } };
    if (unit.switching) return { status: 409, body: { error: `a switch of ${route.name} is already running` } };
    unit.switching = true;
    try {
      const target = await this.containerNamed(request.to);
      if (!target || target.project !== route.project || target.oneoff) {
        return { status: 409, body: { error: `${request.to} is not a container of compose project ${route.project}`, container: request.to } };
      }
      const port = request.port ?? this.containerPort(route, target);
      if (port === undefined) return { status: 400, body: { error: `${target.name} does not publish port ${route.target.port}: say which of its ports to forward to (port=N)`, container: target.name } };
      this.log.info("switch", { service: route.name, phase: "asked", to: target.name, port, drainSeconds: request.drainSeconds, after: request.after });
      const { answer, drained } = await runSwitch({
        request: { ...request, service: route.name },
        target,
        port,
        factsOf: (id) => this.containers.get(id),
        runInContainer: (id, test, timeoutMs) => this.engine.runProbe(id, test, timeoutMs),
        inFlight: this.inFlight,
        pin: () => this.pin(unit, target, port),
        retire: async (container, remove) => {
          await stopInLevels(this.engine, [[container.id]], this.jobs, (id) => this.refresh(id));
          if (remove) await this.engine.removeContainer(container.id);
        },
        log: (message, fields) => this.log.info(message, fields),
      });
      this.options.metrics?.switched(route.name, answer.status === 200 ? "switched" : answer.status === 422 ? "unready" : "failed", drained);
      return answer;
    } finally {
      unit.switching = false;
      unit.lastActivityAt = Date.now();
      this.scheduleIdle(unit);
    }
  }

  /** A container by id, unique start of an id, or name, read anew from Docker (a container just made may not have had its event yet). */
  private async containerNamed(reference: string): Promise<ContainerFacts | undefined> {
    const known = this.containers.get(reference) ?? [...this.containers.values()].find((c) => c.name === reference);
    const id = known?.id ?? (await this.engine.inspectContainer(reference))?.id;
    if (id === undefined) return undefined;
    await this.refresh(id);
    return this.containers.get(id);
  }

  /** Points the route at TARGET in one step (every later request and websocket goes there) and saves it; answers what the route left. */
  private async pin(unit: Unit, target: ContainerFacts, port: number): Promise<{ from: ContainerFacts[]; addresses: string[] }> {
    const before = this.live(unit.route);
    const oldUpstream = this.upstream(unit.route);
    unit.pin = { id: target.id, port };
    const newUpstream = this.upstream(unit.route);
    const from = before && before.container.id !== target.id ? [before.container] : [];
    const addresses = oldUpstream && (!newUpstream || addressKey(oldUpstream) !== addressKey(newUpstream)) ? [addressKey(oldUpstream)] : [];
    this.changes.emit("change", unit.route.name);
    await this.writer.save(this.snapshot());
    return { from, addresses };
  }

  /** `GET /services/NAME/live`: its live container, or why there is none. */
  liveAnswer(name: string): { status: number; body: LiveTarget | SwitchRefusal } {
    const route = this.byName(name);
    if (!route) return { status: 404, body: { error: `no service named ${name}` } };
    const live = this.liveTarget(route);
    return live ? { status: 200, body: live } : { status: 404, body: { error: `${name} has no running container` } };
  }

  /** Resolves when the unit is ready (at once if it is), or its start failed. Wakes it if it sleeps. */
  whenReady(unit: Unit): Promise<StartOutcome> {
    if (unit.status.state === "ready") return Promise.resolve({ ok: true });
    return new Promise((resolve) => {
      unit.waiters.push(resolve);
      this.dispatch(unit.route.name, { type: "wake" });
    });
  }

  /** Wakes it without waiting (async mode answers at once). */
  wakeInBackground(unit: Unit): void {
    if (unit.status.state !== "ready" && unit.status.state !== "starting") this.dispatch(unit.route.name, { type: "wake" });
  }

  estimate(unit: Unit): number {
    return estimateSeconds(unit.startsMs, unit.route.estimateMs);
  }

  /** What the waiting page shows of a unit now. */
  progress(unit: Unit): ProgressSnapshot {
    const { state, lastFailure } = unit.status;
    const lines = state === "sleeping" || state === "stopping" ? this.plannedLines(unit) : unit.progress;
    return {
      state,
      elapsedMs: state === "starting" && unit.startBegunAt !== null ? Date.now() - unit.startBegunAt : 0,
      estimateMs: Math.round(this.estimate(unit) * 1000),
      message: progressMessage(state, lines),
      containers: lines.map(({ name, phase }) => ({ name, phase })),
      ...(state === "failed" && lastFailure ? { failure: failureSentence(lastFailure, lines) } : {}),
    };
  }

  /** The lines a wake would show now: its containers in start order, what runs already ready. */
  private plannedLines(unit: Unit): ProgressLine[] {
    const planned = this.planned(unit.route);
    return "refusal" in planned ? [] : initialProgress(planned.plan.levels.map((level) => level.map((s) => this.containers.get(s.container.id) ?? s.container)), unit.route.project);
  }

  /** Calls `listener` on every change of this unit (its state, a container's progress) until the returned function is called. */
  watch(unit: Unit, listener: () => void): () => void {
    const name = unit.route.name;
    const onChange = (changed: string) => {
      if (changed === name) listener();
    };
    this.changes.on("change", onChange);
    return () => this.changes.off("change", onChange);
  }

  /** The seed's dry-run: the wake's levels with each container's estimate, or why it cannot be planned. */
  wakePlan(route: Route): WakePlan | PlanRefusal {
    const planned = this.planned(route);
    if ("refusal" in planned) return { ...planned.refusal, error: `${route.name} cannot be woken: ${planned.refusal.error}` };
    return wakePlanDocument(route.name, planned.plan, (c) => this.containerEstimateMs(c), isUp);
  }

  /** The units (or running containers) that need this unit's routed containers up: it is then kept awake. */
  holders(unit: Unit): string[] {
    const decision = sleepDecision(this.graph, this.unitViews(), unit.route.name, this.jobs.startsInFlight());
    return "hold" in decision ? decision.hold : [];
  }

  async sleep(unit: Unit): Promise<void> {
    this.dispatch(unit.route.name, { type: "sleep" });
    while (unit.status.state === "stopping") await new Promise((resolve) => this.changes.once("change", resolve));
  }

  status(): StatusDocument {
    const now = Date.now();
    const services: ServiceStatus[] = [...this.units.values()].map((unit) => this.serviceStatus(unit, now));
    services.push(...this.table.disabled.map((route) => ({ ...disabledStatus(route), conflict: this.conflictOf(route) })));
    services.sort((a, b) => a.name.localeCompare(b.name));
    return {
      services,
      memoryFreedBytes: services.reduce((sum, s) => sum + (s.memoryFreedBytes ?? 0), 0),
      configError: this.configError,
      dependenciesError: this.dependenciesError,
      conflicts: this.table.conflicts,
      version: this.options.version,
    };
  }

  private serviceStatus(unit: Unit, now: number): ServiceStatus {
    const { route, status } = unit;
    const asleep = status.state === "sleeping" || status.state === "failed";
    return {
      name: route.name,
      project: route.project,
      hosts: route.hosts,
      mode: route.mode,
      state: status.state,
      reason: status.reason,
      idle: formatDuration(route.idleMs),
      idleLeftSeconds: idleLeftSeconds(this.idleInput(unit, now)),
      lastStartMs: unit.lastStartMs,
      memoryBytes: asleep ? null : unit.memoryBytes,
      memoryFreedBytes: asleep ? unit.memoryBytes : null,
      source: sourceText(route),
      conflict: this.conflictOf(route),
      lastFailure: status.lastFailure ?? undefined,
      live: this.liveTarget(route),
    };
  }

  /** The conflict line that names this route or one of its hosts, for `status`. */
  private conflictOf(route: Route | DisabledRoute): string | undefined {
    return this.table.conflicts.find((line) => line.includes(`(${route.name})`) || line.includes(` ${route.name} `) || route.hosts.some((host) => line.includes(`host ${host} `)));
  }

  gauges(): Map<string, UnitGauges> {
    const status = this.status();
    return new Map(
      status.services.map((s) => [s.name, { state: s.state, openConnections: this.units.get(s.name)?.open ?? 0, memoryBytes: s.memoryBytes, memoryFreedBytes: s.memoryFreedBytes }]),
    );
  }

  // ---- The config file ----

  async loadConfig(): Promise<void> {
    this.configError = await this.follow(this.options.configFile, "config", parseProxyConfig, (config) => {
      this.config = config;
      this.themes.setCustomFolder(config?.themesFolder);
    });
  }

  async reloadConfig(): Promise<void> {
    await this.loadConfig();
    this.rebuild();
  }

  async loadDependencies(): Promise<void> {
    this.dependenciesError = await this.follow(this.options.dependenciesFile, "dependencies file", parseDependenciesFile, (doc) => {
      this.fromFile = fileDependencies(doc ?? { file: "", units: [] });
      this.chainFacts = undefined;
    });
  }

  /**
   * A file the daemon follows, read and parsed: `apply` gets its value (undefined when the file is
   * gone). A bad one keeps the last good one in force; the error returned shows in `status`.
   */
  private async follow<T>(file: string | undefined, what: string, parse: (text: string, file: string) => T, apply: (value: T | undefined) => void): Promise<string | null> {
    if (!file) return null;
    let text: string;
    try {
      text = await readFile(file, "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") return `${file}: ${(error as Error).message}`;
      apply(undefined);
      return null;
    }
    try {
      apply(parse(text, file));
      this.log.info(`${what} loaded`, { file });
      return null;
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      this.log.error(`${what} refused; the last good one stays in force`, { error: message });
      return message;
    }
  }

  async reloadDependencies(): Promise<void> {
    await this.loadDependencies();
    this.rebuild();
  }

  monitorAgents(): readonly string[] {
    return this.config?.monitorUserAgents ?? [];
  }

  // ---- Memory and state on disk ----

  private async measureUnit(unit: Unit): Promise<void> {
    if (unit.status.state !== "ready") return;
    const running = this.projectContainers(unit.route.project).filter((c) => c.state === "running");
    const figures = await Promise.all(running.map((c) => this.engine.memoryBytes(c.id).catch(() => undefined)));
    const total = figures.reduce<number>((sum, bytes) => sum + (bytes ?? 0), 0);
    if (total > 0 && unit.status.state === "ready") {
      unit.memoryBytes = total;
      this.saveSoon();
    }
  }

  private async measureMemory(): Promise<void> {
    await Promise.all([...this.units.values()].map((unit) => this.measureUnit(unit)));
  }

  private snapshot(): SavedState {
    const units: Record<string, SavedUnit> = { ...this.saved.units };
    for (const [name, unit] of this.units) {
      units[name] = {
        lastActivityAt: unit.lastActivityAt,
        startsMs: unit.startsMs,
        memoryBytes: unit.memoryBytes,
        state: unit.status.state,
        since: unit.status.since,
        ...(unit.pin ? { pin: unit.pin } : {}),
      };
    }
    this.saved = { version: 1, units, containers: this.containerStarts };
    return this.saved;
  }

  private saveSoon(delay = SAVE_DEBOUNCE_MS): void {
    const due = Date.now() + delay;
    if (due >= this.saveDue) return;
    clearTimeout(this.saveTimer);
    this.saveDue = due;
    this.saveTimer = setTimeout(() => {
      this.saveTimer = undefined;
      this.saveDue = Infinity;
      this.writer.save(this.snapshot()).catch((error: unknown) => this.log.error("state not saved", { error: String(error) }));
    }, delay);
    this.saveTimer.unref();
  }
}

/** Before a container's start was ever measured: the seed's typical dependency. */
const DEFAULT_STEP_ESTIMATE_MS = 5_000;
type FileDependencies = ReturnType<typeof fileDependencies>;
const HELD_RECHECK_MS = 5_000;

/** A unit that needs its dependencies up: serving, or being brought up. */
function isActive(state: UnitState): boolean {
  return state === "ready" || state === "starting";
}

/** Up as far as Docker says: running, and not still in its health's `starting` (nor unhealthy). */
function isUp(container: ContainerFacts): boolean {
  return container.state === "running" && container.health !== "starting" && container.health !== "unhealthy";
}

function sourceText(route: Route | DisabledRoute): string {
  const source = route.source;
  return source.kind === "labels" ? `labels on ${source.container}` : `${source.file}:${source.line}:${source.col}`;
}

function disabledStatus(route: DisabledRoute): ServiceStatus {
  return {
    name: route.name,
    project: route.project ?? "",
    hosts: route.hosts,
    mode: "dynamic",
    state: "disabled",
    reason: route.reason,
    idle: "",
    idleLeftSeconds: null,
    lastStartMs: null,
    memoryBytes: null,
    memoryFreedBytes: null,
    source: sourceText(route),
  };
}
