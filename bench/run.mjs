#!/usr/bin/env node
// `npm run bench -- [--files 3000] [--assets-mb 20] [--skipped-mb 300] [--runs 3] [--links loopback,throttled] [--seed 42] [--doc docs/benchmarks.md] [--only deploy-vps|memory|proxy|pages|zero-downtime|audit] [--memory off]`
//
// Ships one synthetic monorepo (deterministic from --seed) to the test host in several ways,
// in alternation (A B C … A B C …), and reports medians and min–max:
//   deploy-vps: first deploy, redeploy after one changed file, no-op redeploy;
//   baselines: tar -cz | ssh 'tar -xz', rsync -az (first copy and after the same one-file
//   change), and the seed's way (archive to a file, scp, extract).
// Over loopback and over a throttled link (bench/link.sh: a network namespace of its own with
// tc tbf 20 Mbit/s, plus a relay here that delays every chunk to add 40 ms of round trip).
// deploy-vps's "transfer" is the whole run but compose up and the watch: start-up, reading the
// tree, connect, probe, digest, upload, switch, the part comparable with the baselines;
// "total" adds compose up and the watch (--settle 0).
// Then flat memory (unless --memory off, or an --only other than memory): a first deploy over
// loopback of a 100 MB / 5,000-file tree and of a 1 GB / 50,000-file one, each CLI's peak RSS
// and their ratio, against the 1.3x target.
// Then the runtime proxy (bench/proxy.mjs; `--only proxy` runs it alone and replaces only its
// section of the doc), the waiting pages in a browser (bench/pages.mjs; `--only pages` likewise),
// the failed requests of a deploy under load (bench/zero-downtime.mjs; `--only zero-downtime`),
// and `deploy-vps audit` of 50 containers and 30 sites (bench/audit.mjs; `--only audit`).
import { execFileSync, spawn } from "node:child_process";
import { setTimeout } from "node:timers";
import { appendFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, connect } from "node:net";
import { cpus, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { auditBench, auditReport } from "./audit.mjs";
import { pagesBench, pagesReport } from "./pages.mjs";
import { proxyBench, proxyReport, withSection } from "./proxy.mjs";
import { zeroDowntimeBench, zeroDowntimeReport } from "./zero-downtime.mjs";
import { generate } from "./tree.mjs";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const STATE = process.env.DEPLOY_VPS_TEST_HOST_DIR ?? "/var/lib/deploy-vps-test-host";
const { values: opts } = parseArgs({
  options: {
    files: { type: "string", default: "3000" },
    "assets-mb": { type: "string", default: "20" },
    "skipped-mb": { type: "string", default: "300" },
    runs: { type: "string", default: "3" },
    links: { type: "string", default: "loopback,throttled" },
    seed: { type: "string", default: "42" },
    "rtt-ms": { type: "string", default: "40" },
    doc: { type: "string", default: "docs/benchmarks.md" },
    only: { type: "string", default: "" },
    memory: { type: "string", default: "on" },
  },
});
const KEY = join(STATE, "id_ed25519");
const EXCLUDES = ["node_modules", ".git", ".next", ".nuxt", ".turbo", ".cache", "coverage"];
const ROOT_EXCLUDES = ["dist", "build"];

/** Delays every chunk by half the round-trip time each way: the added latency netem would give. */
function delayRelay(target, oneWayMs) {
  const server = createServer((client) => {
    const upstream = connect(target.port, target.host);
    const delayed = (from, to) => from.on("data", (chunk) => setTimeout(() => to.write(chunk), oneWayMs));
    delayed(client, upstream);
    delayed(upstream, client);
    const close = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on("close", () => setTimeout(close, oneWayMs));
    upstream.on("close", () => setTimeout(close, oneWayMs));
    client.on("error", close);
    upstream.on("error", close);
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

function counters(iface) {
  const read = (name) => Number(readFileSync(`/sys/class/net/${iface}/statistics/${name}`, "utf8"));
  return read("tx_bytes") + (iface === "lo" ? 0 : read("rx_bytes"));
}

/** Runs a command without blocking the event loop, which the delay relay needs to forward. */
function run(file, args, env = process.env) {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { env });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => {
      stdout += chunk;
    });
    child.stderr.on("data", (chunk) => {
      stderr += chunk;
    });
    child.on("error", reject);
    child.on("close", (status) => resolve({ status, stdout, stderr }));
  });
}

/** Removes deploy-vps's app folder, state and containers from the server: the next deploy is a first one. */
const DV_CLEAN = 'ids=$(docker ps -aq --filter label=com.docker.compose.project=bench); [ -z "$ids" ] || docker rm -f $ids >/dev/null; rm -rf bench/dv bench/.deploy-vps';

const sshTo = (link) => (command) =>
  `ssh -o BatchMode=yes -o UserKnownHostsFile=${link.knownHosts} -o StrictHostKeyChecking=yes -i ${KEY} -p ${link.port} deploy@${link.host} '${command}'`;

/** One deploy-vps run with --json; `env` adds to the CLI's environment (a cache folder of its own). */
async function runDeployVps(link, tree, env = {}) {
  const started = Date.now();
  const before = counters(link.iface);
  const out = await run(process.execPath, [join(ROOT, "dist/cli.js"), tree, "--host", link.host, "--port", String(link.port), "--user", "deploy", "-i", KEY, "--known-hosts", link.knownHosts, "--path", "~/bench/dv", "--settle", "0", "--json"], { ...process.env, NO_COLOR: "1", ...env });
  if (out.status !== 0) throw new Error(`deploy-vps failed: ${out.stderr.split("\n").slice(-3).join("\n")}`);
  const summary = JSON.parse(out.stdout);
  const t = summary.timings;
  return {
    wallMs: Date.now() - started,
    // Everything but compose and the watch: Node's start-up and reading the tree count, as
    // rsync's and tar's own start-up and walk do.
    transferMs: Date.now() - started - (t.start ?? 0) - (t.watch ?? 0),
    bytes: counters(link.iface) - before,
    payload: summary.uploadedBytes,
    roundTrips: summary.roundTrips,
    peakRss: summary.peakRssBytes,
    timings: t,
  };
}

/**
 * Flat memory: the CLI's peak RSS on a first deploy over loopback (no hash cache, nothing on the
 * server) of a 100 MB / 5,000-file tree and of a 1 GB / 50,000-file one, the same mix of source
 * files and incompressible assets. Flat means the second peaks at most FLAT_TARGET times the first.
 */
const FLAT_TARGET = 1.3;
const MEMORY_TREES = [
  { files: 5000, assetsMb: 75 },
  { files: 50000, assetsMb: 750 },
];

async function flatMemory(link) {
  const ssh = sshTo(link);
  const rows = [];
  for (const size of MEMORY_TREES) {
    const tree = join(tmpdir(), `deploy-vps-bench-memory-${size.files}`, "bench");
    rmSync(dirname(tree), { recursive: true, force: true });
    console.error(`generating ${size.files} files and ${size.assetsMb} MB of assets in ${tree}`);
    generate(tree, size.files, size.assetsMb, 0, Number(opts.seed));
    const cache = join(dirname(tree), "cache");
    try {
      const shipped = Number((await sh(`cd ${tree} && du -sb --exclude=node_modules --exclude=.git --exclude=.next --exclude=./dist . | cut -f1`)).trim());
      await sh(ssh(`mkdir -p bench && ${DV_CLEAN}`));
      const sample = await runDeployVps(link, tree, { XDG_CACHE_HOME: cache });
      console.error(`[flat memory] ${size.files} files, ${mb(shipped)} MB: peak RSS ${mb(sample.peakRss)} MB, transfer ${secs(sample.transferMs)} s`);
      rows.push({ ...size, shipped, peakRss: sample.peakRss, transferMs: sample.transferMs });
    } finally {
      rmSync(dirname(tree), { recursive: true, force: true });
    }
  }
  await sh(ssh(`${DV_CLEAN}; rm -rf bench`));
  return rows;
}

async function sh(command) {
  const result = await run("bash", ["-c", command]);
  if (result.status !== 0) throw new Error(`${command}\n${result.stderr}`);
  return result.stdout;
}

async function main() {
  const files = Number(opts.files);
  const runs = Number(opts.runs);
  // --only proxy or pages: that one section, with no tree to ship and no link to set up.
  const sectionOnly = ["proxy", "pages", "zero-downtime", "audit"].includes(opts.only);
  const tree = join(tmpdir(), `deploy-vps-bench-${opts.seed}-${files}`, "bench");
  rmSync(dirname(tree), { recursive: true, force: true });
  let shipped = "0";
  if (!sectionOnly) {
    console.error(`generating ${files} files, ${opts["assets-mb"]} MB of assets, ${opts["skipped-mb"]} MB skipped in ${tree}`);
    generate(tree, files, Number(opts["assets-mb"]), Number(opts["skipped-mb"]), Number(opts.seed));
    shipped = (await sh(`cd ${tree} && du -sb --exclude=node_modules --exclude=.git --exclude=.next --exclude=./dist . | cut -f1`)).trim();
  }

  const links = [];
  const wanted = sectionOnly ? [] : opts.links.split(",");
  const loopbackPort = Number(readFileSync(join(STATE, "env"), "utf8").match(/DEPLOY_PORT=(\d+)/)?.[1] ?? 2222);
  const loopback = { name: "loopback", host: "127.0.0.1", port: loopbackPort, knownHosts: join(STATE, "known_hosts"), iface: "lo" };
  if (wanted.includes("loopback")) links.push(loopback);
  // --only memory: the flat-memory section alone; any other --only leaves it out.
  const memoryWanted = opts.memory !== "off" && (opts.only === "" || opts.only === "memory");
  let relay;
  if (wanted.includes("throttled")) {
    execFileSync("bash", [join(ROOT, "bench/link.sh"), "up"], { stdio: "inherit" });
    relay = await delayRelay({ host: "10.203.7.2", port: 22 }, Number(opts["rtt-ms"]) / 2);
    const port = relay.address().port;
    const knownHosts = join(STATE, "bench-relay-known_hosts");
    writeFileSync(knownHosts, `[127.0.0.1]:${port} ${readFileSync(join(STATE, "ssh_host_ed25519_key.pub"), "utf8").split(" ").slice(0, 2).join(" ")}\n`);
    links.push({ name: `throttled (20 Mbit/s, ${opts["rtt-ms"]} ms RTT)`, host: "127.0.0.1", port, knownHosts, iface: "dvb0" });
  }

  const results = [];
  let memory = [];
  let proxy;
  let pages;
  let zeroDowntime;
  let audit;
  try {
    for (const link of opts.only === "memory" ? [] : links) {
      const sshOpts = `-o BatchMode=yes -o UserKnownHostsFile=${link.knownHosts} -o StrictHostKeyChecking=yes -i ${KEY} -p ${link.port}`;
      const ssh = (command) => `ssh ${sshOpts} deploy@${link.host} '${command}'`;
      const excludes = [...EXCLUDES.map((e) => `--exclude=${e}`), ...ROOT_EXCLUDES.map((e) => `--exclude=./${e}`), "--exclude=.env", "--exclude=.env.*"].join(" ");
      const rsyncExcludes = [...EXCLUDES.map((e) => `--exclude=${e}`), ...ROOT_EXCLUDES.map((e) => `--exclude=/${e}`), "--exclude=.env", "--exclude=.env.*"].join(" ");
      const clean = (dir) => sh(ssh(`rm -rf ${dir}`));
      const changeOneFile = () => appendFileSync(join(tree, "apps/app-1/src/module-00001.ts"), `// change ${Date.now()}\n`);
      const deployVps = () => runDeployVps(link, tree);
      const timed = async (command) => {
        const started = Date.now();
        const before = counters(link.iface);
        await sh(command);
        const wallMs = Date.now() - started;
        return { wallMs, transferMs: wallMs, bytes: counters(link.iface) - before };
      };
      const dvClean = () => sh(ssh(DV_CLEAN));
      const variants = [
        { name: "tar -cz | ssh tar -xz", kind: "first", prepare: () => clean("bench/tar"), run: () => timed(`tar -cz -C ${tree} ${excludes} . | ${ssh("mkdir -p bench/tar && tar -xz -C bench/tar")}`) },
        { name: "seed's way (tar file, scp, extract)", kind: "first", prepare: () => clean("bench/seed"), run: () => timed(`tar -czf /tmp/bench-seed.tgz -C ${tree} ${excludes} . && scp -q ${sshOpts.replace("-p ", "-P ")} /tmp/bench-seed.tgz deploy@${link.host}:bench-seed.tgz && ${ssh("mkdir -p bench/seed && tar -xzf bench-seed.tgz -C bench/seed && rm bench-seed.tgz")} && rm /tmp/bench-seed.tgz`) },
        { name: "rsync -az, first copy", kind: "first", prepare: () => clean("bench/rsync"), run: () => timed(`rsync -az ${rsyncExcludes} -e "ssh ${sshOpts}" ${tree}/ deploy@${link.host}:bench/rsync/`) },
        { name: "rsync -az, one file changed", kind: "change", prepare: changeOneFile, run: () => timed(`rsync -az ${rsyncExcludes} -e "ssh ${sshOpts}" ${tree}/ deploy@${link.host}:bench/rsync/`) },
        { name: "deploy-vps, first deploy", kind: "first", prepare: dvClean, run: deployVps },
        { name: "deploy-vps, one file changed", kind: "change", prepare: changeOneFile, run: deployVps },
        { name: "deploy-vps, nothing changed", kind: "noop", prepare: () => undefined, run: deployVps },
      ];
      await sh(ssh("mkdir -p bench"));
      // --only deploy-vps: just those variants (the one-file and no-op runs need the first deploy).
      variants.splice(0, variants.length, ...variants.filter((v) => v.name.includes(opts.only)));
      const samples = new Map(variants.map((v) => [v.name, []]));
      for (let run = 1; run <= runs; run++) {
        for (const variant of variants) {
          await variant.prepare();
          const sample = await variant.run();
          samples.get(variant.name).push(sample);
          console.error(`[${link.name}] run ${run}/${runs} ${variant.name}: ${(sample.wallMs / 1000).toFixed(2)} s, ${sample.bytes} bytes${sample.timings ? ` ${JSON.stringify(sample.timings)}` : ""}`);
        }
      }
      await sh(ssh('ids=$(docker ps -aq --filter label=com.docker.compose.project=bench); [ -z "$ids" ] || docker rm -f $ids >/dev/null; rm -rf bench'));
      for (const variant of variants) results.push({ link: link.name, variant: variant.name, kind: variant.kind, samples: samples.get(variant.name) });
    }
    if (memoryWanted) memory = await flatMemory(loopback);
    const onHost = { cli: (args) => runCli(loopback, args), cliCode: (args) => run(process.execPath, [join(ROOT, "dist/cli.js"), ...args], cliEnv(loopback)), ssh: (command) => sh(sshTo(loopback)(command)) };
    if (opts.only === "" || opts.only === "proxy") proxy = await proxyBench(onHost);
    if (opts.only === "" || opts.only === "pages") pages = await pagesBench(onHost);
    if (opts.only === "" || opts.only === "zero-downtime") zeroDowntime = zeroDowntimeBench(ROOT);
    if (opts.only === "" || opts.only === "audit") audit = await auditBench(onHost);
  } finally {
    relay?.close();
    if (wanted.includes("throttled")) execFileSync("bash", [join(ROOT, "bench/link.sh"), "down"]);
  }
  report(results, memory, { files, shipped: Number(shipped), opts }, proxy, pages, zeroDowntime, audit);
}

/** deploy-vps ARGS against LINK's host; resolves with its stdout, throws with its stderr on failure. */
function cliEnv(link) {
  return { ...process.env, NO_COLOR: "1", DEPLOY_HOST: link.host, DEPLOY_PORT: String(link.port), DEPLOY_USER: "deploy", DEPLOY_SSH_KEY: KEY, DEPLOY_KNOWN_HOSTS: link.knownHosts };
}

async function runCli(link, args) {
  const out = await run(process.execPath, [join(ROOT, "dist/cli.js"), ...args], cliEnv(link));
  if (out.status !== 0) throw new Error(`deploy-vps ${args.join(" ")} exited ${out.status}: ${out.stderr}`);
  return out.stdout;
}

/** The speed table: every variant on every link, with its ratio to the best baseline. */
function speedReport(rows, meta) {
  return [
    `${meta.files} source files + ${meta.opts["assets-mb"]} MB of incompressible assets = ${mb(meta.shipped)} MB shipped, ${meta.opts["skipped-mb"]} MB skipped · ${meta.opts.runs} runs each, in alternation · seed ${meta.opts.seed}`,
    "",
    "Transfer = from start to files in place on the server (for deploy-vps: the whole run but compose up and the watch, so Node's start-up and reading the tree count). Total = the whole command (deploy-vps adds compose up and a one-poll watch). Bytes = both directions on the link's interface (loopback: one direction), SSH overhead included. Ratio = transfer ÷ the best baseline of the same kind (first copy; one-file change; a no-op redeploy is compared with rsync's one-file change).",
    "",
    "| link | variant | transfer median (min–max) | total median | bytes on the wire | round trips | peak RSS | ratio |",
    "|---|---|---|---|---|---|---|---|",
    ...rows.map(
      (r) =>
        `| ${r.link} | ${r.variant} | ${secs(r.transferMedian)} s (${secs(r.transferMin)}–${secs(r.transferMax)}) | ${secs(r.wallMedian)} s | ${mb(r.bytesMedian)} MB | ${r.roundTrips ?? "-"} | ${r.peakRss ? `${mb(r.peakRss)} MB` : "-"} | ${r.ratio === null ? "-" : `${r.ratio.toFixed(2)}×`} |`,
    ),
    "",
  ];
}

/** The flat-memory table: each tree's peak, and the largest tree's peak over the smallest's. */
function memoryReport(memory) {
  if (memory.length === 0) return [];
  const first = memory[0];
  const ratio = memory[memory.length - 1].peakRss / first.peakRss;
  return [
    "## Flat memory",
    "",
    `First deploy over loopback (no hash cache, nothing on the server), the CLI's own peak RSS as its \`--json\` report gives it (\`peakRssBytes\`), no V8 flag set. Target: the largest tree peaks at most ${FLAT_TARGET}× the smallest.`,
    "",
    "| tree | shipped | transfer | peak RSS | peak ÷ smallest tree's |",
    "|---|---|---|---|---|",
    ...memory.map((r) => `| ${r.files} files + ${r.assetsMb} MB of assets | ${mb(r.shipped)} MB | ${secs(r.transferMs)} s | ${mb(r.peakRss)} MB | ${(r.peakRss / first.peakRss).toFixed(2)}× |`),
    "",
    `Largest over smallest: ${ratio.toFixed(2)}× (target ≤ ${FLAT_TARGET}×: ${ratio <= FLAT_TARGET ? "met" : "missed"}).`,
    "",
  ];
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const secs = (ms) => (ms / 1000).toFixed(2);
const mb = (b) => (b / 1e6).toFixed(2);

function report(results, memory, meta, proxy, pages, zeroDowntime, audit) {
  const rows = results.map((r) => {
    const wall = r.samples.map((s) => s.wallMs);
    const transfer = r.samples.map((s) => s.transferMs);
    return {
      ...r,
      transferMedian: median(transfer),
      transferMin: Math.min(...transfer),
      transferMax: Math.max(...transfer),
      wallMedian: median(wall),
      bytesMedian: median(r.samples.map((s) => s.bytes)),
      roundTrips: r.samples[0].roundTrips ?? null,
      peakRss: r.samples[0].peakRss ? Math.max(...r.samples.map((s) => s.peakRss)) : null,
    };
  });
  const best = (link, kind, exclude) =>
    Math.min(...rows.filter((r) => r.link === link && r.kind === kind && !r.variant.startsWith(exclude)).map((r) => r.transferMedian));
  for (const r of rows) {
    const baseline = r.kind === "noop" ? best(r.link, "change", "deploy-vps") : best(r.link, r.kind, "deploy-vps");
    // --only runs no baseline to compare with.
    r.ratio = Number.isFinite(baseline) ? r.transferMedian / baseline : null;
  }
  const machine = `${cpus().length} × ${cpus()[0]?.model ?? "?"}, Node ${process.version}`;
  const lines = [
    `# deploy-vps benchmark`,
    "",
    `${new Date().toISOString()} · ${machine}`,
    "",
    ...(rows.length === 0 ? [] : speedReport(rows, meta)),
    ...memoryReport(memory),
    ...proxyReport(proxy),
    ...pagesReport(pages),
    ...zeroDowntimeReport(zeroDowntime),
    ...auditReport(audit),
  ];
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  mkdirSync(join(ROOT, "bench/results"), { recursive: true });
  writeFileSync(join(ROOT, `bench/results/${stamp}.md`), lines.join("\n"));
  writeFileSync(join(ROOT, `bench/results/${stamp}.json`), JSON.stringify({ meta: { ...meta, machine }, rows, memory, proxy, pages, zeroDowntime, audit }, null, 2));
  mkdirSync(join(ROOT, "docs"), { recursive: true });
  // --only proxy or pages: the other sections of the doc stay as the last full run wrote them.
  const section = { proxy: proxyReport(proxy), pages: pagesReport(pages), "zero-downtime": zeroDowntimeReport(zeroDowntime), audit: auditReport(audit) }[meta.opts.only];
  if (section) writeFileSync(resolve(ROOT, opts.doc), `${withSection(readFileSync(resolve(ROOT, opts.doc), "utf8"), section)}\n`);
  else writeFileSync(resolve(ROOT, opts.doc), `${lines.join("\n")}\nRun it again with \`npm run bench\` (as root on the test host; see bench/run.mjs for the options). Raw samples: bench/results/${stamp}.json.\n`);
  console.log(lines.join("\n"));
}

await main();
