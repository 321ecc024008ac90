import { atPosition } from "../errors.js";
import { type ConfigEntry, type ProxyConfig, trimSlashes } from "./config-file.js";
import { isHostName } from "./labels.js";
import type { ContainerFacts, DisabledRoute, Route, RouteSource } from "./model.js";
import { routeWithRequirements } from "./requirements.js";

/** What the proxy routes, what it refuses to route and why, and the clashes between its sources. */
export interface RouteTable {
  routes: Route[];
  disabled: DisabledRoute[];
  /** One line per clash: labels against the config file, or two routes claiming one host. */
  conflicts: string[];
  /** By a request's Host: exact name first, then the longest matching `*.` wildcard. */
  lookup(host: string): Route | undefined;
  byName(name: string): Route | undefined;
}

type Declared = Route | DisabledRoute;

function isRoute(declared: Declared): declared is Route {
  return "target" in declared;
}

/** `labels on shop-web-1`, `config.json:3:5`: where a route was declared. */
export function describeSource(source: RouteSource): string {
  return source.kind === "labels" ? `labels on ${source.container}` : `${source.file}:${source.line}:${source.col}`;
}

/**
 * Pure: the routes that the containers' labels and the config file declare. Labels win over the
 * file; two routes claiming one host are both disabled, never routed by guess.
 */
export function buildRouteTable(containers: readonly ContainerFacts[], config: ProxyConfig | undefined): RouteTable {
  const conflicts: string[] = [];
  const labelled = labelledRoutes(containers);
  const fromFile = (config?.entries ?? []).map((entry) => configRoute(entry, config?.file ?? "", containers));

  const kept = fromFile.filter((entry) => {
    const clash = labelsClash(entry, labelled);
    if (clash) conflicts.push(`${describeSource(entry.source)} (${entry.name}) is ignored: ${clash}; labels win over the config file`);
    return clash === undefined;
  });

  const declared = [...labelled, ...kept];
  const claimants = new Map<string, Route[]>();
  for (const route of declared.filter(isRoute)) {
    for (const host of route.hosts) claimants.set(host, [...(claimants.get(host) ?? []), route]);
  }
  const refused = new Map<Route, string[]>();
  for (const [host, routes] of claimants) {
    if (routes.length < 2) continue;
    conflicts.push(`host ${host} is claimed by ${routes.map(claimant).join(" and ")}: none of them is routed`);
    for (const route of routes) {
      const others = routes.filter((other) => other !== route).map(claimant);
      refused.set(route, [...(refused.get(route) ?? []), `host ${host} is also claimed by ${others.join(" and ")}`]);
    }
  }

  const routes: Route[] = [];
  const disabled: DisabledRoute[] = [];
  for (const entry of declared) {
    const reasons = isRoute(entry) ? refused.get(entry) : undefined;
    if (isRoute(entry) && reasons === undefined) routes.push(entry);
    else if (isRoute(entry)) disabled.push(disable(entry, reasons?.join("; ") ?? ""));
    else disabled.push(entry);
  }
  routes.sort(byRouteName);
  disabled.sort(byRouteName);
  return tableOf(routes, disabled, conflicts);
}

function byRouteName(a: Declared, b: Declared): number {
  return a.name.localeCompare(b.name);
}

function claimant(route: Route): string {
  return `${route.name} (${describeSource(route.source)})`;
}

function disable(route: Route, reason: string): DisabledRoute {
  return { name: route.name, project: route.project, hosts: route.hosts, reason, source: route.source };
}

/** Why the labels take this config entry's place, if they do: same name, same unit, or a shared host. */
function labelsClash(entry: Declared, labelled: readonly Declared[]): string | undefined {
  for (const route of labelled) {
    const by = describeSource(route.source);
    if (route.name === entry.name) return `${by} also route ${route.name}`;
    if (entry.project !== undefined && route.project === entry.project) return `${by} already route project ${route.project}`;
    const host = entry.hosts.find((host) => route.hosts.includes(host));
    if (host !== undefined) return `${by} also claim host ${host}`;
  }
  return undefined;
}

/**
 * One route per labelled compose service, from the container whose labels count: a running one
 * before a stopped one, the newest first. Named after the project, or `project/service` when the
 * project routes several services.
 */
function labelledRoutes(containers: readonly ContainerFacts[]): Declared[] {
  const chosen = new Map<string, { container: ContainerFacts; declared: Declared }>();
  for (const container of containers) {
    const declared = container.oneoff ? undefined : routeWithRequirements(container);
    if (declared === undefined) continue;
    const key = container.project === undefined ? `container ${container.name}` : `${container.project}/${container.service ?? ""}`;
    const current = chosen.get(key);
    if (current === undefined || counts(container, current.container)) chosen.set(key, { container, declared });
  }
  const servicesPerProject = new Map<string, number>();
  for (const { container } of chosen.values()) {
    if (container.project !== undefined)
      servicesPerProject.set(container.project, (servicesPerProject.get(container.project) ?? 0) + 1);
  }
  return [...chosen.values()].map(({ container, declared }) =>
    container.project !== undefined && (servicesPerProject.get(container.project) ?? 0) > 1
      ? { ...declared, name: `${container.project}/${container.service ?? ""}` }
      : declared,
  );
}

/** Whether `candidate`'s labels count over `current`'s, for two containers of one service. */
function counts(candidate: ContainerFacts, current: ContainerFacts): boolean {
  const running = (container: ContainerFacts) => container.state === "running";
  if (running(candidate) !== running(current)) return running(candidate);
  if (candidate.startedAt !== current.startedAt) return candidate.startedAt > current.startedAt;
  return candidate.name < current.name;
}

/** A config entry's route, its unit found by working dir first, then by project name. */
function configRoute(entry: ConfigEntry, file: string, containers: readonly ContainerFacts[]): Declared {
  const source = { kind: "config", file, line: entry.line, col: entry.col } as const;
  const units = entry.composeDir === undefined ? [] : projectsIn(entry.composeDir, containers);
  const named = containers.some((container) => !container.oneoff && container.project === entry.name);
  const fail = (reason: string): DisabledRoute => ({
    name: entry.name,
    hosts: entry.hosts,
    reason: atPosition(file, entry.line, entry.col, reason),
    source,
  });
  if (units.length > 1)
    return fail(`several compose projects have working dir ${entry.composeDir}: ${units.join(", ")}; which one to start is not guessed`);
  const project = units[0] ?? (named ? entry.name : undefined);
  if (project === undefined)
    return fail(
      entry.composeDir === undefined
        ? `no compose project is named ${entry.name}`
        : `no compose project has working dir ${entry.composeDir} or name ${entry.name}`,
    );
  return {
    name: entry.name,
    project,
    hosts: entry.hosts,
    mode: entry.mode,
    idleMs: entry.idleMs,
    startTimeoutMs: entry.startTimeoutMs,
    ...(entry.estimateMs === undefined ? {} : { estimateMs: entry.estimateMs }),
    ...(entry.theme === undefined ? {} : { theme: entry.theme }),
    ...(entry.displayName === undefined ? {} : { displayName: entry.displayName }),
    target: { kind: "host-port", port: entry.port },
    source,
  };
}

/** The compose projects whose containers were made in `dir`. */
function projectsIn(dir: string, containers: readonly ContainerFacts[]): string[] {
  const projects = containers
    .filter((container) => !container.oneoff && container.workingDir !== undefined && trimSlashes(container.workingDir) === dir)
    .flatMap((container) => (container.project === undefined ? [] : [container.project]));
  return [...new Set(projects)].sort();
}

function tableOf(routes: Route[], disabled: DisabledRoute[], conflicts: string[]): RouteTable {
  const exact = new Map<string, Route>();
  const wildcards = new Map<string, Route>();
  for (const route of routes) {
    for (const host of route.hosts) (host.startsWith("*.") ? wildcards : exact).set(host, route);
  }
  const named = new Map(routes.map((route) => [route.name, route]));
  return {
    routes,
    disabled,
    conflicts,
    lookup(host) {
      const name = requestHost(host);
      // A Host that is no plain name (a `*`, an address, stray characters) names no route.
      if (name.startsWith("*") || !isHostName(name)) return undefined;
      const found = exact.get(name);
      if (found) return found;
      // `a.b.example.com` tries `*.b.example.com`, then `*.example.com`, then `*.com`: longest suffix first.
      for (let dot = name.indexOf("."); dot !== -1; dot = name.indexOf(".", dot + 1)) {
        const wildcard = wildcards.get(`*${name.slice(dot)}`);
        if (wildcard) return wildcard;
      }
      return undefined;
    },
    byName: (name) => named.get(name),
  };
}

/** A Host header as a route's host: without its port, lower-case, no trailing dot. */
export function requestHost(header: string): string {
  const host = header.trim().toLowerCase();
  const withoutPort = host.startsWith("[") ? host.slice(0, host.indexOf("]") + 1) : host.replace(/:\d*$/, "");
  return withoutPort.replace(/\.$/, "");
}
