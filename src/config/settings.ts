import { stat } from "node:fs/promises";
import { userInfo } from "node:os";
import { basename, join, resolve } from "node:path";
import { existsSync } from "node:fs";
import { parse as parseDotenv } from "dotenv";
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type YAMLMap } from "yaml";
import { parseIgnoreFile } from "../archive/exclude.js";
import type { ComposeKind } from "../compose/commands.js";
import { atPosition, InputError } from "../errors.js";
import { expandHome, readOptional } from "./paths.js";
import { readSshConfig, resolveAlias } from "../ssh/ssh-config.js";

export const CONFIG_FILE = "deploy-vps.yml";

/** What the command line gives, as commander parses it (all optional). */
export interface Flags {
  host?: string;
  port?: string;
  user?: string;
  identity?: string;
  knownHosts?: string;
  path?: string;
  file?: string[];
  exclude?: string[];
  envTemplate?: string;
  settle?: string;
  timeout?: string;
  compose?: string;
  dryRun?: boolean;
  json?: boolean;
  acceptNewHostKey?: boolean;
  lockWait?: string;
  forceUnlock?: boolean;
  full?: boolean;
  verbose?: boolean;
  quiet?: boolean;
}

export interface Settings {
  projectDir: string;
  folderName: string;
  host?: string;
  port: number;
  user: string;
  identity?: string;
  knownHosts: string;
  path?: string;
  name?: string;
  files: string[];
  exclude: string[];
  envTemplate: string;
  settle: number;
  timeout: number;
  compose?: ComposeKind;
  dryRun: boolean;
  json: boolean;
  acceptNewHostKey: boolean;
  /** Seconds to wait for another deploy's lock; 0 refuses at once. */
  lockWait: number;
  forceUnlock: boolean;
  /** Send every file, not only those that changed since the live release. */
  full: boolean;
  /** Every remote command and its output (secrets aside). */
  verbose: boolean;
  /** Only errors and the final line. */
  quiet: boolean;
  /** ~/.ssh/config's IdentitiesOnly: offer the key file only, not the agent's keys. */
  identitiesOnly: boolean;
  /** ~/.ssh/config's ProxyJump: [user@]host[:port] of one jump host. */
  proxyJump?: string;
  password?: string;
  passphrase?: string;
  /** deploy-vps.yml's `blueGreen:`: the seed's primary/standby layout. */
  blueGreen?: BlueGreenSettings;
}

/** deploy-vps.yml's `blueGreen:`, defaults applied; `at` says where each key was written, for errors. */
export interface BlueGreenSettings {
  primary: string;
  standby: string;
  /** The health URL as written: `{port}` stands for each service's published port. */
  health: string;
  intervalSeconds: number;
  timeoutSeconds: number;
  drainSeconds: number;
  /** The environment variable that turns the application's crons on. */
  cronVariable: string;
  /** The proxy unit routing the primary, when it is not the compose project's name. */
  unit?: string;
  /** `file:line:col` of `blueGreen` and of each of its keys as written. */
  at: Record<string, string>;
}

/** A raw setting and where it came from, so that an error can point at it. */
interface Sourced {
  value: unknown;
  source: string;
  /** 0 flag, 1 environment, 2 local .env, 3 deploy-vps.yml: lower wins. */
  rank: number;
}

/** Settings keys: flag name, environment variable, deploy-vps.yml key. */
const KEYS = {
  host: ["--host", "DEPLOY_HOST", "host"],
  port: ["--port", "DEPLOY_PORT", "port"],
  user: ["--user", "DEPLOY_USER", "user"],
  identity: ["--identity", "DEPLOY_SSH_KEY", "identity"],
  knownHosts: ["--known-hosts", "DEPLOY_KNOWN_HOSTS", "knownHosts"],
  path: ["--path", "DEPLOY_PATH", "path"],
  name: [undefined, "DEPLOY_NAME", "name"],
  files: ["--file", "DEPLOY_COMPOSE_FILES", "files"],
  exclude: ["--exclude", undefined, "exclude"],
  envTemplate: ["--env-template", "DEPLOY_ENV_TEMPLATE", "envTemplate"],
  settle: ["--settle", "DEPLOY_SETTLE", "settle"],
  timeout: ["--timeout", "DEPLOY_TIMEOUT", "timeout"],
  compose: ["--compose", "DEPLOY_COMPOSE", "compose"],
  lockWait: ["--lock-wait", "DEPLOY_LOCK_WAIT", "lockWait"],
  blueGreen: [undefined, undefined, "blueGreen"],
} as const;
type Key = keyof typeof KEYS;

/** Where commander puts a long option's value: `--lock-wait` becomes `lockWait`. */
function flagProperty(flag: string): string {
  return flag.replace(/^--/, "").replace(/-([a-z])/g, (_, letter: string) => letter.toUpperCase());
}

/** deploy-vps.yml, with each value's `file:line:col` kept for error messages. */
export function parseConfigFile(file: string, text: string): Map<string, Sourced> {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  const where = (offset: number | undefined) => {
    const { line, col } = lineCounter.linePos(offset ?? 0);
    return { line, col };
  };
  const first = doc.errors[0];
  if (first) {
    const { line, col } = where(first.pos[0]);
    throw new InputError(atPosition(file, line, col, first.message.split("\n")[0] ?? "YAML syntax error"));
  }
  const values = new Map<string, Sourced>();
  if (doc.contents === null) return values;
  if (!isMap(doc.contents))
    throw new InputError(atPosition(file, 1, 1, "expected a mapping of settings (host: ..., path: ...)"));
  const known = Object.values(KEYS).map(([, , key]) => key as string);
  for (const pair of doc.contents.items) {
    const key = isScalar(pair.key) ? String(pair.key.value) : "";
    const { line, col } = where(isScalar(pair.key) ? pair.key.range?.[0] : undefined);
    if (!known.includes(key)) {
      throw new InputError(
        atPosition(file, line, col, `unknown setting '${key}'; known settings: ${known.join(", ")}`),
      );
    }
    const node = pair.value;
    if (isMap(node)) {
      values.set(key, { value: mappingValues(node, where, file), source: `${file}:${line}:${col}`, rank: 3 });
      continue;
    }
    const value = isSeq(node)
      ? node.items.map((item) => (isScalar(item) ? String(item.value) : ""))
      : isScalar(node)
        ? node.value
        : undefined;
    const at = where(isScalar(node) || isSeq(node) ? node.range?.[0] : undefined);
    values.set(key, { value, source: `${file}:${at.line}:${at.col}`, rank: 3 });
  }
  return values;
}

/** A mapping setting (`blueGreen:`): each key's scalar value and where it was written. */
function mappingValues(
  node: YAMLMap,
  where: (offset: number | undefined) => { line: number; col: number },
  file: string,
): Map<string, Sourced> {
  const values = new Map<string, Sourced>();
  for (const pair of node.items) {
    const keyAt = where(isScalar(pair.key) ? pair.key.range?.[0] : undefined);
    if (!isScalar(pair.key)) throw new InputError(atPosition(file, keyAt.line, keyAt.col, "expected a plain key"));
    const key = String(pair.key.value);
    if (!isScalar(pair.value) && pair.value !== null)
      throw new InputError(atPosition(file, keyAt.line, keyAt.col, `'${key}' must be a single value`));
    const at = isScalar(pair.value) ? where(pair.value.range?.[0]) : keyAt;
    values.set(key, { value: isScalar(pair.value) ? pair.value.value : undefined, source: `${file}:${at.line}:${at.col}`, rank: 3 });
  }
  return values;
}

const BLUE_GREEN_KEYS = ["primary", "standby", "health", "interval", "timeout", "drain", "cron", "unit"];

/** `blueGreen:` read and checked: required keys, numbers in range, a health URL curl can fetch. */
function blueGreenSettings(raw: Sourced | undefined): BlueGreenSettings | undefined {
  if (raw === undefined || raw.value === null || raw.value === undefined) return undefined;
  if (!(raw.value instanceof Map))
    throw new InputError(`${raw.source}: blueGreen must be a mapping (primary: ..., standby: ..., health: ...).`);
  const keys = raw.value as Map<string, Sourced>;
  for (const [key, value] of keys) {
    if (!BLUE_GREEN_KEYS.includes(key))
      throw new InputError(`${value.source}: unknown blueGreen setting '${key}'; known: ${BLUE_GREEN_KEYS.join(", ")}.`);
  }
  const text = (key: string, what: string): string => {
    const value = keys.get(key)?.value;
    if (value === undefined || value === null || String(value).trim() === "")
      throw new InputError(`${raw.source}: blueGreen needs \`${key}\` (${what}).`);
    return String(value).trim();
  };
  const health = text("health", "the health URL, `{port}` for each service's published port");
  if (!/^https?:\/\/[^\s/]+/.test(health))
    throw new InputError(`${keys.get("health")?.source}: blueGreen health must be an http:// or https:// URL, got '${health}'.`);
  // A written port would check the primary twice, the standby never: the seed's own deploy.sh did.
  if (!health.includes("{port}"))
    throw new InputError(`${keys.get("health")?.source}: blueGreen health must use {port}, each service's published port, so that each is checked on its own; got '${health}'.`);
  const cron = keys.get("cron");
  const cronVariable = cron?.value === undefined || cron.value === null ? "CRON_ENABLED" : String(cron.value);
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(cronVariable))
    throw new InputError(`${cron?.source}: blueGreen cron must be an environment variable name, got '${cronVariable}'.`);
  const unit = keys.get("unit")?.value;
  // It goes into the control socket's URLs as it is.
  if (unit !== undefined && unit !== null && !/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(String(unit)))
    throw new InputError(`${keys.get("unit")?.source}: blueGreen unit must be a route name (letters, digits, '.', '_', '-'), got '${String(unit)}'.`);
  return {
    primary: text("primary", "the compose service that serves and runs the crons"),
    standby: text("standby", "the compose service that serves while the primary is recreated"),
    health,
    intervalSeconds: wholeNumber(keys.get("interval"), 15, 1, 3600, "blueGreen interval (seconds)"),
    timeoutSeconds: wholeNumber(keys.get("timeout"), 180, 1, 86_400, "blueGreen timeout (seconds)"),
    drainSeconds: wholeNumber(keys.get("drain"), 30, 0, 3600, "blueGreen drain (seconds)"),
    cronVariable,
    unit: unit === undefined || unit === null ? undefined : String(unit),
    at: Object.fromEntries([["blueGreen", raw.source], ...[...keys].map(([key, value]) => [key, value.source])]),
  };
}

function wholeNumber(
  raw: Sourced | undefined,
  fallback: number,
  min: number,
  max: number,
  what: string,
): number {
  if (raw === undefined || raw.value === undefined || raw.value === "") return fallback;
  const text = String(raw.value).trim();
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < min || n > max) {
    throw new InputError(
      `${raw.source}: ${what} must be a whole number from ${min} to ${max}, got '${String(raw.value)}'.`,
    );
  }
  return n;
}

function list(raw: Sourced | undefined): string[] {
  if (raw === undefined || raw.value === undefined) return [];
  if (Array.isArray(raw.value)) return raw.value.map(String);
  return String(raw.value)
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
}

/**
 * Resolves the settings: flags > DEPLOY_* environment > DEPLOY_* keys of the project's local
 * .env > deploy-vps.yml > defaults. Other keys of the local .env are the developer's own and are
 * never read.
 */
export async function loadSettings(dir: string, flags: Flags, env: NodeJS.ProcessEnv): Promise<Settings> {
  const projectDir = resolve(dir);
  const info = await stat(projectDir).catch(() => undefined);
  if (!info) throw new InputError(`project folder not found: ${projectDir}`);
  if (!info.isDirectory()) throw new InputError(`not a folder: ${projectDir}; give the project folder.`);

  const localEnvText = await readOptional(join(projectDir, ".env"));
  const localEnv = Object.fromEntries(
    Object.entries(parseDotenv(localEnvText ?? "")).filter(([key]) => key.startsWith("DEPLOY_")),
  );
  const configText = await readOptional(join(projectDir, CONFIG_FILE));
  const config =
    configText === undefined ? new Map<string, Sourced>() : parseConfigFile(CONFIG_FILE, configText);

  const get = (key: Key): Sourced | undefined => {
    const [flag, variable, configKey] = KEYS[key];
    // Commander stores `--known-hosts` as `knownHosts` and `--file` as `file`: the flag's own name, not the key's.
    const flagValue = flag ? (flags as Record<string, unknown>)[flagProperty(flag)] : undefined;
    if (flagValue !== undefined && !(Array.isArray(flagValue) && flagValue.length === 0))
      return { value: flagValue, source: flag ?? key, rank: 0 };
    if (variable && env[variable] !== undefined && env[variable] !== "")
      return { value: env[variable], source: variable, rank: 1 };
    if (variable && localEnv[variable] !== undefined)
      return { value: localEnv[variable], source: `.env ${variable}`, rank: 2 };
    return config.get(configKey);
  };
  const text = (key: Key) => {
    const raw = get(key);
    return raw?.value === undefined || raw.value === null || raw.value === "" ? undefined : String(raw.value);
  };
  const secret = (variable: string) => env[variable] || localEnv[variable] || undefined;

  let host = text("host");
  let user = text("user");
  if (host?.includes("@")) {
    const at = host.lastIndexOf("@");
    // `--host bob@vps` beats a `user:` from the config; an explicit --user beats both.
    if (user === undefined || (get("user")?.rank ?? 4) > (get("host")?.rank ?? 4)) user = host.slice(0, at);
    host = host.slice(at + 1);
  }
  const compose = text("compose");
  if (compose !== undefined && compose !== "v1" && compose !== "v2") {
    throw new InputError(`${get("compose")?.source}: compose must be v1 or v2, got '${compose}'.`);
  }
  const ignoreFile = await readOptional(join(projectDir, ".deployignore"));
  // ~/.ssh/config fills what flags, DEPLOY_* and deploy-vps.yml leave unset, as ssh itself does.
  const alias = host ? resolveAlias(await readSshConfig(expandHome(env.DEPLOY_SSH_CONFIG ?? "~/.ssh/config")), host) : undefined;
  const identity = text("identity") ?? alias?.identityFiles.find((file) => existsSync(file));
  return {
    projectDir,
    folderName: basename(projectDir),
    host: alias?.hostName ?? host,
    port: wholeNumber(get("port"), alias?.port ?? 22, 1, 65535, "the SSH port"),
    user: user ?? alias?.user ?? userInfo().username,
    identitiesOnly: alias?.identitiesOnly ?? false,
    proxyJump: alias?.proxyJump,
    identity: identity ? resolve(projectDir, expandHome(identity)) : undefined,
    knownHosts: resolve(projectDir, expandHome(text("knownHosts") ?? "~/.ssh/known_hosts")),
    path: text("path"),
    name: text("name"),
    files: list(get("files")),
    exclude: [
      ...list(config.get("exclude")),
      ...(flags.exclude ?? []),
      ...(ignoreFile ? parseIgnoreFile(ignoreFile) : []),
    ],
    envTemplate: text("envTemplate") ?? ".env.example",
    settle: wholeNumber(get("settle"), 30, 0, 3600, "the settle window (seconds)"),
    timeout: wholeNumber(get("timeout"), 20, 1, 600, "the connection timeout (seconds)"),
    compose,
    dryRun: flags.dryRun ?? false,
    json: flags.json ?? false,
    acceptNewHostKey: flags.acceptNewHostKey ?? false,
    lockWait: wholeNumber(get("lockWait"), 0, 0, 86_400, "the lock wait (seconds)"),
    forceUnlock: flags.forceUnlock ?? false,
    full: flags.full ?? false,
    verbose: flags.verbose ?? false,
    quiet: flags.quiet ?? false,
    password: secret("DEPLOY_PASSWORD"),
    passphrase: secret("DEPLOY_SSH_PASSPHRASE"),
    blueGreen: blueGreenSettings(config.get("blueGreen")),
  };
}
