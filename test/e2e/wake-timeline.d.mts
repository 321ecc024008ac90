// Types of wake-timeline.mjs (plain ESM, also run alone on `proxy logs` output).

/** One `wake step` log line of the daemon: CONTAINER reached PHASE ATMS after its wake began. */
export interface WakeStep {
  container: string;
  phase: string;
  atMs: number;
}
export function wakeSteps(text: string, service: string, jitterMs?: number): WakeStep[];
export function drawTimeline(steps: readonly WakeStep[], width?: number): string;
