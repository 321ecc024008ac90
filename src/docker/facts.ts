import type { Engine } from "./engine.js";
import type { ContainerSummary } from "./responses.js";
import { EngineAnswerError, EngineUnreachable } from "./transport.js";

/** The labels Compose puts on every container it makes. */
export const PROJECT_LABEL = "com.docker.compose.project";
export const WORKING_DIR_LABEL = "com.docker.compose.project.working_dir";

/** The app whose stacks are looked for. */
export interface StackTarget {
  /** The app folder on the server, absolute and without a trailing slash (as the probe resolves it). */
  app: string;
  /** The local project name, when the server records none. */
  candidate?: string;
  /** The project name recorded by the first deploy to this folder. */
  recordedProject?: string;
}

export interface StackFacts {
  /** The project name in the labels of the newest container started from the app folder (a stack deployed by hand). */
  labelledProject?: string;
  /** Folders other than the app's whose containers run under its project name, sorted. */
  otherFolders: string[];
}

/**
 * What the Engine said, before the app is known: the probe's script and this reading can run
 * side by side, and the facts are drawn once both are in.
 */
export type DockerReading =
  | { status: "ok"; serverVersion: string; containers: ContainerSummary[] }
  /** Docker answered, but not as it should (the probe's `docker=error`). */
  | { status: "error"; message: string }
  /** The socket could not be reached over this path: ask the docker CLI instead. */
  | { status: "unreachable"; reason: string };

export type DockerFacts =
  | ({ status: "ok"; serverVersion: string } & StackFacts)
  | { status: "error"; message: string }
  | { status: "unreachable"; reason: string };

/**
 * The stacks the probe looks for, from the containers Compose made. The project a folder's
 * containers are labelled with is the newest one's; the other folders are looked up under the
 * recorded name, else the labelled one, else the candidate (the order the deploy picks a name in).
 */
export function stackFacts(containers: readonly ContainerSummary[], target: StackTarget): StackFacts {
  const newestFirst = [...containers].sort((a, b) => b.created - a.created);
  const labelledProject = newestFirst.find((c) => c.labels[WORKING_DIR_LABEL] === target.app)?.labels[PROJECT_LABEL] || undefined;
  const name = target.recordedProject ?? labelledProject ?? target.candidate;
  const folders = new Set<string>();
  if (name) {
    for (const c of containers) {
      const folder = c.labels[WORKING_DIR_LABEL];
      if (c.labels[PROJECT_LABEL] === name && folder && folder !== target.app) folders.add(folder);
    }
  }
  return { labelledProject, otherFolders: [...folders].sort() };
}

/**
 * Whether Docker answers, and every container Compose made (one request for all of them, so
 * that nothing waits on the project name, which only the probe's answer settles).
 */
export async function readDocker(engine: Engine): Promise<DockerReading> {
  try {
    // /version, not /info: the same proof that the daemon answers, for less of its work.
    const [version, containers] = await Promise.all([engine.version(), engine.containers({ label: [PROJECT_LABEL] })]);
    return { status: "ok", serverVersion: version.version, containers };
  } catch (error) {
    return failedReading(error);
  }
}

function failedReading(error: unknown): DockerReading {
  // The local socket's EACCES reads as the CLI's words: the probe's permission message follows.
  if (error instanceof EngineUnreachable && !/permission denied/i.test(error.reason)) return { status: "unreachable", reason: error.reason };
  if (error instanceof EngineUnreachable) return { status: "error", message: error.reason };
  if (error instanceof EngineAnswerError) return { status: "error", message: error.message };
  throw error;
}

export function factsOf(reading: DockerReading, target: StackTarget): DockerFacts {
  if (reading.status !== "ok") return reading;
  return { status: "ok", serverVersion: reading.serverVersion, ...stackFacts(reading.containers, target) };
}
