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

/** The deploy's step 6 on files already on a server: only the files that change. */
export function composeFixes(files: ComposeFile[], project: string): ComposeFix[] {
  return files.flatMap((file) => {
    const rewrite = rewriteForLocalImages(file, project);
    return rewrite.changed ? [{ path: file.path, after: rewrite.text, diff: rewriteDiff(file.path, file.text, rewrite) }] : [];
  });
}

/** changeme, change_me, your-api-key-here, xxx, <secret>, TODO, placeholder… */
export function isPlaceholder(value: string): boolean {
  const v = value.trim().toLowerCase();
  return (
    /^change[-_ ]?me/.test(v) ||
    /^your[-_].*[-_]here$/.test(v) ||
    /^x{3,}$/.test(v) ||
    /^<[^>]*>$/.test(v) ||
    /^(todo|tbd|fixme|placeholder|replace[-_ ]?me|secret|password)$/.test(v)
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
