import { readdir } from "node:fs/promises";
import { isAbsolute, join, relative, sep } from "node:path";
import { type Document, isMap, isScalar, type LineCounter, type Node, parseDocument } from "yaml";
import { readOptionalBytes } from "../config/paths.js";
import { atPosition, InputError } from "../errors.js";
import { decodeComposeText, MAX_COMPOSE_BYTES, parseCompose, tooBig, YAML_OPTIONS } from "./parse.js";
import { parsedProblems } from "./validate.js";

export const DEFAULT_COMPOSE_FILES = [
  "compose.yaml",
  "compose.yml",
  "docker-compose.yaml",
  "docker-compose.yml",
];

export interface ComposeService {
  name: string;
  image?: string;
  hasBuild: boolean;
  pullPolicy?: string;
}

export interface ComposeFile {
  /** Relative to the project directory, posix separators. */
  path: string;
  text: string;
  /** The top-level `name:`. */
  name?: string;
  services: ComposeService[];
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
  return parseWithPositions(path, text, options).file;
}

type Position = { line: number; col: number };

function parseWithPositions(path: string, text: string, options: ParseOptions) {
  const partial = options.partial ?? false;
  const parsed = parseCompose(path, text);
  const lc = parsed.lineCounter;
  function fail(node: Node | null | undefined, message: string): never {
    const { line, col } = lc.linePos(node?.range?.[0] ?? 0);
    throw new InputError(atPosition(path, line, col, message));
  }

  const file: ComposeFile = { path, text, services: [] };
  const positions = new Map<string, Position>();
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
      const service: ComposeService = { name: serviceName, hasBuild: d.build !== undefined && d.build !== null };
      if (typeof d.image === "string") service.image = d.image;
      if (typeof d.pull_policy === "string") service.pullPolicy = d.pull_policy;
      byName.set(serviceName, mergeService(byName.get(serviceName), service));
      if (!positions.has(serviceName)) positions.set(serviceName, lc.linePos(key.range?.[0] ?? 0));
    }
  }
  if (!anyServices && !partial) fail(parsed.documents[0]?.doc.contents, "not a compose file: no `services:` mapping");

  const problem = parsedProblems(parsed, { override: options.override })[0];
  if (problem) throw new InputError(atPosition(path, problem.line, problem.col, problem.message));

  file.services = [...byName.values()];
  for (const service of file.services) {
    if (partial || service.hasBuild || service.image !== undefined) continue;
    const { line, col } = positions.get(service.name) ?? { line: 1, col: 1 };
    throw new InputError(atPosition(path, line, col, `service "${service.name}" has neither \`image\` nor \`build\``));
  }
  return { file, positions };
}

/** A later definition of a service merged onto an earlier one, as compose merges files and documents. */
function mergeService(earlier: ComposeService | undefined, later: ComposeService): ComposeService {
  if (!earlier) return { ...later };
  const merged = { ...earlier, hasBuild: earlier.hasBuild || later.hasBuild };
  if (later.image !== undefined) merged.image = later.image;
  if (later.pullPolicy !== undefined) merged.pullPolicy = later.pullPolicy;
  return merged;
}

/** Like compose's -f merging: later files override image and pull_policy; build anywhere means built. */
export function mergedServices(files: ComposeFile[]): ComposeService[] {
  const byName = new Map<string, ComposeService>();
  for (const file of files) for (const s of file.services) byName.set(s.name, mergeService(byName.get(s.name), s));
  return [...byName.values()];
}

const toPosix = (p: string) => p.split(sep).join("/");

/** The explicit compose files (relative to projectDir), else the first default one that exists; parsed. */
/** Every name compose looks for by itself, overrides included. */
export const COMPOSE_FILE_CANDIDATES = DEFAULT_COMPOSE_FILES.flatMap((name) => {
  const stem = name.replace(/\.ya?ml$/, "");
  return [name, `${stem}.override.yaml`, `${stem}.override.yml`];
});

/** Compose's own default among the files that exist: the first one, plus its `.override` sibling. */
export function pickDefaultFiles(existing: Set<string>, where: string): string[] {
  for (const candidate of DEFAULT_COMPOSE_FILES) {
    if (!existing.has(candidate)) continue;
    const stem = candidate.replace(/\.ya?ml$/, "");
    const override = [`${stem}.override.yaml`, `${stem}.override.yml`].find((name) => existing.has(name));
    return override ? [candidate, override] : [candidate];
  }
  throw new InputError(`no compose file in ${where} (looked for ${DEFAULT_COMPOSE_FILES.join(", ")}); pass one with -f`);
}

export async function loadComposeFiles(projectDir: string, given: string[]): Promise<ComposeFile[]> {
  const explicit = given.length > 0 ? given : pickDefaultFiles(new Set(await readdir(projectDir)), projectDir);
  const partial = explicit.length > 1;
  const parsed: { file: ComposeFile; positions: Map<string, Position> }[] = [];
  for (const given of explicit) {
    const full = isAbsolute(given) ? given : join(projectDir, given);
    const rel = toPosix(relative(projectDir, full));
    const bytes = await readOptionalBytes(full, { label: rel, limit: { bytes: MAX_COMPOSE_BYTES, reason: tooBig } });
    if (bytes === undefined) throw new InputError(`compose file ${rel} not found in ${projectDir}`);
    parsed.push(parseWithPositions(rel, decodeComposeText(rel, bytes), { partial, override: parsed.length > 0 }));
  }
  const files = parsed.map((p) => p.file);
  if (partial) {
    // Image-or-build can only be checked once the files are merged; point at the first definition.
    for (const s of mergedServices(files)) {
      if (s.hasBuild || s.image !== undefined) continue;
      const first = parsed.find((p) => p.positions.has(s.name));
      const pos = first?.positions.get(s.name) ?? { line: 1, col: 1 };
      throw new InputError(
        atPosition(
          first?.file.path ?? "",
          pos.line,
          pos.col,
          `service "${s.name}" has neither \`image\` nor \`build\` in any compose file`,
        ),
      );
    }
    if (files.every((f) => f.services.length === 0)) {
      throw new InputError(`no services in ${files.map((f) => f.path).join(", ")}`);
    }
  }
  return files;
}
