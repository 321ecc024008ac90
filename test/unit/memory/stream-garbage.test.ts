import { setTimeout as sleep } from "node:timers/promises";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { describe, expect, it } from "vitest";
import { collectStreamGarbage } from "../../../src/memory/stream-garbage.js";

const MB = 1024 * 1024;
const buffers = () => process.memoryUsage().arrayBuffers;

/** 32 MB of buffers that outlived two young collections, as queued chunks do, then dropped. */
function promotedGarbage(): void {
  setFlagsFromString("--expose-gc");
  const gc = runInNewContext("gc") as (options: { type: "minor" }) => void;
  let held: Buffer[] | undefined = Array.from({ length: 128 }, () => Buffer.alloc(256 * 1024, 1));
  gc({ type: "minor" });
  gc({ type: "minor" });
  expect(held).toHaveLength(128);
  held = undefined;
}

describe("collectStreamGarbage", () => {
  it("frees the buffers that queued past two young collections, once 16 MB were sent", async () => {
    const collector = collectStreamGarbage();
    promotedGarbage();
    const before = buffers();
    // Young collections alone (4 MB read) do not reach them, nor does less than 16 MB sent.
    collector.packed(5 * MB);
    collector.sent(15 * MB);
    await sleep(200);
    expect(before - buffers()).toBeLessThan(8 * MB);
    collector.sent(16 * MB);
    // Freed on a background thread after the collection, on Node 20: given up to 5 s.
    for (let waited = 0; waited < 5000 && before - buffers() <= 30 * MB; waited += 50) await sleep(50);
    expect(before - buffers()).toBeGreaterThan(30 * MB);
  });
});
