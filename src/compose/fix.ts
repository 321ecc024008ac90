import type { EnvFile } from "../secrets/env-file.js";
import type { ComposeFile } from "./files.js";
import { rewriteDiff, rewriteForLocalImages } from "./rewrite.js";
import { requiredVariables } from "./variables.js";

export interface ComposeFix {
  path: string;
  after: string;
  diff: string;
}

export interface EnvProblems {
  /** Used by the compose files without a default, and missing or empty in .env. */
  missing: string[];
  /** Set, but to a value that reads like a template's stand-in. */
  placeholders: string[];
}

/** What the deploy's "Use local images" step does, for files already on a server: only the files that change. */
export function composeFixes(files: ComposeFile[], project: string): ComposeFix[] {
  return files.flatMap((file) => {
    const rewrite = rewriteForLocalImages(file, project);
    return rewrite.changed ? [{ path: file.path, after: rewrite.text, diff: rewriteDiff(file.path, file.text, rewrite) }] : [];
  });
}

/** The words a value is made of: split at anything not a letter or digit, and where camelCase turns. */
function words(value: string): string[] {
  return value
    .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter(Boolean);
}

/** Words that only a template's stand-in is made of. */
const STAND_IN = new Set(["todo", "tbd", "fixme", "placeholder", "changeme", "replaceme", "dummy"]);
/** An instruction to the reader: change it, replace me, fill this in, set here… */
const INSTRUCTION = /^(change|replace|fill|set|enter|insert|put|update|edit)[-_. ]?(me|it|this|that|here|in)(?![a-z])/;
/** The domains kept for examples (RFC 2606), as a host or an e-mail address's. */
const EXAMPLE_DOMAIN = /(^|[@.])example\.(com|net|org)$|\.(example|invalid)$/;

/**
 * A value that stands for one still to be filled in: it tells the reader to do so (changeit,
 * replace_me, your-api-key, yourUser, your@email.com, api_key_here), is made of stand-in words
 * or marks (TODO, xxx, ***, <secret>), is a generic word alone (secret, password), or names an
 * example domain (admin@example.com).
 */
export function isPlaceholder(value: string): boolean {
  const v = value.trim().toLowerCase();
  const w = words(value.trim());
  return (
    INSTRUCTION.test(v) ||
    // "your" as a word, or first and glued to the next (yourdomain), but not yours, yourself.
    w.includes("your") ||
    (/^your/.test(w[0] ?? "") && !/^yours(elf|elves)?$/.test(w[0] ?? "")) ||
    (w.length > 1 && w.at(-1) === "here") ||
    STAND_IN.has(w[0] ?? "") ||
    /^(x{3,}|\*{3,}|\.{3,}|<[^>]*>)$/.test(v) ||
    /^(secret|password)$/.test(v) ||
    EXAMPLE_DOMAIN.test(v)
  );
}

/** Names only, never values: what the .env lacks for these compose files. */
export function envProblems(files: ComposeFile[], env: EnvFile | undefined): EnvProblems {
  const values = new Map<string, string>();
  for (const line of env?.lines ?? []) if (line.kind === "entry") values.set(line.key, line.value);
  const required = requiredVariables(files.map((file) => file.text));
  return {
    missing: required.filter((name) => !values.get(name)),
    placeholders: [...values].filter(([, value]) => value !== "" && isPlaceholder(value)).map(([name]) => name),
  };
}
