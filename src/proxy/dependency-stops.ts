import type { UnitState } from "./model.js";
import { dependencyLevels } from "./dependency-levels.js";
import { type DependencyGraph, neededBy, type UnitView } from "./wake-chain.js";

/**
 * What the proxy may stop, decided: a unit's own containers when it goes to sleep, and the
 * dependencies that declare an idle policy once no unit needs them. A container that a serving
 * or starting unit needs is never stopped, nor one that a running container (or one being
 * started) still needs.
 */

/** The units whose containers must stay up: serving requests, or being brought up. */
const ACTIVE: readonly UnitState[] = ["ready", "starting"];

/** The units whose containers are the proxy's to stop (not one stopping already, not a disabled one). */
const ASLEEP: readonly UnitState[] = ["sleeping", "failed"];

const isUp = (state: string): boolean => state === "running" || state === "restarting" || state === "paused";

/** The ids that units other than `except`, ready or starting, need (required or optional alike), with who. */
function activeNeeds(graph: DependencyGraph, units: readonly UnitView[], except?: string): Map<string, string[]> {
  const active = units.filter((u) => u.name !== except && ACTIVE.includes(u.state));
  return new Map([...neededBy(graph, active)].map(([id, by]) => [id, by.map((b) => b.unit)]));
}

/**
 * Narrows `stopping` until no running container left out of it (nor one whose start is in flight)
 * needs one inside: a dependency stops only with (or after) everything up that needs it. Returns
 * who holds each one kept.
 */
function withoutHeld(graph: DependencyGraph, stopping: Set<string>, startsInFlight: ReadonlySet<string>): Map<string, string[]> {
  const held = new Map<string, string[]>();
  for (let changed = true; changed; ) {
    changed = false;
    for (const edge of graph.edges) {
      const from = graph.containers.get(edge.from);
      const up = from !== undefined && (isUp(from.state) || startsInFlight.has(from.id));
      if (up && stopping.has(edge.to) && !stopping.has(edge.from)) {
        stopping.delete(edge.to);
        held.set(edge.to, [...(held.get(edge.to) ?? []), from.name]);
        changed = true;
      }
    }
  }
  return held;
}

/** Stop order: a container before what it needs (one level side by side when the needs loop). */
function stopOrder(graph: DependencyGraph, ids: ReadonlySet<string>): string[][] {
  const order = dependencyLevels([...ids], graph.edges);
  return "cycle" in order ? [[...ids].sort()] : [...order.levels].reverse();
}

export type SleepDecision =
  /** The unit stays awake: its routed containers are needed by these units (or running containers). */
  | { hold: string[] }
  /** Stop these levels in turn; the kept containers stay up for the units (or containers) named. */
  | { stop: string[][]; keep: { id: string; by: string[] }[] };

/**
 * What putting `unit` to sleep stops: its own containers and members, but those another ready or
 * starting unit needs (and what they need) stay up. When a routed container would have to stay,
 * the unit is held awake instead: a unit whose routed container runs is a serving unit.
 */
export function sleepDecision(graph: DependencyGraph, units: readonly UnitView[], name: string, startsInFlight: ReadonlySet<string>): SleepDecision {
  const unit = units.find((u) => u.name === name);
  if (unit === undefined) return { stop: [], keep: [] };
  const own = [...graph.containers.values()].filter((c) => c.project === unit.project || unit.members.includes(c.id)).map((c) => c.id);
  const { stop, keep } = stopsOf(graph, units, name, own, startsInFlight);
  const holding = [...unit.routed].flatMap((id) => keep.get(id) ?? []);
  if (holding.length > 0) return { hold: [...new Set(holding)].sort() };
  return { stop, keep: [...keep].map(([id, by]) => ({ id, by: [...new Set(by)].sort() })) };
}

/**
 * What a failed wake stops of the containers it started, once its own starts have settled: those
 * no other ready or starting unit needs and no container staying up needs, dependents first.
 */
export function failedWakeStops(
  graph: DependencyGraph,
  units: readonly UnitView[],
  name: string,
  started: ReadonlySet<string>,
  startsInFlight: ReadonlySet<string>,
): string[][] {
  return stopsOf(graph, units, name, [...started], startsInFlight).stop;
}

/** Of `candidates` (ids of unit `name`'s doing), the ones up that may stop in order, and who keeps each of the rest. */
function stopsOf(
  graph: DependencyGraph,
  units: readonly UnitView[],
  name: string,
  candidates: readonly string[],
  startsInFlight: ReadonlySet<string>,
): { stop: string[][]; keep: Map<string, string[]> } {
  const others = activeNeeds(graph, units, name);
  const keep = new Map<string, string[]>(candidates.filter((id) => others.has(id)).map((id) => [id, others.get(id) ?? []]));
  const stopping = new Set(candidates.filter((id) => !keep.has(id)));
  for (const [id, by] of withoutHeld(graph, stopping, startsInFlight)) keep.set(id, by);
  const up = new Set([...stopping].filter((id) => isUp(graph.containers.get(id)?.state ?? "")));
  return { stop: stopOrder(graph, up), keep };
}

export interface DependencyStopInput {
  graph: DependencyGraph;
  units: readonly UnitView[];
  /** The containers whose start is in flight (ContainerJobs): they hold what they need, as running ones do. */
  startsInFlight: ReadonlySet<string>;
  /** When each container was last needed by a ready or starting unit (as returned last time). */
  lastNeeded: ReadonlyMap<string, number>;
  now: number;
}

export interface DependencyStops {
  /** Levels to stop in turn, dependents first. */
  stop: string[][];
  /** `lastNeeded` brought up to `now`: the caller keeps it for the next call. */
  lastNeeded: Map<string, number>;
  /** When a dependency not needed now will have been idle long enough; null when none waits. */
  nextCheckAt: number | null;
}

/**
 * Which dependencies stop now: running, with an idle policy, needed by no ready or starting unit
 * for at least that long, and needed by no running container that stays up. The idle policy is
 * the container's own `idleMs`, else its unit's once that unit sleeps (or failed): what one unit's
 * sleep kept up for another, or another unit's wake started, stops like the rest of its unit.
 * Call again at `nextCheckAt` and whenever a unit changes state.
 */
export function dependencyStops(input: DependencyStopInput): DependencyStops {
  const { graph, now } = input;
  const needed = activeNeeds(graph, input.units);
  const lastNeeded = new Map(input.lastNeeded);
  for (const id of needed.keys()) lastNeeded.set(id, now);

  const due = new Set<string>();
  let nextCheckAt: number | null = null;
  for (const container of graph.containers.values()) {
    const idleMs = graph.declared.get(container.id)?.idleMs ?? asleepUnitIdle(input.units, container.id, container.project);
    if (idleMs === undefined || !isUp(container.state) || needed.has(container.id)) continue;
    const since = lastNeeded.get(container.id) ?? startedMs(container.startedAt, now);
    if (now >= since + idleMs) due.add(container.id);
    else nextCheckAt = Math.min(nextCheckAt ?? Infinity, since + idleMs);
  }
  withoutHeld(graph, due, input.startsInFlight);
  return { stop: stopOrder(graph, due), lastNeeded, nextCheckAt };
}

/** The idle time of the sleeping (or failed) unit a container belongs to; undefined when none, or never idle. */
function asleepUnitIdle(units: readonly UnitView[], id: string, project: string | undefined): number | undefined {
  const unit = units.find((u) => u.project === project || u.members.includes(id));
  return unit !== undefined && ASLEEP.includes(unit.state) ? (unit.idleMs ?? undefined) : undefined;
}

/** Never needed since the proxy knows it: idle since it started. */
function startedMs(iso: string, now: number): number {
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? now : ms;
}

