import { readdir, readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { basename, dirname, isAbsolute, join } from "node:path";
import SSHConfig from "ssh-config";
import { expandHome } from "../config/paths.js";

/** What ~/.ssh/config says about a Host alias, in the form the settings use. */
export interface SshAlias {
  hostName?: string;
  user?: string;
  port?: number;
  identityFiles: string[];
  identitiesOnly: boolean;
  proxyJump?: string;
}

/** Pure: the parameters OpenSSH would apply to `alias` (first value wins, as ssh_config(5) says). */
export function resolveAlias(configText: string, alias: string): SshAlias {
  // Directives are case-insensitive in OpenSSH; with ignoreCase the computed keys are lowercase.
  const computed = SSHConfig.parse(configText).compute(alias, { ignoreCase: true });
  const one = (key: string) => {
    const value = computed[key];
    return Array.isArray(value) ? value[0] : value;
  };
  const files = computed.identityfile;
  const port = one("port");
  const proxyJump = one("proxyjump");
  return {
    hostName: one("hostname")?.replaceAll("%h", alias),
    user: one("user"),
    port: port === undefined ? undefined : Number(port),
    identityFiles: (Array.isArray(files) ? files : files ? [files] : []).map(expandHome),
    identitiesOnly: one("identitiesonly")?.toLowerCase() === "yes",
    proxyJump: proxyJump && proxyJump.toLowerCase() !== "none" ? proxyJump : undefined,
  };
}

/** `Include` lines, which the parser leaves alone, replaced by the files they name (globs in the last part). */
async function expandIncludes(text: string, depth = 0): Promise<string> {
  if (depth > 8) return text;
  const lines: string[] = [];
  for (const line of text.split("\n")) {
    const match = /^\s*include\s+(.+)$/i.exec(line);
    if (!match?.[1]) {
      lines.push(line);
      continue;
    }
    for (const pattern of match[1].trim().split(/\s+/)) {
      const path = expandHome(pattern);
      const full = isAbsolute(path) ? path : join(homedir(), ".ssh", path);
      const glob = new RegExp(`^${basename(full).replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".")}$`);
      const names = basename(full).includes("*") || basename(full).includes("?")
        ? (await readdir(dirname(full)).catch(() => [])).filter((name) => glob.test(name)).sort()
        : [basename(full)];
      for (const name of names) {
        const included = await readFile(join(dirname(full), name), "utf8").catch(() => undefined);
        if (included !== undefined) lines.push(await expandIncludes(included, depth + 1));
      }
    }
  }
  return lines.join("\n");
}

/** Reads an ssh config with its includes; an absent file is an empty config. */
export async function readSshConfig(path: string): Promise<string> {
  const text = await readFile(path, "utf8").catch(() => "");
  return expandIncludes(text);
}
