/**
 * What `audit --fix` changes in nginx, decided: a bypassing location sent through the proxy in
 * its own file, a site written for a route no nginx site reaches. Pure: nginx-fix.sh applies it.
 */
import { createHash } from "node:crypto";
import { posix } from "node:path";
import { createTwoFilesPatch } from "diff";
import { DeployError } from "../errors.js";
import { type LoadedNginx, loadNginx } from "../nginx/load.js";
import type { NginxFile } from "../nginx/parse.js";
import { type Site, serverNameMatches } from "../nginx/sites.js";
import { routeThroughProxy } from "../nginx/edit.js";
import { nginxBlock } from "../proxy/nginx-block.js";
import { type Address, formatAddress } from "../proxy/serve-options.js";
import type { AuditRow } from "./classify.js";

/** One file to write: its text as the audit read it (null: a new file), and the text to put there. */
export interface FileChange {
  path: string;
  before: string | null;
  after: string;
}

export interface FixPlan {
  changes: FileChange[];
  diffs: { file: string; diff: string }[];
  /** Findings that get no change, and why. */
  unfixable: string[];
}

/** nginx as the audit read it: the files' texts, the configuration loaded from MAIN down, its sites. */
export interface NginxRead {
  files: readonly NginxFile[];
  loaded: LoadedNginx;
  sites: readonly Site[];
  main: string;
}

export function planFix(rows: readonly AuditRow[], { files, loaded, sites, main }: NginxRead, proxy: Address): FixPlan {
  const texts = new Map(files.map((file) => [file.path, file.text]));
  const changes = new Map<string, FileChange>();
  const unfixable: string[] = [];

  const passesByFile = new Map<string, { line: number; col: number }[]>();
  for (const row of rows.filter((r) => r.kind === "bypass")) {
    for (const pass of row.passes ?? []) passesByFile.set(pass.file, [...(passesByFile.get(pass.file) ?? []), { line: pass.line, col: pass.col }]);
  }
  for (const [path, passes] of passesByFile) {
    const before = texts.get(path);
    if (before === undefined) {
      unfixable.push(`${path} was not read, so it cannot be changed`);
      continue;
    }
    try {
      // The whole configuration, so that headers a location inherits (an `include proxy_params`, the http level) are not repeated or lost.
      changes.set(path, { path, before, after: routeThroughProxy(before, path, passes, formatAddress(proxy), loaded) });
    } catch (error) {
      // A location the edit cannot make right (its own Host, say) is left to the user, saying why.
      if (!(error instanceof DeployError)) throw error;
      unfixable.push(error.message);
    }
  }

  const folder = sitesFolder(sites, main);
  const listen = usualListen(sites);
  for (const row of rows.filter((r) => r.kind === "no-site")) {
    const hosts = row.hosts ?? (row.host === null ? [] : [row.host]);
    const name = row.route ?? row.project ?? row.host ?? "site";
    if (hosts.length === 0) {
      unfixable.push(`${name} names no host: give it one (label deploy-vps.proxy.host or the entry's hosts), then audit again`);
      continue;
    }
    // A second server for a name nginx already serves would win or lose by file order: never written.
    const taken = hosts.flatMap((host) => sites.filter((site) => site.serverNames.some((name) => serverNameMatches(name, host))).map((site) => `${host} is already a server_name at ${site.file}:${site.line}`));
    if (taken.length > 0) {
      unfixable.push(`${name}: ${taken.join("; ")}: send that server to the proxy by hand`);
      continue;
    }
    const path = posix.join(folder, `deploy-vps-${name.replace(/[^A-Za-z0-9_.-]/g, "-")}.conf`);
    const after = nginxBlock(hosts, listen, proxy);
    // Written only where nginx's own includes load it.
    if (!loadNginx([...files, { path, text: after }], main).files.includes(path)) {
      unfixable.push(`${name}: no folder of nginx's includes would load a new file (looked at ${folder})`);
      continue;
    }
    if (texts.has(path)) {
      unfixable.push(`${name}: ${path} already exists`);
      continue;
    }
    changes.set(path, { path, before: null, after });
  }
  const list = [...changes.values()];
  return {
    changes: list,
    diffs: list.map((change) => ({
      file: change.path,
      diff: createTwoFilesPatch(change.before === null ? "/dev/null" : change.path, change.path, change.before ?? "", change.after, undefined, undefined, { context: 3 }),
    })),
    unfixable,
  };
}

/** The folder that holds most sites (sites-enabled, conf.d), else conf.d beside the main file. */
function sitesFolder(sites: readonly Site[], main: string): string {
  const counts = new Map<string, number>();
  for (const site of sites) {
    const folder = posix.dirname(site.file);
    if (site.file !== main) counts.set(folder, (counts.get(folder) ?? 0) + 1);
  }
  const [best] = [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  return best?.[0] ?? posix.join(posix.dirname(main), "conf.d");
}

/** The `listen` most plain-HTTP sites use, so a new site answers where the others do. */
function usualListen(sites: readonly Site[]): string {
  const counts = new Map<string, number>();
  for (const listen of sites.flatMap((site) => site.listens)) {
    // TLS needs certificates a new site does not have: it listens where plain HTTP does.
    if (!/ssl|quic|(^|:)443$/.test(listen)) counts.set(listen, (counts.get(listen) ?? 0) + 1);
  }
  const [best] = [...counts].sort((a, b) => b[1] - a[1]);
  return best?.[0]?.split(/\s+/)[0] ?? "80";
}

/** What nginx-fix.sh reads on stdin: `PATH SHA_BEFORE CONTENT`, path and content in base64. */
export function fixInput(changes: readonly FileChange[]): string {
  const b64 = (text: string) => Buffer.from(text).toString("base64");
  return changes.map((change) => `${b64(change.path)} ${change.before === null ? "-" : createHash("sha256").update(change.before).digest("hex")} ${b64(change.after)}\n`).join("");
}
