/**
 * Drives the built CLI against the real test host (test/host/setup.sh): a real sshd and a real
 * Docker Engine. Nothing here mocks SSH or Docker; a missing host fails the tests, never skips them.
 *
 * Everything a test makes carries the id of the process that made it (uniqueName, tempDir), so
 * that a run killed half-way leaves nothing the next run trips on: each test file starts by
 * removing what processes that are gone left (sweepLeftovers), and never touches the rest.
 */
import { execFile, execFileSync, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join, posix } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll } from "vitest";

export const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const CLI = join(ROOT, "dist/cli.js");
const STATE = process.env.DEPLOY_VPS_TEST_HOST_DIR ?? "/var/lib/deploy-vps-test-host";

/** A name the suite gave: its prefix, the id of the process that made it, a random part. */
const SUITE_NAME = /^e2e-[a-z0-9-]*?-(\d+)-[0-9a-f]{6}$/;
/** Local temporary folders of the suite: `deploy-vps-e2e-<pid>-…`. */
const TEMP_PREFIX = "deploy-vps-e2e-";
const SUITE_TEMP = /^deploy-vps-e2e-(\d+)-/;

const temporary: string[] = [];
// Registered as the test file imports this module, so it runs after the file's own afterAll
// hooks (they run last-registered first). A process "exit" handler does not run in vitest's workers.
afterAll(() => {
  for (const dir of temporary.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A fresh local folder, removed once the test file is done (or by the next run's sweep). */
export function tempDir(label = "tmp"): string {
  const dir = mkdtempSync(join(tmpdir(), `${TEMP_PREFIX}${process.pid}-${label}-`));
  temporary.push(dir);
  return dir;
}

/** The CLI's cache (hashes, manifests) for this test file's runs: never the tester's own ~/.cache. */
export const CACHE = tempDir("cache");

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

/** The system ssh client's options that log in to the test host as its deploy user. */
function sshLogin(): string[] {
  const host = testHost();
  return [
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
  ];
}

/**
 * The socket of this test file's one SSH connection (ssh's ControlMaster), which every onServer
 * shares: a login costs both ends far more CPU than a session on an open connection, and the
 * suite's files, side by side, make thousands of them. Started on first use, again if it went
 * away; if it cannot start, ssh logs in afresh for each command. It ends with the file, or on
 * its own once unused for a minute when the file's process was killed.
 */
let sharedConnection: string | undefined;
function connectionSocket(): string {
  sharedConnection ??= join(tempDir("ssh"), "connection");
  if (!existsSync(sharedConnection)) {
    const host = testHost();
    spawnSync("ssh", [...sshLogin(), "-o", `ControlPath=${sharedConnection}`, "-o", "ControlMaster=yes", "-o", "ControlPersist=60", "-f", "-N", `${host.DEPLOY_USER}@${host.DEPLOY_HOST}`], {
      stdio: "ignore",
      timeout: 30_000,
    });
  }
  return sharedConnection;
}
afterAll(() => {
  if (sharedConnection && existsSync(sharedConnection))
    spawnSync("ssh", ["-o", `ControlPath=${sharedConnection}`, "-O", "exit", "deploy-vps-test-host"], { stdio: "ignore", timeout: 10_000 });
});

/** The system ssh client's arguments that run COMMAND on the test host as its deploy user. */
function sshArgs(command: string): string[] {
  const host = testHost();
  return [...sshLogin(), "-o", `ControlPath=${connectionSocket()}`, "-o", "ControlMaster=no", `${host.DEPLOY_USER}@${host.DEPLOY_HOST}`, command];
}

/** Runs a shell command on the test host over the system's own ssh client, as its deploy user. */
export function onServer(command: string): string {
  try {
    return execFileSync("ssh", sshArgs(command), { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  } catch (error) {
    const { status, stderr } = error as { status?: number | null; stderr?: string };
    throw failedOnServer(command, status, stderr);
  }
}

/** onServer without blocking this process: what runs meanwhile (a load, a websocket) goes on. */
export function onServerAsync(command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile("ssh", sshArgs(command), { encoding: "utf8" }, (error, stdout, stderr) =>
      error ? reject(failedOnServer(command, typeof error.code === "number" ? error.code : null, stderr)) : resolve(stdout),
    );
  });
}

/**
 * The error of a command that failed on the test host: its stderr first, where a test report
 * shows it, then the command cut short (the suite's commands carry whole compose files).
 */
function failedOnServer(command: string, status: number | null | undefined, stderr: string | undefined): Error {
  const shown = command.length > 300 ? `${command.slice(0, 300)}…` : command;
  return new Error(`exit ${status ?? "?"} on the test host: ${stderr?.trim() || "(nothing on stderr)"}\n  command: ${shown}`);
}

/**
 * A unique name, so that every test has its own compose project and app folder. It carries this
 * process's id, which tells a later run whether it is a leftover; only names whose PREFIX starts
 * with `e2e-` are ever swept.
 */
export function uniqueName(prefix: string): string {
  return `${prefix}-${process.pid}-${randomBytes(3).toString("hex")}`;
}

/** Copies a fixture (or the demo) to a fresh folder whose name becomes the project name. */
export function projectCopy(source: string, name: string): string {
  const dir = join(tempDir("project"), name);
  cpSync(join(ROOT, source), dir, { recursive: true });
  return dir;
}

const given = new Set<number>();

/**
 * A TCP port free on 127.0.0.1 now, for a stack to publish: the system picks it, and this
 * process never hands out the same one twice (a port given is only taken once its stack is up).
 */
export async function freePort(): Promise<string> {
  for (;;) {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", resolve);
    });
    const { port } = server.address() as AddressInfo;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    if (!given.has(port)) {
      given.add(port);
      return String(port);
    }
  }
}

/** POSIX single-quoting for the tests' own remote commands (independent of src/ssh/quote.ts). */
export function shq(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

/**
 * Removes a compose project's containers, networks, volumes and the images built for it (named
 * `<project>/<service>` by deploy-vps, or labelled with the project by compose). APP_FOLDER, a
 * shell word for the app folder's absolute path, finds containers compose recorded there too.
 */
function removeProjectScript(project: string, appFolder?: string): string {
  const label = `label=com.docker.compose.project=${shq(project)}`;
  const byFolder = appFolder ? `docker ps -aq --filter label=com.docker.compose.project.working_dir=${appFolder}; ` : "";
  return (
    `ids=$( (docker ps -aq --filter ${label}; ${byFolder}) | sort -u); ` +
    `[ -z "$ids" ] || docker rm -f $ids >/dev/null; ` +
    `docker network rm ${shq(`${project}_default`)} $(docker network ls -q --filter ${label}) >/dev/null 2>&1; ` +
    `docker volume rm -f $(docker volume ls -q --filter ${label}) >/dev/null 2>&1; ` +
    // By name, never by id: an id can be shared with another tag (local/busybox), and removing
    // it would take that image away from every other stack.
    `images=$( (docker images --format '{{.Repository}}:{{.Tag}}' --filter ${label}; ` +
    `docker images --format '{{.Repository}}:{{.Tag}}' --filter reference=${shq(`${project}/*`)}) | grep -v '<none>' | sort -u); ` +
    `[ -z "$images" ] || docker rmi $images >/dev/null 2>&1; `
  );
}

/** Removes a compose project's containers, networks, volumes and built images from the server. */
export function removeProject(project: string): void {
  onServer(`${removeProjectScript(project)}true`);
}

/**
 * Removes a test's containers, networks, volumes, images, app folder and state folder from the
 * server. APP is relative to the remote home and starts with `apps/`; it may hold any character
 * (spaces, quotes, `$`, newlines) and more folders (`apps/a/b` has its state in
 * `apps/a/.deploy-vps/b`). Containers are found by project name and by the folder compose
 * recorded in their labels.
 */
export function removeStack(project: string, app: string): void {
  removeStacksAt([[project, app]]);
}

/** Removes each of these stacks (`apps/<name>`) as removeStack does, all in one command. */
export function removeStacks(names: Iterable<string>): void {
  removeStacksAt([...names].map((name) => [name, `apps/${name}`] as const));
}

/**
 * A shell script that runs each of COMMANDS in the background and waits for them all; after it,
 * `$failed` is 1 if one of them failed, else 0.
 */
export function sideBySide(commands: readonly string[]): string {
  return `pids=; ${commands.map((command) => `( ${command} ) & pids="$pids $!";`).join(" ")} failed=0; for pid in $pids; do wait "$pid" || failed=1; done`;
}

/** removeStack of every [PROJECT, APP] of STACKS, side by side in one command on the server. */
function removeStacksAt(stacks: readonly (readonly [string, string])[]): void {
  if (stacks.length === 0) return;
  const folders = stacks.flatMap(([, app]) => {
    const inApps = app.replace(/^apps\//, "");
    if (!app.startsWith("apps/") || inApps === "" || inApps.split("/").some((part) => part === ".." || part === ""))
      throw new Error(`removeStack: ${JSON.stringify(app)} is not a folder under apps/`);
    // Where deploy-vps keeps its state: beside the app folder (src/release/layout.ts).
    return [`/apps/${inApps}`, `/apps/${posix.join(posix.dirname(inApps), ".deploy-vps", posix.basename(inApps))}`];
  });
  const removals = stacks.map(([project, app]) => `${removeProjectScript(project, `"$HOME"/${shq(app)}`)}true`);
  onServer(
    `${sideBySide(removals)}; ` +
      // Bind-mount folders that Docker created are root's: remove them from inside a container.
      `docker run --rm -v "$HOME/apps:/apps" local/busybox:latest rm -rf -- ${folders.map(shq).join(" ")}; true`,
  );
}

/** Whether the process that made a suite name or folder is still running here. */
function alive(pid: number): boolean {
  return pid === process.pid || existsSync(`/proc/${pid}`);
}

/**
 * What runs of the suite that are gone left behind: on the server, compose projects, images,
 * app and state folders, home entries and mounts named `e2e-…-<pid>-<hex>` whose process no
 * longer runs; here, `deploy-vps-e2e-<pid>-…` folders likewise. Names of live processes (this
 * run, another engineer's run beside it) and names the suite never gives are left alone.
 */
export function sweepLeftovers(): string[] {
  const listed = onServer(
    `{ docker ps -a --format '{{.Label "com.docker.compose.project"}}'; ` +
      `docker network ls --format '{{.Label "com.docker.compose.project"}}'; ` +
      `docker volume ls --format '{{.Label "com.docker.compose.project"}}'; ` +
      `docker images --format '{{.Repository}}' | cut -d/ -f1; ` +
      `ls -A apps apps/.deploy-vps; ls -A; } 2>/dev/null | sort -u`,
  )
    .split("\n")
    .map((entry) => entry.replace(/^\.slow-switch-/, ""));
  const dead = [...new Set(listed)].filter((name) => {
    const owner = SUITE_NAME.exec(name)?.[1];
    return owner !== undefined && !alive(Number(owner));
  });
  if (dead.length > 0) {
    const home = onServer(`printf %s "$HOME"`);
    // interrupt.test.ts mounts a tmpfs in the server's home, from this machine (the test host's).
    const mounts = readFileSync("/proc/mounts", "utf8").split("\n").map((line) => line.split(" ")[1]);
    for (const name of dead) if (mounts.includes(`${home}/${name}`)) execFileSync("umount", [`${home}/${name}`]);
    removeStacks(dead);
    onServer(dead.map((name) => `rm -rf -- ${shq(name)} ${shq(`.slow-switch-${name}`)}`).join("; "));
  }
  for (const entry of readdirSync(tmpdir())) {
    const owner = SUITE_TEMP.exec(entry)?.[1];
    if (owner !== undefined && !alive(Number(owner))) rmSync(join(tmpdir(), entry), { recursive: true, force: true });
  }
  return dead;
}

// Each test file starts by clearing what runs of the suite that were killed left behind.
sweepLeftovers();
