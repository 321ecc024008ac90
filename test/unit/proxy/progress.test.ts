import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { advance, failureSentence, initialProgress, type Phase, type ProgressLine, progressMessage, sseEvent } from "../../../src/proxy/progress.js";
import type { Failure } from "../../../src/proxy/unit-state.js";
import { containerFacts } from "./facts.js";

const line = (id: string, phase: Phase, name = id): ProgressLine => ({ id, name, phase });

function failure(overrides: Partial<Failure> = {}): Failure {
  return { container: "", reason: "exited (exit code 1) while starting", logs: ["FATAL: password authentication failed"], status: 502, ...overrides };
}

describe("initialProgress", () => {
  it("lists the containers in start order, running ones ready and the rest pending", () => {
    const db = containerFacts({ service: "db", state: "running" });
    const cache = containerFacts({ service: "cache" });
    const web = containerFacts({ service: "web", state: "created" });
    expect(initialProgress([[db, cache], [web]], "shop")).toEqual([
      { id: "shop-db-id", name: "db", phase: "ready" },
      { id: "shop-cache-id", name: "cache", phase: "pending" },
      { id: "shop-web-id", name: "web", phase: "pending" },
    ]);
  });

  it("names another project's container project/service, and one compose did not make by its name", () => {
    const shared = containerFacts({ project: "databases-shared", service: "postgresql" });
    const bare = { ...containerFacts(), project: undefined, service: undefined, name: "legacy-worker" };
    expect(initialProgress([[shared, bare]], "shop").map((each) => each.name)).toEqual(["databases-shared/postgresql", "legacy-worker"]);
  });
});

describe("advance", () => {
  it("changes the phase of the named container only, without touching the lines it was given", () => {
    const lines = [line("a", "ready"), line("b", "pending")];
    expect(advance(lines, "b", "starting")).toEqual([line("a", "ready"), line("b", "starting")]);
    expect(lines[1]?.phase).toBe("pending");
  });

  it("ignores a container it does not list", () => {
    const lines = [line("a", "pending")];
    expect(advance(lines, "gone", "failed")).toEqual(lines);
  });

  it("never loses, duplicates or reorders a line, and sets the phase of exactly the named one", () => {
    const phase = fc.constantFrom<Phase>("pending", "starting", "ready", "failed");
    // Most changes name a listed container (by its index), a few one the lines do not know.
    const change = fc.tuple(fc.oneof(fc.nat(), fc.constant("unknown")), phase);
    const ids = fc.uniqueArray(fc.string({ minLength: 1, maxLength: 4 }), { maxLength: 8 });
    fc.assert(
      fc.property(ids, fc.array(change, { maxLength: 20 }), phase, (lineIds, changes, start) => {
        const first = lineIds.map((id) => line(id, start, `service-${id}`));
        let lines = first;
        const expected = new Map(first.map((each) => [each.id, each.phase]));
        for (const [which, next] of changes) {
          const id = typeof which === "number" ? (lineIds[which % Math.max(1, lineIds.length)] ?? "none") : which;
          lines = advance(lines, id, next);
          if (expected.has(id)) expected.set(id, next);
        }
        expect(lines.map((each) => each.id)).toEqual(lineIds);
        expect(lines.map((each) => each.name)).toEqual(first.map((each) => each.name));
        expect(lines.map((each) => each.phase)).toEqual(lineIds.map((id) => expected.get(id)));
      }),
    );
  });
});

describe("progressMessage", () => {
  it("names what is starting", () => {
    expect(progressMessage("starting", [line("db", "ready"), line("web", "starting")])).toBe("Starting web");
    expect(progressMessage("starting", [line("db", "starting"), line("web", "starting")])).toBe("Starting db and web");
    expect(progressMessage("starting", [line("a", "starting"), line("b", "starting"), line("c", "starting")])).toBe("Starting a, b and c");
  });

  it("says almost there once every container is up but the unit is not yet ready", () => {
    expect(progressMessage("starting", [line("db", "ready"), line("web", "ready")])).toBe("Almost there");
  });

  it("says waking up before anything starts", () => {
    expect(progressMessage("starting", [line("db", "pending")])).toBe("Waking up");
    expect(progressMessage("starting", [])).toBe("Waking up");
    expect(progressMessage("sleeping", [line("db", "pending")])).toBe("Waking up");
    expect(progressMessage("stopping", [])).toBe("Waking up");
  });

  it("follows the unit's state once it has settled", () => {
    expect(progressMessage("ready", [line("db", "ready")])).toBe("Ready");
    expect(progressMessage("failed", [line("db", "failed")])).toBe("Could not start");
    expect(progressMessage("disabled", [])).toBe("Unavailable");
  });
});

describe("failureSentence", () => {
  it("blames the failed line by its name, with no reason, log or id", () => {
    const sentence = failureSentence(failure({ container: "shop-db-1" }), [line("c0ffee", "failed", "db"), line("beef", "pending", "web")]);
    expect(sentence).toBe("db could not be started.");
  });

  it("finds the line by the container id the failure names", () => {
    expect(failureSentence(failure({ container: "beef" }), [line("c0ffee", "ready", "db"), line("beef", "starting", "web")])).toBe(
      "web could not be started.",
    );
  });

  it("says a timed out start did not become ready, naming the one container still starting", () => {
    const lines = [line("c0ffee", "ready", "db"), line("beef", "starting", "web")];
    expect(failureSentence(failure({ container: "shop-web-1", status: 504 }), lines)).toBe("web did not become ready in time.");
  });

  it("names no container when it cannot tell which one is to blame", () => {
    expect(failureSentence(failure(), [line("a", "starting"), line("b", "pending")])).toBe("The service could not be started.");
    expect(failureSentence(failure({ status: 504 }), [line("a", "starting"), line("b", "starting")])).toBe("The service did not become ready in time.");
  });
});

describe("sseEvent", () => {
  it("frames one event with its JSON on a single data line", () => {
    expect(sseEvent("ready", { readyAt: 42 })).toBe('event: ready\ndata: {"readyAt":42}\n\n');
  });

  it("keeps a value's line breaks inside the JSON", () => {
    const framed = sseEvent("failed", { message: "two\nlines\r\nhere" });
    expect(framed.split("\n")).toEqual(["event: failed", 'data: {"message":"two\\nlines\\r\\nhere"}', "", ""]);
  });

  it("refuses an event name that would break the framing", () => {
    expect(() => sseEvent("progress\ndata: x", {})).toThrow(/invalid event name/);
  });
});
