import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { YOUNG_GENERATION_FLAG } from "../../../src/memory/young-generation.js";

/** The young generation's size in a fresh Node after making 300,000 objects that all survive. */
function youngGenerationMb(flags: string[]): number {
  const script = `
    const v8 = require("node:v8");
    for (const flag of ${JSON.stringify(flags)}) v8.setFlagsFromString(flag);
    const kept = [];
    for (let i = 0; i < 300000; i++) kept.push({ i, name: "file-" + i });
    const space = v8.getHeapSpaceStatistics().find((s) => s.space_name === "new_space");
    process.stdout.write(JSON.stringify({ mb: space.space_size / 1024 / 1024, kept: kept.length }));`;
  return (JSON.parse(execFileSync(process.execPath, ["-e", script], { encoding: "utf8" })) as { mb: number }).mb;
}

describe("the young generation flag", () => {
  it("keeps V8's young generation at its first size while what is made survives, on this Node", () => {
    expect(youngGenerationMb([])).toBeGreaterThanOrEqual(16);
    expect(youngGenerationMb([YOUNG_GENERATION_FLAG])).toBeLessThanOrEqual(4);
  });
});
