import { readdir } from "node:fs/promises";
import { isAbsolute, join, relative, sep } from "node:path";
import { type Document, isMap, isScalar, type LineCounter, type Node, parseDocument } from "yaml";
import { readOptionalBytes } from "../config/paths.js";
import { atPosition, InputError } from "../errors.js";
import { decodeComposeText, MAX_COMPOSE_BYTES, parseCompose, tooBig, YAML_OPTIONS } from "./parse.js";
import { parsedProblems } from "./validate.js";

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
  /** Merged onto an earlier file (a second -f file): required keys may come from there. */
  override?: boolean;
}

/** The first YAML document of a compose text (for callers that only look at one; see parseCompose). */
export function parseComposeYaml(text: string, lineCounter?: LineCounter): Document.Parsed {
  return parseDocument(text, { ...YAML_OPTIONS, lineCounter });
}

/** Pure: parse and check one compose file's text; errors are `path:line:col: message`. */
export function parseComposeFile(path: string, text: string, options: ParseOptions = {}): ComposeFile {
  return parseWithPositions(path, text, options);
}

function parseWithPositions(path: string, text: string, options: ParseOptions): ComposeFile {
  const partial = options.partial ?? false;
  const parsed = parseCompose(path, text);
  const lc = parsed.lineCounter;
  function fail(node: Node | null | undefined, message: string): never {
    const { line, col } = lc.linePos(node?.range?.[0] ?? 0);
    throw new InputError(atPosition(path, line, col, message));
  }

  const file: ComposeFile = { path, text, services: [], positions: new Map(), include: [] };
  const { positions } = file;
  // Compose v2 merges a file's documents in order, like -f files.
  const byName = new Map<string, ComposeService>();
  let anyServices = false;
  if (parsed.documents.length === 0) fail(null, "not a compose file: the top level must be a mapping with a `services:` key");
  for (const { doc, value } of parsed.documents) {
    const root = doc.contents;
    if (!isMap(root)) fail(root, "not a compose file: the top level must be a mapping with a `services:` key");
    const js = value as Record<string, unknown>;

    const name = root.get("name", true) as Node | undefined;
    if (name) {
      if (!isScalar(name) || name.value === null || typeof name.value === "object")
        fail(name, "`name` must be a string");
      file.name = String(name.value);
    }

    const include = root.get("include", true) as Node | undefined;
    if (include && !(isScalar(include) && include.value === null)) {
      const entries = js.include;
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
    if (!services || (isScalar(services) && services.value === null)) continue;
    if (!isMap(services)) fail(services, "`services` must be a mapping of service name to definition");
    anyServices = true;

    // The plain value has aliases and merge keys (`<<: *defaults`) resolved, which the node tree leaves as they are.
    const definitions = js.services as Record<string, unknown>;
    const keys = new Map(services.items.map((pair) => [isScalar(pair.key) ? String(pair.key.value) : "", pair]));
    for (const [serviceName, def] of Object.entries(definitions)) {
      const pair = keys.get(serviceName);
      const key = (pair?.key ?? services) as Node;
      if (def === null || typeof def !== "object" || Array.isArray(def)) {
        fail(key, `service "${serviceName}" must be a mapping`);
      }
      const d = def as Record<string, unknown>;
      if (d.image !== undefined && typeof d.image !== "string") {
        const image = isMap(pair?.value) ? (pair.value.get("image", true) as Node | undefined) : undefined;
        fail(image ?? key, `service "${serviceName}": \`image\` must be a string`);
      }
      const base = extendsOf(d.extends);
      if (d.extends !== undefined && !base) {
        const node = isMap(pair?.value) ? (pair.value.get("extends", true) as Node | undefined) : undefined;
        fail(node ?? key, `service "${serviceName}": \`extends\` must be a service name or a mapping with \`service\` (and \`file\`)`);
      }
      const service: ComposeService = { name: serviceName, hasBuild: d.build !== undefined && d.build !== null };
      if (typeof d.image === "string") service.image = d.image;
      if (typeof d.pull_policy === "string") service.pullPolicy = d.pull_policy;
      if (base) service.extends = base;
      byName.set(serviceName, mergeService(byName.get(serviceName), service));
      if (!positions.has(serviceName)) positions.set(serviceName, lc.linePos(key.range?.[0] ?? 0));
    }
  }
  if (!anyServices && !partial && file.include.length === 0) fail(parsed.documents[0]?.doc.contents, "not a compose file: no `services:` mapping");

  const problem = parsedProblems(parsed, { override: options.override })[0];
  if (problem) throw new InputError(atPosition(path, problem.line, problem.col, problem.message));

  file.services = [...byName.values()];
  for (const service of file.services) {
    if (partial || service.hasBuild || service.image !== undefined || service.extends) continue;
    const { line, col } = positions.get(service.name) ?? { line: 1, col: 1 };
    throw new InputError(atPosition(path, line, col, `service "${service.name}" has neither \`image\` nor \`build\``));
  }
  return file;
}

/** A later definition of a service merged onto an earlier one, as compose merges files and documents. */
function mergeService(earlier: ComposeService | undefined, later: ComposeService): ComposeService {
  if (!earlier) return { ...later };
  const merged = { ...earlier, hasBuild: earlier.hasBuild || later.hasBuild };
  if (later.image !== undefined) merged.image = later.image;
  if (later.pullPolicy !== undefined) merged.pullPolicy = later.pullPolicy;
  if (later.extends !== undefined) merged.extends = later.extends;
  return merged;
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
  for (const list of lists) for (const s of list) byName.set(s.name, mergeService(byName.get(s.name), s));
  return [...byName.values()];
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
 * parsed and checked. Each may be partial (an override, a file that extends or includes another):
 * whether every service ends with an image or a build is for the merged model to say (model.ts).
 */
export async function loadComposeFiles(projectDir: string, given: string[]): Promise<ComposeFile[]> {
  const names = given.length > 0 ? given : pickDefaultFiles(new Set(await readdir(projectDir)), projectDir);
  const files: ComposeFile[] = [];
  for (const name of names) {
    const full = isAbsolute(name) ? name : join(projectDir, name);
    const rel = toPosix(relative(projectDir, full));
    const bytes = await readOptionalBytes(full, { label: rel, limit: { bytes: MAX_COMPOSE_BYTES, reason: tooBig } });
    if (bytes === undefined) throw new InputError(`compose file ${rel} not found in ${projectDir}`);
    files.push(parseWithPositions(rel, decodeComposeText(rel, bytes), { partial: true, override: files.length > 0 }));
  }
  return files;
}
