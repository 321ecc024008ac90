import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { dependencyLevels, type Edge } from "../../../src/proxy/dependency-levels.js";

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
