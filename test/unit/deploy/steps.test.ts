import { describe, expect, it } from "vitest";
import type { ShippedFile } from "../../../src/archive/walk.js";
import type { Settings } from "../../../src/config/settings.js";
import { type DeployContext, ready } from "../../../src/deploy/context.js";
import type { ProjectPlan } from "../../../src/deploy/plan.js";
import { buildSkip } from "../../../src/deploy/steps/build-and-start.js";
import { switchSkip } from "../../../src/deploy/steps/switch.js";
import { wouldUpload } from "../../../src/deploy/steps/upload.js";
import { watchSkip } from "../../../src/deploy/steps/watch.js";
import { fullUpload } from "../../../src/release/manifest.js";
import { RunLock } from "../../../src/release/session.js";

const file = (path: string, size: number): ShippedFile => ({ path, size, mode: 0o644, mtimeMs: 0, isLink: false });
const tree = Array.from({ length: 3000 }, (_, i) => file(`src/f${i}.ts`, 10));
tree.push(file("src/x.ts", 2100));

describe("wouldUpload: what a dry run says it would send", () => {
  it("a redeploy: the delta against the live release, its size and the first few paths", () => {
    const plan = { base: "R1", send: ["src/x.ts"], deleted: [], unchanged: 3000 };
    expect(wouldUpload(tree, plan, false)).toBe("Upload: would send 1 file (2.1 kB) of 3,001: src/x.ts");
    const more = { base: "R1", send: ["src/f1.ts", "src/f2.ts", "src/f3.ts", "src/f4.ts"], deleted: ["old.txt"], unchanged: 2996 };
    expect(wouldUpload(tree, more, false)).toBe(
      "Upload: would send 4 files (40 B) of 3,001: src/f1.ts, src/f2.ts, src/f3.ts and 1 more; would delete 1 file: old.txt",
    );
  });

  it("nothing, or only the .env, when no file changed", () => {
    const none = { base: "R1", send: [], deleted: [], unchanged: 3001 };
    expect(wouldUpload(tree, none, false)).toBe("Upload: nothing changed since release R1");
    expect(wouldUpload(tree, none, true)).toBe("Upload: would send no file of 3,001, only the new .env");
  });

  it("every file on a first deploy, saying why, and without a host", () => {
    const paths = tree.map((f) => f.path);
    expect(wouldUpload(tree, fullUpload(paths, "first deploy"), true)).toBe("Upload: would send all 3,001 files (32 kB): full upload, first deploy");
    expect(wouldUpload(tree, undefined, true)).toBe("Upload: would send all 3,001 files (32 kB)");
  });
});

function context(overrides: Partial<DeployContext> = {}): DeployContext {
  const settings = { dryRun: true, settle: 30 } as Settings;
  return { settings, lock: new RunLock(), uploadedBytes: 0, services: [], logs: new Map(), timings: {}, ...overrides };
}

const plan = {
  services: [
    { name: "web", hasBuild: true },
    { name: "db", hasBuild: false },
  ],
} as ProjectPlan;

describe("the skips of a dry run", () => {
  it("say what Switch, Build and start and Watch would do", () => {
    const c = context({ plan, compose: { kind: "v1", project: "shop", files: [] } });
    expect(switchSkip(c)).toBe("Switch: would make a new release live");
    expect(switchSkip({ ...c, server: { current: "R1" } as DeployContext["server"] })).toBe(
      "Switch: would make a new release live, keeping R1 for rollback",
    );
    expect(buildSkip(c)).toBe("Build and start: would build web and run docker-compose up -d");
    expect(buildSkip({ ...c, compose: undefined, plan: { services: [{ name: "db", hasBuild: false }] } as ProjectPlan })).toBe(
      "Build and start: would run docker compose up -d",
    );
    expect(watchSkip(c)).toBe("Watch: would watch web, db for crash loops for up to 30 s");
  });

  it("say which services a blue-green deploy would switch through the proxy", () => {
    const zeroDowntime = { blueGreen: [{ service: "web", unit: "shop", drainSeconds: 45, readySeconds: 300 }] };
    expect(buildSkip(context({ plan, compose: { kind: "v2", project: "shop", files: [] }, zeroDowntime }))).toBe(
      "Build and start: would build web and switch web (drain 45 s) to a new container through the runtime proxy, then run docker compose up -d for the rest",
    );
  });

  it("skip nothing in a real run but the switch of a release that stays live", () => {
    const c = context({ plan, settings: { dryRun: false, settle: 30 } as Settings });
    expect([switchSkip(c), buildSkip(c), watchSkip(c)]).toEqual([false, false, false]);
    expect(switchSkip({ ...c, unchanged: true, upload: { base: "R1", send: [], deleted: [], unchanged: 3 } })).toBe(
      "Switch: release R1 stays live",
    );
  });
});

describe("ready", () => {
  it("hands a step the context once the fields it needs are set, else an internal error naming them", () => {
    const c = context({ plan });
    expect(ready(c, "plan").plan).toBe(plan);
    expect(() => ready(c, "plan", "remote", "target")).toThrow("internal error: a step needs remote, target, which no earlier step set");
  });
});
