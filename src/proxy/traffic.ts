import type { IncomingMessage, ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import {
  type Answer,
  asleep,
  asyncAccepted,
  eventStreamHeaders,
  EVENTS_PATH,
  notFound,
  problem,
  retrySeconds,
  STATUS_PATH,
  unitStatus,
  waitingPage,
} from "./answers.js";
import { classifyClient, type ClientKind } from "./clients.js";
import type { Runtime, StartOutcome, Unit } from "./daemon.js";
import { addressKey } from "./drain.js";
import type { Forwarder, Upstream } from "./forward.js";
import type { ProxyMetrics } from "./metrics.js";
import type { Route } from "./model.js";
import { sseEvent } from "./progress.js";
import { renderWaitingPage } from "./waiting-page.js";

/** User agents repeat: their verdict is kept, up to this many. */
const KNOWN_AGENTS = 500;
/** A comment on an idle event stream, so that nginx and other proxies on the way keep it open. */
const KEEPALIVE_MS = 15_000;

/** Loopback peers are the host's nginx: their X-Forwarded-* and X-Service-Name are believed. */
function fromLoopback(req: IncomingMessage): boolean {
  const address = req.socket.remoteAddress ?? "";
  return address === "127.0.0.1" || address === "::1" || address === "::ffff:127.0.0.1";
}

function send(res: ServerResponse, answer: Answer): void {
  res.writeHead(answer.status, { ...answer.headers, "Content-Length": Buffer.byteLength(answer.body) });
  res.end(answer.body);
}

/** A websocket that cannot be tunnelled gets a plain HTTP answer on its socket, then is closed. */
function refuseUpgrade(socket: Duplex, answer: Answer): void {
  const head = [`HTTP/1.1 ${answer.status} ${answer.status === 404 ? "Not Found" : "Service Unavailable"}`];
  for (const [name, value] of Object.entries(answer.headers)) head.push(`${name}: ${value}`);
  head.push(`Content-Length: ${Buffer.byteLength(answer.body)}`, "Connection: close", "", answer.body);
  socket.end(head.join("\r\n"));
}

/**
 * What the proxied listener does with each request: find the route its Host names, answer for
 * the unit while it sleeps (by mode and by client), and forward once it is ready.
 */
export class Traffic {
  private readonly agents = new Map<string, ClientKind>();

  constructor(
    private readonly runtime: Runtime,
    private readonly forwarder: Forwarder,
    private readonly metrics?: ProxyMetrics,
  ) {}

  private route(req: IncomingMessage): Route | undefined {
    const named = req.headers["x-service-name"];
    if (typeof named === "string" && fromLoopback(req)) return this.runtime.byName(named);
    return this.runtime.lookup(req.headers.host ?? "");
  }

  private client(req: IncomingMessage): ClientKind {
    const agent = req.headers["user-agent"] ?? "";
    const accept = req.headers.accept ?? "";
    const key = `${agent}\n${accept}`;
    let kind = this.agents.get(key);
    if (!kind) {
      kind = classifyClient(req.headers, this.runtime.monitorAgents());
      if (this.agents.size >= KNOWN_AGENTS) this.agents.clear();
      this.agents.set(key, kind);
    }
    return kind;
  }

  request = (req: IncomingMessage, res: ServerResponse): void => {
    const route = this.route(req);
    const unit = route && this.runtime.unitOf(route);
    if (!route || !unit) {
      this.metrics?.request("", "not_found");
      send(res, notFound());
      return;
    }
    if (req.url?.startsWith(STATUS_PATH)) {
      this.metrics?.request(route.name, "status");
      const { containers, failure } = this.runtime.progress(unit);
      send(res, unitStatus(route, unit.status.state, { estimateSeconds: this.runtime.estimate(unit), containers, failure }));
      return;
    }
    const client = this.client(req);
    if (req.url?.startsWith(EVENTS_PATH)) {
      this.events(unit, res, client);
      return;
    }
    if (unit.status.state === "ready") {
      this.forward(unit, req, res, client);
      return;
    }
    if (client.monitor) {
      this.metrics?.request(route.name, "asleep");
      send(res, asleep(route, this.runtime.estimate(unit)));
      return;
    }
    if (route.mode === "async") {
      this.runtime.wakeInBackground(unit);
      this.metrics?.request(route.name, "accepted");
      send(res, asyncAccepted(route, this.runtime.estimate(unit), STATUS_PATH));
      return;
    }
    // Only a browser's page load gets the waiting page: a form's POST, an API call or a script's fetch is held, never lost.
    if (route.mode === "dynamic" && client.wantsHtml && (req.method === "GET" || req.method === "HEAD")) {
      this.runtime.wakeInBackground(unit);
      this.metrics?.request(route.name, "waiting_page");
      void this.waitingPage(unit, res).catch(() => send(res, problem(503, "Service Unavailable", "The site is starting; reload in a moment.")));
      return;
    }
    this.metrics?.request(route.name, "held");
    void this.runtime.whenReady(unit).then((outcome) => this.afterWait(unit, outcome, req, res, client));
  };

  private async waitingPage(unit: Unit, res: ServerResponse): Promise<void> {
    const { route } = unit;
    const [template, live] = await Promise.all([this.runtime.themes.template(route.theme), this.runtime.themes.live()]);
    const now = this.runtime.progress(unit);
    const retryAfter = retrySeconds(now.estimateMs / 1000);
    const html = renderWaitingPage(template, live, {
      serviceName: route.displayName ?? route.name,
      estimatedSeconds: Math.round(now.estimateMs / 1000),
      elapsedSeconds: Math.floor(now.elapsedMs / 1000),
      retryAfterSeconds: retryAfter,
      message: now.message,
      progress: now.containers,
      eventsUrl: EVENTS_PATH,
    });
    if (!res.destroyed) send(res, waitingPage(html, retryAfter));
  }

  /**
   * The waiting page's live progress: a snapshot now and at every change, then `ready` (the page
   * loads the site) or `failed`, and the stream ends. Its client never counts as activity.
   */
  private events(unit: Unit, res: ServerResponse, client: ClientKind): void {
    this.metrics?.request(unit.route.name, "events");
    res.writeHead(200, eventStreamHeaders);
    res.write("retry: 1000\n\n");
    let open = true;
    const close = (last?: string) => {
      if (!open) return;
      open = false;
      clearInterval(keepalive);
      unwatch();
      if (last !== undefined) res.end(last);
    };
    const push = () => {
      if (!open) return;
      // The failure goes in its own last event, after the lines that show which container failed.
      const { failure, ...snapshot } = this.runtime.progress(unit);
      res.write(sseEvent("progress", snapshot));
      if (snapshot.state === "ready") close(sseEvent("ready", { readyAt: unit.readyAt }));
      else if (snapshot.state === "failed") close(sseEvent("failed", { message: failure ?? "The site could not be started." }));
    };
    const keepalive = setInterval(() => res.write(": keepalive\n\n"), KEEPALIVE_MS);
    const unwatch = this.runtime.watch(unit, push);
    res.on("close", () => close());
    push();
    // A page restored from history finds its unit asleep again; a failed one waits for the page's retry button.
    if (open && !client.monitor && unit.status.state === "sleeping") this.runtime.wakeInBackground(unit);
  }

  upgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const route = this.route(req);
    const unit = route && this.runtime.unitOf(route);
    if (!route || !unit) {
      refuseUpgrade(socket, notFound());
      return;
    }
    const client = this.client(req);
    const tunnel = () => {
      const upstream = this.runtime.upstream(route);
      if (!upstream) {
        refuseUpgrade(socket, problem(502, "Bad Gateway", "The service is not reachable."));
        return;
      }
      if (!client.monitor) this.runtime.opened(unit);
      this.metrics?.request(route.name, "forwarded");
      const ended = this.inFlight(upstream, () => socket.destroy());
      const onEnd = () => {
        ended();
        if (!client.monitor) this.runtime.closed(unit);
      };
      this.forwarder.upgrade(req, socket, head, upstream, { onEnd }, { trustForwarded: fromLoopback(req) });
    };
    if (unit.status.state === "ready") tunnel();
    else if (client.monitor) refuseUpgrade(socket, asleep(route, this.runtime.estimate(unit)));
    // A websocket cannot read a 202: it waits for the start as a blocking request does.
    else
      void this.runtime.whenReady(unit).then((outcome) => {
        if (outcome.ok) tunnel();
        else refuseUpgrade(socket, problem(outcome.failure.status, "Service failed to start", "The service could not be started; try again later."));
      });
  };

  private afterWait(unit: Unit, outcome: StartOutcome, req: IncomingMessage, res: ServerResponse, client: ClientKind): void {
    if (res.destroyed || req.destroyed) return;
    if (outcome.ok) {
      this.forward(unit, req, res, client);
      return;
    }
    this.metrics?.request(unit.route.name, "failed");
    const failure = outcome.failure;
    const title = failure.status === 504 ? "Service start timed out" : "Service failed to start";
    send(res, problem(failure.status, title, `${unit.route.name} did not become ready; the details are in \`deploy-vps proxy status\`.`));
  }

  private forward(unit: Unit, req: IncomingMessage, res: ServerResponse, client: ClientKind): void {
    const upstream = this.runtime.upstream(unit.route);
    if (!upstream) {
      this.metrics?.request(unit.route.name, "failed");
      send(res, problem(502, "Bad Gateway", "The service is not reachable."));
      return;
    }
    this.metrics?.request(unit.route.name, "forwarded");
    const ended = this.inFlight(upstream, () => res.destroy());
    if (client.monitor) {
      this.forwarder.http(req, res, upstream, { onEnd: ended }, { trustForwarded: fromLoopback(req) });
      return;
    }
    this.runtime.opened(unit);
    const onEnd = () => {
      ended();
      this.runtime.closed(unit);
    };
    this.forwarder.http(req, res, upstream, { onEnd }, { trustForwarded: fromLoopback(req) });
  }

  /**
   * Counts an exchange towards UPSTREAM until the function returned is called: a switch lets it
   * finish, and cuts it (CUT destroys the client's socket, which ends the upstream side too)
   * if it outlives the drain. Monitors' exchanges count here too: they hold the old container.
   */
  private inFlight(upstream: Upstream, cut: () => void): () => void {
    return this.runtime.inFlight.begin(addressKey(upstream), cut);
  }
}
