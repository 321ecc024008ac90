import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { formatDuration, parseDuration, parseIdle } from "../../../src/proxy/durations.js";

describe("parseDuration", () => {
  it.each([
    ["500ms", 500],
    ["30s", 30_000],
    ["5m", 300_000],
    ["1h", 3_600_000],
    ["1h30m", 5_400_000],
    ["1h30m15s250ms", 5_415_250],
    ["1.5s", 1500],
    ["0.5h", 1_800_000],
    ["90", 90_000],
    ["2.5", 2500],
    [" 30M ", 1_800_000],
    ["1H", 3_600_000],
    ["0", 0],
    ["0s", 0],
  ])("%s is %d ms", (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(["", "  ", "-5s", "-1", "5 parsecs", "5parsecs", "1d", "30m1h", "1m1m", "1h 30m", "s", "1.s", ".5s", "1e3", "abc", "never", "5x", "1.5.5s", "Infinity"])(
    "refuses %j",
    (text) => {
      expect(parseDuration(text)).toBeUndefined();
    },
  );

  it("refuses a duration past what a number holds exactly", () => {
    expect(parseDuration("9999999999999999h")).toBeUndefined();
  });
});

describe("parseIdle", () => {
  it("reads never as null, case aside, and durations as ms", () => {
    expect(parseIdle("never")).toBeNull();
    expect(parseIdle(" Never ")).toBeNull();
    expect(parseIdle("30m")).toBe(1_800_000);
    expect(parseIdle("nevermore")).toBeUndefined();
  });
});

describe("formatDuration", () => {
  it.each([
    [null, "never"],
    [0, "0ms"],
    [250, "250ms"],
    [999, "999ms"],
    [1000, "1s"],
    [1500, "1.5s"],
    [1001, "1.001s"],
    [60_000, "1m"],
    [90_000, "1m30s"],
    [1_800_000, "30m"],
    [3_600_000, "1h"],
    [5_400_000, "1h30m"],
    [3_601_000, "1h1s"],
    [172_800_000, "48h"],
  ])("%j is %s", (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });

  it("is read back by parseDuration to the same milliseconds", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 400 * 24 * 3_600_000 }), (ms) => {
        expect(parseDuration(formatDuration(ms))).toBe(ms);
      }),
      { numRuns: 2000 },
    );
  });
});
