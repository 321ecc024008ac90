import type { Awaited, Dependency } from "./model.js";

/**
 * Levels of a dependency graph, and the loop when there is one: the order a wake chain starts its
 * containers in. It knows nothing of containers (nodes by id, edges by id).
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
