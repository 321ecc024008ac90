import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { ContainerFacts, Dependency } from "../../../src/proxy/model.js";
import { dependencyLevels, type Edge, startPlan, stopLevels } from "../../../src/proxy/start-plan.js";

function container(service: string, dependsOn: Dependency[] = [], changes: Partial<ContainerFacts> = {}): ContainerFacts {
  return {
    id: `id-${service}`,
    name: `shop-${service}-1`,
    labels: {},
    project: "shop",
    service,
    oneoff: false,
    state: "exited",
    exitCode: 0,
    startedAt: "0001-01-01T00:00:00Z",
    finishedAt: "0001-01-01T00:00:00Z",
    addresses: {},
    dependsOn,
    published: [],
    ...changes,
  };
}
const on = (service: string, condition: Dependency["condition"] = "service_started"): Dependency => ({ service, condition });
const names = (levels: { container: ContainerFacts }[][]) => levels.map((level) => level.map((s) => s.container.name));

describe("startPlan", () => {
  it("starts what nothing depends on first, and one level's services side by side", () => {
    const plan = startPlan([
      container("web", [on("api", "service_healthy"), on("cache")]),
      container("api", [on("db", "service_healthy"), on("migrate", "service_completed_successfully")]),
      container("migrate", [on("db", "service_healthy")]),
      container("db"),
      container("cache"),
    ]);
    if ("cycle" in plan) throw new Error("no cycle expected");
    expect(names(plan.levels)).toEqual([["shop-cache-1", "shop-db-1"], ["shop-migrate-1"], ["shop-api-1"], ["shop-web-1"]]);
    expect(plan.levels[2]?.[0]?.after).toEqual([
      { service: "db", until: "ready" },
      { service: "migrate", until: "completed" },
    ]);
    expect(plan.levels[3]?.[0]?.after).toEqual([
      { service: "api", until: "ready" },
      { service: "cache", until: "started" },
    ]);
    expect(stopLevels(plan).map((level) => level.map((c) => c.name))).toEqual([
      ["shop-web-1"],
      ["shop-api-1"],
      ["shop-migrate-1"],
      ["shop-cache-1", "shop-db-1"],
    ]);
  });

  it("puts every container of a scaled service in its level, and leaves one-off containers out", () => {
    const plan = startPlan([
      container("worker", [on("db")], { name: "shop-worker-2" }),
      container("worker", [on("db")], { name: "shop-worker-1" }),
      container("db"),
      container("web", [on("db")], { name: "shop-web-run-1f2e", oneoff: true }),
    ]);
    expect("levels" in plan && names(plan.levels)).toEqual([["shop-db-1"], ["shop-worker-1", "shop-worker-2"]]);
  });

  it("ignores a dependency on a service that has no container", () => {
    const plan = startPlan([container("web", [on("gone", "service_healthy")])]);
    expect(plan).toEqual({ levels: [[{ container: container("web", [on("gone", "service_healthy")]), after: [] }]] });
  });

  it("names the services of a loop in order", () => {
    expect(startPlan([container("a", [on("b")]), container("b", [on("c")]), container("c", [on("a")]), container("d")])).toEqual({
      cycle: ["a", "b", "c"],
    });
    expect(startPlan([container("web", [on("web")])])).toEqual({ cycle: ["web"] });
  });

  it("has nothing to start for an empty project", () => {
    expect(startPlan([])).toEqual({ levels: [] });
  });
});

const ids = ["a", "b", "c", "d", "e", "f", "g"];
const edges = fc.array(
  fc.record({ from: fc.constantFrom(...ids, "x"), to: fc.constantFrom(...ids, "y") }),
  { maxLength: 14 },
);

describe("dependencyLevels, over random graphs", () => {
  it("places each id once, after everything it needs; or names a real loop", () => {
    fc.assert(
      fc.property(edges, (graph: Edge[]) => {
        const result = dependencyLevels(ids, graph);
        const needs = (from: string, to: string) => graph.some((e) => e.from === from && e.to === to);
        if ("cycle" in result) {
          expect(result.cycle.length).toBeGreaterThan(0);
          expect(new Set(result.cycle).size).toBe(result.cycle.length);
          result.cycle.forEach((id, i) => expect(needs(id, result.cycle[(i + 1) % result.cycle.length] ?? "")).toBe(true));
          return;
        }
        expect(result.levels.flat().sort()).toEqual(ids);
        const levelOf = new Map(result.levels.flatMap((level, i) => level.map((id) => [id, i] as const)));
        for (const { from, to } of graph) {
          const [f, t] = [levelOf.get(from), levelOf.get(to)];
          if (f !== undefined && t !== undefined) expect(t).toBeLessThan(f);
        }
        // As early as possible: every id past level 0 needs something from the level just before.
        result.levels.slice(1).forEach((level, i) => {
          for (const id of level) expect(result.levels[i]?.some((to) => needs(id, to))).toBe(true);
        });
      }),
    );
  });

  it("finds a loop whenever the graph has one", () => {
    fc.assert(
      fc.property(edges, (graph: Edge[]) => {
        const known = graph.filter((e) => ids.includes(e.from) && ids.includes(e.to));
        // A loop exists iff repeatedly removing ids that need nothing left cannot empty the graph.
        let left = new Set(ids);
        for (;;) {
          const free = [...left].filter((id) => !known.some((e) => e.from === id && left.has(e.to)));
          if (free.length === 0) break;
          left = new Set([...left].filter((id) => !free.includes(id)));
        }
        expect("cycle" in dependencyLevels(ids, graph)).toBe(left.size > 0);
      }),
    );
  });
});
