import type { InFlight } from "./drain.js";
import { PROXY_LABELS } from "./labels.js";
import type { ContainerFacts } from "./model.js";
import { addressOf, formatSeconds, httpAnswers, type RunInContainer, tcpAccepts } from "./readiness.js";
import type { SwitchRefusal, SwitchRequest, SwitchResult } from "./status.js";
import type { FactsOf } from "./wake.js";

/**
 * A blue-green switch (issue 17), carried out: wait until the new container is ready, point the
 * route at it in one step, let the old one's exchanges finish (cut what outlives the drain), then
 * stop or remove it. The daemon checks the request and gives the steps that touch its own state.
 */

/** The route as a switch leaves it: the containers it forwarded to before, and the addresses their exchanges run on. */
export interface Left {
  from: ContainerFacts[];
  addresses: string[];
}

export interface SwitchWork {
  request: SwitchRequest;
  /** The container to switch to, as the daemon knows it now. */
  target: ContainerFacts;
  /** Its port the route forwards to. */
  port: number;
  factsOf: FactsOf;
  /** Runs its Docker healthcheck's test in it now (the Engine's exec). */
  runInContainer: RunInContainer;
  inFlight: InFlight;
  /** Points the route at the target (at once: every later request goes there), and saves that choice. */
  pin(): Promise<Left>;
  /** `stop`: stopped (its own stop timeout); `remove`: stopped, then removed. */
  retire(container: ContainerFacts, remove: boolean): Promise<void>;
  log(message: string, fields: Record<string, unknown>): void;
}

export type SwitchAnswer = { status: 200; body: SwitchResult } | { status: 422 | 500; body: SwitchRefusal };

/** What an answer says of the drain, for the metrics. */
export interface Drained {
  ms: number;
  cut: number;
}

/** The fast pace of readiness probes; a Docker healthcheck's exec is paced more slowly, as the wake does. */
const PROBE_PACE_MS = 100;
const MAX_HEALTH_PACE_MS = 1_000;
const PROBE_TIMEOUT_MS = 2_000;

export async function runSwitch(work: SwitchWork): Promise<{ answer: SwitchAnswer; drained?: Drained }> {
  const { request, target, port } = work;
  const service = request.service;
  const began = Date.now();
  const ready = await untilReady(target.id, port, work, request.readySeconds * 1000);
  if (!ready.ok) {
    work.log("switch", { service, phase: "unready", container: target.name, reason: ready.reason });
    return { answer: { status: 422, body: { error: `${target.name} ${ready.reason}; ${service} still forwards where it did`, container: target.name } } };
  }
  const readyMs = Date.now() - began;
  work.log("switch", { service, phase: "ready", container: target.name, port, ms: readyMs });

  const left = await work.pin();
  const switchedAt = new Date().toISOString();
  const from = left.from.map((c) => ({ id: c.id, name: c.name }));
  work.log("switch", { service, phase: "switched", to: target.name, port, from: from.map((c) => c.name) });

  const drained = await work.inFlight.drain(left.addresses, request.drainSeconds * 1000);
  work.log("switch", { service, phase: "drained", from: from.map((c) => c.name), ms: drained.ms, cut: drained.cut });

  if (request.after !== "keep") {
    try {
      await Promise.all(left.from.map((container) => work.retire(container, request.after === "remove")));
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      work.log("switch", { service, phase: "failed", error: reason });
      return { answer: { status: 500, body: { error: `${service} switched to ${target.name}, but the old container could not be retired: ${reason}` } }, drained };
    }
  }
  work.log("switch", { service, phase: request.after === "remove" ? "removed" : request.after === "stop" ? "stopped" : "kept", containers: from.map((c) => c.name) });
  const result: SwitchResult = {
    service,
    to: { id: target.id, name: target.name, port },
    from,
    readyMs,
    switchedAt,
    drainedMs: drained.ms,
    cut: drained.cut,
    after: request.after,
  };
  return { answer: { status: 200, body: result }, drained };
}

export type ReadyWait = { ok: true } | { ok: false; reason: string };

/**
 * Waits until the container can take the route's traffic: running; its Docker healthcheck passes
 * (run now, not after Docker's first interval); then its `deploy-vps.proxy.health-path` answers a
 * GET with 2xx or 3xx on PORT, or without that label PORT accepts a connection. A container that
 * exits or goes away fails at once, one still not ready fails at the timeout.
 */
export async function untilReady(id: string, port: number, { factsOf, runInContainer }: Pick<SwitchWork, "factsOf" | "runInContainer">, timeoutMs: number): Promise<ReadyWait> {
  const deadline = Date.now() + timeoutMs;
  let healthTries = 0;
  let nextHealthTry = 0;
  let healthy = false;
  for (;;) {
    const facts = factsOf(id);
    if (facts === undefined) return { ok: false, reason: "was removed before it was ready" };
    if (facts.state === "exited" || facts.state === "dead") return { ok: false, reason: `exited (exit code ${facts.exitCode}) before it was ready` };
    const timeLeft = deadline - Date.now();
    if (facts.state === "running") {
      const tryMs = Math.max(1, Math.min(PROBE_TIMEOUT_MS, timeLeft));
      if (!healthy && (facts.healthTest === undefined || facts.health === "healthy")) healthy = true;
      if (!healthy && Date.now() >= nextHealthTry) {
        healthy = await runInContainer(id, facts.healthTest ?? [], tryMs).catch(() => false);
        healthTries += 1;
        nextHealthTry = Date.now() + Math.min(PROBE_PACE_MS * 2 ** healthTries, MAX_HEALTH_PACE_MS);
      }
      if (healthy && (await answers(facts, port, tryMs))) return { ok: true };
    }
    if (Date.now() >= deadline) return { ok: false, reason: `was not ready within ${formatSeconds(timeoutMs)} (${readinessText(factsOf(id) ?? facts, port, healthy)})` };
    await new Promise((resolve) => setTimeout(resolve, Math.min(PROBE_PACE_MS, Math.max(0, deadline - Date.now()))));
  }
}

/** Its health path's GET, or a TCP connect, on its own address. */
function answers(facts: ContainerFacts, port: number, timeoutMs: number): Promise<boolean> {
  const host = addressOf(facts);
  if (host === undefined) return Promise.resolve(false);
  const path = facts.labels[PROXY_LABELS.healthPath];
  return path === undefined ? tcpAccepts(host, port, timeoutMs) : httpAnswers(host, port, path, timeoutMs);
}

/** What it was still waiting for, for the refusal's one line. */
function readinessText(facts: ContainerFacts, port: number, healthy: boolean): string {
  if (facts.state !== "running") return `it is ${facts.state}`;
  if (!healthy) return "its Docker healthcheck does not pass";
  const path = facts.labels[PROXY_LABELS.healthPath];
  return path === undefined ? `nothing accepts connections on port ${port}` : `GET ${path} on port ${port} does not answer 2xx or 3xx`;
}
