import { dirname, isAbsolute, join } from "node:path";
import { isMap, isNode, isScalar, isSeq, LineCounter, type Node, parseDocument, type YAMLMap } from "yaml";
import { atPosition, InputError } from "../errors.js";
import { parseDuration, parseIdle } from "./durations.js";
import {
  DEFAULT_IDLE_MS,
  DEFAULT_START_TIMEOUT_MS,
  isMode,
  isThemeName,
  MAX_DISPLAY_NAME,
  parseDisplayName,
  parseHosts,
  quoteValue,
  THEME_NAME_RULE,
} from "./labels.js";
import { type Mode, MODES } from "./model.js";

/**
 * The config file for stacks the user will not relabel: the seed's own config.json as it is
 * (`services[]` with name, port, timeout, mode or `async: true`, themeName, displayName,
 * composeDir; other keys ignored), plus `hosts`, `idle`, `startTimeout` and `estimate` per entry,
 * and a top-level `themesFolder` for custom waiting pages. JSON or YAML.
 */
export interface ConfigEntry {
  name: string;
  /** A port published on the host. */
  port: number;
  idleMs: number | null;
  mode: Mode;
  /** As written: a custom theme's name or a built-in's. */
  theme?: string;
  displayName?: string;
  /** Without trailing slashes. */
  composeDir?: string;
  hosts: string[];
  startTimeoutMs: number;
  estimateMs?: number;
  /** Where the entry starts in the file, for messages. */
  line: number;
  col: number;
}

export interface ProxyConfig {
  file: string;
  entries: ConfigEntry[];
  monitorUserAgents: string[];
  /** Where custom themes are (`NAME.html`): absolute, a relative one taken from the config file's folder. */
  themesFolder?: string;
  /** Host names and compose projects nginx sends straight to their app on purpose: `audit` does not report them. */
  direct: string[];
}

/** `FILE:LINE:COL: what is wrong`, pointing at the value at fault. */
export class ProxyConfigError extends InputError {
  constructor(file: string, line: number, col: number, problem: string) {
    super(atPosition(file, line, col, problem));
  }
}

/** A service name is a word of the control socket's URLs (`/services/NAME/wake`). */
const SERVICE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** Pure: the config file's text as entries, or a ProxyConfigError at the first thing wrong. */
export function parseProxyConfig(text: string, file: string): ProxyConfig {
  const { root, fail, lineCounter } = readDocument(text, file, ProxyConfigError);
  const reader = new ConfigEntryReader(fail, lineCounter);
  if (root === undefined) return { file, entries: [], monitorUserAgents: [], direct: [] };
  if (!isMap(root)) return fail(start(root), 'expected a mapping with a "services" list');

  const entries: ConfigEntry[] = [];
  const services = present(root.get("services", true));
  if (services !== undefined && !isSeq(services)) fail(start(services), '"services" must be a list');
  for (const item of isSeq(services) ? services.items : []) {
    entries.push(reader.entry(item, entries));
  }
  const agents = present(root.get("monitorUserAgents", true));
  const themes = present(root.get("themesFolder", true));
  const themesFolder = themes === undefined ? undefined : reader.text(themes, "themesFolder");
  const direct = present(root.get("direct", true));
  return {
    file,
    entries,
    monitorUserAgents: agents === undefined ? [] : reader.strings(agents, "monitorUserAgents"),
    direct: direct === undefined ? [] : reader.strings(direct, "direct").map((name) => name.toLowerCase()),
    ...(themesFolder === undefined ? {} : { themesFolder: isAbsolute(themesFolder) ? themesFolder : join(dirname(file), themesFolder) }),
  };
}

/** An error at `FILE:LINE:COL`, the class each file's parser throws. */
export type PositionedError = new (file: string, line: number, col: number, problem: string) => InputError;

/**
 * A JSON or YAML text's root value (undefined when empty), and how to fail at an offset of it
 * with `errorClass`; a syntax error is thrown at once, where it is.
 */
export function readDocument(
  text: string,
  file: string,
  errorClass: PositionedError,
): { root: Node | undefined; fail: (offset: number, problem: string) => never; lineCounter: LineCounter } {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  const fail = (offset: number, problem: string): never => {
    const { line, col } = lineCounter.linePos(offset);
    throw new errorClass(file, line, col, problem);
  };
  const syntax = doc.errors[0];
  if (syntax) {
    const json = jsonSyntaxError(text);
    if (json) fail(json.offset, json.message);
    fail(syntax.pos[0], syntax.message.split("\n")[0] ?? "syntax error");
  }
  return { root: present(doc.contents), fail, lineCounter };
}

/**
 * JSON's own words for a broken config.json (a missing comma reads better so than in YAML's terms),
 * when the text is meant as JSON and the parser says where.
 */
function jsonSyntaxError(text: string): { offset: number; message: string } | undefined {
  if (!text.trimStart().startsWith("{")) return undefined;
  try {
    JSON.parse(text);
    return undefined;
  } catch (error) {
    const found = /^(.*?)(?: in JSON)? at position (\d+)/.exec(error instanceof Error ? error.message : "");
    return found ? { offset: Number(found[2]), message: `${found[1]} (JSON)` } : undefined;
  }
}

/** A value node, or undefined when absent or null (`key:` with nothing after it). */
export function present(node: unknown): Node | undefined {
  return !isNode(node) || (isScalar(node) && node.value === null) ? undefined : node;
}

/** Where a node starts in the text, for `fail`. */
export function start(node: unknown): number {
  return isNode(node) ? (node.range?.[0] ?? 0) : 0;
}

/** A value as an error shows it: a string quoted, a number as it is, a list or mapping by its kind. */
export function shown(node: Node): string {
  if (isSeq(node)) return "(a list)";
  if (isMap(node)) return "(a mapping)";
  const value = isScalar(node) ? node.value : undefined;
  return typeof value === "string" ? quoteValue(value) : String(value);
}

/** Reads a file's values, failing at the value at fault. */
export class NodeReader {
  constructor(
    readonly fail: (offset: number, problem: string) => never,
    readonly lineCounter: LineCounter,
  ) {}

  strings(node: Node, key: string): string[] {
    const items = isSeq(node) ? node.items : this.fail(start(node), `${key} must be a list of strings`);
    return items.map((item) => this.text(item, key));
  }

  /** `owner` names what lacks the key: "this service has no port". */
  required<T>(map: YAMLMap, key: string, read: (node: Node) => T, owner = "this service"): T {
    const node = present(map.get(key, true));
    return node === undefined ? this.fail(start(map), `${owner} has no ${key}`) : read(node);
  }

  optional<T>(map: YAMLMap, key: string, read: (node: Node) => T): T | undefined {
    const node = present(map.get(key, true));
    return node === undefined ? undefined : read(node);
  }

  scalar(node: Node): unknown {
    return isScalar(node) ? node.value : undefined;
  }

  text(node: unknown, key: string): string {
    const value = isScalar(node) ? node.value : undefined;
    if (typeof value !== "string" || value.trim() === "") return this.fail(start(node), `${key} must be a non-empty string`);
    return value.trim();
  }

  /** A whole number from `min` up, as a number or a string of digits. */
  whole(node: Node, min: number, max: number): number | undefined {
    const value = this.scalar(node);
    const n = typeof value === "string" && /^\s*\d+\s*$/.test(value) ? Number(value) : value;
    return typeof n === "number" && Number.isSafeInteger(n) && n >= min && n <= max ? n : undefined;
  }

  port(node: Node, key = "port"): number {
    return this.whole(node, 1, 65535) ?? this.fail(start(node), `${key} ${shown(node)} is not a port (1-65535)`);
  }

  flag(map: YAMLMap, key: string): boolean {
    return (
      this.optional(map, key, (node) => {
        const value = this.scalar(node);
        return typeof value === "boolean" ? value : this.fail(start(node), `${key} must be true or false`);
      }) ?? false
    );
  }
}

/** Reads one entry of config.json's `services`. */
class ConfigEntryReader extends NodeReader {
  /** One entry of `services`; `earlier` are the entries before it, whose names it may not take. */
  entry(item: unknown, earlier: readonly ConfigEntry[]): ConfigEntry {
    if (!isMap(item)) return this.fail(start(item), "each service must be a mapping (name, port, ...)");
    const { line, col } = this.lineCounter.linePos(start(item));
    const name = this.required(item, "name", (node) => {
      const name = this.serviceName(node);
      const first = earlier.find((entry) => entry.name === name);
      if (first) this.fail(start(node), `a second service named ${quoteValue(name)} (the first is at line ${first.line})`);
      return name;
    });
    const port = this.required(item, "port", (node) => this.port(node));
    const mode = this.mode(item);
    const idleMs = this.idle(item);
    // The seed writes themeName; theme is accepted as the label's word.
    const theme =
      this.optional(item, "themeName", (node) => this.theme(node, "themeName")) ??
      this.optional(item, "theme", (node) => this.theme(node, "theme"));
    const displayName = this.optional(item, "displayName", (node) => this.displayName(node));
    const composeDir = this.optional(item, "composeDir", (node) => this.composeDir(node));
    const hosts = this.optional(item, "hosts", (node) => this.hosts(node)) ?? [];
    const startTimeoutMs = this.optional(item, "startTimeout", (node) => this.duration(node, "startTimeout")) ?? DEFAULT_START_TIMEOUT_MS;
    const estimateMs = this.optional(item, "estimate", (node) => this.duration(node, "estimate"));
    return {
      name,
      port,
      idleMs,
      mode,
      ...(theme === undefined ? {} : { theme }),
      ...(displayName === undefined ? {} : { displayName }),
      ...(composeDir === undefined ? {} : { composeDir }),
      hosts,
      startTimeoutMs,
      ...(estimateMs === undefined ? {} : { estimateMs }),
      line,
      col,
    };
  }

  private serviceName(node: Node): string {
    const name = this.text(node, "name");
    if (!SERVICE_NAME.test(name))
      this.fail(start(node), `name ${quoteValue(name)} must be letters, digits, '.', '_' or '-', starting with a letter or digit`);
    return name;
  }

  private mode(map: YAMLMap): Mode {
    // The seed's server.js: `service.mode === 'async' || service.async`; its v1 wrote `blocking: true`.
    if (this.flag(map, "async")) return "async";
    const mode = this.optional(map, "mode", (node) => {
      const text = this.text(node, "mode").toLowerCase();
      return isMode(text) ? text : this.fail(start(node), `mode ${shown(node)} is not a mode (${MODES.join(", ")})`);
    });
    return mode ?? (this.flag(map, "blocking") ? "blocking" : "dynamic");
  }

  /** The seed's `timeout` (milliseconds) or our `idle` (a duration or `never`), not both. */
  private idle(map: YAMLMap): number | null {
    const timeout = present(map.get("timeout", true));
    const idle = present(map.get("idle", true));
    if (timeout !== undefined && idle !== undefined)
      return this.fail(start(idle), "give timeout (milliseconds) or idle (a duration), not both");
    if (timeout !== undefined)
      return (
        this.whole(timeout, 1, Number.MAX_SAFE_INTEGER) ??
        this.fail(start(timeout), `timeout ${shown(timeout)} is not a number of milliseconds above 0`)
      );
    if (idle === undefined) return DEFAULT_IDLE_MS;
    const value = this.scalar(idle);
    const ms = typeof value === "string" || typeof value === "number" ? parseIdle(String(value)) : undefined;
    if (ms === undefined || ms === 0) return this.fail(start(idle), `idle ${shown(idle)} is not a duration (e.g. 30m, 1h, never)`);
    return ms;
  }

  private duration(node: Node, key: string): number {
    const value = this.scalar(node);
    const ms = typeof value === "string" || typeof value === "number" ? parseDuration(String(value)) : undefined;
    if (ms === undefined || ms === 0) return this.fail(start(node), `${key} ${shown(node)} is not a duration (e.g. 30s, 5m, 1h30m)`);
    return ms;
  }

  private theme(node: Node, key: string): string {
    const theme = this.text(node, key);
    if (!isThemeName(theme)) this.fail(start(node), `${key} ${shown(node)} is not a theme name (${THEME_NAME_RULE})`);
    return theme;
  }

  private displayName(node: Node): string {
    return (
      parseDisplayName(this.text(node, "displayName")) ??
      this.fail(start(node), `displayName ${shown(node)} is longer than ${MAX_DISPLAY_NAME} characters`)
    );
  }

  private composeDir(node: Node): string {
    const dir = this.text(node, "composeDir");
    if (!dir.startsWith("/")) this.fail(start(node), `composeDir ${quoteValue(dir)} must be an absolute path (the stack's folder on the server)`);
    return trimSlashes(dir);
  }

  private hosts(node: Node): string[] {
    const items = isSeq(node) ? this.strings(node, "hosts") : this.text(node, "hosts").split(",");
    const { hosts, bad } = parseHosts(items);
    if (bad.length > 0) this.fail(start(node), `hosts: ${quoteValue(bad.join(", "))} is not a host name (e.g. docs.example.com, *.example.com)`);
    return hosts;
  }
}

/** `/opt/x/` -> `/opt/x`, as Docker's working_dir label has it; `/` stays. */
export function trimSlashes(dir: string): string {
  return dir.replace(/\/+$/, "") || "/";
}
