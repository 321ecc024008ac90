import { EnvironmentError } from "../errors.js";

/** One container of the project as `docker inspect` describes it, reduced to what the watch needs. */
export interface ContainerState {
  id: string;
  name: string;
  service: string;
  status: string;
  exitCode: number;
  restartCount: number;
  startedAt: number;
  /** When compose created it (0 if unknown): a deploy that recreates a service makes a new one. */
  createdAt: number;
  health?: string;
  oneOff: boolean;
}

interface InspectJson {
  Id?: string;
  Name?: string;
  Created?: string;
  RestartCount?: number;
  Config?: { Labels?: Record<string, string> | null };
  State?: { Status?: string; ExitCode?: number; StartedAt?: string; Health?: { Status?: string } | null };
}

/** Parses `docker inspect` output (a JSON array) once, into typed values. */
export function parseInspect(json: string): ContainerState[] {
  let data: unknown;
  try {
    data = JSON.parse(json.trim() || "[]");
  } catch {
    throw new EnvironmentError(`docker inspect answered something that is not JSON: ${json.slice(0, 120)}`);
  }
  if (!Array.isArray(data)) throw new EnvironmentError("docker inspect did not answer a JSON array.");
  return (data as InspectJson[]).map((c) => {
    const labels = c.Config?.Labels ?? {};
    return {
      id: c.Id ?? "",
      name: (c.Name ?? "").replace(/^\//, ""),
      service: labels["com.docker.compose.service"] ?? (c.Name ?? "").replace(/^\//, ""),
      status: c.State?.Status ?? "unknown",
      exitCode: c.State?.ExitCode ?? 0,
      restartCount: c.RestartCount ?? 0,
      // Docker writes 0001-01-01T00:00:00Z for a container that never started.
      startedAt: Math.max(0, Date.parse(c.State?.StartedAt ?? "") || 0),
      createdAt: Math.max(0, Date.parse(c.Created ?? "") || 0),
      health: c.State?.Health?.Status || undefined,
      oneOff: labels["com.docker.compose.oneoff"] === "True",
    };
  });
}
