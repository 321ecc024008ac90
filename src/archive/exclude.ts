import { posix } from "node:path";
import ignore from "ignore";

/** Heavy or local-only folders that are never shipped, at any depth. */
export const ALWAYS_SKIPPED_ANYWHERE = [
  "node_modules",
  ".git",
  ".next",
  ".nuxt",
  ".turbo",
  ".cache",
  "coverage",
];
/** Build output at the project's root only (a `src/build/` folder is source). */
export const ALWAYS_SKIPPED_AT_ROOT = ["dist", "build"];

export interface ExcludeRules {
  /** Patterns in gitignore syntax, from --exclude, the config's `exclude` and .deployignore. */
  patterns: string[];
  /** The env template (posix, relative to the project): the one env file that is shipped. */
  envTemplate: string;
}

export type IsExcluded = (relativePath: string, isDirectory: boolean) => boolean;

/**
 * Local env files hold the developer's own secrets: never shipped, whatever the patterns say.
 * Matched whatever their case: `.ENV` is the same file as `.env` on a case-insensitive disk,
 * and a secret either way.
 */
function isLocalEnvFile(name: string): boolean {
  const lower = name.toLowerCase();
  return lower === ".env" || lower.startsWith(".env.");
}

/** Decides, for a path relative to the project (posix separators), whether it stays home. */
export function excludeRule(rules: ExcludeRules): IsExcluded {
  const matcher = ignore().add([
    ...ALWAYS_SKIPPED_ANYWHERE.map((name) => `${name}/`),
    ...ALWAYS_SKIPPED_AT_ROOT.map((name) => `/${name}/`),
    ...rules.patterns,
  ]);
  // `--env-template ./.env.example` names the same file as the walk's `.env.example`.
  const template = posix.normalize(rules.envTemplate);
  return (relativePath, isDirectory) => {
    const name = relativePath.slice(relativePath.lastIndexOf("/") + 1);
    if (!isDirectory && isLocalEnvFile(name)) return relativePath !== template;
    return matcher.ignores(isDirectory ? `${relativePath}/` : relativePath);
  };
}

/** Gitignore-syntax lines of a .deployignore file: blank lines and comments dropped. */
export function parseIgnoreFile(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((line) => line.trimEnd())
    .filter((line) => line !== "" && !line.startsWith("#"));
}
