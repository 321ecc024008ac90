/**
 * What `audit` reads from the server, in one round trip (src/remote/audit.sh), as typed values:
 * nginx's files, the proxy's config, dependencies and status, every container, memory, listeners.
 */
import { parseInspect } from "../docker/responses.js";
import { EnvironmentError } from "../errors.js";
import { type NginxFile, splitDump } from "../nginx/parse.js";
import type { ContainerFacts } from "../proxy/model.js";
import { CONFIG_FOLDER, CONTROL_SOCKET_PATH, isStatusDocument, type StatusDocument } from "../proxy/status.js";
import { scriptFields } from "../release/probe.js";
import { remoteScript } from "../remote/script.js";
import { containerUsageScript, memoryById } from "../docker/container-usage.js";
import { remotePath, type Shell } from "../ssh/quote.js";

export const DEFAULT_NGINX_CONF = "/etc/nginx/nginx.conf";

/** How nginx's configuration was read: `nginx -T` as the user, through sudo, or file by file. */
export type NginxWay = "T" | "sudo" | "files";

export interface NginxReading {
  way: NginxWay;
  /** Why `nginx -T` was refused (its own words), when it was. */
  refused?: string;
  /** Files below the main file's folder that could not be read. */
  unreadable: string[];
  files: NginxFile[];
}

export interface ProxyReading {
  /** The config file read (the proxy's own, or --proxy-config). */
  configName?: string;
  configText?: string;
  configError?: string;
  dependenciesName?: string;
  dependenciesText?: string;
  /** The daemon's control socket exists: the proxy is installed. */
  installed: boolean;
  status?: StatusDocument;
}

/** A TCP socket in LISTEN state, from /proc/net/tcp{,6}. */
export interface Listener {
  /** Dotted IPv4, `::`, `::1`, or the raw hex of another IPv6 address. */
  address: string;
  port: number;
}

export interface AuditAnswer {
  serverName: string;
  /** The server's own IP addresses. */
  addresses: string[];
  nginx: NginxReading;
  proxy: ProxyReading;
  docker: { containers: ContainerFacts[] } | { error: string };
  /** Bytes in use by each running container (cgroup usage less inactive file cache, as docker stats). */
  memory: Map<string, number>;
  listening: Listener[];
}

export interface AuditInputs {
  nginxConf: string;
  /** A config file to audit instead of the installed proxy's (the seed's config.json, say). */
  proxyConfig?: string;
}

export function auditScript(inputs: AuditInputs): Shell {
  return remoteScript("audit", {
    env: {
      NGINX_CONF: inputs.nginxConf,
      PROXY_CONFIG: remotePath(`~/${CONFIG_FOLDER}`),
      PROXY_CONFIG_FILE: inputs.proxyConfig === undefined ? undefined : remotePath(inputs.proxyConfig),
      SOCKET: remotePath(CONTROL_SOCKET_PATH),
      CONTAINER_USAGE: containerUsageScript().code,
    },
  });
}

export function parseAuditAnswer(stdout: string, host: string): AuditAnswer {
  const { fields, decoded } = scriptFields(stdout);
  if (fields.get("end") !== "ok") throw new EnvironmentError(`the audit's answer from ${host} was cut short; run it again`);
  const lines = (key: string) => (decoded(key) ?? "").split("\n").filter((line) => line !== "");
  // Words, not base64: the way nginx was read, and whether the control socket exists.
  const way = fields.get("nginx.how");
  const refused = decoded("nginx.refused");
  const nginx: NginxReading = {
    way: way === "T" || way === "sudo" ? way : "files",
    unreadable: lines("nginx.unreadable"),
    files: splitDump(decoded("nginx.dump") ?? ""),
    ...(refused && way === "files" ? { refused: refused.trim() } : {}),
  };
  return {
    serverName: (decoded("host") ?? "").trim(),
    addresses: lines("addresses"),
    nginx,
    proxy: proxyReading(decoded, fields.get("proxy.socket") === "yes"),
    docker: dockerReading(decoded("docker"), decoded("docker.error")),
    memory: memoryById(lines("memory")),
    listening: lines("listening").flatMap((line) => listener(line) ?? []),
  };
}

function proxyReading(decoded: (key: string) => string | undefined, installed: boolean): ProxyReading {
  const reading: ProxyReading = { installed };
  const fields = { configName: "proxy.configName", configText: "proxy.config", configError: "proxy.configError", dependenciesName: "proxy.dependenciesName", dependenciesText: "proxy.dependencies" } as const;
  for (const [field, key] of Object.entries(fields) as [keyof typeof fields, string][]) {
    const value = decoded(key);
    if (value !== undefined) reading[field] = value;
  }
  const status = decoded("proxy.status");
  if (status) {
    try {
      const parsed: unknown = JSON.parse(status);
      if (isStatusDocument(parsed)) reading.status = parsed;
    } catch {
      // A daemon that answered garbage counts as one that did not answer: the audit goes on without states.
    }
  }
  return reading;
}

function dockerReading(inspect: string | undefined, error: string | undefined): AuditAnswer["docker"] {
  if (inspect === undefined) return { error: (error ?? "the server said nothing about Docker").trim() };
  try {
    const parsed: unknown = JSON.parse(inspect);
    if (!Array.isArray(parsed)) return { error: "docker inspect did not answer a list" };
    return { containers: parsed.map((body) => parseInspect(body).facts) };
  } catch (cause) {
    return { error: `docker inspect's answer could not be read: ${cause instanceof Error ? cause.message : String(cause)}` };
  }
}

/** `0100007F:1F90` (IPv4, little-endian) or 32 hex digits (IPv6, four little-endian words), then the port. */
export function listener(local: string): Listener | undefined {
  const [hex, portHex] = local.split(":");
  if (hex === undefined || portHex === undefined) return undefined;
  const port = parseInt(portHex, 16);
  if (hex.length === 8) {
    const bytes = Buffer.from(hex, "hex").reverse();
    return { address: [...bytes].join("."), port };
  }
  if (hex.length !== 32) return undefined;
  const words = hex.match(/.{8}/g) ?? [];
  const bytes = Buffer.concat(words.map((word) => Buffer.from(word, "hex").reverse()));
  if (bytes.every((byte) => byte === 0)) return { address: "::", port };
  if (bytes.subarray(0, 15).every((byte) => byte === 0) && bytes[15] === 1) return { address: "::1", port };
  // An IPv4 address mapped into IPv6 (::ffff:a.b.c.d) is that IPv4 address.
  if (bytes.subarray(0, 10).every((byte) => byte === 0) && bytes[10] === 0xff && bytes[11] === 0xff) return { address: [...bytes.subarray(12)].join("."), port };
  return { address: bytes.toString("hex"), port };
}
