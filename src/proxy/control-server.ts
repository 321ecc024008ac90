import { chmod, rm } from "node:fs/promises";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { connect } from "node:net";
import { parseDuration } from "./durations.js";
import type { AfterDrain, StatusDocument, SwitchRequest } from "./status.js";

/** What the control socket drives: the daemon implements it, the CLI reaches it over SSH. */
export interface ProxyControl {
  status(): StatusDocument;
  wake(name: string, dryRun: boolean): Promise<{ status: number; body: unknown }>;
  sleep(name: string): Promise<{ status: number; body: unknown }>;
  /** A blue-green switch, answered once it has ended (200 SwitchResult, or 404/409/422 SwitchRefusal). */
  switch(request: SwitchRequest): Promise<{ status: number; body: unknown }>;
  /** The container the route forwards to (200 LiveTarget), or 404 when there is none. */
  live(name: string): { status: number; body: unknown };
  /** The last `lines` daemon log lines, oldest first. */
  logs(lines: number): string[];
  /** Each new log line; returns the unsubscribe. */
  onLog(listener: (line: string) => void): () => void;
}

/** `GET /logs` without `lines`, and the most it gives. */
export const DEFAULT_LOG_LINES = 200;
const MAX_LOG_LINES = 10_000;

/** One request of the control surface, as the router reads it. */
export type ControlRoute =
  | { kind: "status" }
  | { kind: "wake"; name: string; dryRun: boolean }
  | { kind: "sleep"; name: string }
  | { kind: "switch"; request: SwitchRequest }
  | { kind: "live"; name: string }
  | { kind: "logs"; lines: number; follow: boolean }
  | { kind: "error"; status: number; message: string };

/** Which call a method and a path make (pure: the server only does what this says). */
export function controlRoute(method: string, url: string): ControlRoute {
  const parsed = new URL(url, "http://control");
  const path = parsed.pathname;
  const service = /^\/services\/([^/]+)\/(wake|sleep|switch|live)$/.exec(path);
  const known = path === "/services" || path === "/logs" || service !== null;
  if (!known) return { kind: "error", status: 404, message: `no such path: ${path}` };
  const wanted = path === "/services" || path === "/logs" || service?.[2] === "live" ? "GET" : "POST";
  if (method !== wanted) return { kind: "error", status: 405, message: `${path} takes ${wanted}` };
  if (path === "/services") return { kind: "status" };
  if (path === "/logs") {
    const raw = parsed.searchParams.get("lines");
    const lines = raw === null ? DEFAULT_LOG_LINES : Number(raw);
    if (!/^\d+$/.test(raw ?? "0")) return { kind: "error", status: 400, message: `lines must be a whole number, got '${raw}'` };
    return { kind: "logs", lines: Math.min(lines, MAX_LOG_LINES), follow: parsed.searchParams.get("follow") === "1" };
  }
  let name: string;
  try {
    name = decodeURIComponent(service?.[1] ?? "");
  } catch {
    return { kind: "error", status: 400, message: "the service name is not valid percent-encoding" };
  }
  if (service?.[2] === "sleep") return { kind: "sleep", name };
  if (service?.[2] === "live") return { kind: "live", name };
  if (service?.[2] === "switch") return switchRoute(name, parsed.searchParams);
  return { kind: "wake", name, dryRun: parsed.searchParams.get("dry-run") === "1" };
}

/** A switch's defaults: the drain grace period, and a minute for the new container to be ready. */
export const DEFAULT_DRAIN_SECONDS = 30;
export const DEFAULT_READY_SECONDS = 60;
const SWITCH_PARAMETERS = new Set(["to", "port", "drain", "ready", "after"]);
const AFTER_DRAIN: readonly AfterDrain[] = ["remove", "stop", "keep"];
/** A container's id (or a unique start of it) or its name, as Docker allows them. */
const CONTAINER_REFERENCE = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** `?to=ID&port=N&drain=S&ready=S&after=remove|stop|keep`, each checked: a script's typo is a 400 naming it, never a guess. */
function switchRoute(name: string, params: URLSearchParams): ControlRoute {
  const bad = (message: string): ControlRoute => ({ kind: "error", status: 400, message });
  for (const key of params.keys()) if (!SWITCH_PARAMETERS.has(key)) return bad(`unknown parameter '${key}' (switch takes ${[...SWITCH_PARAMETERS].join(", ")})`);
  const to = params.get("to");
  if (to === null || !CONTAINER_REFERENCE.test(to)) return bad(`to must name a container (its id or name), got '${to ?? ""}'`);
  const after = AFTER_DRAIN.find((value) => value === params.get("after"));
  if (after === undefined) return bad(`after must be one of ${AFTER_DRAIN.join(", ")}, got '${params.get("after") ?? ""}'`);
  const rawPort = params.get("port");
  const port = rawPort === null ? undefined : Number(rawPort);
  if (port !== undefined && !(/^\d+$/.test(rawPort ?? "") && port >= 1 && port <= 65_535)) return bad(`port must be a port (1-65535), got '${rawPort}'`);
  const seconds = (key: "drain" | "ready", fallback: number): number | string => {
    const raw = params.get(key);
    if (raw === null) return fallback;
    const ms = parseDuration(raw);
    return ms === undefined ? `${key} must be a duration (30, 30s, 1m30s), got '${raw}'` : ms / 1000;
  };
  const drainSeconds = seconds("drain", DEFAULT_DRAIN_SECONDS);
  if (typeof drainSeconds === "string") return bad(drainSeconds);
  const readySeconds = seconds("ready", DEFAULT_READY_SECONDS);
  if (typeof readySeconds === "string") return bad(readySeconds);
  return { kind: "switch", request: { service: name, to, ...(port === undefined ? {} : { port }), drainSeconds, readySeconds, after } };
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(status, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(text) });
  res.end(text);
}

async function answer(control: ProxyControl, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const route = controlRoute(req.method ?? "GET", req.url ?? "/");
  switch (route.kind) {
    case "error":
      return sendJson(res, route.status, { error: route.message });
    case "status":
      return sendJson(res, 200, control.status());
    case "wake": {
      const { status, body } = await control.wake(route.name, route.dryRun);
      return sendJson(res, status, body);
    }
    case "sleep": {
      const { status, body } = await control.sleep(route.name);
      return sendJson(res, status, body);
    }
    case "switch": {
      // The switch goes on to its end if the caller hangs up: nothing here listens for it.
      const { status, body } = await control.switch(route.request);
      return sendJson(res, status, body);
    }
    case "live": {
      const { status, body } = control.live(route.name);
      return sendJson(res, status, body);
    }
    case "logs": {
      res.writeHead(200, { "Content-Type": "text/plain; charset=utf-8" });
      for (const line of route.lines > 0 ? control.logs(route.lines) : []) res.write(`${line}\n`);
      if (!route.follow) return void res.end();
      const stop = control.onLog((line) => res.write(`${line}\n`));
      res.on("close", stop);
      return;
    }
  }
}

/** Whether something answers on a unix socket now (a live daemon), or the file is a leftover. */
function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(path);
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

/**
 * Serves the control surface (HTTP/1.1) on a unix socket, mode 0600: only the deploy user may
 * drive the daemon. A socket file that nothing answers on (a daemon killed with -9) is removed
 * first; one a live daemon answers on is left alone, and this one refuses to start.
 */
export async function startControlServer(socketPath: string, control: ProxyControl): Promise<{ close(): Promise<void> }> {
  if (await answers(socketPath)) throw new Error(`another daemon already answers on ${socketPath}`);
  await rm(socketPath, { force: true });
  const server = createServer((req, res) => {
    answer(control, req, res).catch((error: unknown) => {
      if (res.headersSent) res.destroy();
      else sendJson(res, 500, { error: error instanceof Error ? error.message : String(error) });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(socketPath, () => {
      server.off("error", reject);
      resolve();
    });
  });
  await chmod(socketPath, 0o600);
  return {
    close: () =>
      new Promise<void>((resolve) => {
        // Followed log streams never end by themselves.
        server.closeAllConnections();
        server.close(() => resolve());
      }).then(() => rm(socketPath, { force: true })),
  };
}
