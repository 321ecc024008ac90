import { basename } from "node:path";
import { InputError } from "../errors.js";

/** Compose's own normalisation (compose-go NormalizeProjectName), so we name the project as `docker compose` would. */
export function normalizeProjectName(raw: string): string {
  return raw
    .toLowerCase()
    .replace(/[^a-z0-9_-]/g, "")
    .replace(/^[_-]+/, "");
}

export type ProjectNameSource = "compose" | "config" | "server" | "folder";

/** compose `name:` > config name > name recorded on the server > local folder name; first non-empty after normalising. */
export function resolveProjectName(c: {
  compose?: string;
  config?: string;
  server?: string;
  folder: string;
}): {
  name: string;
  source: ProjectNameSource;
} {
  // A path is accepted for the folder: compose uses the directory's own name.
  const candidates: [ProjectNameSource, string | undefined][] = [
    ["compose", c.compose],
    ["config", c.config],
    ["server", c.server],
    ["folder", basename(c.folder)],
  ];
  for (const [source, raw] of candidates) {
    const name = normalizeProjectName(raw ?? "");
    if (name !== "") return { name, source };
  }
  throw new InputError(
    `cannot make a project name from the folder name "${basename(c.folder)}" (compose allows only a-z, 0-9, _ and -); ` +
      "set `name:` at the top of your compose file",
  );
}
