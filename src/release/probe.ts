import type { ComposeKind } from "../compose/commands.js";
import { EnvironmentError } from "../errors.js";
import type { Remote } from "../ssh/connection.js";
import { remotePath, type Shell, sh } from "../ssh/quote.js";

/** What one round trip learns about the server before anything is changed. */
export interface ServerState {
  app: string;
  appKind: "dir" | "file" | "missing";
  docker: { status: "ok" } | { status: "missing" } | { status: "error"; message: string };
  compose: { v2?: string; v1?: string };
  hasTar: boolean;
  /** The compose project name recorded by the first deploy to this folder. */
  project?: string;
  /** The live release id. */
  current?: string;
  /** The server's .env, kept in memory only: it holds the secrets. */
  env?: string;
}

/** Every value goes out base64-encoded, one `key=value` a line, so no content can break the parse. */
export function probeScript(path: string): Shell {
  return sh`enc() { printf '%s' "$1" | base64 | tr -d '\\n'; }
app=${remotePath(path)}
case "$app" in /*) ;; *) app="$PWD/$app" ;; esac
app=$(printf '%s' "$app" | sed 's#//*#/#g; s#/$##')
# the same place as serverLayout(app).state, which needs the absolute path this resolves
state="$(dirname -- "$app")/.deploy-vps/$(basename -- "$app")"
echo "app=$(enc "$app")"
if [ -d "$app" ]; then echo kind=dir; elif [ -e "$app" ]; then echo kind=file; else echo kind=missing; fi
if ! command -v docker >/dev/null 2>&1; then echo docker=missing
elif out=$(docker info --format '{{.ServerVersion}}' 2>&1); then echo docker=ok
else echo docker=error; echo "dockerMessage=$(enc "$out")"; fi
v2=$(docker compose version --short 2>/dev/null) && echo "compose2=$(enc "$v2")"
# Only whether v1 is there: its version costs a Python start-up (half a second).
v1=$(command -v docker-compose) && echo "compose1=$(enc "$v1")"
command -v tar >/dev/null 2>&1 && echo tar=ok
[ -f "$state/project" ] && echo "project=$(enc "$(cat "$state/project")")"
[ -f "$state/current" ] && echo "current=$(enc "$(cat "$state/current")")"
[ -f "$app/.env" ] && echo "env=$(base64 < "$app/.env" | tr -d '\\n')"
echo end=`;
}

export function parseProbe(stdout: string): ServerState {
  const fields = new Map<string, string>();
  for (const line of stdout.split("\n")) {
    const eq = line.indexOf("=");
    if (eq > 0) fields.set(line.slice(0, eq), line.slice(eq + 1));
  }
  if (!fields.has("end") || !fields.has("app")) {
    throw new EnvironmentError(
      "the server's answer to the probe was cut short; is it a POSIX shell with base64, sed and tar?",
    );
  }
  const decoded = (key: string) => {
    const value = fields.get(key);
    return value === undefined ? undefined : Buffer.from(value, "base64").toString("utf8");
  };
  const docker = fields.get("docker");
  return {
    app: decoded("app") ?? "",
    appKind: (fields.get("kind") as ServerState["appKind"]) ?? "missing",
    docker:
      docker === "ok"
        ? { status: "ok" }
        : docker === "missing"
          ? { status: "missing" }
          : { status: "error", message: decoded("dockerMessage") ?? "" },
    compose: { v2: decoded("compose2")?.trim() || undefined, v1: decoded("compose1")?.trim() || undefined },
    hasTar: fields.get("tar") === "ok",
    project: decoded("project")?.trim() || undefined,
    current: decoded("current")?.trim() || undefined,
    env: decoded("env"),
  };
}

export async function probeServer(remote: Remote, path: string): Promise<ServerState> {
  const result = await remote.run(probeScript(path));
  if (result.code !== 0)
    throw new EnvironmentError(`probing ${remote.target.host} failed: ${result.stderr.trim()}`);
  return parseProbe(result.stdout.toString("utf8"));
}

/** Turns what the probe found into a refusal, before anything on the server changes. */
export function serverProblems(state: ServerState, host: string, forced?: ComposeKind): string | undefined {
  if (state.appKind === "file") return `${host}:${state.app} is a file, not a folder; choose another --path.`;
  if (!state.hasTar) return `${host} has no tar; install it (apt-get install tar).`;
  if (state.docker.status === "missing")
    return `${host} has no docker command; install Docker Engine (https://docs.docker.com/engine/install/).`;
  if (state.docker.status === "error") {
    if (/permission denied/i.test(state.docker.message)) {
      return `the SSH user on ${host} may not use Docker (permission denied on the Docker socket); run \`sudo usermod -aG docker $USER\` there and log in again.`;
    }
    return `Docker on ${host} does not answer: ${state.docker.message.split("\n")[0]}; is dockerd running?`;
  }
  if (forced === "v2" && !state.compose.v2)
    return `${host} has no Compose v2 (docker compose), which --compose v2 asks for.`;
  if (forced === "v1" && !state.compose.v1)
    return `${host} has no Compose v1 (docker-compose), which --compose v1 asks for.`;
  if (!state.compose.v1 && !state.compose.v2)
    return `${host} has Docker but no Compose; install the docker-compose-plugin package.`;
  return undefined;
}

export function chooseCompose(state: ServerState, forced?: ComposeKind): ComposeKind {
  return forced ?? (state.compose.v2 ? "v2" : "v1");
}
