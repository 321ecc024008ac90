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
import { CONTROL_SOCKET } from "./status.js";
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
      if (dryRun) return { status: 200, body: { plan: runtime.wakePlan(route) } };
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
      log.info("sleep asked", { service: name });
      await runtime.sleep(unit);
      return { status: 200, body: { state: unit.status.state } };
    },
    logs: (lines) => log.lines(lines),
    onLog: (listener) => log.follow(listener),
  };
}

function adminServer(runtime: Runtime, metrics: ProxyMetrics): Server {
  return createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
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
  const runtime = new Runtime({ engine, log, stateDir: options.state, configFile: options.config, metrics, version });
  await untilEngineAnswers(runtime, log);
  const forwarder = new Forwarder();
  const traffic = new Traffic(runtime, forwarder, metrics);
  const proxied = await startListener({ host: options.listen.host, port: options.listen.port, onRequest: traffic.request, onUpgrade: traffic.upgrade });
  const admin = adminServer(runtime, metrics);
  await new Promise<void>((resolve, reject) => {
    admin.once("error", reject);
    admin.listen(options.admin.port, options.admin.host, () => resolve());
  });
  const control = await startControlServer(join(options.state, CONTROL_SOCKET), controlOf(runtime, log));
  const watcher = options.config ? watchConfig(options.config, () => void runtime.reloadConfig()) : undefined;
  log.info("listening", { proxy: `${options.listen.host}:${proxied.port}`, admin: `${options.admin.host}:${options.admin.port}`, version });

  const shutdown = async (signal: string) => {
    log.info("shutting down", { signal });
    watcher?.close();
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
