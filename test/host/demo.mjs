// `npm run demo`: deploys compose/demo to the local test host over SSH, then fetches its page.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const state = process.env.DEPLOY_VPS_TEST_HOST_DIR ?? "/var/lib/deploy-vps-test-host";
const hostEnv = Object.fromEntries(
  readFileSync(`${state}/env`, "utf8")
    .trim()
    .split("\n")
    .map((line) => line.split(/=(.*)/s).slice(0, 2)),
);
const root = fileURLToPath(new URL("../..", import.meta.url));
const run = spawnSync(
  process.execPath,
  [`${root}/dist/cli.js`, `${root}/compose/demo`, "--path", "~/apps/demo"],
  {
    stdio: "inherit",
    env: { ...process.env, ...hostEnv },
  },
);
if (run.status !== 0) process.exit(run.status ?? 1);
const page = await fetch("http://127.0.0.1:8080/").then((r) => r.text());
console.log(`\nhttp://127.0.0.1:8080/ answers:\n${page}`);
