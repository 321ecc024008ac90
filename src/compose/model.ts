import { access, readdir } from "node:fs/promises";
import { delimiter, isAbsolute, join, posix, relative, sep } from "node:path";
import { parse as parseDotenv } from "dotenv";
import { readOptional } from "../config/paths.js";
import { atPosition, InputError } from "../errors.js";
import { type ComposeFile, type ComposeService, loadComposeFiles, mergeServiceLists, pickDefaultFiles } from "./files.js";
import { interpolate } from "./variables.js";

/** The project as compose itself merges it, as far as deploy-vps needs it. */
export interface ComposeModel {
  /** The project's compose files, in compose's `-f` order; paths relative to the project folder. */
  files: ComposeFile[];
  /** Every compose file the project reads: its own, then those it includes or extends from. */
  sources: ComposeFile[];
  /** COMPOSE_PROJECT_NAME, else the last `name:` of the project's files, interpolated as compose does. */
  name?: string;
  /** Every service after `extends`, `include` and later files are applied. */
  services: ComposeService[];
  /** Files brought in by a top-level `include:`, which only Compose v2 (2.20 and later) reads. */
  included: string[];
}

export type ComposeEnv = Record<string, string | undefined>;

/** What compose reads its own settings and interpolations from: the shell's environment over the project's `.env`. */
export async function composeEnvironment(projectDir: string, env: ComposeEnv): Promise<ComposeEnv> {
  const dotenv = parseDotenv((await readOptional(join(projectDir, ".env"))) ?? "");
  return { ...dotenv, ...env };
}

/**
 * The project's compose files, as compose picks them: the ones deploy-vps is given (-f,
 * DEPLOY_COMPOSE_FILES, `files:`), else COMPOSE_FILE (split on COMPOSE_PATH_SEPARATOR), else the
 * first default name that exists plus the first default override.
 */
export function projectFileNames(given: string[], env: ComposeEnv, existing: Set<string>, where: string): string[] {
  if (given.length > 0) return given;
  const fromEnv = (env.COMPOSE_FILE ?? "").split(env.COMPOSE_PATH_SEPARATOR || delimiter).filter(Boolean);
  return fromEnv.length > 0 ? fromEnv : pickDefaultFiles(existing, where);
}

const toPosix = (p: string) => p.split(sep).join("/");

/** A path written in `from` (an include, an extends `file:`), relative to the project folder. */
function referenced(projectDir: string, dir: string, path: string): string {
  if (isAbsolute(path)) return toPosix(relative(projectDir, path));
  return posix.normalize(posix.join(dir, toPosix(path)));
}

/**
 * Reads the project's compose files and every file they include or extend from, then merges them
 * as compose does: each file's `extends` within that file, its `include`s before its own services,
 * then the files in order, later ones overriding. Paths in a project file are relative to the
 * first project file's folder, in an included or extended file to that file's folder.
 */
export async function loadComposeModel(projectDir: string, given: string[], shellEnv: ComposeEnv): Promise<ComposeModel> {
  const { files, name } = await projectComposeFiles(projectDir, given, shellEnv);
  const projectFolder = posix.dirname(files[0]?.path ?? ".");
  const loaded = new Map(files.map((file) => [file.path, file]));
  const folderOf = (path: string) => (files.some((f) => f.path === path) ? projectFolder : posix.dirname(path));
  const included = new Set<string>();

  const pending = [...files];
  for (let file = pending.shift(); file; file = pending.shift()) {
    const refs = [
      ...file.include.flat().map((path) => ({ path, what: "includes", include: true })),
      ...file.services.flatMap((s) => (s.extends?.file ? [{ path: s.extends.file, what: `extends "${s.name}" from`, include: false }] : [])),
    ];
    for (const ref of refs) {
      const path = referenced(projectDir, folderOf(file.path), ref.path);
      if (ref.include) included.add(path);
      if (loaded.has(path)) continue;
      if (path === ".." || path.startsWith("../"))
        throw new InputError(`${file.path} ${ref.what} ${ref.path}, which is outside the project folder and would not be shipped`);
      if (!(await access(join(projectDir, path)).then(() => true, () => false)))
        throw new InputError(`${file.path} ${ref.what} ${ref.path}, which does not exist`);
      const [other] = await loadComposeFiles(projectDir, [path]);
      if (!other) continue;
      loaded.set(path, other);
      pending.push(other);
    }
  }

  const sources = [...loaded.values()];
  const services = mergeServiceLists(
    files.map((file) => fileServices(file.path, { files: loaded, folderOf, projectDir }, [])),
  );
  for (const service of services) {
    if (service.hasBuild || service.image !== undefined) continue;
    const where = sources.find((f) => f.positions.has(service.name));
    const at = where?.positions.get(service.name) ?? { line: 1, col: 1 };
    throw new InputError(
      atPosition(where?.path ?? "", at.line, at.col, `service "${service.name}" has neither \`image\` nor \`build\` in any compose file`),
    );
  }
  if (services.length === 0) {
    const only = files.length === 1 ? files[0] : undefined;
    throw new InputError(
      only ? atPosition(only.path, 1, 1, "not a compose file: no `services:` mapping") : `no services in ${files.map((f) => f.path).join(", ")}`,
    );
  }
  return { files, sources, name, services, included: [...included] };
}

/** The project's own compose files, parsed, and compose's name for the project (see projectName). */
export async function projectComposeFiles(
  projectDir: string,
  given: string[],
  shellEnv: ComposeEnv,
): Promise<{ files: ComposeFile[]; name?: string }> {
  const env = await composeEnvironment(projectDir, shellEnv);
  const files = await loadComposeFiles(projectDir, projectFileNames(given, env, new Set(await readdir(projectDir)), projectDir));
  return { files, name: projectName(files, env) };
}

interface Loaded {
  files: Map<string, ComposeFile>;
  folderOf: (path: string) => string;
  projectDir: string;
}

/** One file's services: what it includes first, then its own with their `extends` applied. */
function fileServices(path: string, loaded: Loaded, including: string[]): ComposeService[] {
  if (including.includes(path)) throw new InputError(`include cycle: ${[...including, path].join(" → ")}`);
  const file = loaded.files.get(path) as ComposeFile;
  const folder = loaded.folderOf(path);
  const fromIncludes = file.include.flatMap((paths) =>
    mergeServiceLists(paths.map((p) => fileServices(referenced(loaded.projectDir, folder, p), loaded, [...including, path]))),
  );
  const own = file.services.map((service) => extended(path, service.name, loaded, []));
  return mergeServiceLists([fromIncludes, own]);
}

/** A service with what it extends merged under it, recursively: its own keys win. */
function extended(path: string, name: string, loaded: Loaded, chain: string[]): ComposeService {
  const file = loaded.files.get(path) as ComposeFile;
  const { extends: base, ...own } = file.services.find((s) => s.name === name) ?? { name, hasBuild: false };
  if (!base) return own;
  const target = base.file ? referenced(loaded.projectDir, loaded.folderOf(path), base.file) : path;
  if (!loaded.files.get(target)?.services.some((s) => s.name === base.service)) {
    const at = file.positions.get(name) ?? { line: 1, col: 1 };
    throw new InputError(atPosition(path, at.line, at.col, `service "${name}" extends "${base.service}", which ${target} does not define`));
  }
  const link = `${path}#${name}`;
  if (chain.includes(link)) throw new InputError(`extends cycle: ${[...chain, link].join(" → ")}`);
  const merged = mergeServiceLists([[{ ...extended(target, base.service, loaded, [...chain, link]), name }], [own]]);
  return merged[0] as ComposeService;
}

/** What docker-compose v1 (1.29) refuses in these files: a top-level `include:` or `name:`; undefined when it reads them. */
export function composeV1Refuses(model: ComposeModel): string | undefined {
  if (model.included.length > 0) return `the compose files include ${model.included.join(", ")}`;
  const named = model.sources.find((file) => file.name !== undefined);
  return named ? `${named.path} has a top-level \`name:\`` : undefined;
}

/** COMPOSE_PROJECT_NAME wins over `name:`, as in compose; the last project file's `name:` wins over earlier ones. */
function projectName(files: ComposeFile[], env: ComposeEnv): string | undefined {
  if (env.COMPOSE_PROJECT_NAME) return env.COMPOSE_PROJECT_NAME;
  const named = [...files].reverse().find((file) => file.name !== undefined);
  if (named?.name === undefined) return undefined;
  try {
    return interpolate(named.name, env);
  } catch (error) {
    throw new InputError(`${named.path}: name: ${(error as Error).message}`);
  }
}
