// The timeline drawn from the daemon's `wake step` lines (test/e2e/wake-timeline.mjs), as the
// README shows it: only the last wake of the service asked for, one row per container.
import { describe, expect, it } from "vitest";
import { drawTimeline, wakeSteps } from "../../e2e/wake-timeline.mjs";

const BEGUN = Date.parse("2026-11-30T10:00:00Z");

/** `wake step` log lines of SERVICE's wake begun at BEGUNMS, each logged 3 ms after its atMs. */
function logged(service: string, begunMs: number, steps: [string, string, number][]): string {
  return steps
    .map(([container, phase, atMs]) => JSON.stringify({ time: new Date(begunMs + atMs + 3).toISOString(), level: "info", message: "wake step", service, container, phase, atMs }))
    .join("\n");
}

const RAGFLOW: [string, string, number][] = [
  ["redis", "starting", 9],
  ["elasticsearch", "starting", 10],
  ["minio", "starting", 11],
  ["redis", "ready", 1100],
  ["minio", "ready", 2150],
  ["elasticsearch", "ready", 5100],
  ["server", "starting", 5110],
  ["server", "ready", 6250],
];

describe("wakeSteps", () => {
  it("keeps the last wake of the service only, and skips other services' lines and non-JSON lines", () => {
    const text = [
      "not json",
      logged("rf", BEGUN, [["redis", "starting", 5], ["redis", "ready", 90]]),
      logged("other", BEGUN + 60_000, [["db", "starting", 1]]),
      logged("rf", BEGUN + 60_000, RAGFLOW),
    ].join("\n");
    const steps = wakeSteps(text, "rf");
    expect(steps).toHaveLength(RAGFLOW.length);
    expect(steps[0]).toEqual({ container: "redis", phase: "starting", atMs: 9 });
  });
});

describe("drawTimeline", () => {
  it("draws one row per container in start order, starting then ready, with each one's time and the scale", () => {
    const lines = drawTimeline(wakeSteps(logged("rf", BEGUN, RAGFLOW), "rf"), 20).split("\n");
    expect(lines).toEqual([
      "redis         |===#################| 1091 ms",
      "elasticsearch |================####| 5090 ms",
      "minio         |======##############| 2139 ms",
      "server        |                ===#| 1140 ms",
      "              0             6250 ms",
    ]);
  });

  it("marks a failed container with x and says so when there is nothing to draw", () => {
    const failed = drawTimeline([{ container: "broken", phase: "starting", atMs: 0 }, { container: "broken", phase: "failed", atMs: 1000 }], 10);
    expect(failed.split("\n")[0]).toBe("broken |=========x| 1000 ms");
    expect(drawTimeline([])).toBe("(no wake step lines)");
  });
});
