import { posix } from "node:path";
import { parseComposeYaml } from "../compose/files.js";
import { MAX_ALIAS_EXPANSIONS } from "../compose/parse.js";

export interface BindMount {
  service: string;
  /** Inside the project, posix, without "./" or a trailing "/": `data/postgres`. */
  source: string;
  /** `:ro` or `read_only: true`: input the service reads (config, seed data), so it must be shipped. */
  readOnly: boolean;
}

/** A relative path, normalized, when it stays inside the project and is not interpolated. */
function withinProject(path: string): string | undefined {
  if (path.includes("$") || path.startsWith("/")) return undefined;
  const normal = posix.normalize(path).replace(/\/+$/, "");
  return normal === ".." || normal.startsWith("../") ? undefined : normal;
}

/** A bind mount's source when it is a folder inside the project (not ".", not "../x", not interpolated). */
function insideProject(source: string): string | undefined {
  if (!(source === "." || source.startsWith("./"))) return undefined;
  const normal = withinProject(source);
  return normal === "." ? undefined : normal;
}

/** Each service's name and definition; nothing for a text that does not parse (loadComposeFiles reports it). */
function serviceDefinitions(text: string): [string, Record<string, unknown>][] {
  const doc = parseComposeYaml(text);
  if (doc.errors.length > 0) return [];
  const js = doc.toJS({ maxAliasCount: MAX_ALIAS_EXPANSIONS }) as { services?: unknown } | null;
  const services = js !== null && typeof js === "object" ? js.services : undefined;
  if (services === null || typeof services !== "object") return [];
  return Object.entries(services as Record<string, unknown>).flatMap(([name, def]) =>
    def !== null && typeof def === "object" ? [[name, def as Record<string, unknown>] as [string, Record<string, unknown>]] : [],
  );
}

/**
 * The relative bind-mount sources of every service, in order: `./data:/var/lib/x` (short syntax) and
 * `{ type: bind, source: ./data }` (long syntax). Named volumes, absolute paths and paths outside the
 * project are left out. Pure; a text that does not parse gives nothing (loadComposeFiles reports it).
 */
export function bindMounts(text: string): BindMount[] {
  const found: BindMount[] = [];
  for (const [service, def] of serviceDefinitions(text)) {
    const volumes = def.volumes;
    if (!Array.isArray(volumes)) continue;
    for (const volume of volumes as unknown[]) {
      let source: string | undefined;
      let readOnly = false;
      if (typeof volume === "string") {
        const [from, , mode] = volume.split(":");
        source = from;
        readOnly = (mode ?? "").split(",").includes("ro");
      } else if (volume !== null && typeof volume === "object") {
        const long = volume as { type?: unknown; source?: unknown; read_only?: unknown };
        if (long.type === "bind" && typeof long.source === "string") source = long.source;
        readOnly = long.read_only === true;
      }
      const inside = source === undefined ? undefined : insideProject(source);
      if (inside !== undefined) found.push({ service, source: inside, readOnly });
    }
  }
  return found;
}

/** Each service's build context inside the project (`.` for the project itself), posix, in order. */
export function buildContexts(text: string): string[] {
  const found: string[] = [];
  for (const [, def] of serviceDefinitions(text)) {
    const build = def.build;
    const context =
      typeof build === "string"
        ? build
        : build !== null && typeof build === "object"
          ? ((build as { context?: unknown }).context ?? ".")
          : undefined;
    // A URL (https://, git://, git@host:repo) or an interpolated path is not a folder we can see.
    if (typeof context !== "string") continue;
    if (/^[a-z][a-z0-9+.-]*:/i.test(context) || /^[\w.-]+@[\w.-]+:/.test(context)) continue;
    const normal = withinProject(context);
    if (normal !== undefined && !found.includes(normal)) found.push(normal);
  }
  return found;
}
