import { request } from "node:http";
import { connect } from "node:net";
import type { CheckProbe, ContainerFacts, ReadinessCheck } from "./model.js";

/**
 * A dependency's readiness check (`deploy-vps.proxy.check`, the dependencies file's healthCheck):
 * one try against the container's own address, or a command inside it; and when the next try is
 * due, or why the check has failed. The wake decides when to try; this module only tries.
 */

/** Runs a command in the container (the Engine's exec): true when it exits 0 within `timeoutMs`. */
export type RunInContainer = (id: string, test: string[], timeoutMs: number) => Promise<boolean>;

/** True when host:port accepts a TCP connection within `timeoutMs`. */
export function tcpAccepts(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(Math.max(timeoutMs, 1), () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

/** True when GET http://host:port/path answers 2xx or 3xx within `timeoutMs`. */
export function httpAnswers(host: string, port: number, path: string, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    let settled = false;
    const done = (ok: boolean) => {
      if (settled) return;
      settled = true;
      req.destroy();
      resolve(ok);
    };
    const req = request({ host, port, path, method: "GET", agent: false, headers: { "user-agent": "deploy-vps-proxy readiness" } });
    req.setTimeout(Math.max(timeoutMs, 1), () => done(false));
    req.once("error", () => done(false));
    req.once("response", (res) => {
      const status = res.statusCode ?? 0;
      res.resume();
      done(status >= 200 && status < 400);
    });
    req.end();
  });
}

/** Where a check reaches the container: its address on the first network that gave it one. */
export function addressOf(container: ContainerFacts): string | undefined {
  return Object.keys(container.addresses)
    .sort()
    .map((network) => container.addresses[network])
    .find((address) => address !== undefined && address !== "");
}

/** One try of the probe; a container without an address (not running, or no network) fails it. */
export async function tryProbe(probe: CheckProbe, container: ContainerFacts, runInContainer: RunInContainer, timeoutMs: number): Promise<boolean> {
  if (probe.kind === "command") return runInContainer(container.id, ["CMD-SHELL", probe.command], timeoutMs).catch(() => false);
  const host = addressOf(container);
  if (host === undefined) return false;
  return probe.kind === "tcp" ? tcpAccepts(host, probe.port, timeoutMs) : httpAnswers(host, probe.port, probe.path, timeoutMs);
}

/** The probe as a label writes it, for messages: `tcp 5432`, `http 8080 /health`, `cmd pg_isready`. */
export function probeText(probe: CheckProbe): string {
  switch (probe.kind) {
    case "tcp":
      return `tcp ${probe.port}`;
    case "http":
      return `http ${probe.port} ${probe.path}`;
    case "command":
      return `cmd ${probe.command}`;
  }
}

/**
 * After a failed try: when to try again, or why the check has failed (its retries are used up, or
 * its timeout is reached). `beganAt` is its first try, `triedAt` the one that just failed; the last
 * try is made at the timeout itself rather than skipped.
 */
export function afterFailedTry(check: ReadinessCheck, failedTries: number, beganAt: number, triedAt: number, now: number): { retryAt: number } | { failed: string } {
  const what = probeText(check.probe);
  if (failedTries >= check.retries) return { failed: `check '${what}' failed ${failedTries} time${failedTries === 1 ? "" : "s"}` };
  const endsAt = beganAt + check.timeoutMs;
  if (now >= endsAt) return { failed: `check '${what}' did not pass within ${formatSeconds(check.timeoutMs)}` };
  return { retryAt: Math.min(triedAt + check.intervalMs, endsAt) };
}

/** `30 s`, `2.5 s`: a time limit in a message. */
export function formatSeconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${(ms / 1000).toFixed(1)} s`;
}
