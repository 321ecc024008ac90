import type { ContainerFacts } from "./model.js";

/**
 * Which container a route forwards to (issue 17): the one a blue-green switch chose, else the
 * oldest running one of the routed service. Pure: the daemon gives the facts it keeps.
 */

/** What a switch chose: a container (of the unit's project, maybe another service of it) and the port of it to forward to. */
export interface Pin {
  id: string;
  port: number;
}

/** The live container, and the pin that made it live (absent: the oldest running one). */
export interface Live {
  container: ContainerFacts;
  pin?: Pin;
}

/**
 * The pinned container while it runs; else the oldest running one of ROUTED (by its start), so
 * that a second container made by `up --scale S=2 --no-recreate` gets no traffic before the switch.
 */
export function chooseLive(routed: readonly ContainerFacts[], pin: Pin | undefined, factsOf: (id: string) => ContainerFacts | undefined): Live | undefined {
  const pinned = pin && factsOf(pin.id);
  if (pin && pinned?.state === "running") return { container: pinned, pin };
  const container = oldestRunning(routed);
  return container && { container };
}

/** The running container started first (ties by name, so that the choice never flips). */
export function oldestRunning(containers: readonly ContainerFacts[]): ContainerFacts | undefined {
  let oldest: ContainerFacts | undefined;
  for (const container of containers) {
    if (container.state !== "running") continue;
    if (oldest === undefined || startOrder(container, oldest) < 0) oldest = container;
  }
  return oldest;
}

function startOrder(a: ContainerFacts, b: ContainerFacts): number {
  const byStart = Date.parse(a.startedAt) - Date.parse(b.startedAt);
  return byStart !== 0 && Number.isFinite(byStart) ? byStart : a.name.localeCompare(b.name);
}

/**
 * A pin holds while its container exists; once that container is destroyed (removed by a
 * switch, or while the daemon was away) it is forgotten, and the route falls back to the oldest
 * running container. A stopped one only stops being chosen.
 */
export function pinKept(pin: Pin | undefined, exists: (id: string) => boolean): Pin | undefined {
  return pin && exists(pin.id) ? pin : undefined;
}
