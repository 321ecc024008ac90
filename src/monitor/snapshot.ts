import { classifySnapshot, type ServiceVerdict } from "../health/classify.js";
import { type ContainerState, parseInspect } from "../health/containers.js";
import { containerLogsScript, parseLogs } from "../health/watch.js";
import { releaseDrift } from "../release/history.js";
import { describeHolder, type LockSeen } from "../release/lock.js";
import { parseProbe, probeScript, scriptFields } from "../release/probe.js";
import { CONTROL_SOCKET_PATH, isStatusDocument } from "../proxy/status.js";
import { remoteScript } from "../remote/script.js";
import { remotePath, type Shell, sh } from "../ssh/quote.js";
import { type ContainerUsage, containerUsageScript, parseUsage } from "../docker/container-usage.js";

export const MEMORY_WARN_PERCENT = 85;
export const DISK_WARN_PERCENT = 90;

export interface HostResources {
  load: number[];
  memory: { totalBytes: number; availableBytes: number; usedPercent: number };
  disk: { totalBytes: number; usedBytes: number; usedPercent: number };
  warnings: string[];
}

export interface ServiceStatus extends ServiceVerdict {
  uptimeSeconds: number | null;
  cpuPercent: number | null;
  memory: string | null;
}

/** Where one of the project's proxy routes sends its requests now (a blue-green switch moves it). */
export interface LiveRoute {
  unit: string;
  container: string;
  service: string | null;
}

export interface Snapshot {
  project: string;
  /** Only when the runtime proxy is installed and routes this project. */
  live: LiveRoute[];
  resources: HostResources;
  services: ServiceStatus[];
  logs: Map<string, string[]>;
  /** The release the app folder's files are at, and the one the containers were last brought up from. */
  release: { files?: string; containers?: string };
  /** "files at X, containers at Y" when they differ: then the stack is not healthy. */
  drift?: string;
  lock?: LockSeen;
}

/** Every service up and unflagged, and the containers at the release the files are at. */
export function snapshotHealthy(snapshot: Snapshot): boolean {
  return snapshot.services.length > 0 && snapshot.services.every((s) => !s.flagged) && !snapshot.drift;
}

/** What the lock says of a deploy under way, or of one that died holding it. */
export function describeLock(lock: LockSeen | undefined): string | undefined {
  if (!lock) return undefined;
  return lock.running
    ? `a deploy is under way: ${describeHolder(lock.holder)}`
    : `a lock was left by a run that died (${describeHolder(lock.holder)}); the next deploy or rollback clears it`;
}

/**
 * Everything monitor-vps shows, gathered in one round trip: the probe (which finds the app and
 * its project, and reads .env only to hide its values from the logs), its answer piped through
 * monitor.sh, which adds host resources, every container's state, its CPU and memory, and its
 * last log lines.
 */
export function monitorScript(path: string, localProject: string, logLines: number): Shell {
  const monitor = remoteScript("monitor", {
    env: {
      LOCAL_PROJECT: localProject,
      CONTAINER_LOGS: containerLogsScript(logLines).code,
      CONTAINER_USAGE: containerUsageScript().code,
      SOCKET: remotePath(CONTROL_SOCKET_PATH),
    },
  });
  return sh`{ ${probeScript(path, { env: true })}
} | ${monitor}`;
}

function resources(load: string, mem: string, disk: string): HostResources {
  const [total = 0, available = 0] = mem.trim().split(/\s+/).map(Number);
  const [diskTotal = 0, diskUsed = 0] = disk.trim().split(/\s+/).map(Number);
  const percent = (part: number, whole: number) => (whole > 0 ? Math.round((part / whole) * 1000) / 10 : 0);
  const result: HostResources = {
    load: load.trim().split(/\s+/).map(Number).filter(Number.isFinite),
    memory: { totalBytes: total * 1024, availableBytes: available * 1024, usedPercent: percent(total - available, total) },
    disk: { totalBytes: diskTotal * 1024, usedBytes: diskUsed * 1024, usedPercent: percent(diskUsed, diskTotal) },
    warnings: [],
  };
  if (result.memory.usedPercent > MEMORY_WARN_PERCENT) result.warnings.push(`memory ${result.memory.usedPercent} % used (above ${MEMORY_WARN_PERCENT} %)`);
  if (result.disk.usedPercent > DISK_WARN_PERCENT) result.warnings.push(`disk ${result.disk.usedPercent} % used (above ${DISK_WARN_PERCENT} %)`);
  return result;
}

/** The project's routes and the container each sends to, from the proxy's status (anything unreadable: none). */
function liveRoutes(statusText: string | undefined, project: string, containers: ContainerState[]): LiveRoute[] {
  let status: unknown;
  try {
    status = JSON.parse(statusText ?? "");
  } catch {
    return [];
  }
  if (!isStatusDocument(status)) return [];
  return status.services.flatMap((unit) =>
    unit.project === project && unit.live
      ? [{ unit: unit.name, container: unit.live.name, service: containers.find((c) => c.name === unit.live?.name)?.service ?? null }]
      : [],
  );
}

/** Parses the monitor script's answer into typed values, judged with the deploy's rules. */
export function parseSnapshot(stdout: string, now: number): Snapshot {
  const { decoded } = scriptFields(stdout);
  const containers: ContainerState[] = parseInspect(decoded("inspect") ?? "[]");
  const host = resources(decoded("load") ?? "", decoded("mem") ?? "", decoded("disk") ?? "");
  const usage = parseUsage(decoded("usage") ?? "", host.memory.totalBytes);
  // docker stats' lines: only where the cgroups could not be read.
  const stats = new Map(
    (decoded("stats") ?? "")
      .split("\n")
      .filter(Boolean)
      .map((line): [string, ContainerUsage] => {
        const [name = "", cpu = "", memory = ""] = line.split("\t");
        const percent = Number.parseFloat(cpu);
        return [name.replace(/^\//, ""), { cpuPercent: Number.isFinite(percent) ? percent : null, memory: memory.trim() }];
      }),
  );
  const logs = parseLogs(stdout);
  const services = containers
    .filter((c) => !c.oneOff)
    .map((c): ServiceStatus => {
      const read = usage.get(c.id);
      const used = read !== undefined && read.cpuPercent !== null ? read : (stats.get(c.name) ?? read);
      return {
        ...classifySnapshot(c, now),
        uptimeSeconds: c.status === "running" && c.startedAt > 0 ? Math.round((now - c.startedAt) / 1000) : null,
        cpuPercent: used?.cpuPercent ?? null,
        memory: used?.memory || null,
      };
    })
    .sort((a, b) => a.service.localeCompare(b.service));
  const server = parseProbe(stdout);
  const project = decoded("monitored")?.trim() ?? "";
  return {
    project,
    live: liveRoutes(decoded("proxy"), project, containers),
    resources: host,
    services,
    logs,
    release: { files: server.current, containers: server.containers },
    drift: releaseDrift(server.current, server.containers),
    lock: server.lockSeen,
  };
}
