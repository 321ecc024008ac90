/**
 * Dependency wake chains end to end (issue 16): the seed's four shapes as busybox stacks on the
 * test host (test/e2e/wake-chain-shapes.ts), first by compose alone (the fixtures hold: they come
 * up, their delays are what they say, they go away), then through the proxy installed by the CLI:
 * start order from Docker's events, the RAGFlow-like total against its slowest backend, failing
 * dependencies, a cycle, concurrent wakes sharing a dependency, the refcounted stop, the dry-run
 * plan, the waiting page's lines and the seed's dependencies.json.
 */
import { request } from "node:http";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ProgressSnapshot } from "../../src/proxy/progress.js";
import type { FailedAnswer, PlanRefusal, WakePlan } from "../../src/proxy/status.js";
import { freePort, onServer, shq, tempDir, uniqueName, type CliRun } from "./harness.js";
import { everyStep, httpCall, proxyCli, proxyStatus, removeDaemon, runningContainers, serviceStatus, waitForService, waitForServices, type HttpAnswer } from "./proxy-harness.js";
import {
  answeringFrom,
  composeAll,
  containerOf,
  createNetwork,
  firstAt,
  leftovers,
  loggedLines,
  removeShapes,
  seedDependenciesFile,
  eventsDuring,
  wakeChainShapes,
  type Stack,
  type TimedEvent,
} from "./wake-chain-shapes.js";
import { drawTimeline, wakeSteps, type WakeStep } from "./wake-timeline.mjs";

const { network, stacks, seedNames } = wakeChainShapes((role) => uniqueName(`e2e-wc-${role}`));
type Role = keyof typeof stacks;
const all: Stack[] = Object.values(stacks);
// The stacks compose brings up and keeps running (the seed's and the failing ones aside).
const listenPort = await freePort();
const adminPort = await freePort();
const host = (role: Role) => `${stacks[role].project}.test`;
const unit = (role: Role) => stacks[role].project;
const container = (role: Role, service: string) => containerOf(stacks[role], service);

afterAll(() => everyStep("wake-chains.test.ts: cleanup failed", [removeDaemon, () => removeShapes(all, network)]));

beforeAll(() => createNetwork(network));

/** Every container of these stacks stopped, so that the next wake is a cold one. */
function stopAll(roles: readonly Role[]): void {
  const names = roles.flatMap((role) => Object.keys(stacks[role].services).map((service) => container(role, service)));
  onServer(`docker stop -t 1 ${names.map(shq).join(" ")} >/dev/null`);
}

function projectsOf(roles: readonly Role[]): string[] {
  return roles.map((role) => stacks[role].project);
}

describe("the shapes, by compose alone", () => {
  it("are created and left stopped for the proxy: every container of every shape exists, none runs", () => {
    composeAll(all, network, "up --no-start");
    for (const stack of all) {
      expect(runningContainers(stack.project), stack.project).toEqual([]);
      const created = onServer(`docker ps -aq --filter ${shq(`label=com.docker.compose.project=${stack.project}`)}`).split("\n").filter(Boolean);
      expect(created, stack.project).toHaveLength(Object.keys(stack.services).length);
    }
  });

  it("a site whose dependency is down exits 1, as WordPress does without its database", () => {
    // `docker wait` returns once it exited, however slow a loaded host makes its start.
    expect(onServer(`docker start ${shq(container("ncSite", "web"))} >/dev/null && timeout 60 docker wait ${shq(container("ncSite", "web"))}`).trim()).toBe("1");
    // Its own line, among wget's: docker logs merges stdout and stderr in no set order.
    expect(loggedLines(container("ncSite", "web")).map((line) => line.text)).toContain(`${container("ncData", "postgresql")}:5432 does not answer`);
  });
});

/** The `wake step` lines of NAME's last wake, from `proxy logs`. */
async function lastWake(name: string): Promise<WakeStep[]> {
  const run = await proxyCli("logs", "--lines", "1000");
  expect(run.code, run.stderr).toBe(0);
  return wakeSteps(run.stdout, name);
}

/** When CONTAINER reached PHASE in STEPS (ms since its wake began); throws with the steps if it never did. */
function phaseAt(steps: readonly WakeStep[], containerName: string, phase: string): number {
  const found = steps.find((step) => step.container === containerName && step.phase === phase);
  if (!found) throw new Error(`no ${phase} of ${containerName} among ${JSON.stringify(steps)}`);
  return found.atMs;
}

/** `proxy wake NAME FLAGS` run while Docker's events of ROLES are recorded: its run and the events. */
async function wakeRecorded(name: string, roles: readonly Role[], ...flags: string[]) {
  let run: CliRun | undefined;
  const events = await eventsDuring(projectsOf(roles), async () => (run = await proxyCli("wake", name, ...flags)));
  if (!run) throw new Error(`proxy wake ${name} did not run`);
  return { run, events };
}

function starts(events: readonly TimedEvent[], name: string): number {
  return events.filter((event) => event.name === name && event.action === "start").length;
}

/** Every `progress` event of the waiting page's stream for HOSTNAME until one says STATE (or TIMEOUTMS). */
function progressUntil(hostname: string, state: string, timeoutMs = 30_000): Promise<ProgressSnapshot[]> {
  return new Promise((resolve, reject) => {
    const seen: ProgressSnapshot[] = [];
    const req = request(
      `http://127.0.0.1:${listenPort}/__deploy-vps/events`,
      { headers: { host: hostname, accept: "text/event-stream" }, agent: false, timeout: timeoutMs },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          text += chunk;
          for (let end = text.indexOf("\n\n"); end !== -1; end = text.indexOf("\n\n")) {
            const block = text.slice(0, end).split("\n");
            text = text.slice(end + 2);
            if (block.find((line) => line.startsWith("event:"))?.slice(6).trim() !== "progress") continue;
            const snapshot = JSON.parse(block.filter((line) => line.startsWith("data:")).map((line) => line.slice(5).trim()).join("\n")) as ProgressSnapshot;
            seen.push(snapshot);
            if (snapshot.state === state) {
              req.destroy();
              resolve(seen);
            }
          }
        });
        res.on("end", () => reject(new Error(`the stream of ${hostname} ended before ${state}: ${JSON.stringify(seen)}`)));
      },
    );
    req.on("timeout", () => req.destroy(new Error(`${hostname}: no ${state} progress after ${timeoutMs} ms: ${JSON.stringify(seen)}`)));
    req.on("error", reject);
    req.end();
  });
}

describe("through the proxy", () => {
  const routedRoles: Role[] = ["wp", "ncSite", "rf", "mvUi", "mvAdmin", "seed", "failReq", "failOpt"];

  beforeAll(async () => {
    const home = onServer('printf %s "$HOME"');
    const dependencies = join(tempDir("wake-chain-deps"), "dependencies.json");
    writeFileSync(dependencies, seedDependenciesFile(unit("seed"), seedNames, `${home}/apps/${unit("seed")}`));
    const install = await proxyCli(
      "install", "--image", "local/node:20", "--listen", `127.0.0.1:${listenPort}`, "--admin", `127.0.0.1:${adminPort}`, "--dependencies", dependencies,
    );
    expect(install.code, install.stderr).toBe(0);
    await waitForServices(routedRoles.map(unit), "sleeping", 30_000);
  });

  it("lists the sites as units, never their dependencies; the cycle's two sites are disabled naming it", async () => {
    const document = await proxyStatus();
    const names = document.services.map((service) => service.name);
    for (const role of routedRoles) expect(names).toContain(unit(role));
    for (const role of ["ncData", "mvApi", "mvRedis", "failDeps"] as const) expect(names).not.toContain(unit(role));
    for (const role of ["cycA", "cycB"] as const) {
      const status = await serviceStatus(unit(role));
      expect(status.state).toBe("disabled");
      expect(status.reason).toContain(`${unit("cycA")}/web`);
      expect(status.reason).toContain(`${unit("cycB")}/web`);
    }
  });

  it("dry run: the plan in levels, the backends side by side, nothing started", async () => {
    const { run, events } = await wakeRecorded(unit("rf"), ["rf"], "--dry-run", "--json");
    expect(run.code, run.stderr).toBe(0);
    const plan = JSON.parse(run.stdout) as WakePlan;
    expect(plan.service).toBe(unit("rf"));
    expect(plan.parallel).toBe(true);
    expect(plan.levels.map((level) => level.map((step) => step.service).sort())).toEqual([["elasticsearch", "minio", "mysql", "redis"], ["server"]]);
    for (const step of plan.levels.flat()) expect(step).toMatchObject({ project: unit("rf"), type: "required", running: false, estimatedMs: expect.any(Number) });
    expect(events.filter((event) => event.action === "start")).toEqual([]);

    const chain = JSON.parse((await proxyCli("wake", unit("mvUi"), "--dry-run", "--json")).stdout) as WakePlan;
    expect(chain.levels.map((level) => level.map((step) => `${step.project}/${step.service}`))).toEqual([[`${unit("mvRedis")}/redis`], [`${unit("mvApi")}/api`], [`${unit("mvUi")}/ui`]]);
    expect(chain.parallel).toBe(false);
  });

  it("dry run of a cycle: exit 2 naming it, in order; the rest keeps working", async () => {
    const run = await proxyCli("wake", unit("cycA"), "--dry-run", "--json");
    expect(run.code).toBe(2);
    const refusal = JSON.parse(run.stdout) as PlanRefusal;
    expect(refusal.cycle).toEqual([`${unit("cycA")}/web`, `${unit("cycB")}/web`, `${unit("cycA")}/web`]);
    const human = await proxyCli("wake", unit("cycB"));
    expect(human.code).toBe(2);
    expect(human.stderr).toContain(`${unit("cycB")}/web → ${unit("cycA")}/web → ${unit("cycB")}/web`);
    expect(runningContainers(unit("cycA"))).toEqual([]);
    expect((await httpCall(`http://127.0.0.1:${listenPort}/`, { host: host("wp") })).status).toBe(200);
    await waitForService(unit("wp"), "ready", 5000);
  });

  it("WordPress-like: the database answers before web starts, web runs before the front starts", async () => {
    await proxyCli("sleep", unit("wp"));
    await waitForService(unit("wp"), "sleeping", 10_000);
    let answer: HttpAnswer | undefined;
    const events = await eventsDuring(projectsOf(["wp"]), async () => (answer = await httpCall(`http://127.0.0.1:${listenPort}/`, { host: host("wp") })));
    expect(answer).toMatchObject({ status: 200, body: "web\n" });
    expect(answeringFrom(events, stacks.wp, "db")).toBeLessThanOrEqual(firstAt(events, container("wp", "web"), "start"));
    expect(firstAt(events, container("wp", "web"), "start")).toBeLessThanOrEqual(firstAt(events, container("wp", "front"), "start"));
    expect(runningContainers(unit("wp"))).toHaveLength(3);
  });

  it("Nextcloud-like: both services of the other project are ready before the site starts; the site answers", async () => {
    const { run, events } = await wakeRecorded(unit("ncSite"), ["ncSite", "ncData"]);
    expect(run.code, run.stderr).toBe(0);
    const steps = await lastWake(unit("ncSite"));
    const siteStart = firstAt(events, container("ncSite", "web"), "start");
    for (const service of ["postgresql", "redis"]) {
      expect(firstAt(events, container("ncData", service), "start")).toBeLessThan(siteStart);
      expect(phaseAt(steps, container("ncData", service), "ready")).toBeLessThanOrEqual(phaseAt(steps, container("ncSite", "web"), "starting"));
    }
    // Side by side: the site waited for the slower one, not for both in a row.
    const took = ["postgresql", "redis"].map((service) => phaseAt(steps, container("ncData", service), "ready") - phaseAt(steps, container("ncData", service), "starting"));
    expect(phaseAt(steps, container("ncSite", "web"), "starting")).toBeLessThan(Math.max(...took) + 0.6 * Math.min(...took));
    expect((await httpCall(`http://127.0.0.1:${listenPort}/`, { host: host("ncSite") })).body).toBe("web\n");
  });

  it("RAGFlow-like: four backends side by side, the wake takes the slowest backend plus the server (within 10 %), far under the sum", async () => {
    const { run, events } = await wakeRecorded(unit("rf"), ["rf"]);
    expect(run.code, run.stderr).toBe(0);
    const steps = await lastWake(unit("rf"));
    const took = (service: string) => phaseAt(steps, container("rf", service), "ready") - phaseAt(steps, container("rf", service), "starting");
    const backends = ["mysql", "elasticsearch", "minio", "redis"];
    const totalMs = phaseAt(steps, container("rf", "server"), "ready");
    const slowest = Math.max(...backends.map(took));
    const sum = backends.reduce((total, service) => total + took(service), 0) + took("server");
    const timeline = drawTimeline(steps);
    console.log(`RAGFlow-like wake (${totalMs} ms; sum ${sum} ms):\n${timeline}`);
    expect(totalMs).toBeLessThanOrEqual((slowest + took("server")) * 1.1);
    expect(totalMs).toBeLessThan(sum * 0.7);
    // Never before the slowest backend's own delay (5 s) and the server's (1 s).
    expect(totalMs).toBeGreaterThanOrEqual(6000);
    const serverStart = firstAt(events, container("rf", "server"), "start");
    for (const service of backends) expect(answeringFrom(events, stacks.rf, service)).toBeLessThanOrEqual(serverStart);
    expect(timeline.split("\n")).toHaveLength(6);
  });

  it("MemVid-like: redis, then api, then ui, across three projects; the waiting page shows one line per container as it goes", async () => {
    let snapshots: ProgressSnapshot[] = [];
    const events = await eventsDuring(projectsOf(["mvUi", "mvApi", "mvRedis"]), async () => {
      const progress = progressUntil(host("mvUi"), "ready");
      const page = await httpCall(`http://127.0.0.1:${listenPort}/`, { host: host("mvUi"), headers: { accept: "text/html" } });
      expect(page.status).toBe(503);
      snapshots = await progress;
    });
    expect(firstAt(events, container("mvRedis", "redis"), "start")).toBeLessThan(firstAt(events, container("mvApi", "api"), "start"));
    expect(firstAt(events, container("mvApi", "api"), "start")).toBeLessThan(firstAt(events, container("mvUi", "ui"), "start"));
    const lines = [`${unit("mvRedis")}/redis`, `${unit("mvApi")}/api`, "ui"];
    expect(snapshots.at(-1)?.containers.map((line) => line.name)).toEqual(lines);
    // Each line went pending → starting → ready, and the api never started before redis was ready.
    const phases = (name: string) => [...new Set(snapshots.map((snapshot) => snapshot.containers.find((line) => line.name === name)?.phase))];
    for (const name of lines) expect(phases(name)).toEqual(["pending", "starting", "ready"]);
    const firstIndex = (name: string, phase: string) => snapshots.findIndex((snapshot) => snapshot.containers.some((line) => line.name === name && line.phase === phase));
    expect(firstIndex(lines[0] ?? "", "ready")).toBeLessThanOrEqual(firstIndex(lines[1] ?? "", "starting"));
    expect(firstIndex(lines[1] ?? "", "ready")).toBeLessThanOrEqual(firstIndex(lines[2] ?? "", "starting"));
  });

  it("two sites woken at once that share redis start it once", async () => {
    await Promise.all([proxyCli("sleep", unit("mvUi")), proxyCli("sleep", unit("mvAdmin"))]);
    await waitForServices([unit("mvUi"), unit("mvAdmin")], "sleeping", 10_000);
    stopAll(["mvApi", "mvRedis"]);
    let runs: CliRun[] = [];
    const events = await eventsDuring(projectsOf(["mvUi", "mvAdmin", "mvApi", "mvRedis"]), async () => (runs = await Promise.all([proxyCli("wake", unit("mvUi")), proxyCli("wake", unit("mvAdmin"))])));
    for (const run of runs) expect(run.code, run.stderr).toBe(0);
    expect(starts(events, container("mvRedis", "redis"))).toBe(1);
    expect(starts(events, container("mvApi", "api"))).toBe(1);
  });

  it("refcounted stop: redis (idle 3 s) stops only once both its sites sleep; Nextcloud's data (no idle policy) never stops", async () => {
    await waitForServices([unit("mvUi"), unit("mvAdmin")], "ready", 10_000);
    const redis = container("mvRedis", "redis");
    expect((await proxyCli("sleep", unit("mvUi"))).code).toBe(0);
    // api was needed by ui only: it goes after its own idle time; redis is still needed by admin.
    await sleep(5000);
    expect(runningContainers(unit("mvApi"))).toEqual([]);
    expect(runningContainers(unit("mvRedis"))).toEqual([redis]);
    expect((await proxyCli("sleep", unit("mvAdmin"))).code).toBe(0);
    const slept = Date.now();
    while (runningContainers(unit("mvRedis")).length > 0 && Date.now() - slept < 10_000) await sleep(250);
    expect(runningContainers(unit("mvRedis"))).toEqual([]);
    expect(Date.now() - slept).toBeGreaterThanOrEqual(2500);

    expect((await proxyCli("sleep", unit("ncSite"))).code).toBe(0);
    await sleep(4000);
    expect(runningContainers(unit("ncData"))).toEqual([container("ncData", "postgresql"), container("ncData", "redis")].sort());
  });

  it("a required dependency that fails stops the wake: the error names it with its last lines, nothing the wake started is left running", async () => {
    const { run, events } = await wakeRecorded(unit("failReq"), ["failReq", "failDeps"], "--json");
    expect(run.code).not.toBe(0);
    const broken = container("failDeps", "broken");
    const failed = JSON.parse(run.stdout) as FailedAnswer;
    expect(failed).toMatchObject({ state: "failed", container: broken });
    expect(failed.logs.some((line) => line.includes("failing"))).toBe(true);
    expect(starts(events, container("failReq", "web"))).toBe(0);
    expect(runningContainers(unit("failReq"))).toEqual([]);
    expect(runningContainers(unit("failDeps"))).toEqual([]);
    const status = await serviceStatus(unit("failReq"));
    expect(status.state).toBe("failed");
    expect(JSON.stringify(status)).toContain(broken);
  });

  it("an optional dependency that fails is logged and the wake goes on", async () => {
    const run = await proxyCli("wake", unit("failOpt"));
    expect(run.code, run.stderr).toBe(0);
    expect((await httpCall(`http://127.0.0.1:${listenPort}/`, { host: host("failOpt") })).body).toBe("web\n");
    const logs = await proxyCli("logs", "--lines", "1000");
    const flaky = container("failDeps", "flaky");
    expect(logs.stdout.split("\n").some((line) => line.includes("optional dependency failed") && line.includes(flaky))).toBe(true);
  });

  it("the seed's dependencies.json: mysql ready before wordpress starts, wordpress ready before nginx starts", async () => {
    const { run, events } = await wakeRecorded(unit("seed"), ["seed"]);
    expect(run.code, run.stderr).toBe(0);
    const steps = await lastWake(unit("seed"));
    expect(phaseAt(steps, seedNames.db, "ready")).toBeLessThanOrEqual(phaseAt(steps, seedNames.web, "starting"));
    expect(phaseAt(steps, seedNames.web, "ready")).toBeLessThanOrEqual(phaseAt(steps, seedNames.front, "starting"));
    expect(firstAt(events, seedNames.db, "start")).toBeLessThan(firstAt(events, seedNames.web, "start"));
    expect(firstAt(events, seedNames.web, "start")).toBeLessThan(firstAt(events, seedNames.front, "start"));
    expect((await httpCall(`http://127.0.0.1:${listenPort}/`, { host: host("seed") })).body).toBe("wordpress\n");
  });
});

describe("afterwards", () => {
  it("removes cleanly: no container, network or folder of the shapes is left", async () => {
    let stuck: string[] = [];
    await everyStep("cleanup", [removeDaemon, () => (stuck = removeShapes(all, network))]);
    if (stuck.length > 0) console.warn(`Docker kept ${stuck.join(", ")} with an endpoint it failed to release and no container on it`);
    expect(leftovers(all, network).filter((left) => !stuck.includes(left))).toEqual([]);
  });
});
