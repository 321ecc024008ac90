import type { Awaited, ContainerFacts, Dependency } from "./model.js";

/**
 * The order a unit's containers start in, from their compose `depends_on`. The graph part knows
 * nothing of containers (nodes by id, edges by id) so that dependency chains across projects can
 * use it with nodes of their own.
 */

/** `from` needs `to` first. */
export interface Edge {
  from: string;
  to: string;
}

/**
 * Levels of ids: level 0 needs nothing, each later level only needs ids of the levels before it,
 * so one level's ids can start side by side. Edges naming an id not in `ids` are ignored. When the
 * edges loop, the loop's ids in order, each one needing the next and the last needing the first.
 */
export function dependencyLevels(ids: readonly string[], edges: readonly Edge[]): { levels: string[][] } | { cycle: string[] } {
  const known = new Set(ids);
  const needs = new Map<string, Set<string>>([...known].map((id) => [id, new Set<string>()]));
  for (const { from, to } of edges) if (known.has(from) && known.has(to)) needs.get(from)?.add(to);

  const levels: string[][] = [];
  const placed = new Set<string>();
  while (placed.size < known.size) {
    const level = [...known].filter((id) => !placed.has(id) && [...(needs.get(id) ?? [])].every((to) => placed.has(to))).sort();
    if (level.length === 0) return { cycle: cycleAmong([...known].filter((id) => !placed.has(id)), needs) };
    level.forEach((id) => placed.add(id));
    levels.push(level);
  }
  return { levels };
}

/** Every id left needs another id left: walking those needs from any of them runs into a loop. */
function cycleAmong(left: string[], needs: Map<string, Set<string>>): string[] {
  const unplaced = new Set(left);
  const walked: string[] = [];
  let at = left.sort()[0];
  while (at !== undefined && !walked.includes(at)) {
    walked.push(at);
    at = [...(needs.get(at) ?? [])].filter((to) => unplaced.has(to)).sort()[0];
  }
  return at === undefined ? walked : walked.slice(walked.indexOf(at));
}

/** Compose's depends_on conditions in the chain's words. */
export const AWAITED: Record<Dependency["condition"], Awaited> = {
  service_started: "started",
  service_healthy: "ready",
  service_completed_successfully: "completed",
};

/**
 * One container to start, with what it waits for: each dependency's service (every container of
 * it, when scaled) must have reached `until` before this container starts. The wake layer may
 * start a step as soon as its own `after` is met, ahead of the rest of its level.
 */
export interface StartStep {
  container: ContainerFacts;
  after: { service: string; until: Awaited }[];
}

export interface StartPlan {
  /** Level 0 needs nothing; every `after` of a level names services of earlier levels. */
  levels: StartStep[][];
}

const serviceOf = (container: ContainerFacts): string => container.service ?? container.name;

/**
 * The start order of ONE compose project's containers (one-off `run` containers are left out).
 * A dependency on a service that has no container is ignored, as there is nothing to wait for.
 * When `depends_on` loops, the loop's service names.
 */
export function startPlan(containers: readonly ContainerFacts[]): StartPlan | { cycle: string[] } {
  const members = containers.filter((c) => !c.oneoff).sort((a, b) => a.name.localeCompare(b.name));
  const services = new Set(members.map(serviceOf));
  const afterOf = (container: ContainerFacts) =>
    container.dependsOn.filter((d) => services.has(d.service)).map((d) => ({ service: d.service, until: AWAITED[d.condition] }));
  const edges = members.flatMap((c) => afterOf(c).map(({ service }) => ({ from: serviceOf(c), to: service })));

  const order = dependencyLevels([...services], edges);
  if ("cycle" in order) return order;
  return {
    levels: order.levels.map((level) =>
      members.filter((c) => level.includes(serviceOf(c))).map((container) => ({ container, after: afterOf(container) })),
    ),
  };
}

/** The stop order: a container stops before what it depends on, the reverse of the start. */
export function stopLevels(plan: StartPlan): ContainerFacts[][] {
  return [...plan.levels].reverse().map((level) => level.map((step) => step.container));
}
