import type { ContainerFacts, UnitState } from "./model.js";
import type { Failure } from "./unit-state.js";

/**
 * What a waiting page shows of a start in progress: one line per container of the unit, the
 * sentence above them, and the Server-Sent Events that carry it to the page. Words for people
 * only: a visitor never sees a reason, a log line or a container id.
 */

export type Phase = "pending" | "starting" | "ready" | "failed";

export interface ProgressLine {
  /** The container's id: what the wake layer reports a change by. */
  id: string;
  /** Its compose service, or `project/service` for a container of another compose project. */
  name: string;
  phase: Phase;
}

/** The `progress` event's data: what the page needs to redraw itself, and nothing it must not show. */
export interface ProgressSnapshot {
  state: UnitState;
  elapsedMs: number;
  estimateMs: number;
  message: string;
  containers: { name: string; phase: Phase }[];
  failure?: string;
}

function lineName(container: ContainerFacts, ownProject: string): string {
  const service = container.service ?? container.name;
  return container.project === undefined || container.project === ownProject ? service : `${container.project}/${service}`;
}

/** The lines of a start about to begin, in start order: what already runs is ready, the rest waits its turn. */
export function initialProgress(levels: ContainerFacts[][], ownProject: string): ProgressLine[] {
  return levels.flat().map((container) => ({
    id: container.id,
    name: lineName(container, ownProject),
    phase: container.state === "running" ? "ready" : "pending",
  }));
}

/** The lines with one container's phase changed; a container the lines do not know changes nothing. */
export function advance(lines: readonly ProgressLine[], id: string, phase: Phase): ProgressLine[] {
  return lines.map((line) => (line.id === id ? { ...line, phase } : line));
}

/** "db", "db and web", "db, cache and web". */
function listed(names: readonly string[]): string {
  const last = names.at(-1) ?? "";
  return names.length < 2 ? last : `${names.slice(0, -1).join(", ")} and ${last}`;
}

/** The status sentence above the lines. */
export function progressMessage(state: UnitState, lines: readonly ProgressLine[]): string {
  switch (state) {
    case "ready":
      return "Ready";
    case "failed":
      return "Could not start";
    case "disabled":
      return "Unavailable";
    case "sleeping":
    case "stopping":
      return "Waking up";
    case "starting": {
      const starting = lines.filter((line) => line.phase === "starting").map((line) => line.name);
      if (starting.length > 0) return `Starting ${listed(starting)}`;
      // Every container is up: what is left is the readiness check of the routed one.
      if (lines.length > 0 && lines.every((line) => line.phase === "ready")) return "Almost there";
      return "Waking up";
    }
  }
}

/**
 * The sentence a failed start shows to the visitor. It names the container to blame by its line
 * (the one marked failed, else the one the failure names by id; for a timeout, the one still
 * starting if there is only one), never by Docker's name, and says nothing of why.
 */
export function failureSentence(failure: Failure, lines: readonly ProgressLine[]): string {
  const starting = lines.filter((line) => line.phase === "starting");
  const blamed =
    lines.find((line) => line.phase === "failed") ??
    lines.find((line) => line.id === failure.container) ??
    (failure.status === 504 && starting.length === 1 ? starting[0] : undefined);
  const who = blamed?.name ?? "The service";
  return failure.status === 504 ? `${who} did not become ready in time.` : `${who} could not be started.`;
}

/** One Server-Sent Event. JSON has no raw line break, so the data fits the one `data:` line. */
export function sseEvent(event: string, data: unknown): string {
  if (!/^[A-Za-z][\w-]*$/.test(event)) throw new Error(`invalid event name ${JSON.stringify(event)}`);
  return `event: ${event}\ndata: ${JSON.stringify(data) ?? "null"}\n\n`;
}
