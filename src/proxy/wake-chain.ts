import type { Awaited, ChainPlan, ChainStep, ContainerFacts, DependencyFacts, Need, Requirement, UnitState } from "./model.js";
import { AWAITED, dependencyLevels } from "./dependency-levels.js";
import { dependencyLabels } from "./requirements.js";
import type { WakePlan, WakePlanStep } from "./status.js";

/**
 * Dependency wake chains, decided: which containers a unit's wake starts, in which levels, what
 * each must reach, and which units need which container. Pure: the wake layer and the daemon's
 * stops act on these answers.
 */

/** `from` needs `to` to have reached `until` before it starts. */
export interface ChainEdge {
  from: string;
  to: string;
  until: Awaited;
  need: Need;
}

/** A requirement that names no container: who declared it, and the sentence that says so. */
export interface MissingDependency {
  from: string;
  need: Need;
  line: string;
}

/** Every container the daemon knows (one-off ones left out), joined by what each needs. */
export interface DependencyGraph {
  containers: ReadonlyMap<string, ContainerFacts>;
  edges: readonly ChainEdge[];
  declared: ReadonlyMap<string, DependencyFacts>;
  missing: readonly MissingDependency[];
}

/** A unit as the chain sees it: its compose project, plus the dependencies file's extra members. */
export interface ChainUnit {
  project: string;
  /** Container ids the dependencies file makes part of the unit's wake. */
  members: readonly string[];
  /** Members the file declares `optional`: their failure does not fail the wake. */
  optionalMembers?: ReadonlySet<string>;
}

export interface WakeUnit extends ChainUnit {
  /** The containers requests go to: ready only once their port answers. */
  routed: ReadonlySet<string>;
}

export type ChainAnswer = { ok: true; plan: ChainPlan } | { ok: false; cycle: string[] } | { ok: false; missing: string[] };

/**
 * What each container declares it needs: its dependency labels, then what the dependencies file
 * says of it by name (its check only when the labels give none). Bad labels, by container id.
 */
export function declaredDependencies(
  containers: Iterable<ContainerFacts>,
  filedByName: ReadonlyMap<string, DependencyFacts>,
): { declared: Map<string, DependencyFacts>; problems: Map<string, string[]> } {
  const declared = new Map<string, DependencyFacts>();
  const problems = new Map<string, string[]>();
  for (const container of containers) {
    const { facts, problems: found } = dependencyLabels(container);
    const filed = filedByName.get(container.name);
    declared.set(container.id, filed ? { ...facts, requirements: [...facts.requirements, ...filed.requirements], check: facts.check ?? filed.check } : facts);
    if (found.length > 0) problems.set(container.id, found);
  }
  return { declared, problems };
}

/** Edges from compose's depends_on within a project, and from the declared requirements across projects. */
export function dependencyGraph(containers: readonly ContainerFacts[], declared: ReadonlyMap<string, DependencyFacts>): DependencyGraph {
  const known = containers.filter((c) => !c.oneoff);
  const edges: ChainEdge[] = [];
  const missing: MissingDependency[] = [];
  for (const container of known) {
    for (const { service, condition } of container.dependsOn) {
      // A service without a container (a profile left off) has nothing to wait for, as compose itself.
      for (const to of known.filter((c) => c.project === container.project && c.service === service)) {
        edges.push({ from: container.id, to: to.id, until: AWAITED[condition], need: "required" });
      }
    }
    for (const requirement of declared.get(container.id)?.requirements ?? []) {
      const targets = known.filter((c) => isTarget(c, requirement.target));
      if (targets.length === 0) {
        const verb = requirement.need === "required" ? "requires" : "wants";
        missing.push({ from: container.id, need: requirement.need, line: `${container.name} ${verb} ${targetText(requirement.target)}: no such container` });
      }
      for (const to of targets) edges.push({ from: container.id, to: to.id, until: requirement.until, need: requirement.need });
    }
  }
  return { containers: new Map(known.map((c) => [c.id, c])), edges, declared, missing };
}

function isTarget(container: ContainerFacts, target: Requirement["target"]): boolean {
  return "container" in target ? container.name === target.container : container.project === target.project && container.service === target.service;
}

function targetText(target: Requirement["target"]): string {
  return "container" in target ? target.container : `${target.project}/${target.service}`;
}

/** How a cycle or a plan names a container: `project/service` for compose's, else its name. */
export function nodeName(container: ContainerFacts): string {
  return container.project !== undefined && container.service !== undefined ? `${container.project}/${container.service}` : container.name;
}

/** The unit's own containers (its project's) and its members: what it is, before what it needs. */
function rootsOf(graph: DependencyGraph, unit: ChainUnit): string[] {
  const own = [...graph.containers.values()].filter((c) => c.project === unit.project).map((c) => c.id);
  return [...new Set([...own, ...unit.members.filter((id) => graph.containers.has(id))])];
}

/** The roots and everything they need, transitively (optional needs too: the wake starts them). */
function closureOf(graph: DependencyGraph, roots: readonly string[]): Set<string> {
  const reached = new Set(roots);
  const queue = [...roots];
  for (let id = queue.pop(); id !== undefined; id = queue.pop()) {
    for (const edge of graph.edges) {
      if (edge.from === id && !reached.has(edge.to)) {
        reached.add(edge.to);
        queue.push(edge.to);
      }
    }
  }
  return reached;
}

/**
 * The containers whose failure fails the wake: the roots (but the members declared optional),
 * and what a required container requires. What only optional ones need is optional with them.
 */
function requiredOf(graph: DependencyGraph, unit: ChainUnit, roots: readonly string[]): Set<string> {
  const required = new Set(roots.filter((id) => !unit.optionalMembers?.has(id)));
  const queue = [...required];
  for (let id = queue.pop(); id !== undefined; id = queue.pop()) {
    for (const edge of graph.edges) {
      if (edge.from === id && edge.need === "required" && !required.has(edge.to)) {
        required.add(edge.to);
        queue.push(edge.to);
      }
    }
  }
  return required;
}

/** Every container of a unit's wake with its need; `required` wins over `optional`. */
export function unitNeeds(graph: DependencyGraph, unit: ChainUnit): Map<string, Need> {
  const roots = rootsOf(graph, unit);
  const required = requiredOf(graph, unit, roots);
  return new Map([...closureOf(graph, roots)].map((id) => [id, required.has(id) ? "required" : "optional"]));
}

const STRENGTH: Record<Awaited, number> = { started: 0, ready: 1, completed: 2 };

/**
 * A unit's wake in levels: its own containers, its members, and what they need across projects.
 * Refused when a required dependency names no container, or when the needs loop (the loop's
 * names in order, the first repeated at the end).
 */
export function wakeChain(graph: DependencyGraph, unit: WakeUnit): ChainAnswer {
  const needs = unitNeeds(graph, unit);
  const missing = graph.missing.filter((m) => needs.get(m.from) === "required" && m.need === "required").map((m) => m.line);
  if (missing.length > 0) return { ok: false, missing };

  const edges = graph.edges.filter((e) => needs.has(e.from));
  const order = dependencyLevels([...needs.keys()], edges);
  if ("cycle" in order) {
    // Told from the unit's own side: the loop starts at one of its own containers when it has one.
    const own = Math.max(0, order.cycle.findIndex((id) => graph.containers.get(id)?.project === unit.project));
    const names = [...order.cycle.slice(own), ...order.cycle.slice(0, own)].map((id) => nameOf(graph, id));
    return { ok: false, cycle: [...names, ...names.slice(0, 1)] };
  }
  const step = (id: string): ChainStep => {
    const container = graph.containers.get(id);
    if (container === undefined) throw new Error(`container ${id} left the graph`);
    const routed = unit.routed.has(id);
    const asked: Awaited[] = [routed ? "ready" : "started", ...edges.filter((e) => e.to === id).map((e) => e.until)];
    const until = asked.reduce<Awaited>((a, b) => (STRENGTH[b] > STRENGTH[a] ? b : a), "started");
    const check = graph.declared.get(id)?.check;
    const requires = [...new Set(edges.filter((e) => e.from === id && e.need === "required").map((e) => e.to))].sort();
    return {
      container,
      own: container.project === unit.project,
      need: needs.get(id) ?? "required",
      until,
      ...(check === undefined ? {} : { check }),
      routed,
      requires,
    };
  };
  return { ok: true, plan: { levels: order.levels.map((level) => level.map(step).sort((a, b) => a.container.name.localeCompare(b.container.name))) } };
}

function nameOf(graph: DependencyGraph, id: string): string {
  const container = graph.containers.get(id);
  return container === undefined ? id : nodeName(container);
}

/**
 * The seed's dry-run plan: each step with its estimate (0 for one ready now: the wake leaves it
 * alone), the total as the sum of each level's slowest step, and whether a level starts two or
 * more containers side by side.
 */
export function wakePlanDocument(
  service: string,
  plan: ChainPlan,
  estimateMsOf: (container: ContainerFacts) => number,
  readyNow: (container: ContainerFacts) => boolean,
): WakePlan {
  const levels = plan.levels.map((level) =>
    level.map(({ container, need }): WakePlanStep => {
      const running = readyNow(container);
      return {
        project: container.project ?? "",
        service: container.service ?? container.name,
        container: container.name,
        type: need,
        estimatedMs: running ? 0 : estimateMsOf(container),
        running,
      };
    }),
  );
  return {
    service,
    levels,
    estimatedMs: levels.reduce((total, level) => total + Math.max(0, ...level.map((s) => s.estimatedMs)), 0),
    parallel: levels.some((level) => level.filter((s) => !s.running).length > 1),
  };
}

/** A unit and where it stands, for the questions of who needs what. */
export interface UnitView extends WakeUnit {
  name: string;
  state: UnitState;
  /** The route's idle time; null: never stopped for idleness. */
  idleMs: number | null;
}

/** For each container, the units whose wake includes it and how they need it. */
export function neededBy(graph: DependencyGraph, units: readonly UnitView[]): Map<string, { unit: string; need: Need }[]> {
  const by = new Map<string, { unit: string; need: Need }[]>();
  for (const unit of units) {
    for (const [id, need] of unitNeeds(graph, unit)) by.set(id, [...(by.get(id) ?? []), { unit: unit.name, need }]);
  }
  return by;
}

/** What a wake does with one step, given what is in flight for its container (one daemon-wide job per container). */
export type StepMove =
  /** Running and already what the step awaits: left alone. */
  | "skip"
  /** Running, not there yet (a health still starting): only waited for. */
  | "wait"
  /** Another wake is starting it: await that same start. */
  | "join"
  /** Being stopped: wait for the stop to end, then start it again. */
  | "restart-after-stop"
  | "start"
  /** Something it requires failed (an optional dependency's): not started, it fails with it. */
  | "fail";

/** What to do with a step when its level comes, given the steps of this wake that failed so far. */
export function stepMove(step: ChainStep, failed: ReadonlySet<string>, container: { running: boolean; reached: boolean; job?: "start" | "stop" }): StepMove {
  if (container.running && container.reached && container.job === undefined) return "skip";
  if ((step.requires ?? []).some((id) => failed.has(id))) return "fail";
  if (container.job === "start") return "join";
  if (container.job === "stop") return "restart-after-stop";
  if (container.running) return container.reached ? "skip" : "wait";
  return "start";
}
