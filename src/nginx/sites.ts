import { parseEndpoint, splitProxyUrl } from "./address.js";
import type { LoadedNginx } from "./load.js";
import type { Directive } from "./parse.js";

export interface UpstreamServer {
  /** As written: `127.0.0.1:3000`, `app.internal`, `unix:/run/app.sock`. */
  address: string;
  host?: string;
  port?: number;
  unix?: string;
  backup: boolean;
  file: string;
  line: number;
  col: number;
}

export interface ProxyPass {
  /** As written, URI part included. */
  value: string;
  file: string;
  line: number;
  col: number;
  /** The upstream block's name when the value names one. */
  upstream?: string;
  targets: UpstreamServer[];
  /** The value holds a variable: nginx resolves it per request, so it has no fixed target. */
  variable: boolean;
}

export interface SiteLocation {
  /** The location's arguments: "/", "= /x", "~ ^/api". */
  path: string;
  file: string;
  line: number;
  proxyPass: ProxyPass;
}

export interface Site {
  file: string;
  line: number;
  col: number;
  /** Lower-case, "_" kept. */
  serverNames: string[];
  /** Each `listen` directive's arguments: "80", "443 ssl", "[::]:443 ssl default_server". */
  listens: string[];
  /** A `# deploy-vps: direct` comment inside the server block: bypassing the proxy on purpose. */
  direct: boolean;
  /** One per `proxy_pass` below the server, with its innermost enclosing location. */
  locations: SiteLocation[];
}

/** The marker, possibly followed by why: `# deploy-vps: direct (static files)`. */
const DIRECT_MARKER = /^deploy-vps:\s*direct(\s|$)/;

/** The `server` blocks of `http {}` (not `stream {}`), each with where it sends its requests. */
export function nginxSites(loaded: LoadedNginx): Site[] {
  const http = loaded.root.filter((directive) => directive.name === "http").flatMap((directive) => directive.block ?? []);
  const upstreams = new Map<string, UpstreamServer[]>();
  for (const directive of http)
    if (directive.name === "upstream" && directive.block && directive.args[0] !== undefined)
      upstreams.set(directive.args[0].toLowerCase(), directive.block.filter((child) => child.name === "server").map(upstreamServer));
  return http.filter((directive) => directive.name === "server" && directive.block).map((server) => site(server, upstreams));
}

function site(server: Directive, upstreams: Map<string, UpstreamServer[]>): Site {
  const block = server.block ?? [];
  const locations: SiteLocation[] = [];
  let direct = false;
  const walk = (directives: Directive[], location: Directive | undefined): void => {
    for (const directive of directives) {
      if (directive.name === "#" && DIRECT_MARKER.test((directive.args[0] ?? "").trim())) direct = true;
      if (directive.name === "proxy_pass" && directive.args[0] !== undefined)
        locations.push({
          path: location?.args.join(" ") ?? "",
          file: location?.file ?? directive.file,
          line: location?.line ?? directive.line,
          proxyPass: proxyPass(directive, directive.args[0], upstreams),
        });
      if (directive.block) walk(directive.block, directive.name === "location" ? directive : location);
    }
  };
  walk(block, undefined);
  const argsOf = (name: string): string[][] => block.filter((directive) => directive.name === name).map((directive) => directive.args);
  return {
    file: server.file,
    line: server.line,
    col: server.col,
    serverNames: argsOf("server_name").flat().map((name) => name.toLowerCase()),
    listens: argsOf("listen").map((args) => args.join(" ")),
    direct,
    locations,
  };
}

function proxyPass(directive: Directive, value: string, upstreams: Map<string, UpstreamServer[]>): ProxyPass {
  const at = { value, file: directive.file, line: directive.line, col: directive.col };
  if (value.includes("$")) return { ...at, targets: [], variable: true };
  const { scheme, authority } = splitProxyUrl(value);
  // nginx looks an upstream up by host name alone (an upstream block has no port of its own).
  const name = authority.replace(/:\d+$/, "").toLowerCase();
  const upstream = upstreams.get(name);
  if (upstream) return { ...at, upstream: name, targets: upstream, variable: false };
  const target: UpstreamServer = {
    address: authority,
    ...parseEndpoint(authority, scheme.toLowerCase() === "https://" ? 443 : 80),
    backup: false,
    file: directive.file,
    line: directive.line,
    col: directive.col,
  };
  return { ...at, targets: [target], variable: false };
}

function upstreamServer(server: Directive): UpstreamServer {
  const address = server.args[0] ?? "";
  return {
    address,
    ...parseEndpoint(address, 80),
    backup: server.args.includes("backup"),
    file: server.file,
    line: server.line,
    col: server.col,
  };
}

/** A name with a `*` or a leading `.`: it stands for many hosts, none of which it is. */
export function isWildcardName(name: string): boolean {
  return name.includes("*") || name.startsWith(".");
}

/**
 * Whether the server_name NAME (lower-case, as `Site.serverNames` holds it) answers HOST, as nginx
 * matches them: exactly, by a leading `*.` or `.` wildcard, a trailing `.*` one, or a `~` regex.
 * A regex JavaScript cannot read (PCRE-only syntax) is taken to match: callers then err on the
 * side of "someone may already serve this".
 */
export function serverNameMatches(name: string, host: string): boolean {
  const lower = host.toLowerCase();
  if (name === lower) return true;
  // `.example.com` is example.com and its subdomains; `*.example.com` only the subdomains.
  if (name.startsWith(".")) return lower === name.slice(1) || lower.endsWith(name);
  if (name.startsWith("*.")) return lower.endsWith(name.slice(1));
  if (name.endsWith(".*")) return lower.startsWith(name.slice(0, -1));
  if (!name.startsWith("~")) return false;
  try {
    return new RegExp(name.slice(1), "i").test(lower);
  } catch {
    return true;
  }
}
