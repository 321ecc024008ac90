/**
 * Drives the built CLI against the real test host (test/host/setup.sh): a real sshd and a real
 * Docker Engine. Nothing here mocks SSH or Docker; a missing host fails the tests, never skips them.
 */
import { execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, posix } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const CLI = join(ROOT, "dist/cli.js");
const STATE = process.env.DEPLOY_VPS_TEST_HOST_DIR ?? "/var/lib/deploy-vps-test-host";
/** The CLI's cache (hashes, manifests) for this test file's runs: never the tester's own ~/.cache. */
export const CACHE = mkdtempSync(join(tmpdir(), "deploy-vps-e2e-cache-"));
process.on("exit", () => rmSync(CACHE, { recursive: true, force: true }));

export interface TestHost {
  DEPLOY_HOST: string;
  DEPLOY_PORT: string;
  DEPLOY_USER: string;
  DEPLOY_SSH_KEY: string;
  DEPLOY_KNOWN_HOSTS: string;
}

export function testHost(): TestHost {
  const file = join(STATE, "env");
  if (!existsSync(file))
    throw new Error(`no test host: ${file} is missing; run bash test/host/setup.sh (npm test does)`);
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing; run npm run build (npm test does)`);
  return Object.fromEntries(
    readFileSync(file, "utf8")
      .trim()
      .split("\n")
      .map((line) => line.split(/=(.*)/s).slice(0, 2)),
  ) as unknown as TestHost;
}

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  /** A command that runs the CLI, e.g. `["unshare", "-n"]` for a network namespace of its own. */
  via?: string[];
}

/** The CLI's environment in tests: the test host's settings, no colour, the test file's own cache. */
export function cliEnv(env: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  return { ...process.env, ...testHost(), NO_COLOR: "1", XDG_CACHE_HOME: CACHE, ...env };
}

/**
 * Runs `deploy-vps ARGS` as a user would, with the test host's settings in the environment.
 * A variable given as `undefined` in ENV is removed from the CLI's environment.
 */
export function runCli(
  args: string[],
  env: Record<string, string | undefined> = {},
  options: CliOptions = {},
): Promise<CliRun> {
  const [command, ...prefix] = [...(options.via ?? []), process.execPath];
  return new Promise((resolve) => {
    // spawn leaves out variables whose value is undefined.
    const child = spawn(command ?? process.execPath, [...prefix, CLI, ...args], {
      env: cliEnv(env),
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => {
      stdout += chunk;
    });
    child.stderr.on("data", (chunk) => {
      stderr += chunk;
    });
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

/** Runs a shell command on the test host over the system's own ssh client, as its deploy user. */
export function onServer(command: string): string {
  const host = testHost();
  return execFileSync(
    "ssh",
    [
      "-o",
      "BatchMode=yes",
      "-o",
      `UserKnownHostsFile=${host.DEPLOY_KNOWN_HOSTS}`,
      "-o",
      "StrictHostKeyChecking=yes",
      "-i",
      host.DEPLOY_SSH_KEY,
      "-p",
      host.DEPLOY_PORT,
      `${host.DEPLOY_USER}@${host.DEPLOY_HOST}`,
      command,
    ],
    { encoding: "utf8" },
  );
}

/** A unique name, so that every test has its own compose project and app folder. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(3).toString("hex")}`;
}

/** Copies a fixture (or the demo) to a fresh folder whose name becomes the project name. */
export function projectCopy(source: string, name: string): string {
  const dir = join(mkdtempSync(join(tmpdir(), "deploy-vps-e2e-")), name);
  cpSync(join(ROOT, source), dir, { recursive: true });
  return dir;
}

/** POSIX single-quoting for the tests' own remote commands (independent of src/ssh/quote.ts). */
export function shq(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

/**
 * Removes a test's containers, network, app folder and state folder from the server. APP is
 * relative to the remote home and starts with `apps/`; it may hold any character (spaces, quotes,
 * `$`, newlines) and more folders (`apps/a/b` has its state in `apps/a/.deploy-vps/b`). Containers
 * are found by project name and by the folder compose recorded in their labels.
 */
export function removeStack(project: string, app: string): void {
  const inApps = app.replace(/^apps\//, "");
  if (!app.startsWith("apps/") || inApps === "" || inApps.split("/").some((part) => part === ".." || part === ""))
    throw new Error(`removeStack: ${JSON.stringify(app)} is not a folder under apps/`);
  // Where deploy-vps keeps its state: beside the app folder (src/release/layout.ts).
  const state = posix.join(posix.dirname(inApps), ".deploy-vps", posix.basename(inApps));
  onServer(
    `ids=$( (docker ps -aq --filter label=com.docker.compose.project=${shq(project)}; ` +
      `docker ps -aq --filter label=com.docker.compose.project.working_dir="$HOME"/${shq(app)}) | sort -u); ` +
      `[ -z "$ids" ] || docker rm -f $ids >/dev/null; ` +
      `docker network rm ${shq(`${project}_default`)} >/dev/null 2>&1; ` +
      // Bind-mount folders that Docker created are root's: remove them from inside a container.
      `docker run --rm -v "$HOME/apps:/apps" local/busybox:latest rm -rf -- ${shq(`/apps/${inApps}`)} ${shq(`/apps/${state}`)}; true`,
  );
}
