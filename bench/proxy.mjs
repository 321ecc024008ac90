// The runtime proxy's part of `npm run bench` (`--only proxy` runs it alone), on the test host:
// the fixture app (test/fixtures/proxy-app) deployed by deploy-vps, the proxy installed by it,
// all figures side by side in one run on the same machine:
//   warm, small response, wrk 50 connections: direct to the app, nginx proxy_pass to the app,
//   the proxy to the app, nginx in front of the proxy; p50/p99 latency added over direct, throughput;
//   cold start overhead: first byte of a cold blocking request minus the app's own start-to-ready
//   time (its /boot), over a few repetitions, p50;
//   the daemon's memory (RSS of its node process) idle and with 1,000 websockets open through it.
import { execFileSync } from "node:child_process";
import { cpSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { localEngine } from "../dist/docker/engine.js";
import { fixtureCompose, freeLoopbackPort, httpCall, openWebsockets, runWrk, startNginx, untilAnswered } from "../test/e2e/proxy-tools.mjs";

const PROJECT = "bench-proxy";
const HOST = "bench-proxy.test";
const DAEMON_PROJECT = "deploy-vps-proxy";
export const PROXY_TARGETS = { addedP99VsNginx: 2, throughputVsNginx: 0.5, coldOverheadMs: 300, idleMb: 60, websocketsMb: 120, websockets: 1000 };

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** RSS of the daemon's node process (its container's own process, or its child under an init), in bytes. */
function daemonRss() {
  const id = execFileSync("docker", ["ps", "-q", "--filter", `label=com.docker.compose.project=${DAEMON_PROJECT}`], { encoding: "utf8" }).trim();
  const pid = execFileSync("docker", ["inspect", "-f", "{{.State.Pid}}", id], { encoding: "utf8" }).trim();
  const node = execFileSync("sh", ["-c", `pgrep -x node -P ${pid} || echo ${pid}`], { encoding: "utf8" }).trim().split("\n")[0];
  return Number(execFileSync("ps", ["-o", "rss=", "-p", node], { encoding: "utf8" }).trim()) * 1024;
}

/** The bench app's address on its compose network. */
function containerAddress() {
  const id = execFileSync("docker", ["ps", "-q", "--filter", `label=com.docker.compose.project=${PROJECT}`, "--filter", "label=com.docker.compose.service=web"], { encoding: "utf8" }).trim();
  return execFileSync("docker", ["inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", id], { encoding: "utf8" }).trim();
}

/**
 * Deploys the fixture app as PROJECT (compose file COMPOSE, routed as HOST) with deploy-vps,
 * installs a daemon of the bench's own, runs nginx with the block `proxy nginx` prints, then
 * BODY({ listen, admin, viaNginx, nginxes }) (nginxes: push any other nginx to be stopped);
 * removes all of it after. CLI(args) runs deploy-vps against the test host and resolves with its
 * stdout (throwing on a non-zero exit); SSH(command) runs a command there as the deploy user.
 */
export async function withBenchStack({ cli, ssh, project, host, compose }, body) {
  // The bench installs a daemon of its own and removes it after: never over one already there.
  const existing = (await ssh(`docker ps -aq --filter label=com.docker.compose.project=${DAEMON_PROJECT}; ls -d apps/${DAEMON_PROJECT} 2>/dev/null; true`)).trim();
  if (existing !== "") throw new Error(`a ${DAEMON_PROJECT} is already on the test host (${existing.split("\n").join(", ")}): the bench needs it for itself`);
  const listen = await freeLoopbackPort();
  const admin = await freeLoopbackPort();
  const folder = join(mkdtempSync(join(tmpdir(), `deploy-vps-${project}-`)), project);
  cpSync(new URL("../test/fixtures/proxy-app", import.meta.url), folder, { recursive: true });
  writeFileSync(join(folder, "compose.yaml"), compose);
  const nginxes = [];
  try {
    await cli([folder, "--settle", "0"]);
    await cli(["proxy", "install", "--image", "local/node:20", "--listen", `127.0.0.1:${listen}`, "--admin", `127.0.0.1:${admin}`]);
    const viaNginx = await startNginx(await cli(["proxy", "nginx", host, "--proxy", `127.0.0.1:${listen}`]));
    nginxes.push(viaNginx);
    return await body({ listen, admin, viaNginx, nginxes });
  } finally {
    for (const nginx of nginxes) await nginx.stop();
    await ssh(
      `for p in ${project} ${DAEMON_PROJECT}; do ids=$(docker ps -aq --filter label=com.docker.compose.project=$p); [ -z "$ids" ] || docker rm -f $ids >/dev/null; docker network rm "$p"_default >/dev/null 2>&1; done; ` +
        `rm -rf apps/${project} apps/.deploy-vps/${project} apps/${DAEMON_PROJECT} apps/.deploy-vps/${DAEMON_PROJECT} .local/state/${DAEMON_PROJECT} .config/${DAEMON_PROJECT}; true`,
    );
    rmSync(join(folder, ".."), { recursive: true, force: true });
  }
}

/** Runs the proxy benchmark (CLI and SSH as withBenchStack takes them). */
export async function proxyBench({ cli, ssh, seconds = 10, rounds = 3, coldRuns = 5 }) {
  const compose = fixtureCompose({ labels: { host: HOST, port: 8080, mode: "blocking", idle: "never" }, startDelayMs: 1000 });
  return withBenchStack({ cli, ssh, project: PROJECT, host: HOST, compose }, async ({ listen, viaNginx, nginxes }) => {
    await untilAnswered(`http://127.0.0.1:${listen}/`, { host: HOST, timeoutMs: 60_000 });
    // Direct means the container's own address, as the proxy reaches it (a published port would
    // add Docker's userland proxy); nginx gets the same, with kept-alive upstream connections.
    const app = `${containerAddress()}:8080`;
    const straight = await startNginx(
      [`upstream bench_app { server ${app}; keepalive 64; }`, "server {", "    listen 80;", "    location / {", "        proxy_pass http://bench_app;", "        proxy_http_version 1.1;", '        proxy_set_header Connection "";', "    }", "}"].join("\n"),
    );
    nginxes.push(straight);

    const header = `Host: ${HOST}`;
    const paths = [
      { name: "direct to the app", url: `http://${app}/` },
      { name: "nginx proxy_pass → app", url: `${straight.url}/` },
      { name: "proxy → app", url: `http://127.0.0.1:${listen}/`, header },
      { name: "nginx → proxy → app", url: `${viaNginx.url}/`, header },
    ];
    // Idle: installed and routing, before any load has grown its heap.
    await sleep(2000);
    const idleRss = daemonRss();
    // A short unrecorded run per path first, so that no JIT warm-up lands in a measured one.
    for (const path of paths) await runWrk(path.url, { connections: 50, threads: 2, seconds: 3, header: path.header });
    const samples = new Map(paths.map((path) => [path.name, []]));
    for (let round = 1; round <= rounds; round++)
      for (const path of paths) {
        const figures = await runWrk(path.url, { connections: 50, threads: 2, seconds, header: path.header });
        console.error(`[proxy] round ${round}/${rounds} ${path.name}: p50 ${figures.p50Ms} ms, p99 ${figures.p99Ms} ms, ${figures.requestsPerSec} req/s, ${figures.errors} errors`);
        samples.get(path.name).push(figures);
      }
    const warm = paths.map((path) => {
      const runs = samples.get(path.name);
      return {
        path: path.name,
        p50Ms: median(runs.map((r) => r.p50Ms)),
        p99Ms: median(runs.map((r) => r.p99Ms)),
        requestsPerSec: median(runs.map((r) => r.requestsPerSec)),
        errors: runs.reduce((sum, r) => sum + r.errors, 0),
      };
    });

    const cold = [];
    for (let run = 1; run <= coldRuns; run++) {
      await cli(["proxy", "sleep", PROJECT]);
      const first = await httpCall(`http://127.0.0.1:${listen}/`, { host: HOST, timeoutMs: 120_000 });
      if (first.status !== 200) throw new Error(`cold request answered ${first.status}: ${first.body}`);
      const boot = JSON.parse((await httpCall(`http://127.0.0.1:${listen}/boot`, { host: HOST })).body);
      cold.push({ firstByteMs: first.firstByteMs, startToReadyMs: boot.startToReadyMs, overheadMs: first.firstByteMs - boot.startToReadyMs });
      console.error(`[proxy] cold ${run}/${coldRuns}: first byte ${first.firstByteMs.toFixed(0)} ms, app start-to-ready ${boot.startToReadyMs} ms`);
    }

    // Docker's own share of a cold start: the Engine API call the daemon makes, timed alone.
    const engine = localEngine();
    await engine.negotiate();
    const web = execFileSync("docker", ["ps", "-aq", "--filter", `label=com.docker.compose.project=${PROJECT}`, "--filter", "label=com.docker.compose.service=web"], { encoding: "utf8" }).trim();
    const engineStartMs = [];
    for (let run = 1; run <= coldRuns; run++) {
      await cli(["proxy", "sleep", PROJECT]);
      const began = performance.now();
      await engine.startContainer(web);
      engineStartMs.push(performance.now() - began);
      console.error(`[proxy] Docker's own start ${run}/${coldRuns}: ${engineStartMs.at(-1).toFixed(0)} ms`);
    }
    await cli(["proxy", "wake", PROJECT]);

    const sockets = await openWebsockets(`ws://127.0.0.1:${listen}/ws`, PROXY_TARGETS.websockets, { host: HOST });
    await sleep(2000);
    const websocketsRss = daemonRss();
    await sockets.close();
    console.error(`[proxy] daemon RSS idle ${(idleRss / 1e6).toFixed(1)} MB, with ${PROXY_TARGETS.websockets} websockets ${(websocketsRss / 1e6).toFixed(1)} MB`);
    return { seconds, rounds, warm, cold, engineStartMs, idleRss, websocketsRss };
  });
}

const verdict = (met) => (met ? "met" : "missed");
const ms = (x) => `${x.toFixed(2)} ms`;
const mb = (bytes) => `${(bytes / 1e6).toFixed(1)} MB`;

/** The "Runtime proxy" section of docs/benchmarks.md. */
export function proxyReport(result) {
  if (!result) return [];
  const by = Object.fromEntries(result.warm.map((row) => [row.path, row]));
  const direct = by["direct to the app"];
  const nginx = by["nginx proxy_pass → app"];
  const proxy = by["proxy → app"];
  const added = (row) => row.p99Ms - direct.p99Ms;
  const overhead = median(result.cold.map((run) => run.overheadMs));
  const dockerStart = median(result.engineStartMs);
  const t = PROXY_TARGETS;
  return [
    "## Runtime proxy",
    "",
    `Run ${new Date().toISOString()} on this machine (\`npm run bench -- --only proxy\` replaces this section alone).`,
    "",
    `The fixture app (test/fixtures/proxy-app) deployed by deploy-vps, the proxy installed by \`proxy install\` (in its container, host network), nginx 1.22 on loopback (one worker, kept-alive upstream connections). Direct = the app container's own address, as the proxy reaches it. Warm: \`wrk --latency -c 50 -t 2 -d ${result.seconds}s\` on its 3-byte \`/\`, after a 3 s unrecorded warm-up each, each path ${result.rounds} times in alternation, medians. Added = p99 minus direct's p99. Cold: \`proxy sleep\`, then one blocking request straight to the proxy: first byte minus the app's own start-to-ready time (its process start to listen, from \`/boot\`), so the containers' own start counts as overhead; ${result.cold.length} runs, p50. Memory: RSS of the daemon's node process, idle (before any load), then after the runs with ${t.websockets.toLocaleString("en")} websockets open through it.`,
    "",
    "| path | p50 | p99 | p99 added over direct | requests/s | errors |",
    "|---|---|---|---|---|---|",
    ...result.warm.map((row) => `| ${row.path} | ${ms(row.p50Ms)} | ${ms(row.p99Ms)} | ${row === direct ? "-" : ms(added(row))} | ${row.requestsPerSec.toFixed(0)} | ${row.errors} |`),
    "",
    `Cold starts: first byte ${result.cold.map((run) => `${run.firstByteMs.toFixed(0)}`).join(", ")} ms; the app's start-to-ready ${result.cold.map((run) => run.startToReadyMs).join(", ")} ms. Docker's own start of the same container (the Engine API's \`POST /containers/{id}/start\`, the call the daemon makes, timed alone): ${result.engineStartMs.map((x) => x.toFixed(0)).join(", ")} ms, p50 ${dockerStart.toFixed(0)} ms. What is left is the proxy's own share: ${(overhead - dockerStart).toFixed(0)} ms at p50.`,
    "",
    "| target | this run | verdict |",
    "|---|---|---|",
    `| p99 added ≤ ${t.addedP99VsNginx}× nginx's own | proxy ${ms(added(proxy))}, nginx ${ms(added(nginx))} | ${verdict(added(proxy) <= t.addedP99VsNginx * added(nginx))} |`,
    `| throughput ≥ ${t.throughputVsNginx}× nginx's | ${proxy.requestsPerSec.toFixed(0)} ÷ ${nginx.requestsPerSec.toFixed(0)} = ${(proxy.requestsPerSec / nginx.requestsPerSec).toFixed(2)}× | ${verdict(proxy.requestsPerSec >= t.throughputVsNginx * nginx.requestsPerSec)} |`,
    `| cold-start overhead ≤ ${t.coldOverheadMs} ms at p50 | ${overhead.toFixed(0)} ms, of which Docker's own start ${dockerStart.toFixed(0)} ms and the proxy's ${(overhead - dockerStart).toFixed(0)} ms | ${verdict(overhead <= t.coldOverheadMs)} |`,
    `| daemon ≤ ${t.idleMb} MB idle | ${mb(result.idleRss)} | ${verdict(result.idleRss <= t.idleMb * 1e6)} |`,
    `| daemon ≤ ${t.websocketsMb} MB with ${t.websockets.toLocaleString("en")} websockets | ${mb(result.websocketsRss)} | ${verdict(result.websocketsRss <= t.websocketsMb * 1e6)} |`,
    "",
  ];
}

/** DOC with the section of SECTION's heading (its first line, "## …") replaced by SECTION (appended if it has none). */
export function withSection(doc, section) {
  const start = doc.indexOf(`\n${section[0]}\n`);
  if (start === -1) return `${doc.trimEnd()}\n\n${section.join("\n")}`;
  const next = doc.indexOf("\n## ", start + 1);
  const tail = next === -1 ? "" : doc.slice(next);
  return `${doc.slice(0, start)}\n${section.join("\n")}${tail}`;
}
