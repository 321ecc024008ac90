/**
 * The audit's verdicts, decided: nginx's sites, the proxy's routes and Docker's containers
 * checked against each other. Pure: the CLI reads the server once and renders what this returns.
 */
import { isWildcardName, serverNameMatches, type Site, type SiteLocation, type UpstreamServer } from "../nginx/sites.js";
import type { ProxyConfig } from "../proxy/config-file.js";
import type { DependenciesFile } from "../proxy/dependencies-file.js";
import { fileDependencies } from "../proxy/dependencies-file.js";
import { formatDuration } from "../proxy/durations.js";
import type { ContainerFacts, DisabledRoute, Route } from "../proxy/model.js";
import { buildRouteTable, describeSource, type RouteTable } from "../proxy/routes.js";
import { type Address, formatAddress } from "../proxy/serve-options.js";
import type { ServiceStatus, StatusDocument } from "../proxy/status.js";
import { declaredDependencies, type DependencyGraph, dependencyGraph } from "../proxy/wake-chain.js";
import type { Listener } from "./gather.js";

export const KINDS = ["through-proxy", "direct", "bypass", "no-site", "dangling", "orphan", "unmanaged", "broken-dependency"] as const;
export type AuditKind = (typeof KINDS)[number];

/** The kinds that are no finding: traffic goes through the proxy, or straight on purpose. */
const FINE: ReadonlySet<AuditKind> = new Set(["through-proxy", "direct"]);

/** One line of the audit (the JSON contract's row, plus what the text and markdown show). */
export interface AuditRow {
  kind: AuditKind;
  host: string | null;
  project: string | null;
  service: string | null;
  /** Where nginx sends it (`127.0.0.1:8002`), or what a declaration names. */
  target: string | null;
  /** The line behind the verdict: nginx's proxy_pass, else the proxy's declaration. */
  file: string | null;
  line: number | null;
  detail: string;
  /** Every source line behind the verdict, `FILE:LINE: what it says`. */
  evidence: string[];
  /** What the project's running containers use now. */
  memoryBytes: number | null;
  /** The route the row is about, when there is one (for the docs table and the fix). */
  route?: string;
  /** For a bypass the fix can send through the proxy: its proxy_pass. */
  passes?: { file: string; line: number; col: number }[];
  /** For a route without a site: every host of the route, for the site the fix writes. */
  hosts?: string[];
}

export interface AuditFacts {
  sites: readonly Site[];
  containers: readonly ContainerFacts[];
  config?: ProxyConfig;
  dependencies?: DependenciesFile;
  status?: StatusDocument;
  memory: ReadonlyMap<string, number>;
  listening: readonly Listener[];
  /** Where the proxy listens: a proxy_pass there goes through it. */
  proxy: Address;
  /** The server's own addresses (a proxy_pass to one of them stays on this server). */
  addresses: readonly string[];
  /** The proxy's own compose project: never reported as unmanaged. */
  proxyProject: string;
}

export interface AuditVerdict {
  rows: AuditRow[];
  /** One per route: what the docs table shows. */
  services: ServiceLine[];
}

/** A line of `audit --markdown`: what the seed's sync script wrote, from what runs. */
export interface ServiceLine {
  name: string;
  hosts: string[];
  mode: string;
  theme: string | null;
  idle: string;
  state: string | null;
  memoryBytes: number | null;
  routed: (typeof ROUTED)[number][1] | "no nginx site";
}

/** How the docs table says a route is reached, the best of its rows first. */
const ROUTED = [
  ["through-proxy", "through the proxy"],
  ["bypass", "bypass"],
  ["direct", "direct"],
  ["dangling", "down"],
] as const;

export function isFinding(row: AuditRow): boolean {
  return !FINE.has(row.kind);
}

const LOOPBACK = new Set(["127.0.0.1", "localhost", "::1", "0.0.0.0", "::", "[::1]", "[::]"]);

/** A host nginx reaches on this machine: loopback or any, or one of the addresses it listens on. */
function isLocal(host: string, listening: readonly Listener[]): boolean {
  return LOOPBACK.has(host) || host.startsWith("127.") || listening.some((listener) => listener.address === host);
}

/** Something listens on HOST:PORT, on that address or on every one. */
export function listensOn(listening: readonly Listener[], host: string, port: number): boolean {
  const wanted = host === "localhost" || host === "[::1]" ? ["127.0.0.1", "::1"] : [host.replace(/^\[|\]$/g, "")];
  return listening.some((l) => l.port === port && (l.address === "0.0.0.0" || l.address === "::" || wanted.includes(l.address)));
}

const where = (file: string, line: number) => `${file}:${line}`;
const projectMemory = (containers: readonly ContainerFacts[], memory: ReadonlyMap<string, number>) => {
  const used = containers.filter((c) => c.state === "running").map((c) => memory.get(c.id));
  return used.some((bytes) => bytes !== undefined) ? used.reduce<number>((sum, bytes) => sum + (bytes ?? 0), 0) : null;
};

/** A server block as the verdicts see it. */
interface SiteView {
  site: Site;
  /** Exact names and `*.` wildcards. */
  hosts: string[];
  /** `_`, a regex name, no name or default_server: it gets every host no other server names. */
  catchAll: boolean;
  /** `# deploy-vps: direct` in the block, or one of its hosts in the config's direct list. */
  marked: boolean;
  /** Its server_names as written, for messages. */
  label: string;
}

type RowBase = Pick<AuditRow, "host" | "file" | "line" | "target" | "evidence">;

function isCatchAll(site: Site): boolean {
  return site.serverNames.length === 0 || site.serverNames.some((name) => name === "_" || name === "" || name.startsWith("~")) || site.listens.some((listen) => /\bdefault_server\b|\bdefault\b/.test(listen));
}

function describeTarget(target: UpstreamServer): string {
  return target.unix !== undefined ? `unix:${target.unix}` : target.host !== undefined && target.port !== undefined ? `${target.host}:${target.port}` : target.address;
}

/** `.example.com` is both example.com and its subdomains; a `~regex` name is no host to look up. */
function siteHosts(site: Site): string[] {
  return site.serverNames.flatMap((name) => (name.startsWith(".") ? [name.slice(1), `*${name}`] : name === "_" || name === "" || name.startsWith("~") ? [] : [name]));
}

export function auditVerdict(facts: AuditFacts): AuditVerdict {
  const containers = facts.containers.filter((c) => !c.oneoff);
  const table = buildRouteTable(containers, facts.config);
  const direct = new Set(facts.config?.direct ?? []);
  const byProject = groupBy(containers, (c) => c.project ?? `container ${c.name}`);
  const statusOf = new Map<string, ServiceStatus>((facts.status?.services ?? []).map((s) => [s.name, s]));
  const memoryOf = (project: string | undefined) => (project === undefined ? null : projectMemory(byProject.get(project) ?? [], facts.memory));
  const onThisServer = (host: string) => isLocal(host, facts.listening) || facts.addresses.includes(host);
  const rows: AuditRow[] = [];
  const reached = new Set<string>();
  const bypassed = new Set<string>();
  const sentTo = new Set<string>();
  // Hosts some server names exactly: a catch-all server reaches only the routes none of them claims.
  const named = new Set(facts.sites.flatMap((site) => siteHosts(site)));

  /** The containers behind HOST:PORT: publishing it here, or holding that address on a Docker network. */
  const ownersOf = (host: string, port: number) =>
    containers.filter((c) => (onThisServer(host) && c.published.some((p) => p.hostPort === port)) || Object.values(c.addresses).includes(host));

  /** The route whose service listens at HOST:PORT: a config entry's host port, or a routed project's container. */
  const managedAt = (host: string, port: number): { route: Route; why: string } | undefined => {
    const entry = table.routes.find((route) => route.target.kind === "host-port" && route.target.port === port && onThisServer(host));
    if (entry) return { route: entry, why: `the proxy routes ${entry.name} to port ${port} (${describeSource(entry.source)})` };
    for (const container of ownersOf(host, port)) {
      const route = table.routes.find((r) => r.project === container.project);
      if (route) return { route, why: `${container.name} (${route.name}, routed by ${describeSource(route.source)}) listens there` };
    }
    return undefined;
  };

  for (const site of facts.sites) {
    const hosts = siteHosts(site);
    const view: SiteView = { site, hosts, catchAll: isCatchAll(site), marked: site.direct || hosts.some((host) => direct.has(host)), label: site.serverNames.join(" ") || "_" };
    for (const location of site.locations) {
      const pass = location.proxyPass;
      // The backup servers only answer when the others fail: the verdict is the primary ones'.
      const primary = pass.targets.filter((t) => !t.backup);
      const targets = primary.length > 0 ? primary : pass.targets;
      const evidence = [`${where(pass.file, pass.line)}: proxy_pass ${pass.value} (server ${view.label}, ${where(site.file, site.line)})`];
      const base: RowBase = { host: view.hosts[0] ?? view.label, file: pass.file, line: pass.line, target: targets[0] ? describeTarget(targets[0]) : pass.value, evidence };
      if (pass.variable) {
        rows.push({ ...base, target: pass.value, kind: view.marked ? "direct" : "unmanaged", project: null, service: null, memoryBytes: null, detail: `proxy_pass ${pass.value} holds a variable: where it sends cannot be known before a request` });
        continue;
      }
      const toProxy = targets.some((t) => t.port === facts.proxy.port && t.host !== undefined && (onThisServer(t.host) || t.host === facts.proxy.host));
      if (toProxy) rows.push(...throughProxy(view, base));
      else rows.push(straight(view, location, targets[0], base));
    }
  }

  function throughProxy(view: SiteView, base: RowBase): AuditRow[] {
    const proxyUp = listensOn(facts.listening, facts.proxy.host, facts.proxy.port);
    const found = new Map<Route, string[]>();
    const unrouted: string[] = [];
    for (const host of view.hosts) {
      const routes = isWildcardName(host) ? table.routes.filter((r) => r.hosts.some((h) => h === host || serverNameMatches(host, h))) : [table.lookup(host) ?? table.routes.find((r) => r.hosts.includes(host))];
      const known = routes.filter((route): route is Route => route !== undefined);
      for (const route of known) found.set(route, [...(found.get(route) ?? []), host]);
      if (known.length === 0 && !isWildcardName(host)) unrouted.push(host);
    }
    if (view.catchAll) {
      for (const route of table.routes.filter((r) => !r.hosts.some((h) => named.has(h)))) found.set(route, [...(found.get(route) ?? []), view.label]);
    }
    const out: AuditRow[] = [];
    for (const [route, names] of found) {
      reached.add(route.name);
      const state = statusOf.get(route.name)?.state ?? null;
      const evidence = [...base.evidence, `${describeSource(route.source)}: route ${route.name} for ${route.hosts.join(" ")} (project ${route.project})`];
      const hosts = names.filter((name) => !isWildcardName(name) && name !== view.label);
      out.push({
        ...base,
        evidence,
        host: hosts[0] ?? route.hosts[0] ?? view.label,
        kind: proxyUp ? "through-proxy" : "dangling",
        project: route.project,
        service: serviceOf(route),
        route: route.name,
        memoryBytes: memoryOf(route.project),
        detail: proxyUp
          ? `nginx sends ${names.join(", ")} to the proxy, which routes ${route.name}${state ? ` (${state})` : ""}`
          : `nginx sends ${names.join(", ")} to the proxy at ${formatAddress(facts.proxy)}, but nothing listens there: the site is down`,
      });
    }
    if (unrouted.length > 0) {
      const refusedBy = table.disabled.find((d) => d.hosts.some((h) => unrouted.includes(h)));
      out.push({
        ...base,
        kind: view.marked ? "direct" : "dangling",
        host: unrouted[0] ?? null,
        project: refusedBy?.project ?? null,
        service: null,
        memoryBytes: null,
        detail: refusedBy
          ? `nginx sends ${unrouted.join(", ")} to the proxy, which refuses route ${refusedBy.name}: ${refusedBy.reason}`
          : `nginx sends ${unrouted.join(", ")} to the proxy, which has no route for ${unrouted.length > 1 ? "them" : "it"}`,
      });
    }
    return out;
  }

  function straight(view: SiteView, location: SiteLocation, target: UpstreamServer | undefined, base: RowBase): AuditRow {
    const { marked } = view;
    const sent = view.hosts.join(", ") || view.label;
    const elsewhere = target?.host !== undefined && !onThisServer(target.host) && !containers.some((c) => Object.values(c.addresses).includes(target.host ?? ""));
    if (target === undefined || target.host === undefined || target.port === undefined || elsewhere) {
      const what = target?.unix !== undefined ? "a unix socket, not a container" : elsewhere ? "an address that is not this server's: not checked" : "no container";
      return { ...base, kind: marked ? "direct" : "unmanaged", project: null, service: null, memoryBytes: null, detail: `nginx sends ${sent} to ${base.target}, ${what}${marked ? ", on purpose (marked direct)" : ""}` };
    }
    const address = `${target.host}:${target.port}`;
    const managed = managedAt(target.host, target.port);
    if (managed) {
      const { route } = managed;
      bypassed.add(route.name);
      const running = (byProject.get(route.project) ?? []).some((c) => c.state === "running");
      // Only a site whose own host the proxy routes to this service can be sent through it as it is.
      const routesHere = view.hosts.some((host) => table.lookup(host) === route);
      const inSiteFile = location.proxyPass.file === view.site.file;
      const fixable = routesHere && inSiteFile;
      return {
        ...base,
        evidence: [...base.evidence, managed.why],
        kind: marked || direct.has(route.project) ? "direct" : "bypass",
        project: route.project,
        service: serviceOf(route),
        route: route.name,
        memoryBytes: memoryOf(route.project),
        ...(fixable ? { passes: [{ file: location.proxyPass.file, line: location.proxyPass.line, col: location.proxyPass.col }] } : {}),
        detail:
          `nginx sends ${sent} straight to ${address}: the proxy never starts ${route.name} on demand nor stops it when idle${running ? "" : " (it is stopped now: the site answers 502)"}` +
          (routesHere ? (inSiteFile ? "" : `; the proxy_pass is in ${location.proxyPass.file}, a file other sites may include: change it by hand`) : `; the proxy routes none of this site's hosts to ${route.name}: add them to the route first`),
      };
    }
    const owners = ownersOf(target.host, target.port);
    const running = owners.find((c) => c.state === "running");
    if (!running && !listensOn(facts.listening, target.host, target.port)) {
      const stopped = owners[0];
      return {
        ...base,
        kind: "dangling",
        project: stopped?.project ?? null,
        service: stopped?.service ?? null,
        memoryBytes: null,
        detail: `nothing listens on ${address}${stopped ? ` (${stopped.name} publishes it but is ${stopped.state})` : ""}: nginx answers 502 for ${sent}`,
      };
    }
    const project = running?.project ?? (running ? `container ${running.name}` : undefined);
    if (project !== undefined) sentTo.add(project);
    return {
      ...base,
      kind: marked || (project !== undefined && direct.has(project)) ? "direct" : "unmanaged",
      project: running?.project ?? null,
      service: running?.service ?? running?.name ?? null,
      memoryBytes: memoryOf(project),
      detail: `nginx sends ${sent} straight to ${running ? running.name : `${address}, where a process outside Docker listens`}${
        marked ? ", on purpose (marked direct)" : running ? ", which no route declares: route it through the proxy, or mark it direct" : ""
      }`,
    };
  }

  // Routes no nginx site sends traffic to.
  for (const route of table.routes) {
    if (reached.has(route.name) || bypassed.has(route.name)) continue;
    rows.push({
      kind: route.hosts.some((host) => direct.has(host)) || direct.has(route.project) ? "direct" : "no-site",
      host: route.hosts[0] ?? null,
      project: route.project,
      service: serviceOf(route),
      target: null,
      ...declaredAt(route),
      memoryBytes: memoryOf(route.project),
      route: route.name,
      hosts: route.hosts,
      evidence: [`${describeSource(route.source)}: route ${route.name} for ${route.hosts.join(" ") || "no host"}`],
      detail: route.hosts.length === 0 ? `the proxy routes ${route.name}, but it names no host, so no nginx site can reach it` : `no nginx site sends ${route.hosts.join(", ")} to the proxy: ${route.name} is never woken`,
    });
  }
  rows.push(...refusedRoutes(table.disabled));
  const joined = joinDependencies(containers, facts.dependencies);
  rows.push(...brokenDependencies(containers, joined, facts.dependencies));

  // Running stacks that nothing routes, declares or needs.
  const routedProjects = new Set([...table.routes, ...table.disabled].flatMap((r) => (r.project === undefined ? [] : [r.project])));
  const needed = neededProjects(containers, joined);
  for (const [project, members] of byProject) {
    if (!members.some((c) => c.state === "running")) continue;
    if (project === facts.proxyProject || routedProjects.has(project) || sentTo.has(project) || needed.has(project)) continue;
    const name = members[0]?.project === undefined ? members[0]?.name : undefined;
    rows.push({
      kind: direct.has(project) ? "direct" : "unmanaged",
      host: null,
      project: name === undefined ? project : null,
      service: name ?? null,
      target: null,
      file: null,
      line: null,
      memoryBytes: memoryOf(project),
      evidence: members.map((c) => `docker: ${c.name} ${c.state}`),
      detail: `runs, but no nginx site and no route reach it: a candidate for on-demand start`,
    });
  }

  rows.sort((a, b) => KINDS.indexOf(b.kind) - KINDS.indexOf(a.kind) || (a.host ?? a.project ?? "").localeCompare(b.host ?? b.project ?? ""));
  return { rows, services: serviceLines(table, rows, statusOf, memoryOf) };
}

function serviceOf(route: Route): string | null {
  return route.target.kind === "container" ? route.target.service : null;
}

function declaredAt(declared: Route | DisabledRoute): { file: string | null; line: number | null } {
  return declared.source.kind === "config" ? { file: declared.source.file, line: declared.source.line } : { file: null, line: null };
}

/** Routes the proxy refuses: naming nothing that exists (orphan), a bad dependency, or another reason. */
function refusedRoutes(disabled: readonly DisabledRoute[]): AuditRow[] {
  return disabled.map((route) => {
    // The reason without the file:line:col it may start with (a path could hold any word).
    const reason = route.reason.replace(/^.*?:\d+:\d+: /, "");
    const missing = /^no compose project/.test(reason);
    const dependency = /\b(requires|wants|depends_on)\b/.test(reason);
    return {
      kind: missing ? "orphan" : dependency ? "broken-dependency" : "dangling",
      host: route.hosts[0] ?? null,
      project: route.project ?? null,
      service: null,
      target: null,
      ...declaredAt(route),
      memoryBytes: null,
      route: route.name,
      evidence: [`${describeSource(route.source)}: ${route.name}`],
      detail: missing ? route.reason : `the proxy refuses route ${route.name}: ${route.reason}`,
    };
  });
}

/** Every container joined by what it needs, as the daemon joins them: labels, then the dependencies file. */
interface Dependencies {
  graph: DependencyGraph;
  labelProblems: { container: ContainerFacts; problem: string }[];
  fromFile?: ReturnType<typeof fileDependencies>;
}

function joinDependencies(containers: readonly ContainerFacts[], dependencies: DependenciesFile | undefined): Dependencies {
  const fromFile = dependencies === undefined ? undefined : fileDependencies(dependencies);
  const { declared, problems } = declaredDependencies(containers, fromFile?.byContainer ?? new Map());
  const byId = new Map(containers.map((c) => [c.id, c]));
  const labelProblems = [...problems].flatMap(([id, found]) => {
    const container = byId.get(id);
    return container ? found.map((problem) => ({ container, problem })) : [];
  });
  return { graph: dependencyGraph(containers, declared), labelProblems, ...(fromFile ? { fromFile } : {}) };
}

/** Requirements naming no container, from the labels and the dependencies file. */
function brokenDependencies(containers: readonly ContainerFacts[], joined: Dependencies, dependencies: DependenciesFile | undefined): AuditRow[] {
  const row = (container: ContainerFacts | undefined, detail: string, evidence: string, file: string | null = null, line: number | null = null): AuditRow => ({
    kind: "broken-dependency",
    host: null,
    project: container?.project ?? null,
    service: container?.service ?? container?.name ?? null,
    target: null,
    file,
    line,
    memoryBytes: null,
    evidence: [evidence],
    detail,
  });
  const rows = joined.labelProblems.map(({ container, problem }) => row(container, problem, `labels on ${container.name}`));
  const byId = new Map(containers.map((c) => [c.id, c]));
  for (const missing of joined.graph.missing) rows.push(row(byId.get(missing.from), missing.line, `labels or dependencies file of ${byId.get(missing.from)?.name ?? missing.from}`));
  const names = new Set(containers.map((c) => c.name));
  for (const unit of dependencies?.units ?? []) {
    for (const entry of unit.entries) {
      if (names.has(entry.container)) continue;
      const [file, line] = positionOf(entry.source, dependencies?.file ?? "");
      const isMain = entry.container === unit.main;
      rows.push({
        ...row(undefined, `${isMain ? "unit" : `unit ${unit.key} needs`} ${entry.container}${isMain ? ` (${unit.key})` : ""}: no such container`, `${entry.source}: ${entry.container}`, file, line),
        kind: isMain ? "orphan" : "broken-dependency",
        service: entry.container,
      });
    }
  }
  return rows;
}

/** `FILE:LINE:COL` as the dependencies file records it. */
function positionOf(source: string, fallback: string): [string, number | null] {
  const match = /^(.*):(\d+):\d+$/.exec(source);
  return match ? [match[1] ?? fallback, Number(match[2])] : [fallback, null];
}

/** Projects whose containers some other project's containers need (a shared database): woken by chains, not idle stacks. */
function neededProjects(containers: readonly ContainerFacts[], joined: Dependencies): Set<string> {
  const projectOf = new Map(containers.map((c) => [c.id, c.project ?? `container ${c.name}`]));
  const needed = new Set<string>();
  for (const edge of joined.graph.edges) {
    const from = projectOf.get(edge.from);
    const to = projectOf.get(edge.to);
    if (to !== undefined && from !== to) needed.add(to);
  }
  for (const members of joined.fromFile?.members.values() ?? []) {
    for (const name of members.containers) {
      const container = containers.find((c) => c.name === name);
      if (container) needed.add(container.project ?? `container ${container.name}`);
    }
  }
  return needed;
}

function serviceLines(table: RouteTable, rows: readonly AuditRow[], statusOf: ReadonlyMap<string, ServiceStatus>, memoryOf: (project: string) => number | null): ServiceLine[] {
  return table.routes.map((route) => {
    const about = rows.filter((row) => row.route === route.name);
    const status = statusOf.get(route.name);
    return {
      name: route.name,
      hosts: route.hosts,
      mode: route.mode,
      theme: route.mode === "dynamic" ? (route.theme ?? "ghost") : null,
      idle: status?.idle ?? formatDuration(route.idleMs),
      state: status?.state ?? null,
      memoryBytes: status?.memoryBytes ?? memoryOf(route.project),
      routed: ROUTED.find(([kind]) => about.some((row) => row.kind === kind))?.[1] ?? "no nginx site",
    };
  });
}

function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) groups.set(key(item), [...(groups.get(key(item)) ?? []), item]);
  return groups;
}
