#!/usr/bin/env node
// `node bench/engine-probe.mjs [--runs 15]` (after `npm run build`): how long the probe's docker
// questions take when asked of the Engine API over an SSH channel, against the docker CLI over
// the same SSH connection, on the test host. Runs alternate (A B C … A B C …); medians and min–max.
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { Remote } from "../dist/ssh/connection.js";
import { sh } from "../dist/ssh/quote.js";
import { engineOverSsh } from "../dist/docker/engine.js";
import { PROJECT_LABEL, readDocker } from "../dist/docker/facts.js";
import { probeServer } from "../dist/release/probe.js";

const STATE = process.env.DEPLOY_VPS_TEST_HOST_DIR ?? "/var/lib/deploy-vps-test-host";
const { values: opts } = parseArgs({ options: { runs: { type: "string", default: "15" } } });
const env = Object.fromEntries(
  readFileSync(`${STATE}/env`, "utf8").trim().split("\n").map((line) => line.split(/=(.*)/s).slice(0, 2)),
);
const connect = (user) =>
  Remote.connect({
    host: env.DEPLOY_HOST,
    port: Number(env.DEPLOY_PORT),
    user,
    identity: env.DEPLOY_SSH_KEY,
    knownHosts: env.DEPLOY_KNOWN_HOSTS,
    acceptNewHostKey: false,
    timeoutSeconds: 10,
  });
const remote = await connect(env.DEPLOY_USER);
// The test host's `nodocker` user has no docker command: its probe runs the script minus every
// docker call, which is what the probe's script costs once the Engine API answers those.
const withoutDocker = await connect("nodocker");
const engine = engineOverSsh(remote);
const filter = (label) => ({ label: [label] });
const byFolder = `${"com.docker.compose.project.working_dir"}=/home/deploy/apps/nothing-here`;
const byProject = `${PROJECT_LABEL}=nothing-here`;

const ways = {
  "engine: readDocker (/version + /containers/json of all compose containers)": () => readDocker(engine),
  "engine: /info + /containers/json": () => Promise.all([engine.info(), engine.containers(filter(PROJECT_LABEL))]),
  "engine: /info + 2 x /containers/json (label filters)": () =>
    Promise.all([engine.info(), engine.containers(filter(byFolder)), engine.containers(filter(byProject))]),
  "cli: docker info + 2 x docker ps, side by side (today's probe)": () =>
    remote.run(sh`docker info --format '{{.ServerVersion}}' >/dev/null & docker ps -a --filter ${`label=${byFolder}`} --format '{{.Label "com.docker.compose.project"}}' >/dev/null & docker ps -a --filter ${`label=${byProject}`} --format '{{.Label "com.docker.compose.project.working_dir"}}' >/dev/null & wait`),
  "cli: docker compose version --short": () => remote.run(sh`docker compose version --short`),
  "ssh: an empty command (:)": () => remote.run(sh`:`),
  "whole probe today (probeServer)": () => probeServer(remote, "apps/nothing-here", { env: true, candidate: "nothing-here" }),
  "whole probe, its script without docker calls beside readDocker": () =>
    Promise.all([probeServer(withoutDocker, "apps/nothing-here", { env: true, candidate: "nothing-here" }), readDocker(engine)]),
};

const times = Object.fromEntries(Object.keys(ways).map((name) => [name, []]));
for (const way of Object.values(ways)) await way(); // warm-up: caches on both sides
for (let run = 0; run < Number(opts.runs); run += 1) {
  for (const [name, way] of Object.entries(ways)) {
    const start = process.hrtime.bigint();
    await way();
    times[name].push(Number(process.hrtime.bigint() - start) / 1e6);
  }
}
remote.close();
withoutDocker.close();
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
console.log(`| way (${opts.runs} runs) | median ms | min–max ms |\n|---|---:|---:|`);
for (const [name, values] of Object.entries(times)) {
  console.log(`| ${name} | ${median(values).toFixed(0)} | ${Math.min(...values).toFixed(0)}–${Math.max(...values).toFixed(0)} |`);
}
