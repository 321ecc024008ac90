// `npm run demo`: deploys compose/demo to the local test host over SSH, then fetches its page.
import { spawnSync } from "node:child_process";
import { hostEnv, root } from "./test-host.mjs";

// The port compose/demo publishes (its DEMO_PORT) and the app folder: the README test runs the
// demo beside other stacks, on a port free at the time, in a folder of its own.
const port = process.env.DEMO_PORT ?? "8080";
const app = process.env.DEMO_APP ?? "apps/demo";
const run = spawnSync(
  process.execPath,
  [`${root}/dist/cli.js`, `${root}/compose/demo`, "--path", `~/${app}`],
  {
    stdio: "inherit",
    env: { ...process.env, ...hostEnv },
  },
);
if (run.status !== 0) process.exit(run.status ?? 1);
const page = await fetch(`http://127.0.0.1:${port}/`).then((r) => r.text());
console.log(`\nhttp://127.0.0.1:${port}/ answers:\n${page}`);
