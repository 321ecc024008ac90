import { readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";

/** `~` and `~/x` as a shell would read them, for paths the user typed or wrote in a config. */
export function expandHome(path: string): string {
  return path === "~" ? homedir() : path.startsWith("~/") ? join(homedir(), path.slice(2)) : path;
}

/** A file's text, or undefined when there is no such file; any other failure is thrown. */
export async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}
