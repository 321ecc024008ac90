import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import type { UnitState } from "./model.js";
import type { ChainResult, WakeFailureCause } from "./wake.js";

/** Why a wake failed, with the seed's words; a wake that cannot be planned fails for `missing` or `cycle`. */
export type WakeFailureReason = Exclude<WakeFailureCause, "aborted"> | "missing" | "cycle";

/** How a blue-green switch ended: switched (and drained), or refused because its container never became ready. */
export type SwitchOutcome = "switched" | "unready" | "failed";

/** What a proxied request came to, for `deploy_vps_proxy_requests_total`. */
export type RequestOutcome = "forwarded" | "held" | "accepted" | "asleep" | "failed" | "not_found" | "status" | "waiting_page" | "events";

export interface UnitGauges {
  state: UnitState;
  openConnections: number;
  memoryBytes: number | null;
  memoryFreedBytes: number | null;
}

/** The daemon's Prometheus metrics, read from its admin listener's /metrics. */
export class ProxyMetrics {
  readonly registry = new Registry();
  private readonly requests: Counter<"service" | "outcome">;
  private readonly starts: Counter<"service" | "result">;
  private readonly startSeconds: Histogram<"service">;
  private readonly dependencySeconds: Histogram<"service" | "dependency">;
  private readonly wakeSuccesses: Counter<"service">;
  private readonly wakeFailures: Counter<"service" | "reason">;
  private readonly parallelEfficiency: Gauge<"service">;
  private readonly switches: Counter<"service" | "outcome">;
  private readonly drainSeconds: Histogram<"service">;
  private readonly drainCut: Counter<"service">;

  constructor(units: () => Map<string, UnitGauges>) {
    collectDefaultMetrics({ register: this.registry, prefix: "deploy_vps_proxy_" });
    this.requests = new Counter({
      name: "deploy_vps_proxy_requests_total",
      help: "Proxied requests by service and by what they came to",
      labelNames: ["service", "outcome"],
      registers: [this.registry],
    });
    this.starts = new Counter({
      name: "deploy_vps_proxy_starts_total",
      help: "Starts of a unit by the proxy, by result",
      labelNames: ["service", "result"],
      registers: [this.registry],
    });
    this.startSeconds = new Histogram({
      name: "deploy_vps_proxy_start_duration_seconds",
      help: "Time from a unit's start to its readiness",
      labelNames: ["service"],
      buckets: [0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300],
      registers: [this.registry],
    });
    // The seed's names for the dependency chains, without the daemon's prefix: its dashboards read them so.
    this.dependencySeconds = new Histogram({
      name: "dependency_wake_duration_seconds",
      help: "Time a dependency started by a wake took to be ready, by service and dependency container",
      labelNames: ["service", "dependency"],
      buckets: [0.1, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300],
      registers: [this.registry],
    });
    this.wakeSuccesses = new Counter({
      name: "dependency_wake_success_total",
      help: "Wakes that brought a service and its dependencies to ready",
      labelNames: ["service"],
      registers: [this.registry],
    });
    this.wakeFailures = new Counter({
      name: "dependency_wake_failure_total",
      help: "Wakes that failed, by reason (health_check_failed, exited, timeout, start_failed, missing, cycle)",
      labelNames: ["service", "reason"],
      registers: [this.registry],
    });
    this.parallelEfficiency = new Gauge({
      name: "dependency_wake_parallel_efficiency",
      help: "Last successful wake: the sum of its containers' times over its real time (above 1: time won by starting side by side)",
      labelNames: ["service"],
      registers: [this.registry],
    });
    this.switches = new Counter({
      name: "deploy_vps_proxy_switches_total",
      help: "Blue-green switches by outcome (switched, unready: the new container never became ready, failed)",
      labelNames: ["service", "outcome"],
      registers: [this.registry],
    });
    this.drainSeconds = new Histogram({
      name: "deploy_vps_proxy_drain_duration_seconds",
      help: "Time the containers a switch left took to finish their exchanges (or reach the drain deadline)",
      labelNames: ["service"],
      buckets: [0.1, 0.5, 1, 2, 5, 10, 20, 30, 60, 120],
      registers: [this.registry],
    });
    this.drainCut = new Counter({
      name: "deploy_vps_proxy_drain_cut_total",
      help: "Exchanges (websockets, streams, slow requests) still open at a drain's deadline, cut then",
      labelNames: ["service"],
      registers: [this.registry],
    });
    const gauge = (name: string, help: string, labelNames: string[], read: (gauge: Gauge) => void) =>
      new Gauge({ name, help, labelNames, registers: [this.registry], collect() { this.reset(); read(this); } });
    gauge("deploy_vps_proxy_unit_state", "1 for the state each unit is in", ["service", "state"], (g) => {
      for (const [service, unit] of units()) g.set({ service, state: unit.state }, 1);
    });
    gauge("deploy_vps_proxy_open_connections", "Open proxied connections (requests, websockets, streams) by service", ["service"], (g) => {
      for (const [service, unit] of units()) g.set({ service }, unit.openConnections);
    });
    gauge("deploy_vps_proxy_memory_bytes", "Memory the unit's containers use, measured while it runs", ["service"], (g) => {
      for (const [service, unit] of units()) if (unit.memoryBytes !== null) g.set({ service }, unit.memoryBytes);
    });
    gauge("deploy_vps_proxy_memory_freed_bytes", "Memory freed by the units asleep (last measured while they ran)", [], (g) => {
      let freed = 0;
      for (const unit of units().values()) freed += unit.memoryFreedBytes ?? 0;
      g.set(freed);
    });
  }

  /** Each service's counters, kept: labelling a counter on every request costs more than the count. */
  private readonly requestCounters = new Map<string, Counter.Internal>();

  request(service: string, outcome: RequestOutcome): void {
    const key = `${service}\n${outcome}`;
    let counter = this.requestCounters.get(key);
    if (!counter) {
      counter = this.requests.labels({ service, outcome });
      this.requestCounters.set(key, counter);
    }
    counter.inc();
  }

  started(service: string, ms: number): void {
    this.starts.inc({ service, result: "ready" });
    this.startSeconds.observe({ service }, ms / 1000);
  }

  startFailed(service: string): void {
    this.starts.inc({ service, result: "failed" });
  }

  /** A wake's end. One put to sleep while it started is not counted: it neither succeeded nor failed. */
  wakeEnded(service: string, result: ChainResult): void {
    if (!result.ok) {
      if (result.cause !== "aborted") this.wakeFailed(service, result.cause);
      return;
    }
    this.wakeSuccesses.inc({ service });
    for (const step of result.steps) {
      if (step.started && !step.own) this.dependencySeconds.observe({ service, dependency: step.container }, step.ms / 1000);
    }
    const summed = result.steps.reduce((sum, step) => sum + step.ms, 0);
    if (result.ms > 0) this.parallelEfficiency.set({ service }, summed / result.ms);
  }

  /** A wake that failed, or could not be planned (a cycle, a missing dependency). */
  wakeFailed(service: string, reason: WakeFailureReason): void {
    this.wakeFailures.inc({ service, reason });
  }

  /** A switch's end; a drained one also gives how long its drain took and what it cut. */
  switched(service: string, outcome: SwitchOutcome, drained?: { ms: number; cut: number }): void {
    this.switches.inc({ service, outcome });
    if (drained === undefined) return;
    this.drainSeconds.observe({ service }, drained.ms / 1000);
    this.drainCut.inc({ service }, drained.cut);
  }
}
