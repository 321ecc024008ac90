import type { EnvFile } from "../../../src/secrets/env-file.js";

/** What a reader of the file gets: key -> value, the last duplicate winning (as compose reads it). */
export function envValues(file: EnvFile): Map<string, string> {
  const values = new Map<string, string>();
  for (const l of file.lines) if (l.kind === "entry") values.set(l.key, l.value);
  return values;
}
