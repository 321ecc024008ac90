/**
 * `deploy-vps proxy install`: what goes on the server is decided by pure functions here (the
 * compose file, the systemd unit, what the probe found); the install itself runs deploy-vps's
 * own pipeline on a folder holding that compose file and the daemon's files (its bundle and the
 * waiting pages beside it).
 */
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, extname, join, posix } from "node:path";
import { fileURLToPath } from "node:url";
import { stringify } from "yaml";
import type { Settings } from "../config/settings.js";
import { runDeploy } from "../deploy/pipeline.js";
import { deploySummary, humanSummary } from "../deploy/report.js";
import { EnvironmentError, InputError } from "../errors.js";
import { remoteScript } from "../remote/script.js";
import { VERSION } from "../version.js";
import type { Remote } from "../ssh/connection.js";
import { remotePath } from "../ssh/quote.js";
import { parseProxyConfig } from "./config-file.js";
import { parseDependenciesFile } from "./dependencies-file.js";
import { type Address, DEFAULT_DOCKER_SOCKET, formatAddress } from "./serve-options.js";
import { CONFIG_FOLDER, CONTROL_SOCKET, STATE_FOLDER } from "./status.js";
import { PAGES_FOLDER } from "./themes.js";

/** The daemon's compose project, app folder and systemd unit all carry this name. */
export const PROXY_PROJECT = "deploy-vps-proxy";
export const PROXY_APP_PATH = `~/apps/${PROXY_PROJECT}`;
export const DEFAULT_IMAGE = "node:20-alpine";
export const SYSTEMD_UNIT = `${PROXY_PROJECT}.service`;
const SYSTEMD_UNIT_PATH = `.config/systemd/user/${SYSTEMD_UNIT}`;
/** Where `--systemd` puts the daemon's files (the bundle finds its pages beside it). */
const SYSTEMD_FILES_PATH = `.local/share/${PROXY_PROJECT}`;
/** `--systemd` runs the bundle on the server's own node: the oldest it is built for. */
export const MIN_NODE = [20, 19] as const;
/** The bundled daemon, beside this module in dist/proxy/ (npm run build makes it). */
export const BUNDLE = new URL("./daemon.mjs", import.meta.url);

/** One file the daemon runs with, by its path beside the other ones: `daemon.mjs`, `pages/ghost.html`. */
export interface DaemonFile {
  path: string;
  content: Buffer;
}

/** The bundle and every file of the pages folder (the themes and live.js): what goes on the server. */
export async function readDaemonFiles(bundle: URL = BUNDLE, pages: URL = PAGES_FOLDER): Promise<DaemonFile[]> {
  const missing = (what: string) => () => {
    throw new EnvironmentError(`the daemon's ${what} is missing: run npm run build.`);
  };
  const content = await readFile(bundle).catch(missing(`bundle ${bundle.pathname}`));
  const entries = await readdir(pages, { withFileTypes: true }).catch(missing(`pages folder ${pages.pathname}`));
  const names = entries.filter((entry) => entry.isFile()).map((entry) => entry.name);
  const folder = fileURLToPath(pages);
  const files = await Promise.all(names.map(async (name) => ({ path: `pages/${name}`, content: await readFile(join(folder, name)) })));
  return [{ path: "daemon.mjs", content }, ...files];
}

/** sha256 over every file's path and content: a changed theme changes it as a changed bundle does. */
export function daemonFilesHash(files: readonly DaemonFile[]): string {
  const hash = createHash("sha256");
  for (const file of [...files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))) {
    // The length keeps one file's bytes from passing for the next file's path.
    hash.update(`${file.path}\0${file.content.length}\0`).update(file.content);
  }
  return hash.digest("hex");
}

/** What `proxy-host.sh probe` found on the server, in one round trip. */
export interface HostFacts {
  uid: number;
  gid: number;
  home: string;
  /** The group owning the Docker socket, for the daemon's `group_add`. */
  dockerGid?: number;
  /** `systemctl --user` answers: a user manager runs for the deploy user. */
  systemd: boolean;
  /** `node --version` on the server's PATH ("v20.19.1"), and its path. */
  node?: string;
  nodePath?: string;
  /** The config file already on the server (config.json, config.yml or config.yaml). */
  config?: string;
  /** The dependencies file already on the server (dependencies.json, .yml or .yaml). */
  dependencies?: string;
  /** The control socket exists (a daemon runs, or one was killed and left it). */
  socket: boolean;
}

export function parseHostFacts(stdout: string): HostFacts {
  const values = new Map(stdout.split("\n").flatMap((line) => (/^\w+=/.test(line) ? [line.split(/=(.*)/s).slice(0, 2) as [string, string]] : [])));
  const decoded = (key: string) => {
    const value = values.get(key);
    return value === undefined ? undefined : Buffer.from(value, "base64").toString("utf8");
  };
  const number = (key: string) => (values.has(key) && /^\d+$/.test(values.get(key) ?? "") ? Number(values.get(key)) : undefined);
  const uid = number("uid");
  const gid = number("gid");
  const home = decoded("home");
  if (uid === undefined || gid === undefined || !home?.startsWith("/"))
    throw new EnvironmentError(`the server's answer to the proxy probe makes no sense: ${JSON.stringify(stdout.slice(0, 200))}`);
  return {
    uid,
    gid,
    home,
    dockerGid: number("dockerGid"),
    systemd: values.get("systemd") === "yes",
    node: values.get("node") || undefined,
    nodePath: decoded("nodePath"),
    config: values.get("config") || undefined,
    dependencies: values.get("dependencies") || undefined,
    socket: values.get("socket") === "yes",
  };
}

/** Where the daemon's folders are on a server whose deploy user's home is HOME. */
export function proxyPaths(home: string) {
  const state = posix.join(home, STATE_FOLDER);
  const config = posix.join(home, CONFIG_FOLDER);
  return { state, config, socket: posix.join(state, CONTROL_SOCKET) };
}

/** The inputs of every remote proxy-host.sh action: the folders, named once. */
export function proxyHostScript(action: string, args: string[] = []) {
  return remoteScript("proxy-host", {
    args: [action, ...args],
    env: {
      STATE: remotePath(`~/${STATE_FOLDER}`),
      CONFIG: remotePath(`~/${CONFIG_FOLDER}`),
      SOCKET: remotePath(`~/${STATE_FOLDER}/${CONTROL_SOCKET}`),
      DOCKER_SOCKET: DEFAULT_DOCKER_SOCKET,
      UNIT: SYSTEMD_UNIT,
    },
  });
}

/** One round trip: who the deploy user is, what the server has, whether the daemon's socket is there. */
export async function probeHost(remote: Remote): Promise<HostFacts> {
  const result = await remote.run(proxyHostScript("probe"), { raw: true });
  if (result.code !== 0) throw new EnvironmentError(`the proxy probe failed on ${remote.target.host}: ${result.stderr.trim() || `exit ${result.code}`}`);
  return parseHostFacts(result.stdout.toString("utf8"));
}

async function runHostScript(remote: Remote, what: string, action: string, args: string[], stdin?: Buffer | string): Promise<void> {
  const result = await remote.run(proxyHostScript(action, args), { stdin });
  if (result.code !== 0) throw new EnvironmentError(`${what} failed on ${remote.target.host}: ${result.stderr.trim() || `exit ${result.code}`}`);
}

/** How the daemon is started, the same on both ways of running it. */
export interface DaemonOptions {
  listen: Address;
  admin: Address;
  /** The config file's name in the config folder, if there is one. */
  config?: string;
  /** The dependencies file's name in the config folder, if there is one. */
  dependencies?: string;
}

function daemonArgs(home: string, options: DaemonOptions): string[] {
  const paths = proxyPaths(home);
  return [
    "--listen",
    formatAddress(options.listen),
    "--admin",
    formatAddress(options.admin),
    "--state",
    paths.state,
    ...(options.config ? ["--config", posix.join(paths.config, options.config)] : []),
    ...(options.dependencies ? ["--dependencies", posix.join(paths.config, options.dependencies)] : []),
    "--docker-socket",
    DEFAULT_DOCKER_SOCKET,
  ];
}

/** Compose interpolates `$` in every value: a path holding one stays a path. */
const literal = (value: string) => value.replaceAll("$", () => "$$");

/** Connects to the control socket: the container is healthy once its daemon listens there. */
const HEALTH_PROBE = "require('net').connect(process.argv[1]).on('connect',()=>process.exit(0)).on('error',()=>process.exit(1))";

export interface ComposeInputs extends DaemonOptions {
  image: string;
  facts: Pick<HostFacts, "uid" | "gid" | "home"> & { dockerGid: number };
  /** daemonFilesHash of the bundle and its pages: a new one changes the file, so `up -d` recreates the container. */
  daemonHash: string;
  /** The installing CLI's version, which `proxy status` shows. */
  version: string;
}

/**
 * The daemon's compose file. It runs as the deploy user (and the Docker socket's group), on the
 * host's network (it reaches published ports and binds loopback), with the user's home
 * read-only (deploy locks), its state read-write and its config read-only, each at the same path,
 * and its bundle and pages read-only in /app.
 */
export function proxyCompose(inputs: ComposeInputs): string {
  const { home } = inputs.facts;
  const paths = proxyPaths(home);
  const bind = (source: string, readOnly: boolean) => ({ type: "bind", source: literal(source), target: literal(source), read_only: readOnly });
  const service = {
    image: literal(inputs.image),
    command: ["node", "/app/daemon.mjs", ...daemonArgs(home, inputs).map(literal)],
    network_mode: "host",
    restart: "unless-stopped",
    user: `${inputs.facts.uid}:${inputs.facts.gid}`,
    group_add: [String(inputs.facts.dockerGid)],
    volumes: [
      { type: "bind", source: "./daemon.mjs", target: "/app/daemon.mjs", read_only: true },
      { type: "bind", source: "./pages", target: "/app/pages", read_only: true },
      bind(DEFAULT_DOCKER_SOCKET, false),
      bind(home, true),
      bind(paths.state, false),
      bind(paths.config, true),
    ],
    stop_grace_period: "10s",
    healthcheck: {
      test: ["CMD", "node", "-e", HEALTH_PROBE, literal(paths.socket)],
      interval: "10s",
      timeout: "3s",
      retries: 3,
      start_period: "5s",
    },
    environment: { DEPLOY_VPS_VERSION: literal(inputs.version) },
    // Not deploy-vps.proxy.*: those are the routes' labels, which the daemon reads on every container.
    labels: {
      "deploy-vps.daemon": "proxy",
      "deploy-vps.daemon.bundle": inputs.daemonHash,
    },
  };
  return `# The deploy-vps runtime proxy, written by \`deploy-vps proxy install\`: edit the install's options, not this file.\n${stringify({ services: { proxy: service } })}`;
}

/** Where `--systemd` puts a daemon file, relative to the deploy user's home: the pages beside the bundle the unit runs. */
export function systemdFilePath(file: Pick<DaemonFile, "path">): string {
  return posix.join(SYSTEMD_FILES_PATH, file.path);
}

/** systemd's own quoting: a word in double quotes, with its specifiers (`%`) and variables (`$`) escaped. */
function unitWord(value: string): string {
  return `"${value.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("%", "%%").replaceAll("$", "$$$$")}"`;
}

/** The user unit that `--systemd` installs instead of the container. */
export function systemdUnit(nodePath: string, home: string, options: DaemonOptions): string {
  const bundle = posix.join(home, systemdFilePath({ path: "daemon.mjs" }));
  return `# The deploy-vps runtime proxy, written by \`deploy-vps proxy install --systemd\`.
[Unit]
Description=deploy-vps runtime proxy

[Service]
ExecStart=${[nodePath, bundle, ...daemonArgs(home, options)].map(unitWord).join(" ")}
Restart=always
RestartSec=2
TimeoutStopSec=10

[Install]
WantedBy=default.target
`;
}

/** `v20.19.1` is at least 20.19. */
export function nodeIsRecentEnough(version: string | undefined): boolean {
  const match = /^v?(\d+)\.(\d+)/.exec(version ?? "");
  if (!match) return false;
  const [major, minor] = [Number(match[1]), Number(match[2])];
  return major > MIN_NODE[0] || (major === MIN_NODE[0] && minor >= MIN_NODE[1]);
}

/** Why `--systemd` cannot run on this server, or undefined when it can. */
export function systemdRefusal(host: string, facts: HostFacts): string | undefined {
  if (!facts.systemd)
    return `--systemd needs a systemd user manager for the deploy user on ${host}, and \`systemctl --user\` does not answer there (no systemd, or no lingering: loginctl enable-linger USER); install without --systemd to run the proxy in a container.`;
  if (!nodeIsRecentEnough(facts.node))
    return `--systemd runs the proxy on the server's own node, which must be ${MIN_NODE.join(".")} or newer; ${host} has ${facts.node ?? "none"}. Install without --systemd to run it in a container.`;
  return undefined;
}

/** A config or dependencies file to upload: its text, checked, and its extension on the server. */
export interface ConfigUpload {
  text: string;
  extension: "json" | "yml" | "yaml";
}

/** `option`'s file, refused by `check` (the daemon's own parser) before anything on the server changes. */
async function readUpload(file: string, option: string, check: (text: string, file: string) => unknown): Promise<ConfigUpload> {
  const extension = extname(file).slice(1).toLowerCase();
  if (extension !== "json" && extension !== "yml" && extension !== "yaml")
    throw new InputError(`${option} takes a .json, .yml or .yaml file, got '${file}'.`);
  const text = await readFile(file, "utf8").catch(() => {
    throw new InputError(`${option}: cannot read ${file}.`);
  });
  check(text, file);
  return { text, extension };
}

export const readConfigUpload = (file: string) => readUpload(file, "--config", parseProxyConfig);
export const readDependenciesUpload = (file: string) => readUpload(file, "--dependencies", parseDependenciesFile);

export interface InstallOptions extends Omit<DaemonOptions, "config" | "dependencies"> {
  image: string;
  config?: ConfigUpload;
  dependencies?: ConfigUpload;
  systemd: boolean;
}

/** What the install did, for the summary line. */
export type InstallOutcome =
  | { way: "compose"; unchanged: boolean; status: "deployed" }
  /** The daemon's container crash-loops or exited: the deploy's summary, its logs included. */
  | { way: "compose"; status: "unhealthy"; summary: string }
  | { way: "systemd" };

/**
 * Installs or upgrades the daemon on the server `remote` is connected to (settings: how the
 * command was invoked, for the pipeline's own connection). The caller then waits for the daemon.
 */
export async function installProxy(remote: Remote, settings: Settings, facts: HostFacts, options: InstallOptions): Promise<InstallOutcome> {
  const host = remote.target.host;
  if (options.systemd) {
    const refusal = systemdRefusal(host, facts);
    if (refusal) throw new EnvironmentError(refusal);
  }
  if (facts.dockerGid === undefined) throw new EnvironmentError(`${host} has no Docker socket at ${DEFAULT_DOCKER_SOCKET}: the proxy drives Docker through it.`);
  const files = await readDaemonFiles();
  await runHostScript(remote, "preparing the proxy's folders", "prepare", options.config ? [options.config.extension] : [], options.config?.text);
  if (options.dependencies)
    await runHostScript(remote, "uploading the dependencies file", "dependencies", [options.dependencies.extension], options.dependencies.text);
  const daemon: DaemonOptions = {
    ...options,
    config: options.config ? `config.${options.config.extension}` : facts.config,
    dependencies: options.dependencies ? `dependencies.${options.dependencies.extension}` : facts.dependencies,
  };

  if (options.systemd) {
    for (const file of files)
      await runHostScript(remote, `uploading the daemon's ${file.path}`, "put", [systemdFilePath(file)], file.content);
    await runHostScript(remote, "writing the systemd unit", "put", [SYSTEMD_UNIT_PATH], systemdUnit(facts.nodePath ?? "node", facts.home, daemon));
    await runHostScript(remote, "starting the systemd unit", "enable-systemd", []);
    return { way: "systemd" };
  }

  // A folder named for the project, as a user's would be: deploy-vps ships it like any other.
  const parent = await mkdtemp(join(tmpdir(), `${PROXY_PROJECT}-install-`));
  try {
    const folder = join(parent, PROXY_PROJECT);
    await mkdir(folder);
    for (const file of files) {
      await mkdir(dirname(join(folder, file.path)), { recursive: true });
      await writeFile(join(folder, file.path), file.content);
    }
    const compose = proxyCompose({
      ...daemon,
      image: options.image,
      facts: { ...facts, dockerGid: facts.dockerGid },
      daemonHash: daemonFilesHash(files),
      version: VERSION,
    });
    await writeFile(join(folder, "compose.yaml"), compose);
    const report = await runDeploy(
      { ...settings, projectDir: folder, folderName: PROXY_PROJECT, path: PROXY_APP_PATH, name: PROXY_PROJECT, files: [], exclude: [], dryRun: false, json: false },
      {},
    );
    if (deploySummary(report).status === "unhealthy") return { way: "compose", status: "unhealthy", summary: humanSummary(report, false) };
    return { way: "compose", unchanged: report.unchanged === true, status: "deployed" };
  } finally {
    await rm(parent, { recursive: true, force: true });
  }
}
