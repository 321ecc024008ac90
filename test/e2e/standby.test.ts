/**
 * The seed's primary/standby layout end to end (issue 17, ../shared/seeds/blue-green-strapi.fr.md):
 * a stack in the seed's shape (a primary with the crons on a published port, a standby under the
 * `blue-green` profile on another, one Node image built from the project), a real nginx in front
 * with the seed's upstream (the standby as `backup`, `proxy_next_upstream`), and a steady load of
 * GETs and POSTs through it for every deploy. The deploys run standby.sh on the test host over
 * SSH, as the detached worker does; no runtime proxy here (this lane never installs it), so the
 * primary leaves traffic as in the seed: stopped gracefully, nginx's backup taking over.
 */
import { spawn } from "node:child_process";
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { standbyStartScript } from "../../src/blue-green/standby.js";
import type { StandbyLayout } from "../../src/blue-green/plan.js";
import { ROOT, freePort, onServer, removeStack, shq, tempDir, testHost, uniqueName } from "./harness.js";
import { startLoad, type LoadReport } from "./load-client.mjs";
import { httpCall, startNginx, type Nginx } from "./proxy-tools.mjs";

const name = uniqueName("e2e-standby");
const app = `apps/${name}`;
const project = tempDir("standby-project");
let nginx: Nginx | undefined;
let layout: StandbyLayout;

/** The app: its version and whether its health passes come from version.json, baked into the image. */
const SERVER = `const http = require("http");
const { version, healthy } = require("./version.json");
const server = http.createServer((req, res) => {
  if (req.url === "/_health") return res.writeHead(healthy ? 200 : 503).end(healthy ? "ok" : "not ready");
  const chunks = [];
  req.on("data", (chunk) => chunks.push(chunk));
  req.on("end", () => res.end(req.method === "POST" ? Buffer.concat(chunks) : version + " " + process.env.ROLE));
});
server.listen(3000, () => console.log("listening: " + version + ", crons " + process.env.CRON_ENABLED));
// A graceful stop, as Strapi's: the requests in flight end, then the process does.
process.on("SIGTERM", () => server.close(() => process.exit(0)));
`;

function compose(primaryPort: string, standbyPort: string): string {
  return `services:
  web:
    build: .
    image: ${name}/app:latest
    init: true
    working_dir: /app
    command: ["node", "server.js"]
    ports: ["127.0.0.1:${primaryPort}:3000"]
    environment:
      ROLE: primary
      CRON_ENABLED: "true"
  web-standby:
    image: ${name}/app:latest
    init: true
    working_dir: /app
    command: ["node", "server.js"]
    profiles: [blue-green]
    ports: ["127.0.0.1:${standbyPort}:3000"]
    environment:
      - ROLE=standby
      - CRON_ENABLED=\${STANDBY_CRON:-false}
  worker:
    image: local/busybox:latest
    init: true
    command: ["sleep", "3600"]
  dev:
    image: local/busybox:latest
    profiles: [dev]
    command: ["sleep", "3600"]
`;
}

/** Writes the project's files locally and copies them to the app folder on the server. */
function ship(files: Record<string, string>): void {
  for (const [file, text] of Object.entries(files)) writeFileSync(join(project, file), text);
  const host = testHost();
  const tar = execFileSync("tar", ["-C", project, "-c", "."]);
  execFileSync(
    "ssh",
    ["-o", "BatchMode=yes", "-o", `UserKnownHostsFile=${host.DEPLOY_KNOWN_HOSTS}`, "-i", host.DEPLOY_SSH_KEY, "-p", host.DEPLOY_PORT,
      `${host.DEPLOY_USER}@${host.DEPLOY_HOST}`, `mkdir -p ${shq(app)} && tar -x -C ${shq(app)}`],
    { input: tar },
  );
}

const version = (v: string, healthy = true) => ({ "version.json": JSON.stringify({ version: v, healthy }) });

interface Run {
  code: number | null;
  stdout: string;
}

/** standby.sh on the server, as the worker runs it (the compose files as arguments, the rest in env); it does not block the load. */
function deploy(): Promise<Run> {
  const script = standbyStartScript(app, { kind: "v2", project: name, files: ["compose.yaml"] }, true, layout);
  const host = testHost();
  return new Promise((resolve) => {
    const child = spawn(
      "ssh",
      ["-o", "BatchMode=yes", "-o", `UserKnownHostsFile=${host.DEPLOY_KNOWN_HOSTS}`, "-i", host.DEPLOY_SSH_KEY, "-p", host.DEPLOY_PORT,
        `${host.DEPLOY_USER}@${host.DEPLOY_HOST}`, `cd && ${script.code}`],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let stdout = "";
    child.stdout.on("data", (chunk) => (stdout += chunk));
    child.stderr.on("data", (chunk) => (stdout += chunk));
    child.on("close", (code) => resolve({ code, stdout }));
  });
}

/** The load reports, kept in test/artifacts/standby.json for `npm run bench -- --only zero-downtime`. */
const measured: Record<string, LoadReport & { code: number | null; seconds: number }> = {};

/** A deploy under the load of the seed's measure (200 requests/s through nginx), from before it starts to after it ends; its report kept as NAME. */
async function deployUnderLoad(name: string): Promise<{ run: Run; load: LoadReport }> {
  const load = startLoad(`${nginx?.url}/`, { rate: 200 });
  await new Promise((resolve) => setTimeout(resolve, 500));
  const began = Date.now();
  const run = await deploy();
  const seconds = Math.round((Date.now() - began) / 100) / 10;
  await new Promise((resolve) => setTimeout(resolve, 500));
  const report = await load.stop();
  measured[name] = { ...report, code: run.code, seconds };
  return { run, load: report };
}

/**
 * The seed's measure with nginx alone, reported rather than held to zero: nginx replays a GET on
 * the backup, but never a POST it already sent to a primary that was starting (Docker's port
 * accepts before the app listens). A load client slowed by a busy machine sends its requests in
 * bursts, so one such moment can cost a whole burst of POSTs: they are bounded loosely, the GETs
 * tightly, since a site that stopped answering fails both.
 */
function expectNginxAloneMeasure(load: LoadReport): void {
  expect(load.failed - load.failedPosts, JSON.stringify(load.failures)).toBeLessThan(load.gets / 100);
  expect(load.failedPosts, JSON.stringify(load.failures)).toBeLessThan(load.posts / 5);
}

const container = (service: string, all = "") =>
  onServer(`docker ps -q --no-trunc ${all} --filter label=com.docker.compose.project=${name} --filter label=com.docker.compose.service=${service}`).trim();
const steps = (run: Run) => run.stdout.split("\n").filter((line) => line.startsWith("deploy-vps:step ")).map((line) => line.slice(16));

beforeAll(async () => {
  const [primaryPort, standbyPort] = [await freePort(), await freePort()];
  mkdirSync(project, { recursive: true });
  ship({ "compose.yaml": compose(primaryPort, standbyPort), "server.js": SERVER, Dockerfile: "FROM local/node:20\nCOPY . /app\n", ".env": "", ...version("v1") });
  layout = {
    primary: "web",
    standby: "web-standby",
    primaryPort: Number(primaryPort),
    standbyPort: Number(standbyPort),
    primaryContainerPort: 3000,
    standbyContainerPort: 3000,
    others: ["worker"],
    health: "http://127.0.0.1:{port}/_health",
    intervalSeconds: 1,
    timeoutSeconds: 8,
    // At least nginx's fail_timeout: the standby serves until nginx comes back to the primary.
    drainSeconds: 6,
    cronVariable: "CRON_ENABLED",
    unit: name,
  };
  // The seed's nginx site (docker/nginx/bob.strapi-pro.com.conf), on the stack's ports, with a
  // fail_timeout of 5 s instead of 30 s to keep the test short.
  nginx = await startNginx(`upstream standby_backend {
    server 127.0.0.1:${primaryPort} max_fails=3 fail_timeout=5s;
    server 127.0.0.1:${standbyPort} max_fails=3 fail_timeout=5s backup;
}
server {
    listen 80;
    location / {
        proxy_pass http://standby_backend;
        proxy_next_upstream error timeout http_502 http_503;
    }
}`);
  const first = await deploy();
  expect(first.code, first.stdout).toBe(0);
  expect(steps(first)).toEqual([
    "building",
    "web is not running (a first deploy): starting the stack",
    `waiting for web to be healthy at http://127.0.0.1:${primaryPort}/_health`,
  ]);
}, 120_000);

afterAll(async () => {
  mkdirSync(join(ROOT, "test/artifacts"), { recursive: true });
  writeFileSync(join(ROOT, "test/artifacts/standby.json"), `${JSON.stringify(measured, null, 2)}\n`);
  await nginx?.stop();
  removeStack(name, app);
}, 60_000);

describe("the seed's primary/standby layout (nginx alone)", () => {
  it("deploys a new version: the standby serves while the primary is recreated, then stops", async () => {
    expect((await httpCall(`${nginx?.url}/`)).body).toBe("v1 primary");
    const before = container("web");
    ship(version("v2"));

    const { run, load } = await deployUnderLoad("primary/standby with nginx alone");
    expect(run.code, run.stdout).toBe(0);
    expect(steps(run)).toEqual([
      "building",
      "starting web-standby with the new version",
      `waiting for web-standby to be healthy at http://127.0.0.1:${layout.standbyPort}/_health`,
      "stopping web: nginx's backup (web-standby) takes over",
      "recreating web with the new version while web-standby serves",
      `waiting for web to be healthy at http://127.0.0.1:${layout.primaryPort}/_health`,
      "web-standby keeps serving 6s more, for nginx to come back to web",
      "stopping web-standby: web serves again",
      "updating the other services",
    ]);
    expect((await httpCall(`${nginx?.url}/`)).body).toBe("v2 primary");
    expect(container("web")).not.toBe(before);
    expect(container("web-standby")).toBe("");
    expect(container("worker")).not.toBe("");
    expect(container("dev", "-a")).toBe("");
    console.log(`standby layout, nginx alone: ${load.sent} requests, ${load.failed} failed, longest ${load.maxMs} ms, p99 ${load.p99} ms`, load.failures.slice(0, 5));
    expect(load.sent).toBeGreaterThan(1000);
    expectNginxAloneMeasure(load);
  }, 120_000);

  it("a new version that never becomes healthy: exit 3, the standby stopped, the primary untouched, no request lost", async () => {
    const before = container("web");
    ship(version("v3", false));

    const { run, load } = await deployUnderLoad("primary/standby with nginx alone: a version never healthy");
    expect(run.code, run.stdout).toBe(3);
    expect(run.stdout).toMatch(/^deploy-vps:log /m);
    expect(run.stdout).toContain(
      "deploy-vps:unready web-standby never became healthy with the new version within 8s; it is stopped, and web, never touched, still serves the previous one.",
    );
    expect(steps(run)).not.toContain("stopping web: nginx's backup (web-standby) takes over");
    expect(container("web")).toBe(before);
    expect(container("web-standby")).toBe("");
    expect((await httpCall(`${nginx?.url}/`)).body).toBe("v2 primary");
    expect(load.failed, JSON.stringify(load.failures)).toBe(0);
  }, 120_000);

  it("finishes a deploy that stopped with the standby serving alone", async () => {
    ship(version("v4"));
    onServer(`cd ${shq(app)} && docker start ${container("web-standby", "-a")} >/dev/null && docker compose -p ${name} stop web 2>/dev/null`);

    const { run, load } = await deployUnderLoad("primary/standby with nginx alone: finishing an interrupted deploy");
    expect(run.code, run.stdout).toBe(0);
    expect(steps(run).slice(0, 3)).toEqual([
      "building",
      "the last deploy stopped with web-standby serving alone: finishing it",
      "recreating web with the new version while web-standby serves",
    ]);
    expect((await httpCall(`${nginx?.url}/`)).body).toBe("v4 primary");
    expect(container("web-standby")).toBe("");
    console.log(`standby layout, nginx alone, finishing an interrupted deploy: ${load.sent} requests, ${load.failed} failed, longest ${load.maxMs} ms`, load.failures.slice(0, 5));
    expectNginxAloneMeasure(load);
  }, 120_000);

  it("refuses a standby whose container turns the crons on (through the server's .env, which the CLI does not read), the primary untouched", async () => {
    const before = container("web");
    ship({ ".env": "STANDBY_CRON=TRUE\n" });

    const run = await deploy();
    ship({ ".env": "" });
    expect(run.code, run.stdout).toBe(2);
    expect(run.stdout).toContain(
      "deploy-vps:refused web-standby's container has CRON_ENABLED on (its environment as the server's .env and env_file make it): only web may run the crons; turn it off for web-standby. web was not touched.",
    );
    expect(container("web")).toBe(before);
    expect(container("web-standby", "-a")).toBe("");
    expect((await httpCall(`${nginx?.url}/`)).body).toBe("v4 primary");
  }, 120_000);
});
