import { describe, expect, it } from "vitest";
import type { LockOutcome } from "../../../src/release/lock.js";
import { RunLock, withLock } from "../../../src/release/session.js";
import type { Shell } from "../../../src/ssh/quote.js";

/** Records the scripts a run sends; only what the lock's release is made of is looked at. */
function connection() {
  const sent: string[] = [];
  return {
    sent,
    run: async (body: Shell) => {
      sent.push(body.code);
      return { code: 0, stdout: Buffer.alloc(0), stderr: "" };
    },
  };
}

const app = "/home/deploy/apps/shop";

async function failingRun(lock: LockOutcome | undefined): Promise<string[]> {
  const remote = connection();
  const held = new RunLock();
  await expect(
    withLock(held, async () => {
      held.took(remote, { app, lock });
      throw new Error("the build failed");
    }),
  ).rejects.toThrow("the build failed");
  return remote.sent;
}

describe("withLock", () => {
  it("releases the lock this run's probe took when the run fails, whatever the probe found before", async () => {
    for (const lock of [{ status: "taken" }, { status: "stale" }, { status: "broke" }] as const) {
      const sent = await failingRun(lock);
      expect(sent).toHaveLength(1);
      expect(sent[0]).toContain("/home/deploy/apps/.deploy-vps/shop");
    }
  });

  it("never releases a lock another run holds, nor one no probe took", async () => {
    expect(await failingRun({ status: "held", workers: [42] })).toEqual([]);
    expect(await failingRun(undefined)).toEqual([]);
  });

  it("leaves a run that ends well alone: its last step released the lock with its log entry", async () => {
    const remote = connection();
    const held = new RunLock();
    const result = await withLock(held, async () => {
      held.took(remote, { app, lock: { status: "taken" } });
      return "done";
    });
    expect(result).toBe("done");
    expect(remote.sent).toEqual([]);
  });
});
