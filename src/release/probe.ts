import { CONTROL_SOCKET_ON_SERVER } from "../blue-green/start.js";
import type { ComposeKind } from "../compose/commands.js";
import { type LogEntry, parseLogLines } from "./history.js";
import { type DockerReading, factsOf, readDocker } from "../docker/facts.js";
import { DOCKER_SOCKET } from "../docker/engine.js";
import { engineOverSsh } from "../docker/engine-over-ssh.js";
import { layoutEnv, serverLayout, typedLayout } from "./layout.js";
import { type LockHolder, type LockOutcome, type LockSeen, lockScript, parseLock, parseLockSeen } from "./lock.js";
import { type DeployError, EnvironmentError, InputError } from "../errors.js";
import type { Remote } from "../ssh/connection.js";
import { remoteScript, type ScriptValue } from "../remote/script.js";
import { type Shell, sh } from "../ssh/quote.js";

/** What one round trip learns about the server before anything is changed. */
export interface ServerState {
  app: string;
  appKind: "dir" | "file" | "missing";
  docker: { status: "ok" } | { status: "missing" } | { status: "error"; message: string };
  compose: { v2?: string; v1?: string };
  /** What identifies the docker CLI and its plugin, when the Compose v2 version was asked rather than read from the state folder. */
  composeKey?: string;
  /** GNU tar is there (the switch needs it). */
  hasTar: boolean;
  /** The first line of `tar --version` when it is another tar (busybox's, say). */
  otherTar?: string;
  /** The compose project name recorded by the first deploy to this folder. */
  project?: string;
  /** The project name in the labels of containers started from this folder (deployed by hand). */
  labelledProject?: string;
  /** Folders other than this one whose containers run under the candidate project name. */
  otherFolders: string[];
  /** The lock, when the probe was asked to take it. */
  lock?: LockOutcome;
  /** A lock found by a probe that did not try to take it. */
  lockSeen?: LockSeen;
  /** The live release id: the release the app folder's files are at. */
  current?: string;
  /** The release the containers were last brought up from (unknown before any `up` recorded it). */
  containers?: string;
  /** The releases kept on the server (when there are any). */
  kept?: string[];
  /** The last log entry of each kept release that has one. */
  lastEntries?: LogEntry[];
  /** sha256 of its manifest (its files, as the deploy that made it recorded them). */
  manifestHash?: string;
  /** The server's .env, kept in memory only: it holds the secrets. */
  env?: string;
  /** The runtime proxy's control socket is there (a blue-green deploy switches through it). */
  proxySocket?: boolean;
  /** curl is on the PATH (a blue-green deploy talks to the proxy with it). */
  hasCurl?: boolean;
}

/** Every value goes out base64-encoded, one `key=value` a line, so no content can break the parse. */
export interface ProbeOptions {
  /** Read the server's .env (only a deploy needs its values). */
  env: boolean;
  /** The local project name, to find another folder's stack running under it. */
  candidate?: string;
  /** Take the app folder's deploy lock in the same round trip. */
  lock?: { holder: LockHolder; force: boolean };
  /** The command works on an existing app folder only: when it is missing, nothing is created (no lock). */
  appMustExist?: boolean;
}

/**
 * The probe: the app folder's side (probe.sh) and docker's (docker-facts.sh), then the lock
 * taken, only when both say the server is usable (a refused run leaves nothing behind), or
 * else reported. One command, one round trip; it exits 0 whatever it found.
 */
/**
 * `docker: "engine"` when the client asks the Engine API itself, beside this script (see
 * probeServer): the script then asks the docker CLI only what the engine does not know, Compose.
 */
export function probeScript(path: string, options: ProbeOptions = { env: true }, docker: DockerSource = "cli"): Shell {
  const layout = layoutEnv(typedLayout(path));
  const probe = remoteScript("probe", {
    env: { ...layout, READ_ENV: options.env ? 1 : 0, MUST_EXIST: options.appMustExist ? 1 : 0, DOCKER_SOCKET, PROXY_SOCKET: CONTROL_SOCKET_ON_SERVER },
  });
  const facts = dockerFactsScript(layout, options.candidate, docker);
  const lock = options.lock;
  if (!lock) return sh`${probe}; ${facts}; ${lockScript(layout, "report")}`;
  return sh`${probe}; usable=$?
if ${facts} && [ "$usable" = 0 ]; then ${lockScript(layout, "take", JSON.stringify(lock.holder), lock.force ? 1 : 0)}; fi`;
}

/** `key=value` lines into a map, and a reader that decodes the base64 values. */
/** Who tells whether Docker answers and which stacks run: its CLI on the server, or its Engine API asked by the client. */
export type DockerSource = "cli" | "engine";

function dockerFactsScript(layout: Record<string, ScriptValue>, candidate: string | undefined, docker: DockerSource): Shell {
  return remoteScript("docker-facts", { env: { ...layout, CANDIDATE: candidate ?? "", ENGINE_ANSWERS: docker === "engine" ? 1 : 0 } });
}

export function scriptFields(stdout: string): { fields: Map<string, string>; decoded: (key: string) => string | undefined } {
  const fields = new Map<string, string>();
  for (const line of stdout.split("\n")) {
    const eq = line.indexOf("=");
    if (eq > 0) fields.set(line.slice(0, eq), line.slice(eq + 1));
  }
  const decoded = (key: string) => {
    const value = fields.get(key);
    return value === undefined ? undefined : Buffer.from(value, "base64").toString("utf8");
  };
  return { fields, decoded };
}

/** The server's .env in the answer of a script that starts with the probe (see RunOptions.envOf). */
export function envInAnswer(stdout: Buffer): string | undefined {
  return scriptFields(stdout.toString("utf8")).decoded("env");
}

export function parseProbe(stdout: string): ServerState {
  const { fields, decoded } = scriptFields(stdout);
  if (!fields.has("end") || !fields.has("app")) {
    throw new EnvironmentError(
      "the server's answer to the probe was cut short; is it a POSIX shell with base64, sed and tar?",
    );
  }
  return {
    app: decoded("app") ?? "",
    appKind: (fields.get("kind") as ServerState["appKind"]) ?? "missing",
    compose: { v2: decoded("compose2")?.trim() || undefined, v1: decoded("compose1")?.trim() || undefined },
    composeKey: decoded("composeKey") || undefined,
    hasTar: fields.get("tar") === "ok",
    otherTar: decoded("tarOther"),
    project: decoded("project")?.trim() || undefined,
    ...dockerAnswer(fields, decoded),
    lock: parseLock(fields),
    lockSeen: parseLockSeen(fields),
    current: decoded("current")?.trim() || undefined,
    containers: decoded("containers")?.trim() || undefined,
    kept: fields.has("kept") ? (decoded("kept") ?? "").split("\n").filter(Boolean) : undefined,
    lastEntries: fields.has("outcomes") ? parseLogLines(decoded("outcomes") ?? "") : undefined,
    manifestHash: fields.get("manifestHash") || undefined,
    env: decoded("env"),
    proxySocket: fields.get("proxySocket") === "ok",
    hasCurl: fields.get("curl") === "ok",
  };
}

type DockerAnswer = Pick<ServerState, "docker" | "labelledProject" | "otherFolders">;

/** What docker-facts.sh said of the engine and the stacks (nothing when the Engine API was asked instead). */
function dockerAnswer(fields: Map<string, string>, decoded: (key: string) => string | undefined): DockerAnswer {
  const docker = fields.get("docker");
  return {
    docker:
      docker === "ok"
        ? { status: "ok" }
        : docker === "missing"
          ? { status: "missing" }
          : { status: "error", message: decoded("dockerMessage") ?? "" },
    labelledProject: decoded("labelled")?.trim() || undefined,
    otherFolders: (decoded("others") ?? "").split("\n").filter(Boolean),
  };
}

/**
 * The probe's round trip. Whether Docker answers and which stacks run are asked of the Engine
 * API over the same SSH connection, beside the script: the docker CLI would cost a Go start-up
 * per question. Where sshd forwards no unix socket (or the socket is closed to this user), the
 * CLI answers instead, in one more round trip.
 */
export async function probeServer(remote: Remote, path: string, options: ProbeOptions): Promise<ServerState> {
  const reading = readDocker(engineOverSsh(remote));
  // Awaited below once the script answered; a script that failed first must not leave it unhandled.
  reading.catch(() => undefined);
  const result = await remote.run(probeScript(path, options, "engine"), { secretOutput: options.env, envOf: envInAnswer });
  if (result.code !== 0)
    throw new EnvironmentError(`probing ${remote.target.host} failed: ${result.stderr.trim()}`);
  const state = parseProbe(result.stdout.toString("utf8"));
  return { ...state, ...(await dockerOf(remote, state, await reading, options.candidate)) };
}

async function dockerOf(remote: Remote, state: ServerState, reading: DockerReading, candidate: string | undefined): Promise<DockerAnswer> {
  if (state.docker.status === "missing") return state;
  if (reading.status === "unreachable") {
    const facts = dockerFactsScript(layoutEnv(serverLayout(state.app)), candidate, "cli");
    const result = await remote.run(facts);
    const { fields, decoded } = scriptFields(result.stdout.toString("utf8"));
    return dockerAnswer(fields, decoded);
  }
  const facts = factsOf(reading, { app: state.app, candidate, recordedProject: state.project });
  if (facts.status === "ok") return { docker: { status: "ok" }, labelledProject: facts.labelledProject, otherFolders: facts.otherFolders };
  return { docker: { status: "error", message: facts.status === "error" ? facts.message : facts.reason }, otherFolders: [] };
}

/**
 * Turns what the probe found into a refusal, before anything on the server changes: bad input
 * (exit 2) when the path is wrong, the environment (exit 1) when the server lacks something.
 */
export function serverError(
  state: ServerState,
  host: string,
  options: { forced?: ComposeKind; mustExist?: boolean } = {},
): DeployError | undefined {
  const { forced, mustExist } = options;
  if (state.appKind === "file") return new InputError(`${host}:${state.app} is a file, not a folder; choose another --path.`);
  if (mustExist && state.appKind === "missing") return new InputError(`${host}:${state.app} does not exist; give the app folder with --path.`);
  const missing = (message: string) => new EnvironmentError(message);
  if (!state.hasTar) {
    return missing(
      state.otherTar !== undefined
        ? `${host}'s tar is not GNU tar (${state.otherTar.trim() || "no version"}); install GNU tar (apt-get install tar, or apk add tar on Alpine).`
        : `${host} has no tar; install it (apt-get install tar).`,
    );
  }
  if (state.docker.status === "missing") return missing(`${host} has no docker command; install Docker Engine (https://docs.docker.com/engine/install/).`);
  if (state.docker.status === "error") {
    if (/permission denied/i.test(state.docker.message)) {
      return missing(
        `the SSH user on ${host} may not use Docker (permission denied on the Docker socket); run \`sudo usermod -aG docker $USER\` there and log in again.`,
      );
    }
    return missing(`Docker on ${host} does not answer: ${state.docker.message.split("\n")[0]}; is dockerd running?`);
  }
  if (forced === "v2" && !state.compose.v2) return missing(`${host} has no Compose v2 (docker compose), which --compose v2 asks for.`);
  if (forced === "v1" && !state.compose.v1) return missing(`${host} has no Compose v1 (docker-compose), which --compose v1 asks for.`);
  if (!state.compose.v1 && !state.compose.v2) return missing(`${host} has Docker but no Compose; install the docker-compose-plugin package.`);
  return undefined;
}

export function chooseCompose(state: ServerState, forced?: ComposeKind): ComposeKind {
  return forced ?? (state.compose.v2 ? "v2" : "v1");
}
