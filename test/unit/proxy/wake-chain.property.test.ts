import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { dependencyStops, failedWakeStops, sleepDecision } from "../../../src/proxy/dependency-stops.js";
import type { ChainPlan, ContainerFacts, DependencyFacts, Need } from "../../../src/proxy/model.js";
import { dependencyGraph, type DependencyGraph, neededBy, stepMove, unitNeeds, type UnitView, wakeChain } from "../../../src/proxy/wake-chain.js";
import { compose, dependsOn, requirement } from "./chain-facts.js";

/**
 * The scheduler's promises, over random units sharing random dependencies and random sequences of
 * wakes, start outcomes, idle sleeps and dependency stops. The pure functions make every decision;
 * this world only carries them out, with one job in flight per container as ContainerJobs keeps
 * them (a start and a stop take time: a job ends when the sequence says so).
 */

interface Topology {
  units: { db: boolean; dbHealthy: boolean; idleMs: number | null; needsShared: { to: number; need: Need }[]; needsUnit: { to: number; need: Need; db: boolean }[] }[];
  shared: { idleMs: number | undefined; needs: { to: number; need: Need }[] }[];
}

const need = fc.constantFrom<Need>("required", "optional");
const links = (max: number) => fc.array(fc.record({ to: fc.nat({ max }), need }), { maxLength: 3 });
const topology: fc.Arbitrary<Topology> = fc.record({
  units: fc.array(
    fc.record({
      db: fc.boolean(),
      dbHealthy: fc.boolean(),
      idleMs: fc.option(fc.integer({ min: 0, max: 3000 }), { nil: null }),
      needsShared: links(3),
      needsUnit: fc.array(fc.record({ to: fc.nat(3), need, db: fc.boolean() }), { maxLength: 3 }),
    }),
    { minLength: 2, maxLength: 4 },
  ),
  shared: fc.array(fc.record({ idleMs: fc.option(fc.integer({ min: 0, max: 3000 }), { nil: undefined }), needs: links(3) }), {
    minLength: 1,
    maxLength: 4,
  }),
});

type Command =
  | { kind: "wake"; unit: number }
  | { kind: "finish"; job: number; ok: boolean }
  | { kind: "sleep"; unit: number }
  | { kind: "tick"; ms: number };

const command: fc.Arbitrary<Command> = fc.oneof(
  fc.record({ kind: fc.constant("wake" as const), unit: fc.nat(3) }),
  fc.record({ kind: fc.constant("finish" as const), job: fc.nat(8), ok: fc.integer({ min: 0, max: 5 }).map((n) => n > 0) }),
  fc.record({ kind: fc.constant("sleep" as const), unit: fc.nat(3) }),
  fc.record({ kind: fc.constant("tick" as const), ms: fc.integer({ min: 0, max: 2000 }) }),
);

interface Job {
  kind: "start" | "stop";
  /** A wake needed it while it stopped: start it again once stopped. */
  restart: boolean;
}

interface Wake {
  plan: ChainPlan;
  level: number;
  started: Set<string>;
  failedOptional: Set<string>;
  /**
   * A required step failed: the wake waits for its own starts to settle, then stops in turn what
   * failedWakeStops gives, and only then is the unit failed (as runChain returns after its cleanup).
   */
  failing: boolean;
}

interface Unit {
  view: UnitView;
  wake?: Wake;
  stopping?: Set<string>;
}

class World {
  readonly containers = new Map<string, ContainerFacts>();
  readonly declared = new Map<string, DependencyFacts>();
  readonly units: Unit[] = [];
  readonly jobs = new Map<string, Job>();
  lastNeeded = new Map<string, number>();
  now = Date.parse("2026-11-30T12:00:00Z");
  readonly violations: string[] = [];

  constructor(shape: Topology) {
    shape.shared.forEach((s, k) => {
      const id = `shared/s${k}`;
      this.containers.set(id, compose("shared", `s${k}`));
      // Only to dependencies listed before it: the graph stays free of loops.
      const needs = s.needs.filter((l) => l.to < k).map((l) => requirement(`shared/s${l.to}`, "ready", l.need));
      this.declared.set(id, { requirements: needs, ...(s.idleMs === undefined ? {} : { idleMs: s.idleMs }) });
    });
    shape.units.forEach((u, i) => {
      const project = `u${i}`;
      const web = compose(project, "web", { dependsOn: u.db ? [dependsOn("db", u.dbHealthy ? "service_healthy" : "service_started")] : [] });
      this.containers.set(web.id, web);
      if (u.db) this.containers.set(`${project}/db`, compose(project, "db"));
      const needs = [
        ...u.needsShared.filter((l) => l.to < shape.shared.length).map((l) => requirement(`shared/s${l.to}`, "ready", l.need)),
        ...u.needsUnit.filter((l) => l.to < i).map((l) => requirement(`u${l.to}/${l.db && shape.units[l.to]?.db ? "db" : "web"}`, "ready", l.need)),
      ];
      this.declared.set(web.id, { requirements: needs });
      this.units.push({ view: { name: project, project, members: [], routed: new Set([web.id]), state: "sleeping", idleMs: u.idleMs } });
    });
  }

  graph(): DependencyGraph {
    return dependencyGraph([...this.containers.values()], this.declared);
  }

  startsInFlight(): Set<string> {
    return new Set([...this.jobs].filter(([, job]) => job.kind === "start").map(([id]) => id));
  }

  views(): UnitView[] {
    return this.units.map((u) => u.view);
  }

  private setState(id: string, state: string): void {
    const facts = this.containers.get(id);
    if (facts) this.containers.set(id, { ...facts, state, startedAt: state === "running" ? new Date(this.now).toISOString() : facts.startedAt });
  }

  private running(id: string): boolean {
    return this.containers.get(id)?.state === "running";
  }

  private beginStart(id: string, wake: Wake): void {
    const job = this.jobs.get(id);
    if (job?.kind === "start") this.violations.push(`${id} started twice at once`);
    else if (job?.kind === "stop") this.violations.push(`${id} started while it stops`);
    this.jobs.set(id, { kind: "start", restart: false });
    wake.started.add(id);
  }

  private beginStop(id: string): void {
    const job = this.jobs.get(id);
    if (job?.kind === "start") this.violations.push(`${id} stopped while a wake starts it`);
    if (job === undefined && this.running(id)) this.jobs.set(id, { kind: "stop", restart: false });
  }

  wake(index: number): void {
    const unit = this.units[index % this.units.length];
    if (unit === undefined || (unit.view.state !== "sleeping" && unit.view.state !== "failed")) return;
    const answer = wakeChain(this.graph(), unit.view);
    if (!answer.ok) throw new Error(`the topology has no loops and no missing dependencies: ${JSON.stringify(answer)}`);
    unit.view = { ...unit.view, state: "starting" };
    unit.wake = { plan: answer.plan, level: 0, started: new Set(), failedOptional: new Set(), failing: false };
    this.beginLevel(unit.wake);
    this.advance();
  }

  private beginLevel(wake: Wake): void {
    for (const step of wake.plan.levels[wake.level] ?? []) {
      const id = step.container.id;
      const running = this.running(id);
      const job = this.jobs.get(id)?.kind;
      const move = stepMove(step, wake.failedOptional, { running, reached: running, ...(job === undefined ? {} : { job }) });
      if (move === "start") this.beginStart(id, wake);
      if (move === "fail") wake.failedOptional.add(id);
      const stopping = this.jobs.get(id);
      if (move === "restart-after-stop" && stopping) {
        stopping.restart = true;
        wake.started.add(id);
      }
    }
  }

  /**
   * Starting units go on while their level is there: required steps running, optional ones running
   * or failed. A sleeping or failed unit whose routed container runs (another unit's wake started
   * it) is ready, as the daemon sees it.
   */
  private advance(): void {
    for (let moved = true; moved; ) {
      moved = false;
      for (const unit of this.units) {
        const observed = [...unit.view.routed].every((id) => this.running(id) && !this.jobs.has(id));
        if ((unit.view.state === "sleeping" || unit.view.state === "failed") && observed) {
          unit.view = { ...unit.view, state: "ready" };
          moved = true;
        }
        const wake = unit.wake;
        if (unit.view.state !== "starting" || wake === undefined) continue;
        if (wake.failing) {
          moved = this.cleanUp(unit, wake) || moved;
          continue;
        }
        const level = wake.plan.levels[wake.level] ?? [];
        const there = level.every(({ container: { id }, need }) => (this.running(id) && !this.jobs.has(id)) || (need === "optional" && wake.failedOptional.has(id)));
        if (!there) continue;
        moved = true;
        wake.level += 1;
        if (wake.level >= wake.plan.levels.length) unit.view = { ...unit.view, state: "ready" };
        else this.beginLevel(wake);
      }
    }
  }

  /**
   * One move of a failing wake's cleanup, when there is one to make (true if it moved): once its
   * starts and its last stops settled, stop the next level failedWakeStops gives, asked anew each
   * time (another wake may need one of them by now); none left: the unit is failed.
   */
  private cleanUp(unit: Unit, wake: Wake): boolean {
    if (![...wake.started].every((id) => !this.jobs.has(id))) return false;
    const [level] = failedWakeStops(this.graph(), this.views(), unit.view.name, wake.started, this.startsInFlight());
    if (level === undefined) {
      unit.view = { ...unit.view, state: "failed" };
      return true;
    }
    level.forEach((id) => this.beginStop(id));
    return true;
  }

  finish(index: number, ok: boolean): void {
    const ids = [...this.jobs.keys()].sort();
    const id = ids[index % Math.max(1, ids.length)];
    const job = id === undefined ? undefined : this.jobs.get(id);
    if (id === undefined || job === undefined) return;
    this.jobs.delete(id);
    if (job.kind === "stop") {
      this.setState(id, "exited");
      // A unit's stop is over once its stops are, whatever a wake starts again afterwards.
      for (const unit of this.units) {
        if (unit.view.state === "stopping" && [...(unit.stopping ?? [])].every((s) => !this.jobs.has(s))) unit.view = { ...unit.view, state: "sleeping" };
      }
      if (job.restart) this.jobs.set(id, { kind: "start", restart: false });
    } else if (ok) {
      this.setState(id, "running");
    } else {
      this.setState(id, "exited");
      for (const unit of this.units) {
        const step = unit.wake?.plan.levels[unit.wake.level]?.find((s) => s.container.id === id);
        if (unit.view.state !== "starting" || step === undefined) continue;
        if (step.need === "optional") unit.wake?.failedOptional.add(id);
        else if (unit.wake) unit.wake.failing = true;
      }
    }
    this.advance();
  }

  sleep(index: number): void {
    const unit = this.units[index % this.units.length];
    if (unit === undefined || unit.view.state !== "ready" || unit.view.idleMs === null) return;
    const decision = sleepDecision(this.graph(), this.views(), unit.view.name, this.startsInFlight());
    if ("hold" in decision) return;
    const ids = decision.stop.flat();
    ids.forEach((id) => this.beginStop(id));
    unit.stopping = new Set(ids);
    unit.view = { ...unit.view, state: ids.some((id) => this.jobs.has(id)) ? "stopping" : "sleeping" };
  }

  tick(ms: number): void {
    this.now += ms;
    const decision = dependencyStops({ graph: this.graph(), units: this.views(), startsInFlight: this.startsInFlight(), lastNeeded: this.lastNeeded, now: this.now });
    this.lastNeeded = decision.lastNeeded;
    decision.stop.flat().forEach((id) => this.beginStop(id));
  }

  run(c: Command): void {
    if (c.kind === "wake") this.wake(c.unit);
    else if (c.kind === "finish") this.finish(c.job, c.ok);
    else if (c.kind === "sleep") this.sleep(c.unit);
    else this.tick(c.ms);
  }

  /** Every required dependency of a ready unit, and of the levels a starting unit has passed, runs and is not being stopped. */
  requiredDown(): string[] {
    const graph = this.graph();
    const down = (id: string) => !this.running(id) || this.jobs.get(id)?.kind === "stop";
    return this.units.flatMap(({ view, wake }) => {
      const required =
        view.state === "ready"
          ? [...unitNeeds(graph, view)].filter(([, n]) => n === "required").map(([id]) => id)
          : view.state === "starting" && wake && !wake.failing
            ? wake.plan.levels.slice(0, wake.level).flat().filter((s) => s.need === "required").map((s) => s.container.id)
            : [];
      return required.filter(down).map((id) => `${view.name} is ${view.state} but its required ${id} is down`);
    });
  }

  /** Ends every job, puts every unit that idles to sleep and lets time pass, until nothing moves. */
  drain(): void {
    for (let round = 0; round < 12; round++) {
      while (this.jobs.size > 0) this.finish(0, true);
      this.units.forEach((_, i) => this.sleep(i));
      this.tick(10_000);
    }
  }

  /**
   * Running containers with an idle policy that nothing needs: neither an active unit, nor (through
   * what it needs) a running container the proxy never stops.
   */
  strandedRunning(): string[] {
    const graph = this.graph();
    const active = neededBy(graph, this.views().filter((v) => v.state === "ready" || v.state === "starting"));
    const hasIdlePolicy = (c: ContainerFacts) => {
      const owner = this.units.find((u) => u.view.project === c.project);
      return this.declared.get(c.id)?.idleMs !== undefined || (owner !== undefined && owner.view.idleMs !== null);
    };
    const running = [...this.containers.values()].filter((c) => c.state === "running");
    const held = new Set([...active.keys(), ...running.filter((c) => !hasIdlePolicy(c)).map((c) => c.id)]);
    for (let grew = true; grew; ) {
      grew = false;
      for (const edge of graph.edges) {
        if (held.has(edge.from) && !held.has(edge.to)) {
          held.add(edge.to);
          grew = true;
        }
      }
    }
    return running.filter((c) => !held.has(c.id)).map((c) => c.id);
  }
}

const RUNS = { numRuns: 400 };
const commands = fc.array(command, { minLength: 10, maxLength: 80, size: "large" });

describe("the wake chain scheduler, over random shared dependencies and random sequences", () => {
  it("never lets a ready or starting unit have a required dependency stopped", () => {
    fc.assert(
      fc.property(topology, commands, (shape, sequence) => {
        const world = new World(shape);
        for (const c of sequence) {
          world.run(c);
          expect(world.requiredDown()).toEqual([]);
          expect(world.violations.filter((v) => v.includes("stopped while"))).toEqual([]);
        }
      }),
      RUNS,
    );
  });

  it("never starts a container twice at once, nor while it stops", () => {
    fc.assert(
      fc.property(topology, commands, (shape, sequence) => {
        const world = new World(shape);
        sequence.forEach((c) => world.run(c));
        world.drain();
        expect(world.violations.filter((v) => v.includes("started"))).toEqual([]);
      }),
      RUNS,
    );
  });

  it("stops in the end every started container that has an idle policy, once nobody needs it", () => {
    fc.assert(
      fc.property(topology, commands, (shape, sequence) => {
        const world = new World(shape);
        sequence.forEach((c) => world.run(c));
        world.drain();
        expect(world.strandedRunning()).toEqual([]);
      }),
      RUNS,
    );
  });
});
