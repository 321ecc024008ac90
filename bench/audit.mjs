// The audit's part of `npm run bench` (`--only audit` runs it alone): `deploy-vps audit` of a
// server with 50 containers (10 running) and 30 nginx sites, against reading the same three
// sources by hand over SSH (nginx -T, docker ps -a, the proxy's config: the seed's way, which
// still leaves the cross-checking to a person), and against `docker stats --no-stream`, the usual
// way to get the memory the audit reads from cgroups. Target: under 2 s, in one round trip.
import { execFileSync } from "node:child_process";
import { chownSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";

const PROJECT = "bench-audit";
const CONTAINERS = 50;
const RUNNING = 10;
const SITES = 30;
const RUNS = 5;
export const AUDIT_TARGET_MS = 2000;

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

function docker(...args) {
  return execFileSync("docker", args, { encoding: "utf8" }).trim();
}

function removeContainers() {
  const ids = docker("ps", "-aq", "--filter", `label=com.docker.compose.project.bench=${PROJECT}`);
  if (ids) docker("rm", "-f", ...ids.split("\n"));
}

/** nginx files and a proxy config the deploy user owns: 30 sites, 20 through the proxy, 10 straight to their app. */
function fixture(dir, proxyPort) {
  const deploy = { uid: Number(execFileSync("id", ["-u", "deploy"], { encoding: "utf8" })), gid: Number(execFileSync("id", ["-g", "deploy"], { encoding: "utf8" })) };
  mkdirSync(join(dir, "sites-enabled"), { recursive: true });
  const temp = ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"].map((kind) => `  ${kind}_temp_path ${join(dir, kind)};`).join("\n");
  writeFileSync(join(dir, "nginx.conf"), `pid ${join(dir, "nginx.pid")};\nerror_log ${join(dir, "error.log")};\nevents {}\nhttp {\n${temp}\n  include sites-enabled/*;\n}\n`);
  const entries = [];
  for (let i = 0; i < SITES; i++) {
    const port = 20000 + i;
    const target = i < 20 ? `127.0.0.1:${proxyPort}` : `127.0.0.1:${port}`;
    writeFileSync(join(dir, "sites-enabled", `site${i}`), `server {\n  listen 127.0.0.1:18080;\n  server_name site${i}.bench.test;\n  location / {\n    proxy_pass http://${target};\n    proxy_set_header Host $host;\n  }\n}\n`);
    entries.push({ name: `${PROJECT}-${i}`, port, hosts: [`site${i}.bench.test`], mode: "dynamic" });
  }
  writeFileSync(join(dir, "config.json"), JSON.stringify({ services: entries }));
  for (const path of [dir, join(dir, "sites-enabled"), join(dir, "nginx.conf"), join(dir, "config.json")]) chownSync(path, deploy.uid, deploy.gid);
  for (let i = 0; i < SITES; i++) chownSync(join(dir, "sites-enabled", `site${i}`), deploy.uid, deploy.gid);
}

/** ON_HOST: { cliCode(args) → {status, stdout, stderr}, ssh(command) → stdout }. */
export async function auditBench(onHost) {
  const dir = mkdtempSync(join(tmpdir(), "deploy-vps-bench-audit-"));
  const proxyPort = 18890;
  removeContainers();
  try {
    fixture(dir, proxyPort);
    for (let i = 0; i < CONTAINERS; i++) {
      const project = i < SITES ? `${PROJECT}-${i}` : `${PROJECT}-extra-${i}`;
      const args = ["--name", `${project}-web-1`, "--label", `com.docker.compose.project=${project}`, "--label", "com.docker.compose.service=web", "--label", `com.docker.compose.project.bench=${PROJECT}`];
      if (i < RUNNING) docker("run", "-d", ...args, "local/busybox:latest", "sleep", "3600");
      else docker("create", ...args, "-p", `127.0.0.1:${20000 + i}:80`, "local/busybox:latest", "sleep", "3600");
    }
    const auditArgs = ["audit", "--json", "--nginx-conf", join(dir, "nginx.conf"), "--proxy-config", join(dir, "config.json"), "--proxy", `127.0.0.1:${proxyPort}`];
    const samples = { audit: [], byHand: [], stats: [] };
    let roundTrips = null;
    let rows = null;
    for (let run = 0; run < RUNS; run++) {
      let started = performance.now();
      const out = await onHost.cliCode(auditArgs);
      samples.audit.push(performance.now() - started);
      if (out.status !== 0 && out.status !== 3) throw new Error(`deploy-vps audit exited ${out.status}: ${out.stderr}`);
      const doc = JSON.parse(out.stdout);
      roundTrips = doc.roundTrips;
      rows = doc.rows.length;
      started = performance.now();
      await onHost.ssh(`/usr/sbin/nginx -T -c ${join(dir, "nginx.conf")} >/dev/null 2>&1; docker ps -a >/dev/null; cat ${join(dir, "config.json")} >/dev/null`);
      samples.byHand.push(performance.now() - started);
      started = performance.now();
      await onHost.ssh("docker stats --no-stream >/dev/null");
      samples.stats.push(performance.now() - started);
    }
    return { containers: Number(docker("ps", "-aq").split("\n").length), sites: SITES, samples, roundTrips, rows };
  } finally {
    removeContainers();
    rmSync(dir, { recursive: true, force: true });
  }
}

export function auditReport(result) {
  if (!result) return [];
  const cell = (xs) => `${(median(xs) / 1000).toFixed(2)} s (${(Math.min(...xs) / 1000).toFixed(2)}–${(Math.max(...xs) / 1000).toFixed(2)})`;
  const met = median(result.samples.audit) < AUDIT_TARGET_MS ? "met" : "**missed**";
  return [
    "## Audit",
    "",
    `A server with ${result.containers} containers (the fixture's ${CONTAINERS}, ${RUNNING} of them running, plus whatever else runs on the test host) and ${result.sites} nginx sites; ${RUNS} runs of each, in alternation. From the CLI's start to its last line, SSH connection included.`,
    "",
    "| what | median (min–max) | round trips |",
    "|---|---|---|",
    `| \`deploy-vps audit --json\` (${result.rows} rows) | ${cell(result.samples.audit)} | ${result.roundTrips} |`,
    `| by hand: \`ssh host 'nginx -T; docker ps -a; cat config.json'\` (reading only; the checking is left to you) | ${cell(result.samples.byHand)} | 1 |`,
    `| \`ssh host docker stats --no-stream\` (the usual way to read memory; the audit reads cgroups) | ${cell(result.samples.stats)} | 1 |`,
    "",
    `Target: under ${AUDIT_TARGET_MS / 1000} s and one round trip: ${met}.`,
  ];
}
