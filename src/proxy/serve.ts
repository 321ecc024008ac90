/**
 * `deploy-vps proxy serve`, the daemon. Its option parsing is shared by the CLI and the bundled
 * daemon file (src/proxy/main.ts).
 */
import { type FSWatcher, watch } from "node:fs";
import { mkdir } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import { basename, dirname, join } from "node:path";
import { localEngine } from "../docker/engine.js";
import { type ProxyControl, startControlServer } from "./control-server.js";
import { DaemonLog } from "./daemon-log.js";
import { Runtime } from "./daemon.js";
import { Forwarder } from "./forward.js";
import { startListener } from "./listener.js";
import { ProxyMetrics } from "./metrics.js";
import { CONTROL_SOCKET, type PlanRefusal, type WakePlan } from "./status.js";
import type { ServeOptions } from "./serve-options.js";
import { Traffic } from "./traffic.js";

const CONFIG_SETTLE_MS = 200;
/** On SIGTERM, requests in flight get this long to finish before the listener is closed hard. */
const DRAIN_MS = 10_000;

/** The control socket's verbs, answered by the runtime. */
function controlOf(runtime: Runtime, log: DaemonLog): ProxyControl {
  const unknown = (name: string) => ({ status: 404, body: { error: `no service named ${name}` } });
  return {
    status: () => runtime.status(),
    async wake(name, dryRun) {
      const route = runtime.byName(name);
      const unit = route && runtime.unitOf(route);
      if (!route || !unit) return unknown(name);
      const plan = runtime.wakePlan(route);
      // A wake that cannot be planned (a cycle, a missing dependency) is refused as the dry run is.
      if (dryRun || "error" in plan) return planAnswer(plan);
      log.info("wake asked", { service: name });
      const outcome = await runtime.whenReady(unit);
      if (outcome.ok) return { status: 200, body: { state: "ready", ms: unit.lastStartMs } };
      const { failure } = outcome;
      return { status: failure.status, body: { state: "failed", reason: failure.reason, container: failure.container, logs: failure.logs } };
    },
    async sleep(name) {
      const route = runtime.byName(name);
      const unit = route && runtime.unitOf(route);
      if (!route || !unit) return unknown(name);
      const holders = runtime.holders(unit);
      if (holders.length > 0) return { status: 409, body: { error: `${name} stays awake: ${holders.join(", ")} need it` } };
      log.info("sleep asked", { service: name });
      await runtime.sleep(unit);
      return { status: 200, body: { state: unit.status.state } };
    },
    switch: (request) => runtime.switchTo(request),
    live: (name) => runtime.liveAnswer(name),
    logs: (lines) => log.lines(lines),
    onLog: (listener) => log.follow(listener),
  };
}

/** A plan, or why the wake cannot be planned (422: the CLI exits 2 naming the cycle or what is missing). */
function planAnswer(plan: WakePlan | PlanRefusal): { status: number; body: unknown } {
  return { status: "error" in plan ? 422 : 200, body: plan };
}

/**
 * The seed's `POST /api/wake/NAME?dryRun=true`: the plan only. A real wake changes what runs, so
 * it is the control socket's (deploy-vps proxy wake NAME), never this TCP listener's.
 */
function adminWake(runtime: Runtime, method: string, url: URL): { status: number; body: unknown } {
  if (method !== "POST") return { status: 405, body: { error: "/api/wake/NAME takes POST" } };
  const dryRun = url.searchParams.get("dryRun");
  if (dryRun !== "true" && dryRun !== "1") {
    return { status: 403, body: { error: "this listener only plans (?dryRun=true); wake with `deploy-vps proxy wake NAME`, over the control socket" } };
  }
  let name: string;
  try {
    name = decodeURIComponent(url.pathname.slice(ADMIN_WAKE.length));
  } catch {
    return { status: 400, body: { error: "the service name is not valid percent-encoding" } };
  }
  const route = runtime.byName(name);
  return route ? planAnswer(runtime.wakePlan(route)) : { status: 404, body: { error: `no service named ${name}` } };
}

const ADMIN_WAKE = "/api/wake/";

function adminServer(runtime: Runtime, metrics: ProxyMetrics): Server {
  return createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://admin");
    const path = url.pathname;
    if (path.startsWith(ADMIN_WAKE) && path.length > ADMIN_WAKE.length && !path.slice(ADMIN_WAKE.length).includes("/")) {
      const { status, body } = adminWake(runtime, req.method ?? "GET", url);
      res.writeHead(status, { "Content-Type": "application/json" });
      res.end(`${JSON.stringify(body)}\n`);
      return;
    }
    if (path === "/metrics") {
      void metrics.registry.metrics().then((text) => {
        res.writeHead(200, { "Content-Type": metrics.registry.contentType });
        res.end(text);
      });
      return;
    }
    if (path === "/api/services") {
      const services = runtime.status().services.map((s) => ({ name: s.name, hosts: s.hosts, mode: s.mode, state: s.state, idle: s.idle, reason: s.reason }));
      res.writeHead(200, { "Content-Type": "application/json" });
      res.end(JSON.stringify({ services }));
      return;
    }
    res.writeHead(404, { "Content-Type": "text/plain" });
    res.end("Not Found\n");
  });
}

/** Edits arrive as rename or write bursts: the folder is watched, and the file read once it settles. */
function watchConfig(file: string, reload: () => void): FSWatcher {
  let timer: NodeJS.Timeout | undefined;
  const watcher = watch(dirname(file), (_event, name) => {
    if (name !== null && name !== basename(file)) return;
    clearTimeout(timer);
    timer = setTimeout(reload, CONFIG_SETTLE_MS);
  });
  watcher.unref();
  return watcher;
}

/** Docker may come up after the daemon (a reboot): it waits for the Engine, saying so. */
async function untilEngineAnswers(runtime: Runtime, log: DaemonLog): Promise<void> {
  for (let delay = 500; ; delay = Math.min(delay * 2, 10_000)) {
    try {
      await runtime.start();
      return;
    } catch (error) {
      log.warn("Docker's Engine does not answer yet; retrying", { error: error instanceof Error ? error.message : String(error), retryInMs: delay });
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}

/** The daemon: `deploy-vps proxy serve`, and what the bundled daemon.mjs runs. */
export async function serve(options: ServeOptions): Promise<void> {
  const log = new DaemonLog();
  await mkdir(options.state, { recursive: true, mode: 0o700 });
  const engine = localEngine(options.dockerSocket);
  // The version of the CLI that installed it (the compose file sets it), for `status`.
  const version = process.env.DEPLOY_VPS_VERSION ?? "dev";
  const metrics: ProxyMetrics = new ProxyMetrics(() => runtime.gauges());
  const runtime = new Runtime({ engine, log, stateDir: options.state, configFile: options.config, dependenciesFile: options.dependencies, metrics, version });
  await untilEngineAnswers(runtime, log);
  const forwarder = new Forwarder();
  const traffic = new Traffic(runtime, forwarder, metrics);
  const proxied = await startListener({ host: options.listen.host, port: options.listen.port, onRequest: traffic.request, onUpgrade: traffic.upgrade });
  // The control socket first: once the admin port answers, the daemon can be driven.
  const control = await startControlServer(join(options.state, CONTROL_SOCKET), controlOf(runtime, log));
  const admin = adminServer(runtime, metrics);
  await new Promise<void>((resolve, reject) => {
    admin.once("error", reject);
    admin.listen(options.admin.port, options.admin.host, () => resolve());
  });
  const watchers = [
    ...(options.config ? [watchConfig(options.config, () => void runtime.reloadConfig())] : []),
    ...(options.dependencies ? [watchConfig(options.dependencies, () => void runtime.reloadDependencies())] : []),
  ];
  log.info("listening", { proxy: `${options.listen.host}:${proxied.port}`, admin: `${options.admin.host}:${options.admin.port}`, version });

  const shutdown = async (signal: string) => {
    log.info("shutting down", { signal });
    for (const watcher of watchers) watcher.close();
    const drained = proxied.close();
    const hard = setTimeout(() => proxied.server.closeAllConnections(), DRAIN_MS);
    hard.unref();
    await Promise.allSettled([drained, control.close(), new Promise((resolve) => admin.close(resolve)), runtime.stop()]);
    forwarder.close();
    process.exit(0);
  };
  process.once("SIGTERM", (signal) => void shutdown(signal));
  process.once("SIGINT", (signal) => void shutdown(signal));
}
