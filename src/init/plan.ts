import ignore from "ignore";
import { stringify } from "yaml";
import { variableUses } from "../compose/variables.js";
import { formatBytes } from "../deploy/format.js";
import { type EnvFile, formatEntry, isSecretLike } from "../secrets/env-file.js";
import { composeVariables } from "./interpolation.js";
import type { BindMount } from "./mounts.js";

/** Pure planning of `deploy-vps init`: the texts of deploy-vps.yml and .env.example, and what to exclude. */

export interface ExcludeSuggestion {
  /** gitignore syntax, as the `exclude` setting reads it. */
  pattern: string;
  /** Why, for a person: written as a comment next to the pattern. */
  reason: string;
}

export interface ConfigInput {
  host?: string;
  user?: string;
  port?: number;
  path?: string;
  name?: string;
  files: string[];
  exclude: (string | ExcludeSuggestion)[];
}

/** A YAML scalar on one line, quoted only when YAML would read it as something else (`*.sqlite`, `~`, `22`). */
const scalar = (value: string | number) => stringify(value, { lineWidth: 0 }).trimEnd();
const oneLine = (text: string) => text.replace(/\s+/g, " ").trim();

/** A commented deploy-vps.yml holding the known settings only, under the keys src/config/settings.ts reads. */
export function configYaml(input: ConfigInput): string {
  const out = [
    "# deploy-vps.yml: how `deploy-vps` ships the compose project in this folder (written by `deploy-vps init`).",
    "# Command-line flags and DEPLOY_* environment variables win over this file. All settings: deploy-vps --help.",
  ];
  if (input.host !== undefined) out.push(`host: ${scalar(input.host)}`);
  else out.push("# host: deploy@203.0.113.7   # required: set it here, or pass -H / DEPLOY_HOST");
  if (input.port !== undefined) out.push(`port: ${scalar(input.port)}`);
  if (input.user !== undefined) out.push(`user: ${scalar(input.user)}`);
  if (input.path !== undefined) out.push(`path: ${scalar(input.path)}`);
  if (input.name !== undefined) out.push(`name: ${scalar(input.name)}`);
  if (input.files.length > 0) {
    out.push("# The compose files, in `docker compose -f` order.", "files:");
    for (const file of input.files) out.push(`  - ${scalar(file)}`);
  }
  if (input.exclude.length > 0) {
    out.push(
      "# Never shipped (gitignore syntax), on top of node_modules, .git, caches, root dist/ and build/, and local .env files.",
      "exclude:",
    );
    for (const item of input.exclude) {
      const { pattern, reason } = typeof item === "string" ? { pattern: item, reason: "" } : item;
      out.push(`  - ${scalar(pattern)}${reason ? `  # ${oneLine(reason)}` : ""}`);
    }
  }
  return `${out.join("\n")}\n`;
}

export interface ComposeText {
  /** Shown in the template's group comments. */
  path: string;
  text: string;
}

export interface EnvTemplatePlan {
  /** The template after init: the existing lines as they were, then what is added. */
  text: string;
  /** What init adds: the whole text for a new template, the appended block for an existing one, "" for nothing. */
  added: string;
  /** The keys added, in order. */
  keys: string[];
  /** The added keys that have no default and are not generated: someone must give them a value. */
  mustProvide: string[];
}

export const GENERATED_COMMENT = "# generated on the server on first deploy";

const TEMPLATE_HEADER = [
  "# Template of the server's .env, written by `deploy-vps init` from the compose files.",
  "# On each deploy a key keeps the value already on the server; else takes the one in your shell or in a",
  "# local, git-ignored .env.deploy; else, when it is secret-like and empty here, gets a generated one",
  "# (kept afterwards); else gets the value written here.",
];

interface Usage {
  name: string;
  /** The compose file that uses it first. */
  file: string;
  /** Used somewhere without a default: requiredVariables lists it. */
  required: boolean;
  /** Distinct `${X:-d}` / `${X-d}` defaults, as written. */
  defaults: string[];
  /** Used as `${X:+alt}` / `${X+alt}`: being set changes something. */
  switch: boolean;
  /** `${X:?message}` messages. */
  messages: string[];
  services: string[];
}

function addOnce<T>(list: T[], item: T): void {
  if (!list.includes(item)) list.push(item);
}

/** Every variable the compose files use, in first-use order (variableUses decides names and `required`). */
function usages(files: readonly ComposeText[]): Usage[] {
  const byName = new Map<string, Usage>();
  for (const file of files) {
    for (const use of variableUses(file.text)) {
      const usage = byName.get(use.name);
      if (usage) usage.required ||= !use.hasDefault;
      else
        byName.set(use.name, {
          name: use.name,
          file: file.path,
          required: !use.hasDefault,
          defaults: [],
          switch: false,
          messages: [],
          services: [],
        });
    }
    for (const use of composeVariables(file.text)) {
      const usage = byName.get(use.name);
      if (!usage) continue;
      if (use.service !== undefined) addOnce(usage.services, use.service);
      if (use.operator === ":-" || use.operator === "-") addOnce(usage.defaults, use.argument);
      else if (use.operator === ":+" || use.operator === "+") usage.switch = true;
      else if ((use.operator === ":?" || use.operator === "?") && use.argument.trim() !== "")
        addOnce(usage.messages, oneLine(use.argument));
    }
  }
  return [...byName.values()];
}

/**
 * The template lines for one variable. Left as they are, they make compose resolve what it resolves
 * without a .env: a single plain default is written as the value; several defaults, a default that
 * interpolates (`${B}`) or an `${X:+…}` switch leave the key commented out, so unset.
 */
function entryLines(u: Usage): { lines: string[]; mustProvide: boolean } {
  if (isSecretLike(u.name)) return { lines: [GENERATED_COMMENT, `${u.name}=`], mustProvide: false };
  const plain = u.defaults.filter((d) => !d.includes("$"));
  if (u.required) {
    if (plain[0] !== undefined) return { lines: [formatEntry(u.name, plain[0])], mustProvide: false };
    const by =
      u.services.length === 0
        ? "the compose files use it without a default"
        : `used by service${u.services.length > 1 ? "s" : ""} ${u.services.join(", ")}`;
    const says = u.messages.length > 0 ? ` (compose: ${u.messages.join("; ")})` : "";
    return { lines: [`# must be provided: ${by}${says}`, `${u.name}=`], mustProvide: true };
  }
  const [only] = u.defaults;
  if (u.defaults.length === 1 && only !== undefined && !only.includes("$") && !u.switch)
    return { lines: [formatEntry(u.name, only)], mustProvide: false };
  const why =
    u.defaults.length === 0
      ? "compose uses it only when it is set"
      : `left unset, compose uses its default${u.defaults.length > 1 ? "s" : ""} ${u.defaults.map(oneLine).join(" | ")}`;
  return { lines: [`# optional: ${why}`, `# ${u.name}=`], mustProvide: false };
}

/**
 * The env template for the compose files: every variable they use, grouped under the compose file
 * that uses it first. With an existing template, its lines are kept as they are and only the keys it
 * lacks are appended (a key it has, even empty, is the user's choice).
 */
export function planEnvTemplate(files: readonly ComposeText[], existing?: EnvFile): EnvTemplatePlan {
  const has = new Set(existing?.lines.flatMap((l) => (l.kind === "entry" ? [l.key] : [])) ?? []);
  const missing = usages(files).filter((u) => !has.has(u.name));
  const keys: string[] = [];
  const mustProvide: string[] = [];
  const groups: string[] = [];
  for (const file of files) {
    const here = missing.filter((u) => u.file === file.path);
    if (here.length === 0) continue;
    const lines = [existing ? `# Used by ${file.path}, added by deploy-vps init` : `# Used by ${file.path}`];
    for (const u of here) {
      const entry = entryLines(u);
      lines.push(...entry.lines);
      keys.push(u.name);
      if (entry.mustProvide) mustProvide.push(u.name);
    }
    groups.push(lines.join("\n"));
  }
  if (!existing) {
    const body = groups.length > 0 ? groups : ["# The compose files use no variables."];
    const text = `${[TEMPLATE_HEADER.join("\n"), ...body].join("\n\n")}\n`;
    return { text, added: text, keys, mustProvide };
  }
  const before = existing.lines.map((l) => l.raw).join("\n");
  const added = groups.length === 0 ? "" : `\n${groups.join("\n\n")}\n`;
  const kept = before === "" ? "" : `${before}\n`;
  return { text: kept + added, added, keys, mustProvide };
}

/** The env template's text: see planEnvTemplate. */
export function envTemplate(files: readonly ComposeText[], existing?: EnvFile): string {
  return planEnvTemplate(files, existing).text;
}

export interface TreeSummary {
  /** Files the walk would ship (node_modules, .git, … never entered). */
  files: { path: string; size: number }[];
  /** Folders the walk skipped, as walkProject lists them (`infrastructure/repos/strapi/.git`). */
  skipped: { folders: string[] };
}

export interface ComposeLayout {
  mounts: BindMount[];
  /** Build contexts inside the project: never excluded, nor any folder holding one. */
  contexts: string[];
}

/** A bind-mount path with one of these segments holds what the service writes: the server's data. */
const DATA_SEGMENT = /^(.*data|uploads?|media|backups?|logs?|db)$/i;

/**
 * Folder names that are local-only wherever they are. Deliberately short: `vendor` (Go builds with
 * it), `log` (a Go package name) or `target` (a Dockerfile may COPY target/app.jar) can be needed.
 */
const HEAVY_NAMES: [string, string][] = [
  ["tmp", "temporary files"],
  ["logs", "log files"],
  [".venv", "a Python virtualenv"],
  ["venv", "a Python virtualenv"],
  ["__pycache__", "Python bytecode caches"],
  [".pytest_cache", "pytest caches"],
  [".mypy_cache", "mypy caches"],
  [".terraform", "Terraform providers and state"],
];
const HEAVY_FILES: [string, string][] = [
  ["*.sqlite", "local SQLite databases"],
  ["*.sqlite3", "local SQLite databases"],
  ["*.log", "log files"],
];

const within = (path: string, folder: string) => path === folder || path.startsWith(`${folder}/`);

/**
 * What is worth listing in `exclude`, in this order, each with its reason:
 * 1. folders a service bind-mounts read-write whose path says data (`./data`, `./uploads`,
 *    `./pgdata`): the server's copy is the live data, so a local one must never be shipped over it;
 * 2. folders holding git clones of their own (vendored repositories, like the seed's
 *    infrastructure/repos), the clones' parent when it holds more than one;
 * 3. local-only folders by name at any depth (HEAVY_NAMES) and local files (HEAVY_FILES).
 * 2 and 3 only when they hold files the walk would ship. A folder that is, or holds, a build context
 * is never suggested. Pure.
 */
export function heavyFolders(tree: TreeSummary, compose: ComposeLayout = { mounts: [], contexts: [] }): ExcludeSuggestion[] {
  const protects = (folder: string) => compose.contexts.some((context) => within(context, folder));
  const suggestions: ExcludeSuggestion[] = [];
  const covered = ignore();
  let remaining = tree.files;
  const accept = (pattern: string, reason: string, needFiles: boolean) => {
    const matcher = ignore().add(pattern);
    const matched = remaining.filter((f) => matcher.ignores(f.path));
    if (needFiles && matched.length === 0) return;
    const bytes = matched.reduce((sum, f) => sum + f.size, 0);
    const size = matched.length === 0 ? "" : ` (${matched.length} file${matched.length > 1 ? "s" : ""}, ${formatBytes(bytes)})`;
    suggestions.push({ pattern, reason: `${reason}${size}` });
    covered.add(pattern);
    remaining = remaining.filter((f) => !matcher.ignores(f.path));
  };

  const data = new Map<string, string[]>();
  for (const mount of compose.mounts) {
    if (mount.readOnly || !mount.source.split("/").some((segment) => DATA_SEGMENT.test(segment))) continue;
    const services = data.get(mount.source) ?? [];
    addOnce(services, mount.service);
    data.set(mount.source, services);
  }
  for (const [source, services] of data) {
    if (protects(source) || [...data.keys()].some((other) => other !== source && within(source, other))) continue;
    accept(`/${source}/`, `bind-mounted by ${services.join(", ")}: the server's own data, never overwritten`, false);
  }

  const clones = tree.skipped.folders
    .filter((folder) => folder.endsWith("/.git"))
    .map((folder) => folder.slice(0, -"/.git".length));
  const parentOf = (path: string) => (path.includes("/") ? path.slice(0, path.lastIndexOf("/")) : "");
  const cloneFolders: string[] = [];
  for (const clone of clones) {
    const parent = parentOf(clone);
    const siblings = clones.filter((other) => parentOf(other) === parent).length;
    addOnce(cloneFolders, parent !== "" && siblings > 1 ? parent : clone);
  }
  for (const folder of cloneFolders) {
    if (protects(folder) || covered.ignores(`${folder}/`)) continue;
    const count = clones.filter((clone) => within(clone, folder)).length;
    accept(`/${folder}/`, count > 1 ? `${count} git clones: vendored repositories` : "a git clone: a vendored repository", true);
  }

  for (const [name, reason] of HEAVY_NAMES) {
    const folders = new Set(
      remaining.flatMap((f) => {
        const segments = f.path.split("/").slice(0, -1);
        const at = segments.indexOf(name);
        return at < 0 ? [] : [segments.slice(0, at + 1).join("/")];
      }),
    );
    if ([...folders].some(protects)) continue;
    accept(`${name}/`, reason, true);
  }
  for (const [pattern, reason] of HEAVY_FILES) accept(pattern, reason, true);
  return suggestions;
}
