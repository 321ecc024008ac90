/**
 * The runtime proxy end to end (issue 14), against the contract in README and the issue: the
 * daemon installed by the CLI over SSH on the test host, real stacks that become ready after a
 * few seconds (test/fixtures/proxy-app), a real nginx in front with the block `proxy nginx`
 * prints, real clients. One install, every stack deployed once and reused; waits poll status.
 */
import { get } from "node:http";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { WakePlan } from "../../src/proxy/status.js";
import { freePort, onServer, removeStacks, tempDir, testHost, uniqueName } from "./harness.js";
import {
  composeUpAll,
  containerEvents,
  deployFixture,
  httpCall,
  openWebsockets,
  proxyCli,
  proxyStatus,
  removeDaemon,
  runningContainers,
  runWrk,
  serverClock,
  serviceStatus,
  startLocalDaemon,
  startNginx,
  startSecondDockerd,
  waitForService,
  daemonContainer,
  killDaemon9,
  untilAnswered,
  type FixtureOptions,
  type HttpCallOptions,
  type LocalDaemon,
  type Nginx,
  type SecondDockerd,
  type ServiceStatus,
  everyStep,
} from "./proxy-harness.js";

const IDLE_SECONDS = 4;
const MONITOR = "Mozilla/5.0+(compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)";

const name = (role: string) => uniqueName(`e2e-px-${role}`);
const stacks = {
  blocking: name("block"),
  async: name("async"),
  dynamic: name("dyn"),
  health: name("health"),
  steady: name("steady"),
  crash: name("crash"),
  database: name("db"),
  badPort: name("badport"),
  badIdle: name("badidle"),
  badMode: name("badmode"),
  twinA: name("twina"),
  twinB: name("twinb"),
  seed: name("seed"),
};
type Role = keyof typeof stacks;
const host = (role: Role) => `${stacks[role]}.test`;
const sharedHost = `${uniqueName("e2e-px-shared")}.test`;
const seedEntry = uniqueName("e2e-px-entry");
const seedHost = `${seedEntry}.test`;
const seedPort = await freePort();
const listenPort = await freePort();
const adminPort = await freePort();

const routed = (role: Role, labels: Record<string, string | number>): Record<string, string | number> => ({ host: host(role), port: 8080, ...labels });
const fixtures: Record<Role, FixtureOptions> = {
  blocking: { labels: routed("blocking", { mode: "blocking", idle: `${IDLE_SECONDS}s`, "start-timeout": "30s" }) },
  async: { labels: routed("async", { mode: "async", idle: `${IDLE_SECONDS}s`, estimate: "3s" }) },
  dynamic: { labels: routed("dynamic", { idle: `${IDLE_SECONDS}s` }) },
  health: { variant: "healthcheck", labels: routed("health", { mode: "blocking", idle: `${IDLE_SECONDS}s` }) },
  // Long enough to outlast two daemon restarts, whose idle clock must go on through them.
  steady: { labels: routed("steady", { mode: "blocking", idle: "90s" }) },
  crash: { variant: "crash", labels: routed("crash", { mode: "blocking", "start-timeout": "20s" }) },
  database: { variant: "database", labels: routed("database", { mode: "blocking", idle: "1h" }) },
  badPort: { variant: "labels-only", labels: routed("badPort", { port: "abc" }) },
  badIdle: { variant: "labels-only", labels: routed("badIdle", { idle: "5 parsecs" }) },
  badMode: { variant: "labels-only", labels: routed("badMode", { mode: "bogus" }) },
  twinA: { labels: { host: sharedHost, port: 8080 }, startDelayMs: 0 },
  twinB: { labels: { host: sharedHost, port: 8080 }, startDelayMs: 0 },
  seed: { hostPort: seedPort },
};

let nginx: Nginx | undefined;
let direct: Nginx | undefined;

afterAll(() => everyStep("proxy.test.ts: cleanup failed", [() => nginx?.stop(), () => direct?.stop(), removeDaemon, () => removeStacks(Object.values(stacks))]));

beforeAll(async () => {
  const roles = Object.keys(stacks) as Role[];
  // deploy-vps deploys the stacks whose unit has more to it (a config entry, two services, a
  // volume); compose itself brings up the rest, as a user might by hand: deploys take time here.
  const deployed = new Set<Role>(["blocking", "seed", "database", "crash"]);
  const deploys = Promise.all([...deployed].map((role) => deployFixture(stacks[role], fixtures[role])));
  composeUpAll(roles.filter((role) => !deployed.has(role)).map((role) => [stacks[role], fixtures[role]] as const));
  await deploys;
});

/** A request through the nginx in front of the proxy, with Host HOSTNAME. */
function via(hostname: string, path = "/", options: HttpCallOptions = {}) {
  if (!nginx) throw new Error("nginx is not running");
  return httpCall(`${nginx.url}${path}`, { host: hostname, ...options });
}

/** `proxy sleep NAME` (exit 0 expected), then the unit's status entry. */
async function putToSleep(unit: string): Promise<ServiceStatus> {
  const run = await proxyCli("sleep", unit);
  expect(run.code, run.stderr).toBe(0);
  return waitForService(unit, "sleeping", 10_000);
}

/** Container start events of PROJECT while ACTION runs. */
async function startsDuring(project: string, action: () => Promise<unknown>): Promise<string[]> {
  const since = serverClock();
  await action();
  return containerEvents(project, since, serverClock()).filter((event) => event.startsWith("start "));
}

describe("the test app, without the proxy", () => {
  it("answers directly once started: JSON, echo, boot times, request count", async () => {
    const base = `http://127.0.0.1:${seedPort}`;
    // The deploy returns once compose has started the container; the app listens 3 s later.
    await untilAnswered(`${base}/hello`);
    expect(JSON.parse((await httpCall(`${base}/hello`)).body)).toMatchObject({ hello: "world" });
    const body = JSON.stringify({ order: 42, note: "é".repeat(1000) });
    expect((await httpCall(`${base}/echo`, { method: "POST", body, headers: { "content-type": "application/json" } })).body).toBe(body);
    const boot = JSON.parse((await httpCall(`${base}/boot`)).body) as { startToReadyMs: number };
    expect(boot.startToReadyMs).toBeGreaterThanOrEqual(3000);
    const before = JSON.parse((await httpCall(`${base}/count`)).body) as { count: number };
    await httpCall(`${base}/`);
    expect(JSON.parse((await httpCall(`${base}/count`)).body)).toMatchObject({ count: before.count + 1 });
  });

  it("answers through nginx proxy_pass: forwarded headers, websockets, load", async () => {
    direct = await startNginx(
      [
        "map $http_upgrade $connection_upgrade { default upgrade; '' close; }",
        "server {",
        "    listen 80;",
        "    location / {",
        `        proxy_pass http://127.0.0.1:${seedPort};`,
        "        proxy_http_version 1.1;",
        "        proxy_set_header Upgrade $http_upgrade;",
        "        proxy_set_header Connection $connection_upgrade;",
        "        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
        "    }",
        "}",
      ].join("\n"),
    );
    const whoami = JSON.parse((await httpCall(`${direct.url}/whoami`, { host: "app.test" })).body) as { headers: Record<string, string> };
    expect(whoami.headers["x-forwarded-for"]).toBe("127.0.0.1");
    const sockets = await openWebsockets(`ws://127.0.0.1:${direct.port}/ws`, 50);
    await sockets.close();
    const load = await runWrk(`${direct.url}/`, { connections: 10, seconds: 2 });
    expect(load.errors).toBe(0);
    expect(load.requests).toBeGreaterThan(100);
  });

  it("runs each variant as the proxy tests need it", () => {
    expect(runningContainers(stacks.database)).toHaveLength(2);
    expect(runningContainers(stacks.crash)).toHaveLength(1);
    // Any proxy daemon on the host may already have put this one (idle 4 s) to sleep: read its config.
    const health = onServer(`docker inspect -f '{{.Config.Healthcheck.Interval}}' $(docker ps -aq --filter label=com.docker.compose.project=${stacks.health})`).trim();
    expect(health).toBe("30s");
    for (const twin of [stacks.twinA, stacks.twinB])
      expect(onServer(`docker exec $(docker ps -q --filter label=com.docker.compose.project=${twin}) wget -qO- http://127.0.0.1:8080/`)).toBe("ok\n");
  });
});

describe("through the proxy", () => {
  beforeAll(async () => {
    const home = onServer('printf %s "$HOME"');
    const config = join(tempDir("proxy-config"), "config.json");
    // The seed's own shape, with a key the proxy does not know (ignored) and hosts per entry.
    writeFileSync(
      config,
      JSON.stringify(
        {
          services: [
            { name: seedEntry, port: Number(seedPort), timeout: IDLE_SECONDS * 1000, mode: "blocking", themeName: "hacker-terminal", composeDir: `${home}/apps/${stacks.seed}`, hosts: [seedHost], healthPath: "/hello" },
          ],
          monitorUserAgents: ["SeedMonitor"],
        },
        null,
        2,
      ),
    );
    const install = await proxyCli("install", "--image", "local/node:20", "--listen", `127.0.0.1:${listenPort}`, "--admin", `127.0.0.1:${adminPort}`, "--config", config);
    expect(install.code, install.stderr).toBe(0);
    const block = await proxyCli("nginx", ...(Object.keys(stacks) as Role[]).map(host), sharedHost, seedHost, "--proxy", `127.0.0.1:${listenPort}`);
    expect(block.code, block.stderr).toBe(0);
    nginx = await startNginx(block.stdout);
    const units = [stacks.blocking, stacks.async, stacks.dynamic, stacks.health, stacks.steady, stacks.crash, stacks.database, seedEntry];
    for (const unit of units) await waitForService(unit, (service) => service.state === "ready" || service.state === "sleeping");
    await Promise.all(units.map(putToSleep));
  });

  it("lists every labelled stack and the config file's entry, named as the contract says", async () => {
    const document = await proxyStatus();
    const names = document.services.map((service) => service.name);
    for (const role of ["blocking", "async", "dynamic", "health", "steady", "crash", "database", "badPort", "badIdle", "badMode", "twinA", "twinB"] as const)
      expect(names).toContain(stacks[role]);
    expect(names).toContain(seedEntry);
    const blocking = await serviceStatus(stacks.blocking);
    expect(blocking).toMatchObject({ project: stacks.blocking, hosts: [host("blocking")], mode: "blocking", idle: `${IDLE_SECONDS}s`, state: "sleeping", reason: null });
    expect(await serviceStatus(stacks.dynamic)).toMatchObject({ mode: "dynamic", idle: `${IDLE_SECONDS}s` });
  });

  it("blocking: holds a cold request until the app is ready, then forwards it with its body", async () => {
    const body = JSON.stringify({ order: 7, lines: "x".repeat(100_000) });
    const answer = await via(host("blocking"), "/echo", { method: "POST", body, headers: { "content-type": "application/json" } });
    expect(answer.status).toBe(200);
    expect(answer.body).toBe(body);
    // The app listens 3 s after its process starts: the request really waited for a start.
    expect(answer.totalMs).toBeGreaterThan(2500);
    const status = await serviceStatus(stacks.blocking);
    expect(status.state).toBe("ready");
    expect(status.lastStartMs).toBeGreaterThan(2500);
    expect(status.idleLeftSeconds).toBeGreaterThan(0);
    expect(status.idleLeftSeconds).toBeLessThanOrEqual(IDLE_SECONDS);
    // Memory is sampled from the Engine's stats while the unit runs: keep it busy until it shows.
    const deadline = Date.now() + 15_000;
    let running = status;
    while ((running.memoryBytes ?? 0) <= 0 && Date.now() < deadline) {
      await via(host("blocking"), "/");
      running = await serviceStatus(stacks.blocking);
    }
    expect(running).toMatchObject({ state: "ready", memoryBytes: expect.any(Number) });
    expect(running.memoryBytes).toBeGreaterThan(0);
  });

  it("status: memory freed once asleep, nothing of the unit left running", async () => {
    const asleep = await putToSleep(stacks.blocking);
    expect(asleep.memoryFreedBytes).toBeGreaterThan(0);
    expect((await proxyStatus()).memoryFreedBytes).toBeGreaterThanOrEqual(asleep.memoryFreedBytes ?? 0);
    expect(runningContainers(stacks.blocking)).toEqual([]);
  });

  it("async: answers a cold request at once with 202, Retry-After, Location and the seed's JSON fields", async () => {
    const answer = await via(host("async"), "/hello", { headers: { accept: "application/json" } });
    expect(answer.status).toBe(202);
    expect(answer.totalMs).toBeLessThan(2000);
    expect(answer.headers["retry-after"]).toBe("3");
    expect(answer.headers.location).toContain("/__deploy-vps/status");
    expect(answer.headers["content-type"]).toMatch(/^application\/json/);
    const seed = JSON.parse(answer.body) as Record<string, unknown>;
    for (const field of ["status", "message", "service", "estimatedTime", "retryAfter", "healthCheckUrl"]) expect(seed).toHaveProperty(field);
    await waitForService(stacks.async, "ready", 20_000);
    const warm = await via(host("async"), "/hello");
    expect(warm.status).toBe(200);
    expect(JSON.parse(warm.body)).toMatchObject({ hello: "world" });
    const status = await via(host("async"), "/__deploy-vps/status", { headers: { accept: "application/json" } });
    expect(status.status).toBe(200);
    expect(JSON.parse(status.body)).toMatchObject({ state: "ready" });
    expect(status.body).toContain(stacks.async);
  });

  it("dynamic: a browser's page load gets the waiting page at once; an API client is held and gets the app's answer, never HTML", async () => {
    const browser = await via(host("dynamic"), "/", { headers: { accept: "text/html,application/xhtml+xml" } });
    expect(browser.status).toBe(503);
    expect(browser.headers["content-type"]).toMatch(/^text\/html/);
    expect(browser.headers["cache-control"]).toBe("no-store");
    expect(Number(browser.headers["retry-after"])).toBeGreaterThanOrEqual(1);
    const api = await via(host("dynamic"), "/hello", { headers: { accept: "application/json" } });
    expect(api.status).toBe(200);
    expect(api.headers["content-type"]).not.toMatch(/html/);
    expect(JSON.parse(api.body)).toMatchObject({ hello: "world" });
    await waitForService(stacks.dynamic, "ready", 20_000);
  });

  it("a container with a 30 s healthcheck interval is ready long before its first health probe", async () => {
    const answer = await via(host("health"), "/hello");
    expect(answer.status).toBe(200);
    expect(answer.totalMs).toBeLessThan(15_000);
  });

  it("200 concurrent cold requests start the unit once, and all get the app's answer", async () => {
    await waitForService(stacks.blocking, "sleeping", 10_000);
    let answers: Awaited<ReturnType<typeof via>>[] = [];
    const starts = await startsDuring(stacks.blocking, async () => {
      answers = await Promise.all(Array.from({ length: 200 }, () => via(host("blocking"), "/")));
    });
    expect(answers.map((answer) => `${answer.status} ${answer.body}`)).toEqual(Array(200).fill("200 ok\n"));
    expect(starts).toHaveLength(1);
    const count = JSON.parse((await via(host("blocking"), "/count")).body) as { count: number };
    expect(count.count).toBeGreaterThanOrEqual(200);
  });

  it("stops a unit after its idle time, and never while a websocket is open", async () => {
    await via(host("blocking"), "/");
    const socket = await openWebsockets(`ws://127.0.0.1:${nginx?.port}/ws`, 1, { host: host("blocking") });
    try {
      const until = Date.now() + 3 * IDLE_SECONDS * 1000;
      while (Date.now() < until) {
        expect((await serviceStatus(stacks.blocking)).state).toBe("ready");
        await sleep(1000);
      }
      // The socket still carries traffic after all that time.
      const echoed = new Promise((resolve) => socket.sockets[0]?.once("message", (data) => resolve(String(data))));
      socket.sockets[0]?.send("still here");
      expect(await echoed).toBe("still here");
    } finally {
      await socket.close();
    }
    const closed = Date.now();
    await waitForService(stacks.blocking, (service) => service.state === "stopping" || service.state === "sleeping", (IDLE_SECONDS + 2) * 1000);
    expect(Date.now() - closed).toBeGreaterThanOrEqual((IDLE_SECONDS - 1) * 1000);
    await waitForService(stacks.blocking, "sleeping", 15_000);
  });

  it("monitors neither wake a sleeping unit nor keep a running one awake", async () => {
    await waitForService(stacks.blocking, "sleeping", 10_000);
    const starts = await startsDuring(stacks.blocking, async () => {
      const answer = await via(host("blocking"), "/", { headers: { "user-agent": MONITOR } });
      expect(answer.status).toBe(503);
      await sleep(1500);
    });
    expect(starts).toEqual([]);
    expect((await serviceStatus(stacks.blocking)).state).toBe("sleeping");

    expect((await via(host("blocking"), "/")).status).toBe(200);
    const lastRealRequest = Date.now();
    let asleep = false;
    while (!asleep && Date.now() - lastRealRequest < (IDLE_SECONDS + 2) * 1000) {
      await via(host("blocking"), "/", { headers: { "user-agent": MONITOR } });
      const state = (await serviceStatus(stacks.blocking)).state;
      asleep = state === "stopping" || state === "sleeping";
    }
    expect(asleep).toBe(true);
  });

  it("imports the seed's config.json: its entry is routed, woken, and its monitor list honoured", async () => {
    const entry = await serviceStatus(seedEntry);
    expect(entry).toMatchObject({ hosts: [seedHost], mode: "blocking", idle: `${IDLE_SECONDS}s`, state: "sleeping" });
    expect(entry.source).toMatch(/config\.(json|yml):\d+:\d+/);
    const starts = await startsDuring(stacks.seed, async () => {
      expect((await via(seedHost, "/", { headers: { "user-agent": "SeedMonitor/1.0" } })).status).toBe(503);
    });
    expect(starts).toEqual([]);
    const answer = await via(seedHost, "/hello");
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body)).toMatchObject({ hello: "world" });
  });

  it("passes streamed responses through unbuffered and sets X-Forwarded-* as nginx does", async () => {
    await via(host("steady"), "/");
    const firstEvent = await new Promise<{ text: string; ms: number }>((resolve, reject) => {
      const started = Date.now();
      const req = get({ host: "127.0.0.1", port: nginx?.port, path: "/sse", headers: { host: host("steady") } }, (res) => {
        res.once("data", (chunk: Buffer) => {
          resolve({ text: chunk.toString(), ms: Date.now() - started });
          req.destroy();
        });
      });
      req.on("error", reject);
    });
    expect(firstEvent.text).toContain("data: tick 0");
    expect(firstEvent.ms).toBeLessThan(1000);
    const whoami = JSON.parse((await via(host("steady"), "/whoami")).body) as { headers: Record<string, string> };
    expect(whoami.headers["x-forwarded-host"]).toBe(host("steady"));
    expect(whoami.headers["x-forwarded-proto"]).toBe("http");
    expect(whoami.headers["x-forwarded-for"]).toContain("127.0.0.1");
  });

  it("never trusts a client's X-Target-Port, and answers an unknown Host with a plain 404", async () => {
    const { DEPLOY_PORT } = testHost();
    for (const port of [DEPLOY_PORT, String(adminPort)]) {
      const unknown = await via("nobody.test", "/metrics", { headers: { "x-target-port": port } });
      expect(unknown.status).toBe(404);
      expect(unknown.headers["content-type"]).toMatch(/^text\/plain/);
      expect(unknown.body).not.toMatch(/SSH-|# HELP|127\.0\.0\.1|deploy-vps-proxy|e2e-px/);
      const known = await via(host("steady"), "/whoami", { headers: { "x-target-port": port } });
      expect(known.status).toBe(200);
      expect(JSON.parse(known.body)).toMatchObject({ method: "GET", url: "/whoami" });
    }
    const straight = await httpCall(`http://127.0.0.1:${listenPort}/`, { host: "nobody.test" });
    expect(straight.status).toBe(404);
  });

  it("disables only the service whose label is bad, naming the label and the value", async () => {
    const expected: [Role, RegExp][] = [
      ["badPort", /deploy-vps\.proxy\.port.*'abc'/],
      ["badIdle", /deploy-vps\.proxy\.idle.*'5 parsecs'/],
      ["badMode", /deploy-vps\.proxy\.mode.*'bogus'/],
    ];
    for (const [role, reason] of expected) {
      const status = await serviceStatus(stacks[role]);
      expect(status.state).toBe("disabled");
      expect(status.reason).toMatch(reason);
    }
    expect((await via(host("steady"), "/")).body).toBe("ok\n");
    const logs = await proxyCli("logs");
    expect(logs.code, logs.stderr).toBe(0);
    expect(logs.stdout).toContain("5 parsecs");
  });

  it("reports two services claiming one host, and routes neither", async () => {
    const document = await proxyStatus();
    const twins = document.services.filter((service) => service.name === stacks.twinA || service.name === stacks.twinB);
    expect(twins).toHaveLength(2);
    for (const twin of twins) expect(twin.conflict ?? twin.reason).toContain(sharedHost);
    expect(document.conflicts?.join("\n")).toContain(sharedHost);
    // Both apps run and answer "ok" (checked without the proxy above): an "ok" means a guessed route.
    const answer = await via(sharedHost, "/");
    expect(answer.status).not.toBe(200);
    expect(answer.body).not.toBe("ok\n");
  });

  it("wake --dry-run --json prints the plan, dependencies first, and starts nothing", async () => {
    expect((await proxyCli("sleep", stacks.database)).code).toBe(0);
    const run = await proxyCli("wake", stacks.database, "--dry-run", "--json");
    expect(run.code, run.stderr).toBe(0);
    const plan = JSON.parse(run.stdout) as WakePlan;
    expect(plan.service).toBe(stacks.database);
    expect(plan.levels.map((level) => level.map((step) => step.service))).toEqual([["db"], ["web"]]);
    expect(plan.levels.flat().map((step) => [step.project, step.type, step.running])).toEqual([
      [stacks.database, "required", false],
      [stacks.database, "required", false],
    ]);
    expect(plan.parallel).toBe(false);
    expect(plan.estimatedMs).toBe(plan.levels.flat().reduce((sum, step) => sum + step.estimatedMs, 0));
    // The seed's URL on the admin listener gives the same plan; a real wake there is refused.
    const admin = await httpCall(`http://127.0.0.1:${adminPort}/api/wake/${stacks.database}?dryRun=true`, { method: "POST" });
    expect(admin.status).toBe(200);
    expect(JSON.parse(admin.body)).toEqual(plan);
    const refused = await httpCall(`http://127.0.0.1:${adminPort}/api/wake/${stacks.database}`, { method: "POST" });
    expect(refused.status).toBe(403);
    expect(runningContainers(stacks.database)).toEqual([]);
  });

  it("wake returns once every service of the unit is ready (exit 0); sleep once it is stopped", async () => {
    const wake = await proxyCli("wake", stacks.database);
    expect(wake.code, wake.stderr).toBe(0);
    expect(runningContainers(stacks.database)).toHaveLength(2);
    expect((await serviceStatus(stacks.database)).state).toBe("ready");
    expect((await via(host("database"), "/hello")).status).toBe(200);
    const slept = await proxyCli("sleep", stacks.database);
    expect(slept.code, slept.stderr).toBe(0);
    expect(runningContainers(stacks.database)).toEqual([]);
    expect((await serviceStatus(stacks.database)).state).toBe("sleeping");
  });

  it("a start that fails exits 3 with the container's last lines, and leaves nothing running", async () => {
    const wake = await proxyCli("wake", stacks.crash);
    expect(wake.code).toBe(3);
    expect(wake.stdout + wake.stderr).toContain("cannot open the database");
    const status = await serviceStatus(stacks.crash);
    expect(status.state).toBe("failed");
    expect(status.reason).toBeTruthy();
    expect(status.lastFailure?.logs.join("\n")).toContain("cannot open the database");
    expect(runningContainers(stacks.crash)).toEqual([]);
    const answer = await via(host("crash"), "/", { headers: { accept: "application/json" } });
    expect([502, 504]).toContain(answer.status);
    expect(answer.body).not.toMatch(/<html/i);
  });

  it("a restart and a kill -9 of the daemon keep its state: nothing started or stopped, idle clocks continue", async () => {
    await via(host("steady"), "/");
    await waitForService(stacks.blocking, "sleeping", 15_000);
    for (const [what, interrupt] of [
      ["docker restart", () => onServer(`docker restart ${daemonContainer()}`)],
      ["kill -9", killDaemon9],
    ] as const) {
      const before = await serviceStatus(stacks.steady);
      const measured = Date.now();
      const since = serverClock();
      interrupt();
      const after = await waitForService(stacks.steady, (service) => service.idleLeftSeconds !== null, 30_000);
      const elapsed = (Date.now() - measured) / 1000;
      const until = serverClock();
      expect(after.state, what).toBe("ready");
      expect(after.lastStartMs, what).toBe(before.lastStartMs);
      // The clock went on from the saved last activity; it was not reset by the restart.
      expect(after.idleLeftSeconds, what).toBeLessThanOrEqual((before.idleLeftSeconds ?? 0) - elapsed + 2);
      expect(after.idleLeftSeconds, what).toBeGreaterThan(0);
      expect((await serviceStatus(stacks.blocking)).state, what).toBe("sleeping");
      for (const role of ["steady", "blocking", "async", "database"] as const) expect(containerEvents(stacks[role], since, until), `${what}: ${role}`).toEqual([]);
    }
  });

  it("serves Prometheus metrics and the seed's service list on the admin listener", async () => {
    const metrics = await httpCall(`http://127.0.0.1:${adminPort}/metrics`);
    expect(metrics.status).toBe(200);
    expect(metrics.body).toContain("# HELP");
    const list = await httpCall(`http://127.0.0.1:${adminPort}/api/services`);
    expect(list.status).toBe(200);
    expect(() => JSON.parse(list.body)).not.toThrow();
  });
});

describe("a Docker engine restart is followed", () => {
  // A second engine of this test's own: the shared one serves every other test.
  let engine: SecondDockerd | undefined;
  let daemon: LocalDaemon | undefined;
  afterAll(async () => {
    await daemon?.stop();
    await engine?.stop();
  });

  const labelled = (project: string) => [
    "run", "-d", "--network", "none", "--label", `com.docker.compose.project=${project}`, "--label", "com.docker.compose.service=web",
    "--label", `deploy-vps.proxy.host=${project}.test`, "--label", "deploy-vps.proxy.port=8080", "local/busybox:latest", "sleep", "3600",
  ];
  const listed = async (project: string) => ((await daemon?.status())?.services ?? []).some((service) => service.name === project);
  const eventually = async (test: () => Promise<boolean>, what: string) => {
    const deadline = Date.now() + 20_000;
    while (!(await test())) {
      if (Date.now() > deadline) throw new Error(`${what} after 20 s: ${JSON.stringify(await daemon?.status())}`);
      await sleep(250);
    }
  };

  it("sees a container started after the engine came back", async () => {
    engine = await startSecondDockerd();
    await engine.docker(labelled("before"));
    daemon = await startLocalDaemon(engine.socket, Number(await freePort()), Number(await freePort()));
    await eventually(() => listed("before"), "the daemon does not list the project started before it");
    await engine.restart();
    await engine.docker(labelled("after"));
    await eventually(() => listed("after"), "the daemon does not list a project started after the engine restart");
    expect(await listed("before")).toBe(true);
  });
});
