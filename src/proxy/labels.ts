import { parseDuration, parseIdle } from "./durations.js";
import { type ContainerFacts, type DisabledRoute, type Mode, MODES, type Route } from "./model.js";

const PREFIX = "deploy-vps.proxy.";

/** The labels a compose service opts in with. */
export const PROXY_LABELS = {
  host: "deploy-vps.proxy.host",
  port: "deploy-vps.proxy.port",
  mode: "deploy-vps.proxy.mode",
  idle: "deploy-vps.proxy.idle",
  startTimeout: "deploy-vps.proxy.start-timeout",
  estimate: "deploy-vps.proxy.estimate",
  theme: "deploy-vps.proxy.theme",
  displayName: "deploy-vps.proxy.display-name",
  // Wake chains (requirements.ts): what a container needs first, and how to tell it is ready.
  requires: "deploy-vps.proxy.requires",
  wants: "deploy-vps.proxy.wants",
  check: "deploy-vps.proxy.check",
  checkInterval: "deploy-vps.proxy.check-interval",
  checkTimeout: "deploy-vps.proxy.check-timeout",
  checkRetries: "deploy-vps.proxy.check-retries",
  // Read by the next issues (blue-green); accepted now so that stacks labelled for them are routed.
  deploy: "deploy-vps.proxy.deploy",
  healthPath: "deploy-vps.proxy.health-path",
  drain: "deploy-vps.proxy.drain",
} as const;

/**
 * Labels that do not ask for a route on their own: a service carrying only these is no route
 * (a dependency may carry `requires` or a `check`, or a display name for its progress line).
 */
const RESERVED_LABELS: ReadonlySet<string> = new Set([
  PROXY_LABELS.requires,
  PROXY_LABELS.wants,
  PROXY_LABELS.check,
  PROXY_LABELS.checkInterval,
  PROXY_LABELS.checkTimeout,
  PROXY_LABELS.checkRetries,
  PROXY_LABELS.deploy,
  PROXY_LABELS.healthPath,
  PROXY_LABELS.drain,
  PROXY_LABELS.displayName,
]);

export const DEFAULT_IDLE_MS = 30 * 60_000;
export const DEFAULT_START_TIMEOUT_MS = 5 * 60_000;

const KNOWN_LABELS: ReadonlySet<string> = new Set(Object.values(PROXY_LABELS));

/** One DNS label: letters, digits and inner hyphens, at most 63 characters. */
const DNS_LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;
const MAX_HOST_LENGTH = 253;

/** `Docs.Example.com.` -> `docs.example.com`: the form hosts are compared in. */
export function normaliseHost(host: string): string {
  return host.trim().toLowerCase().replace(/\.$/, "");
}

/** A normalised host name, `*.` in front allowed (a wildcard over one or more labels). */
export function isHostName(host: string): boolean {
  const name = host.startsWith("*.") ? host.slice(2) : host;
  return name.length > 0 && name.length <= MAX_HOST_LENGTH && name.split(".").every((label) => DNS_LABEL.test(label));
}

/** The seed's `hackerTerminal` (or `hacker_terminal`) is our `hacker-terminal`: built-in themes are kebab-case. */
export function normaliseTheme(theme: string): string {
  return theme
    .trim()
    .replace(/([a-z0-9])([A-Z])/g, "$1-$2")
    .replaceAll("_", "-")
    .toLowerCase();
}

/**
 * A theme names a built-in page or a custom theme's file (`NAME.html` in the themes folder):
 * a plain file name, never a path (no `/`, no `.`, so never `..`).
 */
export function isThemeName(theme: string): boolean {
  return /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/.test(theme);
}

export const THEME_NAME_RULE = "letters, digits, hyphens and underscores, e.g. matrix, hacker-terminal, myTheme";

/** What the waiting page calls a service: trimmed; undefined when empty or longer than this. */
export const MAX_DISPLAY_NAME = 100;
export function parseDisplayName(text: string): string | undefined {
  const name = text.trim();
  return name !== "" && [...name].length <= MAX_DISPLAY_NAME ? name : undefined;
}

/** Comma-separated hosts, normalised and deduplicated; `bad` lists those that are no host name. */
export function parseHosts(items: readonly string[]): { hosts: string[]; bad: string[] } {
  const all = items.map(normaliseHost).filter((host) => host !== "");
  return {
    hosts: [...new Set(all.filter(isHostName))],
    bad: all.filter((host) => !isHostName(host)),
  };
}

export function isMode(text: string): text is Mode {
  return (MODES as readonly string[]).includes(text);
}

/**
 * The route a container's labels declare, a DisabledRoute naming every bad label, or undefined
 * when it has no `deploy-vps.proxy.*` label but those that do not ask for a route (a dependency
 * may carry `requires`, `check`, or `idle` without `host` and `port`: its idle policy). Named
 * after its compose project; the route table renames it `project/service` when the project
 * routes several services.
 */
export function routeFromLabels(container: ContainerFacts): Route | DisabledRoute | undefined {
  const keys = Object.keys(container.labels).filter((key) => key.startsWith(PREFIX));
  const dependencyIdle = container.labels[PROXY_LABELS.host] === undefined && container.labels[PROXY_LABELS.port] === undefined;
  if (keys.every((key) => RESERVED_LABELS.has(key) || (dependencyIdle && key === PROXY_LABELS.idle))) return undefined;
  const problems: string[] = [];
  const value = (label: string): string | undefined => container.labels[label];
  const bad = (label: string, text: string, what: string) =>
    problems.push(`label ${label} on ${container.name}: ${quoteValue(text)} ${what}`);
  const missing = (label: string, what: string) => problems.push(`label ${label} on ${container.name} is missing (${what})`);

  for (const key of keys.filter((key) => !KNOWN_LABELS.has(key))) {
    problems.push(
      `label ${key} on ${container.name} (${quoteValue(value(key) ?? "")}): not a label deploy-vps knows; did you mean ${closestLabel(key)}?`,
    );
  }

  const hostText = value(PROXY_LABELS.host);
  const { hosts, bad: badHosts } = parseHosts(hostText?.split(",") ?? []);
  if (hostText === undefined || (hosts.length === 0 && badHosts.length === 0))
    missing(PROXY_LABELS.host, "the host names to route, e.g. docs.example.com");
  else if (badHosts.length > 0)
    bad(PROXY_LABELS.host, badHosts.join(", "), "is not a host name (e.g. docs.example.com, *.example.com)");

  const portText = value(PROXY_LABELS.port);
  const port = portText === undefined ? undefined : parsePort(portText);
  if (portText === undefined) missing(PROXY_LABELS.port, "the container's port, 1-65535");
  else if (port === undefined) bad(PROXY_LABELS.port, portText, "is not a port (1-65535)");

  const modeLabel = value(PROXY_LABELS.mode);
  const modeText = modeLabel?.trim().toLowerCase() ?? "dynamic";
  if (!isMode(modeText)) bad(PROXY_LABELS.mode, modeLabel ?? "", `is not a mode (${MODES.join(", ")})`);

  const idleText = value(PROXY_LABELS.idle);
  const idleMs = idleText === undefined ? DEFAULT_IDLE_MS : parseIdle(idleText);
  if (idleMs === undefined || idleMs === 0) bad(PROXY_LABELS.idle, idleText ?? "", "is not a duration (e.g. 30m, 1h, never)");

  const duration = (label: string, fallback?: number): number | undefined => {
    const text = value(label);
    if (text === undefined) return fallback;
    const ms = parseDuration(text);
    if (ms === undefined || ms === 0) bad(label, text, "is not a duration (e.g. 30s, 5m, 1h30m)");
    return ms;
  };
  const startTimeoutMs = duration(PROXY_LABELS.startTimeout, DEFAULT_START_TIMEOUT_MS);
  const estimateMs = duration(PROXY_LABELS.estimate);

  // As written: a custom theme's file is found by the name the user gave it.
  const theme = value(PROXY_LABELS.theme)?.trim();
  if (theme !== undefined && !isThemeName(theme)) bad(PROXY_LABELS.theme, theme, `is not a theme name (${THEME_NAME_RULE})`);

  const displayNameText = value(PROXY_LABELS.displayName);
  const displayName = displayNameText === undefined ? undefined : parseDisplayName(displayNameText);
  if (displayNameText !== undefined && displayName === undefined)
    bad(PROXY_LABELS.displayName, displayNameText, `is not a display name (some text, at most ${MAX_DISPLAY_NAME} characters)`);

  if (container.project === undefined || container.service === undefined)
    problems.push(`container ${container.name} has ${PREFIX}* labels but is not part of a compose project`);

  const name = container.project ?? container.name;
  const source = { kind: "labels", container: container.name } as const;
  // Each undefined below has already added its problem; naming them narrows the types.
  if (
    problems.length > 0 ||
    port === undefined ||
    !isMode(modeText) ||
    idleMs === undefined ||
    startTimeoutMs === undefined ||
    container.project === undefined ||
    container.service === undefined
  ) {
    return { name, project: container.project, hosts, reason: problems.join("; "), source };
  }
  return {
    name,
    project: container.project,
    hosts,
    mode: modeText,
    idleMs,
    startTimeoutMs,
    ...(estimateMs === undefined ? {} : { estimateMs }),
    ...(theme === undefined ? {} : { theme }),
    ...(displayName === undefined ? {} : { displayName }),
    target: { kind: "container", service: container.service, port },
    source,
  };
}

/** A value as a reason shows it: quoted, on one line, cut short when long. */
export function quoteValue(text: string): string {
  // JSON's escapes keep a newline or a control character from breaking the reason's one line.
  const line = JSON.stringify(text).slice(1, -1);
  return `'${line.length > MAX_SHOWN ? `${line.slice(0, MAX_SHOWN)}...` : line}'`;
}
const MAX_SHOWN = 80;

export function parsePort(text: string): number | undefined {
  const trimmed = text.trim();
  const port = Number(trimmed);
  return /^\d{1,5}$/.test(trimmed) && port >= 1 && port <= 65535 ? port : undefined;
}

/** The known label nearest to a mistyped one (fewest edits), for the reason's hint. */
function closestLabel(key: string): string {
  let best: string = PROXY_LABELS.host;
  let bestDistance = Infinity;
  for (const label of KNOWN_LABELS) {
    const distance = editDistance(key, label);
    if (distance < bestDistance) [best, bestDistance] = [label, distance];
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}
