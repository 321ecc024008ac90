/**
 * What a container's labels declare for wake chains: what it needs started first
 * (`requires`, `wants`), how to tell it is ready (`check*`), and, on a container that is no
 * route, how long it may stay up unneeded (`idle`). Pure: the graph is built from these later.
 */
import { parseDuration, parseIdle } from "./durations.js";
import { parsePort, PROXY_LABELS, quoteValue, routeFromLabels } from "./labels.js";
import type {
  Awaited,
  CheckProbe,
  ContainerFacts,
  DependencyFacts,
  DisabledRoute,
  Need,
  ReadinessCheck,
  Requirement,
  Route,
} from "./model.js";

export const DEFAULT_CHECK_INTERVAL_MS = 1000;
export const DEFAULT_CHECK_TIMEOUT_MS = 60_000;

/** As many tries as fit in the timeout: one at once, then one per interval. */
export function defaultRetries(intervalMs: number, timeoutMs: number): number {
  return Math.floor(timeoutMs / intervalMs) + 1;
}

/** Compose's words for depends_on conditions, and ours. */
const CONDITIONS: Readonly<Record<string, Awaited>> = {
  started: "started",
  healthy: "ready",
  completed: "completed",
  service_started: "started",
  service_healthy: "ready",
  service_completed_successfully: "completed",
};
const CONDITION_WORDS = "started, healthy or completed";

/** A compose project's name (compose's own rule), a service's, a container's. */
const PROJECT = /^[a-z0-9][a-z0-9_-]*$/;
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

export function dependencyLabels(container: ContainerFacts): { facts: DependencyFacts; problems: string[] } {
  const problems: string[] = [];
  const value = (label: string): string | undefined => container.labels[label];
  const bad = (label: string, text: string, what: string) =>
    problems.push(`label ${label} on ${container.name}: ${quoteValue(text)} ${what}`);

  const requirements = [
    ...requirementsOf(PROXY_LABELS.requires, "required"),
    ...requirementsOf(PROXY_LABELS.wants, "optional"),
  ];

  function requirementsOf(label: string, need: Need): Requirement[] {
    const text = value(label);
    if (text === undefined) return [];
    const items = text.split(",").map((item) => item.trim());
    if (items.every((item) => item === "")) {
      bad(label, text, "names nothing (e.g. databases/postgresql, mysql-clemence:healthy)");
      return [];
    }
    const source = `label ${label} on ${container.name}`;
    return items.flatMap((item) => {
      if (item === "") {
        bad(label, text, "has an empty item between its commas");
        return [];
      }
      const parsed = parseRequirement(item);
      if (typeof parsed === "string") {
        bad(label, item, parsed);
        return [];
      }
      return [{ ...parsed, need, source }];
    });
  }

  const check = readinessCheck();
  function readinessCheck(): ReadinessCheck | undefined {
    const text = value(PROXY_LABELS.check);
    const settings = [PROXY_LABELS.checkInterval, PROXY_LABELS.checkTimeout, PROXY_LABELS.checkRetries];
    if (text === undefined) {
      for (const label of settings.filter((label) => value(label) !== undefined))
        bad(label, value(label) ?? "", `does nothing without ${PROXY_LABELS.check}`);
      return undefined;
    }
    const before = problems.length;
    const probe = parseCheckProbe(text);
    if (typeof probe === "string") bad(PROXY_LABELS.check, text, probe);
    const duration = (label: string, fallback: number): number => {
      const written = value(label);
      if (written === undefined) return fallback;
      const ms = parseDuration(written);
      if (ms === undefined || ms === 0) bad(label, written, "is not a duration (e.g. 500ms, 2s, 1m)");
      return ms ?? fallback;
    };
    const intervalMs = duration(PROXY_LABELS.checkInterval, DEFAULT_CHECK_INTERVAL_MS);
    const timeoutMs = duration(PROXY_LABELS.checkTimeout, DEFAULT_CHECK_TIMEOUT_MS);
    const retriesText = value(PROXY_LABELS.checkRetries);
    const retries = retriesText === undefined ? undefined : parseRetries(retriesText);
    if (retriesText !== undefined && retries === undefined) bad(PROXY_LABELS.checkRetries, retriesText, "is not a whole number of tries, 1 or more");
    // A check with a bad part is no check: the problem disables what relies on it.
    if (typeof probe === "string" || problems.length > before) return undefined;
    return { probe, intervalMs, timeoutMs, retries: retries ?? defaultRetries(intervalMs, timeoutMs) };
  }

  // On a route, `idle` is the route's own; only a container that is no route has a dependency's idle policy.
  const idleText = value(PROXY_LABELS.idle);
  const routed = value(PROXY_LABELS.host) !== undefined || value(PROXY_LABELS.port) !== undefined;
  const idle = idleText === undefined || routed ? undefined : parseIdle(idleText);
  if (idleText !== undefined && !routed && (idle === undefined || idle === 0))
    bad(PROXY_LABELS.idle, idleText, "is not a duration (e.g. 10m, 1h, never)");

  return {
    facts: {
      requirements,
      ...(check === undefined ? {} : { check }),
      ...(typeof idle === "number" && idle > 0 ? { idleMs: idle } : {}),
    },
    problems,
  };
}

/** The route a container's labels declare, disabled too by a bad wake-chain label on it. */
export function routeWithRequirements(container: ContainerFacts): Route | DisabledRoute | undefined {
  const declared = routeFromLabels(container);
  const { problems } = dependencyLabels(container);
  if (declared === undefined || problems.length === 0) return declared;
  const reasons = "reason" in declared ? [declared.reason, ...problems] : problems;
  return { name: declared.name, project: declared.project, hosts: declared.hosts, reason: reasons.join("; "), source: declared.source };
}

/** `project/service[:condition]` or `container[:condition]`; a string says what is wrong. */
function parseRequirement(item: string): Pick<Requirement, "target" | "until"> | string {
  const [name = "", condition, ...rest] = item.split(":").map((part) => part.trim());
  if (rest.length > 0) return `has more than one ':' (write NAME:CONDITION, CONDITION ${CONDITION_WORDS})`;
  const until = condition === undefined ? "ready" : CONDITIONS[condition.toLowerCase()];
  if (until === undefined) return `has no condition ${quoteValue(condition ?? "")} (${CONDITION_WORDS})`;
  const parts = name.split("/");
  if (parts.length === 1) {
    return NAME.test(name) ? { target: { container: name }, until } : `is not a container name (letters, digits, '.', '_', '-')`;
  }
  const [project = "", service = ""] = parts;
  if (parts.length > 2 || !PROJECT.test(project) || !NAME.test(service))
    return "is not PROJECT/SERVICE (a compose project and one of its services, e.g. databases-shared/postgresql)";
  return { target: { project, service }, until };
}

/** `tcp PORT`, `http PORT [/path]`, `cmd SHELL COMMAND`; a string says what is wrong. */
export function parseCheckProbe(text: string): CheckProbe | string {
  const trimmed = text.trim();
  const [kind = "", ...words] = trimmed.split(/\s+/);
  const usage = "is not a check (tcp PORT, http PORT /path, cmd COMMAND)";
  switch (kind.toLowerCase()) {
    case "tcp": {
      const port = words.length === 1 ? parsePort(words[0] ?? "") : undefined;
      return port === undefined ? `${usage}: tcp takes one port, 1-65535` : { kind: "tcp", port };
    }
    case "http": {
      const port = words.length === 1 || words.length === 2 ? parsePort(words[0] ?? "") : undefined;
      const path = words[1] ?? "/";
      if (port === undefined || !path.startsWith("/")) return `${usage}: http takes a port, 1-65535, and a path starting with /`;
      return { kind: "http", port, path };
    }
    case "cmd": {
      const command = trimmed.slice(kind.length).trim();
      return command === "" ? `${usage}: cmd takes the command to run inside the container` : { kind: "command", command };
    }
    default:
      return usage;
  }
}

function parseRetries(text: string): number | undefined {
  const trimmed = text.trim();
  const retries = Number(trimmed);
  return /^\d+$/.test(trimmed) && Number.isSafeInteger(retries) && retries >= 1 ? retries : undefined;
}
