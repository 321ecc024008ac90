import { describe, expect, it } from "vitest";
import { EnvironmentError } from "../../../src/errors.js";
import { serverLayout } from "../../../src/release/layout.js";
import { SWITCHED, WorkerProgress, workerScript } from "../../../src/release/worker.js";
import { sh } from "../../../src/ssh/quote.js";

const switchFailed = (reason: string) => new EnvironmentError(`switching failed: ${reason}`);
const settled = async (promise: Promise<void>) => promise.then(() => "done", (error: Error) => error.message);

describe("WorkerProgress", () => {
  it("settles the switch at its marker, then the start when the worker ends well; compose's lines go to the follower, those before it too", async () => {
    const progress = new WorkerProgress("vps", switchFailed);
    progress.line("copying");
    let switched = false;
    void progress.switched.then(() => (switched = true));
    await Promise.resolve();
    expect(switched).toBe(false);
    progress.line(SWITCHED);
    await progress.switched;
    progress.line(" Container shop-web-1  Started");
    const seen: string[] = [];
    progress.follow((line) => seen.push(line));
    progress.line(" Container shop-db-1  Started");
    progress.finish(0);
    await progress.started;
    expect(seen).toEqual([" Container shop-web-1  Started", " Container shop-db-1  Started"]);
  });

  it("a worker that failed before its marker failed its switch, with its last lines", async () => {
    const progress = new WorkerProgress("vps", switchFailed);
    progress.line("mv: cannot move");
    progress.line("No space left on device");
    progress.finish(1);
    expect(await settled(progress.switched)).toBe("switching failed: mv: cannot move / No space left on device");
    expect(await settled(progress.started)).toBe("switching failed: mv: cannot move / No space left on device");
  });

  it("a worker that failed after its marker failed compose: the switch stands", async () => {
    const progress = new WorkerProgress("vps", switchFailed);
    progress.line(SWITCHED);
    progress.line("failed to solve: process \"/bin/sh -c false\" did not complete successfully: exit code: 1");
    progress.finish(17);
    expect(await settled(progress.switched)).toBe("done");
    expect(await settled(progress.started)).toBe(
      'docker compose failed on vps (exit 17): failed to solve: process "/bin/sh -c false" did not complete successfully: exit code: 1',
    );
  });

  it("with no file step, every line is compose's", async () => {
    const progress = new WorkerProgress("vps");
    await progress.switched;
    progress.line("Building web");
    progress.finish(1);
    expect(await settled(progress.started)).toBe("docker compose failed on vps (exit 1): Building web");
  });

  it("a lost connection fails what has not settled", async () => {
    const progress = new WorkerProgress("vps", switchFailed);
    progress.line(SWITCHED);
    progress.fail(new EnvironmentError("the SSH connection to vps was lost."));
    expect(await settled(progress.switched)).toBe("done");
    expect(await settled(progress.started)).toBe("the SSH connection to vps was lost.");
  });
});

describe("workerScript", () => {
  const layout = serverLayout("/home/deploy/apps/shop");
  const start = {
    compose: { kind: "v2" as const, project: "shop", files: ["compose.yaml"] },
    build: true,
    release: "20261123T193655548Z",
    failed: { time: "t", by: "ana@laptop", action: "deploy" as const, release: "20261123T193655548Z", outcome: "failed" as const },
  };

  it("runs the file step, then build and up, in one detached session, and records the containers' release only after up", () => {
    const code = workerScript(layout, sh`echo switching`, start).code;
    expect(code).toMatch(/^rm -f .*\nsetsid sh -c /);
    const body = code.slice(code.indexOf("setsid sh -c "));
    for (const step of ["switching", SWITCHED, "build", "remove-orphans", "/home/deploy/apps/.deploy-vps/shop/containers", '"outcome":"failed"']) {
      expect(body).toContain(step);
    }
    expect(body.indexOf("switching")).toBeLessThan(body.indexOf(SWITCHED));
    expect(body.indexOf(SWITCHED)).toBeLessThan(body.indexOf("remove-orphans"));
    expect(body.indexOf("remove-orphans")).toBeLessThan(body.indexOf("/containers"));
  });
});
