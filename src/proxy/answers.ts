import type { Route, UnitState } from "./model.js";

/** The daemon's own URLs on a proxied host live under this prefix, so they never shadow a site's paths. */
export const RESERVED_PREFIX = "/__deploy-vps/";
/** The status of the unit the Host names: what async mode's `Location` and `healthCheckUrl` point at. */
export const STATUS_PATH = `${RESERVED_PREFIX}status`;
/** The waiting page's live progress (Server-Sent Events) for the unit the Host names. */
export const EVENTS_PATH = `${RESERVED_PREFIX}events`;

/** An answer the daemon gives itself instead of forwarding. */
export interface Answer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

const JSON_TYPE = "application/json; charset=utf-8";
/** Each of these answers is about a moment: a cache must never serve one later. */
const NO_STORE = { "cache-control": "no-store" };

/** Whole seconds, at least 1: Retry-After takes no fraction, and 0 would invite a tight loop. */
export function retrySeconds(estimateSeconds: number): number {
  return Number.isFinite(estimateSeconds) ? Math.max(1, Math.ceil(estimateSeconds)) : 1;
}

function json(status: number, value: unknown, headers: Record<string, string> = {}): Answer {
  return { status, headers: { "content-type": JSON_TYPE, ...NO_STORE, ...headers }, body: JSON.stringify(value) };
}

/** Async mode (the seed's API mode): 202 at once, when to retry and where to poll, in the seed's JSON. */
export function asyncAccepted(route: Route, estimateSeconds: number, statusUrl: string): Answer {
  const seconds = retrySeconds(estimateSeconds);
  return json(
    202,
    {
      status: "starting",
      message: `Service ${route.name} is starting. Please retry in ${seconds} seconds.`,
      service: route.name,
      estimatedTime: seconds,
      retryAfter: seconds,
      healthCheckUrl: statusUrl,
    },
    { "retry-after": String(seconds), location: statusUrl },
  );
}

/** An RFC 9457 problem document; `extra` adds members but cannot replace the standard ones. */
export function problem(status: number, title: string, detail: string, extra: Record<string, unknown> = {}): Answer {
  const answer = json(status, { ...extra, type: "about:blank", title, status, detail });
  return { ...answer, headers: { ...answer.headers, "content-type": "application/problem+json; charset=utf-8" } };
}

/** An unknown Host: the same few bytes whatever is behind the proxy, no route name, no version. */
export function notFound(): Answer {
  return {
    status: 404,
    headers: { "content-type": "text/plain; charset=utf-8", ...NO_STORE, "x-content-type-options": "nosniff" },
    body: "Not Found\n",
  };
}

/**
 * What a monitor or bot gets from a sleeping unit, which it does not wake: 503 and when to come
 * back. The same for every route, so it tells a stranger nothing of what runs behind the host.
 */
export function asleep(_route: Route, estimateSeconds: number): Answer {
  const seconds = retrySeconds(estimateSeconds);
  const answer = problem(503, "Service Unavailable", "This service is asleep; a visitor's request starts it.", {
    retryAfter: seconds,
  });
  return { ...answer, headers: { ...answer.headers, "retry-after": String(seconds) } };
}

/**
 * What a waiting page may load: nothing but itself. Its style and script are inline, the stream
 * is on its own origin; a theme that reaches for a font or a script elsewhere shows at once.
 */
export const WAITING_PAGE_POLICY =
  "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:; connect-src 'self'; base-uri 'none'; form-action 'none'";

/**
 * Dynamic mode's answer to a browser while the unit starts: the rendered page, as a 503 with
 * Retry-After so that a crawler or a monitor reads "come back later", never a page to keep.
 */
export function waitingPage(html: string, seconds: number): Answer {
  return {
    status: 503,
    headers: {
      "content-type": "text/html; charset=utf-8",
      ...NO_STORE,
      "retry-after": String(retrySeconds(seconds)),
      "x-content-type-options": "nosniff",
      "content-security-policy": WAITING_PAGE_POLICY,
    },
    body: html,
  };
}

/** `/__deploy-vps/events`: a stream of the moment, that no cache or proxy buffer may hold back. */
export const eventStreamHeaders: Readonly<Record<string, string>> = {
  "content-type": "text/event-stream; charset=utf-8",
  ...NO_STORE,
  // nginx buffers a proxied answer by default: an event would reach the page late, in bursts.
  "x-accel-buffering": "no",
  "x-content-type-options": "nosniff",
};

/** What the status URL adds to the state. */
export interface StatusFigures {
  /** The learned start estimate; shown while a start is ahead or under way. */
  estimateSeconds: number;
  /** Each container of the last start (dependencies in other projects as `project/service`) and how far it got. */
  containers?: { name: string; phase: string }[];
  /** A failed start's sentence for people, naming the container (or dependency) to blame, never why. */
  failure?: string;
}

/** `/__deploy-vps/status` of the unit a Host names: its state, and while it is not up, when to look again. */
export function unitStatus(route: Route, state: UnitState, figures: StatusFigures): Answer {
  const waiting = state === "sleeping" || state === "starting";
  const seconds = retrySeconds(figures.estimateSeconds);
  return json(
    200,
    {
      service: route.name,
      state,
      ready: state === "ready",
      ...(waiting ? { estimatedTime: seconds, retryAfter: seconds } : {}),
      ...(figures.containers && figures.containers.length > 0 ? { containers: figures.containers } : {}),
      ...(state === "failed" && figures.failure ? { failure: figures.failure } : {}),
    },
    waiting ? { "retry-after": String(seconds) } : {},
  );
}
