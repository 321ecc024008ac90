// Types of proxy-tools.mjs (plain ESM, shared with bench/proxy.mjs).
import type WebSocket from "ws";

/**
 * labels-only: a busybox container carrying the labels, no app (for labels the proxy must refuse);
 * dependency: a second app `db`, healthy about 2 s after its start, that web waits for (service_healthy);
 * unready-sibling: a second app `sibling` listening at once, whose `deploy-vps.proxy.health-path` (/missing) answers 404.
 */
export type FixtureVariant = "plain" | "healthcheck" | "crash" | "database" | "dependency" | "labels-only" | "unready-sibling";

export interface FixtureOptions {
  /** Proxy labels without their prefix: `{ host: "a.test", port: 8080, mode: "blocking" }`. */
  labels?: Record<string, string | number>;
  variant?: FixtureVariant;
  hostPort?: number | string;
  startDelayMs?: number;
}
export function fixtureCompose(options: FixtureOptions): string;

export function freeLoopbackPort(): Promise<number>;
export function waitForPort(port: number, timeoutMs?: number): Promise<void>;
export function onLoopbackPort(serverBlock: string, port: number): string;

export interface Nginx {
  port: number;
  url: string;
  config: string;
  stop(): Promise<void>;
}
export function startNginx(serverBlock: string): Promise<Nginx>;

export interface WrkFigures {
  p50Ms: number;
  p99Ms: number;
  requestsPerSec: number;
  requests: number;
  errors: number;
}
export function parseWrk(output: string): WrkFigures;
export interface WrkOptions {
  connections?: number;
  seconds?: number;
  threads?: number;
  header?: string;
}
export function runWrk(url: string, options?: WrkOptions): Promise<WrkFigures & { output: string }>;

export interface HttpAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  firstByteMs: number;
  totalMs: number;
}
export interface HttpCallOptions {
  method?: string;
  host?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  timeoutMs?: number;
}
export function httpCall(url: string, options?: HttpCallOptions): Promise<HttpAnswer>;
export function untilAnswered(url: string, options?: { host?: string; timeoutMs?: number }): Promise<HttpAnswer>;

export interface Websockets {
  sockets: WebSocket[];
  close(): Promise<void>;
}
export function openWebsockets(url: string, n: number, options?: { host?: string; batch?: number }): Promise<Websockets>;
export function nextEvent(url: string, event: string, options?: { host?: string; headers?: Record<string, string>; timeoutMs?: number }): Promise<unknown>;
