/**
 * `deploy-vps audit` against the real sshd, Docker Engine and nginx: the seed's situation planted
 * (a proxy config of 12 services, 2 reached through the proxy, 9 bypassing it, 1 with no nginx
 * site, one dangling proxy_pass, one orphan entry, one broken dependency, one stack running for
 * nothing, one site direct on purpose), found each and nothing else; `--fix` on a copy of the
 * nginx files sends the bypasses through the proxy, and a broken nginx makes it change nothing.
 */
import { execFile, execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, chownSync, cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, onServer, ROOT, runCli, shq, uniqueName } from "./harness.js";
import type { AuditRow } from "../../src/audit/classify.js";
import { expectShape } from "./json-shape.js";

const name = uniqueName("e2e-audit");
const domain = `${name}.test`;
const host = (label: string) => `${label}.${domain}`;
const services = Array.from({ length: 12 }, (_, i) => `s${String(i + 1).padStart(2, "0")}`);
const ports = new Map<string, number>();
let proxyPort = 0;
let proxyStandIn: Server;
const received: string[] = [];
let folder = "";
const made: string[] = [];
const deployUid = Number(execFileSync("id", ["-u", "deploy"], { encoding: "utf8" }).trim());
const deployGid = Number(execFileSync("id", ["-g", "deploy"], { encoding: "utf8" }).trim());

/** A folder the deploy user owns: it runs nginx -T, nginx -s reload and writes the fixes there. */
function deployFolder(label: string): string {
  const dir = mkdtempSync(join(tmpdir(), `deploy-vps-e2e-${process.pid}-${label}-`));
  made.push(dir);
  return dir;
}

function giveToDeploy(dir: string): void {
  const walk = (path: string) => {
    chownSync(path, deployUid, deployGid);
    for (const entry of readdirSync(path, { withFileTypes: true })) {
      const inner = join(path, entry.name);
      if (entry.isDirectory()) walk(inner);
      else if (!entry.isSymbolicLink()) chownSync(inner, deployUid, deployGid);
    }
  };
  chmodSync(dir, 0o755);
  walk(dir);
}

/** The fixture's nginx files in a folder of their own, with EXTRA files added. */
function nginxCopy(label: string, extra: Record<string, string> = {}): { copy: string; main: string } {
  const copy = deployFolder(label);
  rmSync(copy, { recursive: true });
  cpSync(folder, copy, { recursive: true, verbatimSymlinks: true });
  const main = join(copy, "nginx.conf");
  writeFileSync(main, readFileSync(main, "utf8").replaceAll(folder, copy));
  for (const [path, text] of Object.entries(extra)) writeFileSync(join(copy, path), text);
  giveToDeploy(copy);
  return { copy, main };
}

const site = (names: string, body: string, listen: number) => `server {\n    listen 127.0.0.1:${listen};\n    server_name ${names};\n${body}\n}\n`;

/** The seed's nginx: a main file with includes, sites-available linked from sites-enabled, conf.d, upstreams with a backup. */
async function writeNginx(dir: string, listen: number, dangling: number): Promise<void> {
  for (const sub of ["sites-available", "sites-enabled", "conf.d", "logs"]) mkdirSync(join(dir, sub));
  const temp = ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"].map((kind) => `    ${kind}_temp_path ${join(dir, kind)};`).join("\n");
  writeFileSync(
    join(dir, "nginx.conf"),
    `worker_processes 1;\npid ${join(dir, "nginx.pid")};\nerror_log ${join(dir, "error.log")} warn;\nevents { worker_connections 64; }\nhttp {\n    access_log off;\n${temp}\n    include ${join(dir, "conf.d")}/*.conf;\n    include sites-enabled/*;\n}\n`,
  );
  // conf.d: the upstream blocks, one of them with a backup server; a bypass through it.
  writeFileSync(
    join(dir, "conf.d", "upstreams.conf"),
    `# Upstreams shared by several sites\nupstream runtime_proxy {\n    server 127.0.0.1:${proxyPort};\n}\nupstream s05_app {\n    server 127.0.0.1:${ports.get("s05")} max_fails=3;\n    server 127.0.0.1:${ports.get("s05")} backup; # same app, second try\n}\n` +
      site(host("s05"), `    location / { proxy_pass http://s05_app; }`, listen),
  );
  const enabled = (file: string, text: string) => {
    writeFileSync(join(dir, "sites-available", file), text);
    symlinkSync(`../sites-available/${file}`, join(dir, "sites-enabled", file));
  };
  // Two sites through the proxy: one straight to its address, one through an upstream.
  enabled("s01", site(host("s01"), `    location / {\n        proxy_pass http://127.0.0.1:${proxyPort};\n        proxy_set_header Host $host;\n    }`, listen));
  enabled("s02", site(`"${host("s02")}"`, `    location /\n    {\n        proxy_pass   http://runtime_proxy;\n        proxy_set_header Host $host;\n    }`, listen));
  // Nine bypasses, in the shapes people write them.
  enabled("s03", site(host("s03"), `    location / {\n        proxy_pass http://127.0.0.1:${ports.get("s03")};\n    }`, listen));
  enabled("s04", site(host("s04"), `    location / {\n        proxy_pass http://localhost:${ports.get("s04")}/;\n        proxy_set_header X-Real-IP $remote_addr;\n    }`, listen));
  enabled("s06", site(host("s06"), `    proxy_set_header X-From "a; b"; # a quoted ; and a # inside\n    location /app/ {\n        proxy_pass http://127.0.0.1:${ports.get("s06")}/app/;\n    }`, listen));
  enabled("s07", site(host("s07"), `    location / {\n        location /api {\n            proxy_pass http://127.0.0.1:${ports.get("s07")};\n        }\n    }`, listen));
  writeFileSync(join(dir, "sites-enabled", "s08-s09"), site(host("s08"), `    location / { proxy_pass http://127.0.0.1:${ports.get("s08")}; }`, listen) + site(host("s09"), `\tlocation / {\n\t\tproxy_pass\n\t\t\thttp://127.0.0.1:${ports.get("s09")};\n\t}`, listen));
  enabled("s10", site(host("s10"), `    location / {\n        if ($request_method = POST) { return 405; }\n        proxy_pass http://127.0.0.1:${ports.get("s10")};\n    }`, listen));
  enabled("s11", site(host("s11"), `    location ~ ^/(a|b) {\n        proxy_pass http://127.0.0.1:${ports.get("s11")};\n    }`, listen));
  // A site whose app is gone: nothing publishes or listens where it sends.
  enabled("gone", site(host("gone"), `    location / { proxy_pass http://127.0.0.1:${dangling}; }`, listen));
  // Direct on purpose, marked so.
  enabled("blog", site(host("blog"), `    # deploy-vps: direct (a static blog, no need to sleep)\n    location / { proxy_pass http://127.0.0.1:${ports.get("blog")}; }`, listen));
  // A site that sends nothing anywhere: not a row.
  enabled("redirect", site(`old.${domain}`, `    return 301 http://${host("s01")}$request_uri;`, listen));
}

/** The seed's config.json: 12 services on host ports, plus one whose project is gone. */
function writeProxyConfig(dir: string): string {
  const entries = services.map((service) => ({ name: `${name}-${service}`, port: ports.get(service), hosts: [host(service)], mode: "dynamic", themeName: "matrix", timeout: 1_800_000 }));
  entries.push({ name: `${name}-vanished`, port: 1, hosts: [host("vanished")], mode: "async", themeName: "ghost", timeout: 600_000 });
  const file = join(dir, "config.json");
  writeFileSync(file, `${JSON.stringify({ services: entries }, null, 2)}\n`);
  return file;
}

function docker(...args: string[]): string {
  return execFileSync("docker", args, { encoding: "utf8" }).trim();
}

function container(project: string, port: number, run: boolean, labels: string[] = []): void {
  const args = ["--name", `${project}-web-1`, "--label", `com.docker.compose.project=${project}`, "--label", "com.docker.compose.service=web", "--label", "com.docker.compose.oneoff=False"];
  for (const label of labels) args.push("--label", label);
  args.push("-p", `127.0.0.1:${port}:80`, "local/busybox:latest", "httpd", "-f", "-p", "80");
  docker(run ? "run" : "create", ...(run ? ["-d"] : []), ...args);
}

async function audit(args: string[]) {
  return runCli(["audit", "--proxy", `127.0.0.1:${proxyPort}`, "--proxy-config", join(folder, "config.json"), ...args]);
}

/** A row as --json prints it. */
type Row = Pick<AuditRow, "kind" | "host" | "project" | "service" | "target" | "file" | "line" | "detail" | "memoryBytes">;

/** The rows about this test's own sites and stacks (other tests' stacks share the engine). */
function ours(rows: Row[]): Row[] {
  return rows.filter((row) => row.host?.endsWith(domain) || row.project?.startsWith(name) || row.service?.startsWith(name));
}

const byKind = (rows: Row[]) => {
  const kinds: Record<string, string[]> = {};
  for (const row of rows) (kinds[row.kind] ??= []).push(row.host ?? row.project ?? row.service ?? "");
  for (const list of Object.values(kinds)) list.sort();
  return kinds;
};

let listen = 0;

beforeAll(async () => {
  for (const service of [...services, "blog", "idle"]) ports.set(service, Number(await freePort()));
  // Where the proxy would listen. The audit only asks whether something listens there, and the
  // fix test reads what nginx sends it: a listener that records the request head stands in for it.
  proxyStandIn = createServer((socket) => {
    socket.once("data", (chunk) => {
      received.push(chunk.toString("latin1"));
      socket.end("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
    });
  });
  await new Promise<void>((resolve) => proxyStandIn.listen(0, "127.0.0.1", resolve));
  proxyPort = (proxyStandIn.address() as { port: number }).port;
  listen = Number(await freePort());
  folder = deployFolder("audit");
  await writeNginx(folder, listen, Number(await freePort()));
  writeProxyConfig(folder);
  giveToDeploy(folder);
  // The 12 services exist, stopped (created only: their ports are free); s02 requires a database that is not there.
  for (const service of services)
    container(`${name}-${service}`, ports.get(service) ?? 0, false, service === "s02" ? [`deploy-vps.proxy.requires=${name}-db/postgres`] : []);
  container(`${name}-blog`, ports.get("blog") ?? 0, true);
  container(`${name}-idle`, ports.get("idle") ?? 0, true);
}, 60_000);

afterAll(() => {
  proxyStandIn?.close();
  for (const dir of made) {
    try {
      execFileSync("sh", ["-c", `[ -f ${shq(join(dir, "nginx.pid"))} ] && kill $(cat ${shq(join(dir, "nginx.pid"))}); true`]);
    } catch {
      // Not running.
    }
    rmSync(dir, { recursive: true, force: true });
  }
  const ids = docker("ps", "-aq", "--filter", `name=${name}-`);
  if (ids) docker("rm", "-f", ...ids.split("\n"));
});

describe("audit", () => {
  it("finds each planted case, and nothing else about this server's fixture, in one round trip", async () => {
    const run = await audit(["--nginx-conf", join(folder, "nginx.conf"), "--json"]);
    expect(run.code, run.stderr).toBe(3);
    const doc = JSON.parse(run.stdout) as { rows: Row[]; sources: Record<string, { state: string; detail?: string }>; roundTrips: number };
    expect(doc.sources.nginx?.state, JSON.stringify(doc.sources)).toBe("read");
    expect(doc.sources.docker?.state).toBe("read");
    expect(doc.sources.proxy?.state).toBe("read");
    expect(doc.roundTrips).toBe(1);
    expectShape(doc, "audit");
    const rows = ours(doc.rows);
    expect(byKind(rows)).toEqual({
      "through-proxy": [host("s01"), host("s02")],
      bypass: ["s03", "s04", "s05", "s06", "s07", "s08", "s09", "s10", "s11"].map(host).sort(),
      "no-site": [host("s12")],
      dangling: [host("gone")],
      orphan: [host("vanished")],
      "broken-dependency": [`${name}-s02`],
      unmanaged: [`${name}-idle`],
      direct: [host("blog")],
    });
    const bypass = rows.find((row) => row.host === host("s05"));
    // Through its upstream block: the line is the proxy_pass, in conf.d.
    expect(bypass).toMatchObject({ project: `${name}-s05`, file: join(folder, "conf.d", "upstreams.conf") });
    expect(rows.find((row) => row.host === host("s09"))).toMatchObject({ file: join(folder, "sites-enabled", "s08-s09"), line: 10 });
    expect(rows.find((row) => row.kind === "orphan")?.detail).toMatch(/no compose project/);
    expect(rows.find((row) => row.kind === "broken-dependency")?.detail).toContain(`${name}-db/postgres`);
    expect(rows.find((row) => row.kind === "unmanaged")?.memoryBytes).toBeGreaterThan(0);
  }, 60_000);

  it("prints the verdicts for a person, with the source lines and the fix as a diff", async () => {
    const run = await audit(["--nginx-conf", join(folder, "nginx.conf")]);
    expect(run.code, run.stderr).toBe(3);
    expect(run.stdout).toMatch(new RegExp(`BYPASS\\s+${host("s03").replace(/\./g, "\\.")} → 127\\.0\\.0\\.1:${ports.get("s03")}`));
    expect(run.stdout).toContain(`${join(folder, "sites-enabled", "s03")}:5: proxy_pass http://127.0.0.1:${ports.get("s03")}`);
    expect(run.stdout).toContain(`+++ ${join(folder, "sites-enabled", "s03")}`);
    expect(run.stdout).toContain(`+        proxy_pass http://127.0.0.1:${proxyPort};`);
    mkdirSync(join(ROOT, "test", "artifacts"), { recursive: true });
    writeFileSync(join(ROOT, "test", "artifacts", "audit.txt"), run.stdout.replaceAll(name, "demo").replaceAll(join(folder, "config.json"), "/opt/docker-autostart/config.json").replaceAll(folder, "/etc/nginx"));
  }, 60_000);

  it("writes the docs table from what runs", async () => {
    const run = await audit(["--nginx-conf", join(folder, "nginx.conf"), "--markdown"]);
    expect(run.code, run.stderr).toBe(3);
    const line = (service: string) => run.stdout.split("\n").find((row) => row.startsWith(`| ${name}-${service} |`));
    expect(line("s01")).toMatch(/\| dynamic \| matrix \| 30m \| - \| - \| through the proxy \|$/);
    expect(line("s03")).toMatch(/\| bypass \|$/);
    expect(line("s12")).toMatch(/\| no nginx site \|$/);
  }, 60_000);

  it("reads the files themselves when nginx -T is refused, and says so", async () => {
    // The system's nginx.conf: a plain user may not open its pid file, so -T is refused.
    const run = await audit(["--json"]);
    const doc = JSON.parse(run.stdout) as { sources: Record<string, { state: string; detail: string }> };
    expect(doc.sources.nginx).toMatchObject({ state: "partial" });
    expect(doc.sources.nginx?.detail).toMatch(/nginx -T refused \(.*Permission denied.*\): read the files from \/etc\/nginx\/nginx.conf down instead/);
  }, 60_000);

  it("--fix sends every bypass and the missing site through the proxy, nginx -t passing, and reloads", async () => {
    const { copy, main } = nginxCopy("audit-fix");
    onServer(`/usr/sbin/nginx -c ${shq(main)} </dev/null >/dev/null 2>&1`);
    const fixed = await audit(["--nginx-conf", main, "--fix", "--json"]);
    expect(fixed.code, fixed.stderr).toBe(3);
    expect(fixed.stderr).toMatch(/file\(s\) changed/);
    const rows = ours((JSON.parse(fixed.stdout) as { rows: Row[] }).rows);
    expect(byKind(rows)["through-proxy"]).toEqual(services.map(host).sort());
    expect(byKind(rows).bypass).toBeUndefined();
    expect(byKind(rows)["no-site"]).toBeUndefined();
    onServer(`/usr/sbin/nginx -t -q -c ${shq(main)}`);
    expect(readdirSync(join(copy, "sites-available")).some((file) => /^\.s03\.deploy-vps-\d{8}T\d{6}Z$/.test(file))).toBe(true);
    // nginx now sends the site to the proxy's address, with the client's Host.
    // Not execFileSync: the stand-in answering curl lives in this process.
    const { stdout: answer } = await promisify(execFile)("curl", ["-sS", "-H", `Host: ${host("s07")}`, `http://127.0.0.1:${listen}/api/x`], { encoding: "utf8" });
    expect(answer).toBe("ok");
    expect(received.some((head) => head.startsWith("GET /api/x ") && head.includes(`Host: ${host("s07")}`))).toBe(true);
  }, 90_000);

  it("--fix on an nginx that fails nginx -t changes nothing", async () => {
    // Valid syntax, but no directive nginx knows: nginx -t fails, the audit's parser does not.
    const { copy, main } = nginxCopy("audit-broken", { "conf.d/broken.conf": "not_a_directive on;\n" });
    const digest = () => createHash("sha256").update(execFileSync("sh", ["-c", `cd ${shq(copy)} && find . -type f -o -type l | sort | xargs -d '\\n' sha256sum`])).digest("hex");
    const before = digest();
    const run = await audit(["--nginx-conf", main, "--fix"]);
    expect(run.code, run.stderr).toBe(1);
    // nginx -T refuses it too, so the audit has only the files: --fix does not act on that.
    expect(run.stderr).toMatch(/^deploy-vps: --fix changes nothing from a partial view of nginx \(nginx -T refused \(unknown directive "not_a_directive" in .*broken\.conf:1\)/);
    expect(digest()).toBe(before);
  }, 60_000);
});
