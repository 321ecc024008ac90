import { remoteScript } from "../remote/script.js";
import type { Shell } from "../ssh/quote.js";

/** What a container uses, as `docker stats` shows it. */
export interface ContainerUsage {
  /** Percent of one core over the sample, two decimals; null when its CPU time is unknown. */
  cpuPercent: number | null;
  /** "41.2MiB / 7.667GiB": in use, then its limit or, with none, the host's memory. */
  memory: string;
}

/** The script that reads the cgroups of the containers whose full ids come on its stdin (see container-usage.sh). */
export function containerUsageScript(): Shell {
  return remoteScript("container-usage", { env: { CGROUP: "/sys/fs/cgroup" } });
}

interface Sample {
  atSeconds: number;
  byId: Map<string, { usedBytes: number; limitBytes: number; cpuNs: number | null }>;
}

function parseSample(lines: string[]): Sample {
  const sample: Sample = { atSeconds: Number.NaN, byId: new Map() };
  for (const line of lines) {
    const [first = "", ...rest] = line.trim().split(/\s+/);
    if (first === "at") sample.atSeconds = Number(rest[0]);
    else if (rest.length === 3) {
      const [used, limit, cpu] = rest.map(Number);
      if (Number.isFinite(used) && Number.isFinite(limit)) sample.byId.set(first, { usedBytes: Math.max(used ?? 0, 0), limitBytes: limit ?? 0, cpuNs: Number.isFinite(cpu) ? (cpu ?? null) : null });
    }
  }
  return sample;
}

/** The memory in use of each container of one container-usage.sh sample (LINES), by full id. */
export function memoryById(lines: string[]): Map<string, number> {
  return new Map([...parseSample(lines).byId].map(([id, read]) => [id, read.usedBytes]));
}

/**
 * Each container's use from container-usage.sh's two samples, one after the other in TEXT
 * (each begins with its `at` line), keyed by full id. CPU is its time over the wall time
 * between them, as docker stats reckons it: 100 % is one core.
 */
export function parseUsage(text: string, hostMemoryBytes: number): Map<string, ContainerUsage> {
  const lines = text.split("\n").filter((line) => line.trim() !== "");
  const second = lines.findIndex((line, i) => i > 0 && line.startsWith("at "));
  if (second === -1) return new Map();
  const [before, after] = [parseSample(lines.slice(0, second)), parseSample(lines.slice(second))];
  const seconds = after.atSeconds - before.atSeconds;
  const usage = new Map<string, ContainerUsage>();
  for (const [id, now] of after.byId) {
    const then = before.byId.get(id);
    const cpu = then !== undefined && then.cpuNs !== null && now.cpuNs !== null && seconds > 0 ? Math.max(now.cpuNs - then.cpuNs, 0) / (seconds * 1e9) : null;
    usage.set(id, {
      cpuPercent: cpu === null ? null : Math.round(cpu * 10_000) / 100,
      memory: `${dockerSize(now.usedBytes)} / ${dockerSize(now.limitBytes > 0 ? now.limitBytes : hostMemoryBytes)}`,
    });
  }
  return usage;
}

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];

/** BYTES as Docker's CLI writes a size: binary units, four significant digits, no trailing zeros. */
export function dockerSize(bytes: number): string {
  let size = bytes;
  let unit = 0;
  while (size >= 1024 && unit < UNITS.length - 1) {
    size /= 1024;
    unit += 1;
  }
  return `${Number(size.toPrecision(4))}${UNITS[unit]}`;
}
