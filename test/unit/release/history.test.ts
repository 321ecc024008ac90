import { describe, expect, it } from "vitest";
import { describeSkipped, failedReleases, type LogEntry, parseLogLines, releaseDrift, rollbackTarget } from "../../../src/release/history.js";

const entry = (release: string, outcome: LogEntry["outcome"], action: LogEntry["action"] = "deploy"): LogEntry => ({
  time: "2026-11-23T19:36:55.548Z",
  by: "ana@laptop",
  action,
  release,
  outcome,
});
const kept = (...ids: string[]) => ids.map((id) => ({ id }));

describe("failedReleases", () => {
  it("is the releases whose last logged outcome is failed", () => {
    const log = [entry("A", "healthy"), entry("B", "failed"), entry("C", "failed"), entry("C", "healthy", "rollback")];
    expect([...failedReleases(log)]).toEqual(["B"]);
  });
});

describe("rollbackTarget", () => {
  it("goes to the newest release older than the live one", () => {
    expect(rollbackTarget(kept("A", "B", "C"), "C", [])).toEqual({ target: { id: "B" }, skipped: [] });
    expect(rollbackTarget(kept("A", "B", "C"), "B", [])).toEqual({ target: { id: "A" }, skipped: [] });
  });

  it("skips the releases whose deploy failed, and names them", () => {
    const log = [entry("A", "healthy"), entry("B", "failed"), entry("C", "failed"), entry("D", "unhealthy")];
    expect(rollbackTarget(kept("A", "B", "C", "D"), "D", log)).toEqual({ target: { id: "A" }, skipped: ["C", "B"] });
  });

  it("goes to a release named with --to even when its deploy failed", () => {
    const log = [entry("A", "healthy"), entry("B", "failed"), entry("C", "healthy")];
    expect(rollbackTarget(kept("A", "B", "C"), "C", log, "B")).toEqual({ target: { id: "B" }, skipped: [] });
    expect(rollbackTarget(kept("A", "B", "C"), "C", log, "X")).toMatch(/^no release X on the server/);
  });

  it("says why there is none", () => {
    expect(rollbackTarget(kept(), undefined, [])).toMatch(/nothing has been deployed here/);
    expect(rollbackTarget(kept("A"), "A", [])).toBe("release A is the oldest kept; there is no previous version to roll back to.");
    expect(rollbackTarget(kept("A", "B"), "B", [entry("A", "failed")])).toBe(
      "every release older than B failed to deploy (A); pick one with --to if you mean it.",
    );
  });

  it("never names the live release itself, as after a redeploy that changed nothing", () => {
    expect(rollbackTarget(kept("A"), "A", [entry("A", "unhealthy"), entry("A", "unhealthy")])).toEqual(expect.any(String));
    expect(rollbackTarget(kept("A", "B"), "B", [entry("B", "unhealthy"), entry("B", "unhealthy")])).toEqual({ target: { id: "A" }, skipped: [] });
  });
});

describe("describeSkipped", () => {
  it("names the skipped releases, or nothing", () => {
    expect(describeSkipped([])).toBeUndefined();
    expect(describeSkipped(["B"])).toBe("skipped B (its deploy failed)");
    expect(describeSkipped(["C", "B"])).toBe("skipped C, B (their deploys failed)");
  });
});

describe("releaseDrift", () => {
  it("says where the files and the containers are when they differ", () => {
    expect(releaseDrift("B", "A")).toBe("files at B, containers at A");
    expect(releaseDrift("A", "A")).toBeUndefined();
  });

  it("says nothing when either is unknown", () => {
    expect(releaseDrift(undefined, "A")).toBeUndefined();
    expect(releaseDrift("A", undefined)).toBeUndefined();
  });
});

describe("parseLogLines", () => {
  it("reads JSON lines and leaves out a line that does not parse", () => {
    expect(parseLogLines(`${JSON.stringify(entry("A", "healthy"))}\n{"time":"cut sh\n\n`)).toEqual([entry("A", "healthy")]);
  });
});
