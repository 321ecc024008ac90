import { readdir } from "node:fs/promises";
import { isAbsolute, join, relative, sep } from "node:path";
import { type Document, isMap, isScalar, LineCounter, type Node, parseDocument } from "yaml";
import { readOptional } from "../config/paths.js";
import { atPosition, InputError } from "../errors.js";

/** Compose's own discovery order (compose-go's DefaultFileNames; docker-compose 1.29 has the same). */
export const DEFAULT_COMPOSE_FILES = [
  "compose.yaml",
  "compose.yml",
  "docker-compose.yml",
  "docker-compose.yaml",
];

/** The override compose adds, whichever default file it picked: the first of these that exists. */
export const DEFAULT_OVERRIDE_FILES = [
  "compose.override.yml",
  "compose.override.yaml",
  "docker-compose.override.yml",
  "docker-compose.override.yaml",
];

export interface ComposeService {
  name: string;
  image?: string;
  hasBuild: boolean;
  pullPolicy?: string;
  /** `extends: base` (same file) or `extends: { file, service }`, as written. */
  extends?: { service: string; file?: string };
}

export type Position = { line: number; col: number };

export interface ComposeFile {
  /** Relative to the project directory, posix separators. */
  path: string;
  text: string;
  /** The top-level `name:`. */
  name?: string;
  services: ComposeService[];
  /** Where each service is defined, for messages about the merged model. */
  positions: Map<string, Position>;
  /** Top-level `include:`: each entry's paths, as written (several paths merge like -f files). */
  include: string[][];
}

export interface ParseOptions {
  /**
   * An override file in a multi-file (-f a -f b) project: it may lack `services`, and its services may lack
   * image and build because another file supplies them.
   */
  partial?: boolean;
}

/** Compose files use YAML 1.1 merge keys (`<<: *defaults`); the same options everywhere keep ranges consistent. */
export function parseComposeYaml(text: string, lineCounter?: LineCounter): Document.Parsed {
  return parseDocument(text, { merge: true, prettyErrors: false, lineCounter });
}

/** Pure: parse one compose file's text; errors are `path:line:col: message`. */
export function parseComposeFile(path: string, text: string, options: ParseOptions = {}): ComposeFile {
  return parseWithPositions(path, text, options.partial ?? false).file;
}

function parseWithPositions(path: string, text: string, partial: boolean) {
  const lc = new LineCounter();
  const doc = parseComposeYaml(text, lc);
  function fail(node: Node | null | undefined, message: string, offset = node?.range?.[0] ?? 0): never {
    const { line, col } = lc.linePos(offset);
    throw new InputError(atPosition(path, line, col, message));
  }

  const syntax = doc.errors[0];
  if (syntax) fail(null, syntax.message, syntax.pos[0]);

  const root = doc.contents;
  if (!isMap(root)) fail(root, "not a compose file: the top level must be a mapping with a `services:` key");
  const file: ComposeFile = { path, text, services: [], positions: new Map(), include: [] };
  const { positions } = file;

  const name = root.get("name", true) as Node | undefined;
  if (name) {
    if (!isScalar(name) || name.value === null || typeof name.value === "object")
      fail(name, "`name` must be a string");
    file.name = String(name.value);
  }

  const include = root.get("include", true) as Node | undefined;
  if (include && !(isScalar(include) && include.value === null)) {
    const entries = include.toJS(doc) as unknown;
    if (!Array.isArray(entries)) fail(include, "`include` must be a list of paths or of mappings with `path`");
    for (const entry of entries) {
      const paths = typeof entry === "object" && entry !== null ? (entry as { path?: unknown }).path : entry;
      const list = Array.isArray(paths) ? paths : [paths];
      if (list.length === 0 || !list.every((p) => typeof p === "string" && p !== ""))
        fail(include, "each `include` entry must be a path or a mapping with `path` (a path or a list of them)");
      file.include.push(list as string[]);
    }
  }

  const services = root.get("services", true) as Node | undefined;
  if (!services || (isScalar(services) && services.value === null)) {
    if (partial || file.include.length > 0) return { file, positions };
    fail(root, "not a compose file: no `services:` mapping");
  }
  if (!isMap(services)) fail(services, "`services` must be a mapping of service name to definition");

  // toJS resolves aliases and merge keys (`<<: *defaults`), which the node tree leaves as they are.
  const js = services.toJS(doc) as Record<string, unknown>;
  for (const [serviceName, def] of Object.entries(js)) {
    const pair = services.items.find((p) => isScalar(p.key) && String(p.key.value) === serviceName);
    const key = (pair?.key ?? services) as Node;
    if (def === null || typeof def !== "object" || Array.isArray(def)) {
      fail(key, `service "${serviceName}" must be a mapping`);
    }
    const d = def as Record<string, unknown>;
    const hasBuild = d.build !== undefined && d.build !== null;
    const base = extendsOf(d.extends);
    if (d.extends !== undefined && !base) {
      const node = isMap(pair?.value) ? (pair.value.get("extends", true) as Node | undefined) : undefined;
      fail(node ?? key, `service "${serviceName}": \`extends\` must be a service name or a mapping with \`service\` (and \`file\`)`);
    }
    if (!hasBuild && d.image === undefined && !base && !partial) {
      fail(key, `service "${serviceName}" has neither \`image\` nor \`build\``);
    }
    if (d.image !== undefined && typeof d.image !== "string") {
      const image = isMap(pair?.value) ? (pair.value.get("image", true) as Node | undefined) : undefined;
      fail(image ?? key, `service "${serviceName}": \`image\` must be a string`);
    }
    const service: ComposeService = { name: serviceName, hasBuild };
    if (typeof d.image === "string") service.image = d.image;
    if (typeof d.pull_policy === "string") service.pullPolicy = d.pull_policy;
    if (base) service.extends = base;
    file.services.push(service);
    positions.set(serviceName, lc.linePos(key.range?.[0] ?? 0));
  }
  return { file, positions };
}

function extendsOf(value: unknown): ComposeService["extends"] {
  if (typeof value === "string" && value !== "") return { service: value };
  if (typeof value !== "object" || value === null) return undefined;
  const { service, file } = value as { service?: unknown; file?: unknown };
  if (typeof service !== "string" || service === "" || (file !== undefined && typeof file !== "string")) return undefined;
  return file === undefined ? { service } : { service, file };
}

/** Like compose's merging of -f files: later lists override image and pull_policy; build anywhere means built. */
export function mergeServiceLists(lists: ComposeService[][]): ComposeService[] {
  const byName = new Map<string, ComposeService>();
  for (const list of lists) {
    for (const s of list) {
      const prev = byName.get(s.name);
      if (!prev) {
        byName.set(s.name, { ...s });
        continue;
      }
      prev.hasBuild ||= s.hasBuild;
      if (s.image !== undefined) prev.image = s.image;
      if (s.pullPolicy !== undefined) prev.pullPolicy = s.pullPolicy;
    }
  }
  return [...byName.values()];
}

/** The services of -f files merged, each file as it is written (no include or extends: see model.ts). */
export function mergedServices(files: ComposeFile[]): ComposeService[] {
  return mergeServiceLists(files.map((file) => file.services));
}

const toPosix = (p: string) => p.split(sep).join("/");

/** Every name compose looks for by itself, overrides included. */
export const COMPOSE_FILE_CANDIDATES = [...DEFAULT_COMPOSE_FILES, ...DEFAULT_OVERRIDE_FILES];

/** Compose's own default among the files that exist: the first default name, plus the first override name. */
export function pickDefaultFiles(existing: Set<string>, where: string): string[] {
  const main = DEFAULT_COMPOSE_FILES.find((name) => existing.has(name));
  if (main === undefined)
    throw new InputError(`no compose file in ${where} (looked for ${DEFAULT_COMPOSE_FILES.join(", ")}); pass one with -f`);
  const override = DEFAULT_OVERRIDE_FILES.find((name) => existing.has(name));
  return override ? [main, override] : [main];
}

/**
 * The given compose files (relative to projectDir, or absolute), else compose's default ones,
 * parsed. Each may be partial (an override, a file that extends or includes another): whether
 * every service ends with an image or a build is for the merged model to say (model.ts).
 */
export async function loadComposeFiles(projectDir: string, given: string[]): Promise<ComposeFile[]> {
  const names = given.length > 0 ? given : pickDefaultFiles(new Set(await readdir(projectDir)), projectDir);
  const files: ComposeFile[] = [];
  for (const name of names) {
    const full = isAbsolute(name) ? name : join(projectDir, name);
    const rel = toPosix(relative(projectDir, full));
    const text = await readOptional(full);
    if (text === undefined) throw new InputError(`compose file ${rel} not found in ${projectDir}`);
    files.push(parseWithPositions(rel, text, true).file);
  }
  return files;
}
