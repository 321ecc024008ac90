import { open } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import { InputError } from "../errors.js";

/** `~` and `~/x` as a shell would read them, for paths the user typed or wrote in a config. */
export function expandHome(path: string): string {
  return path === "~" ? homedir() : path.startsWith("~/") ? join(homedir(), path.slice(2)) : path;
}

export interface ReadOptions {
  /** How the file is named in errors; default its path. */
  label?: string;
  /** Refused unread above this size, with this reason. */
  limit?: { bytes: number; reason: (size: number) => string };
}

const UNREADABLE: Record<string, string> = {
  EACCES: "permission denied",
  EPERM: "permission denied",
  EISDIR: "it is a folder, not a file",
  ELOOP: "too many levels of symbolic links",
  ENOTDIR: "a part of its path is not a folder",
};

/**
 * A file's bytes, or undefined when there is no such file. A file that is there but cannot be read
 * (permissions, a folder) is bad input and says so in one line; any other failure is thrown as it is.
 */
export async function readOptionalBytes(path: string, options: ReadOptions = {}): Promise<Buffer | undefined> {
  const label = options.label ?? path;
  try {
    const handle = await open(path, "r");
    try {
      const { size } = await handle.stat();
      if (options.limit && size > options.limit.bytes) throw new InputError(`${label}: ${options.limit.reason(size)}`);
      return await handle.readFile();
    } finally {
      await handle.close();
    }
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? "";
    if (code === "ENOENT") return undefined;
    const reason = UNREADABLE[code];
    if (reason) throw new InputError(`cannot read ${label}: ${reason}`);
    throw error;
  }
}

/** A file's text (UTF-8), or undefined when there is no such file; see readOptionalBytes. */
export async function readOptional(path: string, options: ReadOptions = {}): Promise<string | undefined> {
  return (await readOptionalBytes(path, options))?.toString("utf8");
}
