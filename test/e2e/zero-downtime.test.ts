/**
 * Zero-downtime deploys end to end (issue 17), as a user runs them: the real CLI deploys to the
 * test host, the runtime proxy installed there, a real nginx in front with the block `proxy
 * nginx` prints, and a steady load of 200 GETs and POSTs a second through nginx for the whole of
 * every deploy (test/e2e/load-client.mjs records each failed request). Both layouts: a routed
 * service deployed blue-green (`deploy-vps.proxy.deploy`), and the seed's primary/standby pair
 * (`blueGreen:` in deploy-vps.yml) whose primary leaves traffic through the proxy. The load
 * reports are kept in test/artifacts/zero-downtime.json, which `npm run bench -- --only
 * zero-downtime` turns into the table of docs/benchmarks.md.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import WebSocket from "ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT, freePort, onServer, projectCopy, removeStacks, runCli, shq, uniqueName, type CliRun } from "./harness.js";
import { startLoad, type LoadReport } from "./load-client.mjs";
import { everyStep, httpCall, proxyCli, removeDaemon, startNginx, type Nginx } from "./proxy-harness.js";

const blue = uniqueName("e2e-zd-bg");
const pair = uniqueName("e2e-zd-pair");
const host = (stack: string) => `${stack}.test`;
const listenPort = await freePort();
const adminPort = await freePort();
const DRAIN_SECONDS = 3;
const ARTIFACT = join(ROOT, "test/artifacts/zero-downtime.json");
const measured: Record<string, LoadReport & { code: number | null; seconds: number }> = {};
let nginx: Nginx | undefined;
/** The websocket held across the blue-green switch: when it closed, counted from the deploy's start. */
let websocket: { drainSeconds: number; closedAfterMs: number; lastAnswerBeforeCloseMs: number } | undefined;

/** The blue-green stack's compose file: the proxy's test app, its version in APP_NAME. */
function blueGreenCompose(version: string, labels: Record<string, string> = {}): string {
  const all = {
    "deploy-vps.proxy.host": host(blue),
    "deploy-vps.proxy.port": "8080",
    "deploy-vps.proxy.mode": "blocking",
    "deploy-vps.proxy.idle": "1h",
    "deploy-vps.proxy.deploy": "blue-green",
    "deploy-vps.proxy.health-path": "/hello",
    "deploy-vps.proxy.drain": `${DRAIN_SECONDS}s`,
    "deploy-vps.proxy.start-timeout": "20s",
    ...labels,
  };
  const lines = Object.entries(all).filter(([, value]) => value !== "");
  return `services:
  web:
    image: local/node:20
    init: true
    working_dir: /app
    command: ["node", "server.js"]
    volumes: [".:/app:ro"]
    environment:
      APP_NAME: ${version}
      START_DELAY_MS: "1500"
    labels:
${lines.map(([key, value]) => `      ${key}: "${value}"`).join("\n")}
`;
}

/** The seed's pair: a primary routed by the proxy with the crons on, a standby under a profile on another port. */
function pairCompose(version: string, primaryPort: string, standbyPort: string): string {
  const app = (role: string, port: string, cron: string) => `    image: local/node:20
    init: true
    working_dir: /app
    command: ["node", "server.js"]
    volumes: [".:/app:ro"]
    ports: ["127.0.0.1:${port}:8080"]
    environment:
      APP_NAME: ${version}-${role}
      START_DELAY_MS: "1000"
      CRON_ENABLED: "${cron}"`;
  return `services:
  web:
${app("primary", primaryPort, "true")}
    labels:
      deploy-vps.proxy.host: ${host(pair)}
      deploy-vps.proxy.port: "8080"
      deploy-vps.proxy.mode: blocking
      deploy-vps.proxy.idle: 1h
  web-standby:
${app("standby", standbyPort, "false")}
    profiles: [blue-green]
`;
}

const dirs: Record<string, string> = {};
const deploy = (stack: string, ...args: string[]): Promise<CliRun> => runCli([dirs[stack] ?? "", "--settle", "0", ...args]);
const through = (stack: string, path: string) => httpCall(`${nginx?.url}${path}`, { host: host(stack) });
const appName = async (stack: string) => (JSON.parse((await through(stack, "/hello")).body) as { app: string }).app;
const containersOf = (stack: string, service: string) =>
  onServer(`docker ps -q --no-trunc --filter ${shq(`label=com.docker.compose.project=${stack}`)} --filter ${shq(`label=com.docker.compose.service=${service}`)}`)
    .split("\n")
    .filter(Boolean);
const output = (run: CliRun) => `${run.stdout}\n${run.stderr}`;

/** ACTION run under the load, from half a second before it starts to half a second after it ends; the report kept as NAME. */
async function underLoad(name: string, stack: string, action: () => Promise<CliRun>): Promise<{ run: CliRun; load: LoadReport; began: number }> {
  const load = startLoad(`${nginx?.url}/echo`, { rate: 200, headers: { host: host(stack) } });
  await sleep(500);
  const began = Date.now();
  const run = await action();
  const seconds = Math.round((Date.now() - began) / 100) / 10;
  await sleep(500);
  const report = await load.stop();
  measured[name] = { ...report, code: run.code, seconds };
  return { run, load: report, began };
}

beforeAll(async () => {
  const installing = proxyCli("install", "--image", "local/node:20", "--listen", `127.0.0.1:${listenPort}`, "--admin", `127.0.0.1:${adminPort}`);
  const [primaryPort, standbyPort] = [await freePort(), await freePort()];
  dirs[blue] = projectCopy("test/fixtures/proxy-app", blue);
  writeFileSync(join(dirs[blue], "compose.yaml"), blueGreenCompose("v1"));
  dirs[pair] = projectCopy("test/fixtures/proxy-app", pair);
  writeFileSync(join(dirs[pair], "compose.yaml"), pairCompose("v1", primaryPort, standbyPort));
  writeFileSync(join(dirs[pair], "deploy-vps.yml"), "blueGreen:\n  primary: web\n  standby: web-standby\n  health: http://127.0.0.1:{port}/hello\n  interval: 1\n  timeout: 20\n  drain: 2\n");
  const install = await installing;
  expect(install.code, install.stderr).toBe(0);
  const firsts = await Promise.all([deploy(blue), deploy(pair)]);
  for (const run of firsts) expect(run.code, output(run)).toBe(0);
  const block = await proxyCli("nginx", host(blue), host(pair), "--proxy", `127.0.0.1:${listenPort}`);
  expect(block.code, block.stderr).toBe(0);
  nginx = await startNginx(block.stdout);
  expect(await appName(blue)).toBe("v1");
  expect(await appName(pair)).toBe("v1-primary");
}, 240_000);

afterAll(async () => {
  mkdirSync(join(ROOT, "test/artifacts"), { recursive: true });
  writeFileSync(ARTIFACT, `${JSON.stringify({ ...measured, websocket }, null, 2)}\n`);
  await everyStep("zero-downtime.test.ts: cleanup failed", [() => nginx?.stop(), removeDaemon, () => removeStacks([blue, pair])]);
}, 120_000);

describe("blue-green through the proxy", () => {
  it("deploys a new version under load with no failed request, GET or POST; a websocket stays up until the drain ends; compose's view is one container", async () => {
    const ws = new WebSocket(`${nginx?.url.replace("http", "ws")}/ws`, { headers: { host: host(blue) }, perMessageDeflate: false });
    await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
    let closedAt = 0;
    let lastEcho = 0;
    ws.once("close", () => (closedAt = Date.now()));
    ws.on("message", () => (lastEcho = Date.now()));
    const pings = setInterval(() => ws.readyState === WebSocket.OPEN && ws.send("still there?"), 100);
    writeFileSync(join(dirs[blue] ?? "", "compose.yaml"), blueGreenCompose("v2"));
    const { run, load, began } = await underLoad("blue-green through the proxy", blue, () => deploy(blue)).finally(() => clearInterval(pings));
    expect(run.code, output(run)).toBe(0);
    expect(load.sent).toBeGreaterThan(1000);
    expect(load.failures).toEqual([]);
    expect(await appName(blue)).toBe("v2");
    // The websocket opened on v1 lived through the switch, answered to its end, and was closed by the drain's end, not at the switch.
    expect(closedAt).toBeGreaterThan(0);
    expect(closedAt - began).toBeGreaterThanOrEqual(DRAIN_SECONDS * 1000);
    expect(closedAt - lastEcho).toBeLessThan(500);
    websocket = { drainSeconds: DRAIN_SECONDS, closedAfterMs: closedAt - began, lastAnswerBeforeCloseMs: closedAt - lastEcho };
    const [web] = containersOf(blue, "web");
    expect(containersOf(blue, "web")).toHaveLength(1);
    // A plain `up -d` afterwards finds nothing to recreate.
    onServer(`cd apps/${shq(blue)} && docker compose -p ${shq(blue)} --env-file .env -f compose.yaml up -d 2>&1`);
    expect(containersOf(blue, "web")).toEqual([web]);
    const status = JSON.parse(onServer(`curl -sS --unix-socket "$HOME/.local/state/deploy-vps-proxy/control.sock" http://proxy/services/${blue}/live`)) as { id: string };
    expect(status.id).toBe(web);
    const monitor = await runCli(["monitor-vps", dirs[blue] ?? ""]);
    expect(monitor.stdout).toMatch(new RegExp(`live: the proxy's ${blue} sends to ${blue}-web-\\d+ \\(web\\)`));
  });

  it("a new version that never becomes ready: exit 3 with its last log lines, no failed request, the old version still served", async () => {
    const before = containersOf(blue, "web");
    writeFileSync(join(dirs[blue] ?? "", "compose.yaml"), blueGreenCompose("v3", { "deploy-vps.proxy.health-path": "/never", "deploy-vps.proxy.start-timeout": "4s" }));
    const { run, load } = await underLoad("blue-green: a version never ready", blue, () => deploy(blue));
    expect(run.code, output(run)).toBe(3);
    expect(output(run)).toContain("v3");
    expect(output(run)).not.toContain("    at ");
    expect(load.failures).toEqual([]);
    expect(await appName(blue)).toBe("v2");
    expect(containersOf(blue, "web")).toEqual(before);
  });

  it("a switch left half-way (a second container nobody switched to) is undone by the next deploy, under load", async () => {
    onServer(`cd apps/${shq(blue)} && docker compose -p ${shq(blue)} --env-file .env -f compose.yaml up -d --no-deps --no-recreate --scale web=2 web 2>&1`);
    expect(containersOf(blue, "web")).toHaveLength(2);
    writeFileSync(join(dirs[blue] ?? "", "compose.yaml"), blueGreenCompose("v4"));
    const { run, load } = await underLoad("blue-green: after an interrupted switch", blue, () => deploy(blue));
    expect(run.code, output(run)).toBe(0);
    expect(load.failures).toEqual([]);
    expect(await appName(blue)).toBe("v4");
    expect(containersOf(blue, "web")).toHaveLength(1);
  });

  it("rollback takes the same path back, under load", async () => {
    const { run, load } = await underLoad("blue-green: rollback", blue, () => runCli(["rollback", dirs[blue] ?? ""]));
    expect(run.code, output(run)).toBe(0);
    expect(load.failures).toEqual([]);
    expect(await appName(blue)).toBe("v2");
    expect(containersOf(blue, "web")).toHaveLength(1);
  });

  it("the baseline: without the label, up -d recreates the service, which the load feels; the proxy's wake of the half-replaced stack stops nothing", async () => {
    writeFileSync(join(dirs[blue] ?? "", "compose.yaml"), blueGreenCompose("v5", { "deploy-vps.proxy.deploy": "" }));
    const { run, load } = await underLoad("plain up -d (baseline)", blue, () => deploy(blue));
    // Before the wake skipped the container compose was replacing, it failed on it and stopped the new one: exit 3.
    expect(run.code, output(run)).toBe(0);
    expect(await appName(blue)).toBe("v5");
    // The app's start delay, during which no container of the service serves.
    expect(load.maxMs).toBeGreaterThan(1000);
  });
});

describe("the seed's primary/standby layout through the proxy", () => {
  it("deploys a new version under load with no failed request: the standby serves while the primary is recreated, then stops", async () => {
    const compose = readFileSync(join(dirs[pair] ?? "", "compose.yaml"), "utf8");
    writeFileSync(join(dirs[pair] ?? "", "compose.yaml"), compose.replaceAll("v1-", "v2-"));
    const { run, load } = await underLoad("primary/standby through the proxy", pair, () => deploy(pair));
    expect(run.code, output(run)).toBe(0);
    expect(load.sent).toBeGreaterThan(1000);
    expect(load.failures).toEqual([]);
    expect(await appName(pair)).toBe("v2-primary");
    expect(containersOf(pair, "web-standby")).toEqual([]);
    expect(containersOf(pair, "web")).toHaveLength(1);
  });
});
