// The runtime proxy's test and benchmark tools that need no test host: the fixture's compose
// file, a private nginx, wrk, raw HTTP requests with a Host of our choice, many websockets.
// Plain ESM (types in proxy-tools.d.mts) so that bench/proxy.mjs uses the same code as the tests.
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { setTimeout } from "node:timers";
import WebSocket from "ws";
import { stringify } from "yaml";

/**
 * The fixture's Docker healthcheck: the image's busybox wget, since a Node process started every
 * second by each running fixture would take a core from the rest of the suite.
 */
const HELLO_PROBE = ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/hello"];
/** How the fixture's web service runs, per variant; healthcheck's interval is Docker's default 30 s on purpose. */
const VARIANTS = {
  plain: {},
  "unready-sibling": {},
  healthcheck: { healthcheck: { test: HELLO_PROBE, interval: "30s" } },
  crash: { environment: { CRASH_AFTER_FIRST_START: "/data/started" }, volumes: ["data:/data"] },
  database: { environment: { DATABASE_ADDR: "db:5432" }, depends_on: ["db"] },
  // A dependency that is healthy about 2 s after its start, which the web service waits for; its
  // retries let a busy host start it late without compose giving up on the stack (`up` fails on an unhealthy dependency).
  dependency: { environment: { DATABASE_ADDR: "db:8080" }, depends_on: { db: { condition: "service_healthy" } } },
};

/** A container that only carries labels (for what the proxy must refuse): no app, nothing to start. */
const labelsOnly = (labels) => ({ image: "local/busybox:latest", init: true, command: ["sleep", "2147483647"], labels });

/**
 * The fixture's compose.yaml for one deploy: its web service labelled with LABELS
 * (`host` means `deploy-vps.proxy.host`), of the given variant, published on 127.0.0.1:HOSTPORT if given.
 */
export function fixtureCompose({ labels = {}, variant = "plain", hostPort, startDelayMs = 3000 }) {
  const proxyLabels = Object.fromEntries(Object.entries(labels).map(([key, value]) => [`deploy-vps.proxy.${key}`, String(value)]));
  if (variant === "labels-only") return stringify({ services: { web: labelsOnly(proxyLabels) } });
  const extra = VARIANTS[variant];
  if (!extra) throw new Error(`fixtureCompose: no variant ${variant}`);
  // The app folder mounted into local/node:20 (made by test/host/setup.sh; no registry here): no
  // image to build, so a deploy is quick. A real VPS would use node:20-alpine the same way.
  const app = { image: "local/node:20", init: true, working_dir: "/app", command: ["node", "server.js"] };
  const web = {
    ...app,
    ...extra,
    volumes: [".:/app:ro", ...(extra.volumes ?? [])],
    environment: { START_DELAY_MS: String(startDelayMs), ...extra.environment },
    labels: proxyLabels,
  };
  if (hostPort !== undefined) web.ports = [`127.0.0.1:${hostPort}:8080`];
  const services = { web };
  if (variant === "database")
    services.db = { image: "local/node:20", init: true, command: ["node", "-e", "require('net').createServer((s) => s.end()).listen(5432)"] };
  // A second app of the project (blue-green's switch target) that listens at once but whose health path never answers 2xx.
  if (variant === "unready-sibling")
    services.sibling = { ...app, volumes: [".:/app:ro"], environment: { START_DELAY_MS: "0", APP_NAME: "sibling" }, labels: { "deploy-vps.proxy.health-path": "/missing" } };
  if (variant === "dependency")
    services.db = { ...app, volumes: [".:/app:ro"], environment: { START_DELAY_MS: "2000", APP_NAME: "db" }, healthcheck: { test: HELLO_PROBE, interval: "1s", timeout: "2s", retries: 120 } };
  const project = { services };
  if (variant === "crash") project.volumes = { data: {} };
  return stringify(project);
}

/** A TCP port free on 127.0.0.1 now. */
export async function freeLoopbackPort() {
  const server = createServer();
  await new Promise((resolve, reject) => server.once("error", reject).listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Resolves once something accepts TCP connections on 127.0.0.1:PORT, else rejects after TIMEOUTMS. */
export async function waitForPort(port, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const open = await new Promise((resolve) => {
      const socket = connect(port, "127.0.0.1", () => resolve(socket.end() && true));
      socket.on("error", () => resolve(false));
    });
    if (open) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A server block with every `listen` replaced by one on 127.0.0.1:PORT (added if it had none). */
export function onLoopbackPort(serverBlock, port) {
  const withoutListen = serverBlock.replace(/^[ \t]*listen[^;]*;[ \t]*\n?/gm, "");
  const opening = /server\s*\{/;
  if (!opening.test(withoutListen)) throw new Error(`no server { … } block in:\n${serverBlock}`);
  return withoutListen.replace(opening, (head) => `${head}\n    listen 127.0.0.1:${port};`);
}

/** An nginx configuration of its own: root, everything in PREFIX, in the foreground. */
function nginxConfig(prefix, httpBody) {
  const temp = ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"].map((kind) => `    ${kind}_temp_path ${join(prefix, kind)};`);
  return [
    "user root;",
    "worker_processes 1;",
    `pid ${join(prefix, "nginx.pid")};`,
    `error_log ${join(prefix, "error.log")} warn;`,
    "events { worker_connections 4096; }",
    "http {",
    "    access_log off;",
    ...temp,
    httpBody,
    "}",
    "",
  ].join("\n");
}

/**
 * Runs a private nginx with SERVERBLOCK (http-level text, e.g. what `proxy nginx` prints) listening
 * on a free loopback port instead of the block's own `listen`. Its pid, temp and log files live
 * in a temp folder, so it runs beside any other nginx.
 */
export async function startNginx(serverBlock) {
  const prefix = mkdtempSync(join(tmpdir(), `deploy-vps-e2e-${process.pid}-nginx-`));
  const port = await freeLoopbackPort();
  const config = join(prefix, "nginx.conf");
  mkdirSync(join(prefix, "logs"));
  writeFileSync(config, nginxConfig(prefix, onLoopbackPort(serverBlock, port)));
  const child = spawn("nginx", ["-p", prefix, "-c", config, "-g", "daemon off;"], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (chunk) => (stderr += chunk));
  const exited = new Promise((resolve) => child.once("exit", resolve));
  try {
    await Promise.race([waitForPort(port), exited.then((code) => Promise.reject(new Error(`nginx exited ${code}: ${stderr}`)))]);
  } catch (error) {
    child.kill("SIGKILL");
    const log = readFileSync(join(prefix, "error.log"), { encoding: "utf8", flag: "a+" });
    const text = readFileSync(config, "utf8");
    rmSync(prefix, { recursive: true, force: true });
    throw new Error(`${error.message}\n${log}\n${text}`);
  }
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    config,
    async stop() {
      if (child.exitCode === null) {
        child.kill("SIGQUIT");
        await exited;
      }
      rmSync(prefix, { recursive: true, force: true });
    },
  };
}

/** Milliseconds from one of wrk's durations: `812.00us`, `1.23ms`, `2.01s`, `1.02m`. */
function wrkDuration(text) {
  const match = /^([\d.]+)(us|ms|s|m)$/.exec(text);
  if (!match) throw new Error(`not a wrk duration: ${text}`);
  const scale = { us: 0.001, ms: 1, s: 1000, m: 60_000 }[match[2]];
  return Number(match[1]) * scale;
}

/** The figures of `wrk --latency` output: p50/p99 latency, throughput, and every error it counts. */
export function parseWrk(output) {
  const percentile = (p) => {
    const match = new RegExp(`^\\s*${p}%\\s+(\\S+)\\s*$`, "m").exec(output);
    if (!match) throw new Error(`wrk output without a ${p}% latency (was --latency given?):\n${output}`);
    return wrkDuration(match[1]);
  };
  const rate = /^Requests\/sec:\s+([\d.]+)/m.exec(output);
  const total = /^\s*(\d+) requests in /m.exec(output);
  if (!rate || !total) throw new Error(`wrk output without its totals:\n${output}`);
  const sockets = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(output);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(output);
  const errors = [...(sockets?.slice(1) ?? []), non2xx?.[1] ?? "0"].reduce((sum, n) => sum + Number(n), 0);
  return { p50Ms: percentile(50), p99Ms: percentile(99), requestsPerSec: Number(rate[1]), requests: Number(total[1]), errors };
}

/** Runs `wrk --latency` against URL and parses what it prints. */
export function runWrk(url, { connections = 50, seconds = 10, threads = 2, header } = {}) {
  const args = ["--latency", "-c", String(connections), "-d", `${seconds}s`, "-t", String(threads)];
  if (header) args.push("-H", header);
  return new Promise((resolve, reject) => {
    const child = spawn("wrk", [...args, url]);
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => (stdout += chunk));
    child.stderr.on("data", (chunk) => (stderr += chunk));
    child.on("error", reject);
    child.on("close", (code) => {
      if (code !== 0) reject(new Error(`wrk exited ${code}: ${stderr}${stdout}`));
      else {
        try {
          resolve({ ...parseWrk(stdout), output: stdout });
        } catch (error) {
          reject(error);
        }
      }
    });
  });
}

/**
 * One HTTP/1.1 request to URL with any headers, Host included (fetch will not send a Host of our
 * choice): status, headers, body, and when its first byte came.
 */
export function httpCall(url, { method = "GET", host, headers = {}, body, timeoutMs = 60_000 } = {}) {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method, headers: { ...(host ? { host } : {}), ...headers }, agent: false, timeout: timeoutMs }, (res) => {
      const firstByteMs = performance.now() - started;
      const chunks = [];
      res.on("data", (chunk) => chunks.push(chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString("utf8"), firstByteMs, totalMs: performance.now() - started }));
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error(`${method} ${url} (Host ${host}): no answer after ${timeoutMs} ms`)));
    req.on("error", reject);
    req.end(body);
  });
}

/** Resolves with the first 200 answer of URL (Host HOST), asked every 100 ms, else rejects after TIMEOUTMS. */
export async function untilAnswered(url, { host, timeoutMs = 20_000 } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const answer = await httpCall(url, { host, timeoutMs }).catch((error) => ({ status: 0, body: error.message }));
    if (answer.status === 200) return answer;
    if (Date.now() > deadline) throw new Error(`${url} (Host ${host}) not answered after ${timeoutMs} ms: ${answer.status} ${answer.body}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * Opens N websockets to URL (ws://…), Host HOST if given, each echo-checked once open; resolves
 * when all are open. close() closes them all and resolves once every one is closed.
 */
export async function openWebsockets(url, n, { host, batch = 100 } = {}) {
  const sockets = [];
  const openOne = () =>
    new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { headers: host ? { host } : {}, perMessageDeflate: false });
      sockets.push(ws);
      ws.once("error", reject);
      ws.once("open", () => ws.send("ping"));
      ws.once("message", (data) => (String(data) === "ping" ? resolve() : reject(new Error(`echo said ${String(data)}`))));
    });
  for (let opened = 0; opened < n; opened += batch) await Promise.all(Array.from({ length: Math.min(batch, n - opened) }, openOne));
  return {
    sockets,
    close: () =>
      Promise.all(
        sockets.map(
          (ws) =>
            new Promise((resolve) => {
              if (ws.readyState === WebSocket.CLOSED) return resolve();
              ws.once("close", resolve);
              ws.close(1000);
              setTimeout(() => ws.terminate(), 2000).unref();
            }),
        ),
      ).then(() => undefined),
  };
}

/**
 * Opens the event stream at URL (Host HOST, HEADERS added) and resolves with the parsed data of
 * its first event named EVENT, then closes it; rejects if the stream ends first or after TIMEOUTMS.
 */
export function nextEvent(url, event, { host, headers = {}, timeoutMs = 60_000 } = {}) {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { headers: { ...(host ? { host } : {}), accept: "text/event-stream", ...headers }, agent: false, timeout: timeoutMs }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (chunk) => {
        text += chunk;
        for (let end = text.indexOf("\n\n"); end !== -1; end = text.indexOf("\n\n")) {
          const block = text.slice(0, end).split("\n");
          text = text.slice(end + 2);
          const name = block.find((line) => line.startsWith("event:"))?.slice(6).trim();
          const data = block.filter((line) => line.startsWith("data:")).map((line) => line.slice(5).trim()).join("\n");
          if (name === event) {
            req.destroy();
            return resolve(JSON.parse(data));
          }
        }
      });
      res.on("end", () => reject(new Error(`${url} (Host ${host}): the stream ended without a ${event} event`)));
    });
    req.on("timeout", () => req.destroy(new Error(`${url} (Host ${host}): no ${event} event after ${timeoutMs} ms`)));
    req.on("error", reject);
    req.end();
  });
}
