import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DEFAULT_ESTIMATE_SECONDS, estimateSeconds, rememberStart } from "../../../src/proxy/estimate.js";

describe("estimateSeconds", () => {
  it("is the median of the last starts, rounded up to whole seconds", () => {
    expect(estimateSeconds([4200, 90_000, 3100])).toBe(5);
    expect(estimateSeconds([3000, 1000, 2000, 4001])).toBe(3);
    expect(estimateSeconds([8000])).toBe(8);
  });

  it("is at least one second", () => {
    expect(estimateSeconds([20, 40])).toBe(1);
    expect(estimateSeconds([0])).toBe(1);
  });

  it("is the label's before any start was measured, else 30 s", () => {
    expect(estimateSeconds([], 12_500)).toBe(13);
    expect(estimateSeconds([7000], 12_500)).toBe(7);
    expect(estimateSeconds([])).toBe(DEFAULT_ESTIMATE_SECONDS);
    expect(DEFAULT_ESTIMATE_SECONDS).toBe(30);
  });

  it("lies between the fastest and the slowest start", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1000, max: 600_000 }), { minLength: 1, maxLength: 10 }), (starts) => {
        const seconds = estimateSeconds(starts);
        expect(seconds).toBeGreaterThanOrEqual(Math.ceil(Math.min(...starts) / 1000));
        expect(seconds).toBeLessThanOrEqual(Math.ceil(Math.max(...starts) / 1000));
      }),
    );
  });
});

describe("rememberStart", () => {
  it("keeps the newest starts, ten by default", () => {
    const starts = Array.from({ length: 10 }, (_, i) => i);
    expect(rememberStart(starts, 10)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(rememberStart([1, 2, 3], 4, 2)).toEqual([3, 4]);
    expect(rememberStart([], 4200)).toEqual([4200]);
    expect(starts).toHaveLength(10);
  });
});
