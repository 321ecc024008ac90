// The zero-downtime section of `npm run bench` (`--only zero-downtime` runs it alone): failed
// requests and the longest answer under a steady 200 GETs and POSTs a second through nginx, for
// the whole of each deploy. The scenarios are the end-to-end tests' own (test/e2e/zero-downtime
// and standby): the bench runs them and reads the load reports they keep in test/artifacts/, so
// what is measured is exactly what is tested.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";

const FILES = ["test/e2e/zero-downtime.test.ts", "test/e2e/standby.test.ts"];
const ARTIFACTS = ["zero-downtime.json", "standby.json"];

/** Runs the two files with vitest in ROOT; their load reports by scenario name. */
export function zeroDowntimeBench(root) {
  const run = spawnSync(process.execPath, [join(root, "node_modules/vitest/vitest.mjs"), "run", ...FILES], { cwd: root, stdio: ["ignore", "inherit", "inherit"] });
  if (run.status !== 0) throw new Error(`the zero-downtime scenarios failed (vitest exited ${run.status}): their tests say why`);
  return Object.assign({}, ...ARTIFACTS.map((file) => JSON.parse(readFileSync(join(root, "test/artifacts", file), "utf8"))));
}

/** The README's order: the baseline first, then each layout. */
const ROWS = [
  ["plain up -d (baseline)", "plain `up -d` recreate, through nginx → proxy (today's deploy)"],
  ["blue-green through the proxy", "blue-green through the proxy (`deploy-vps.proxy.deploy`)"],
  ["blue-green: a version never ready", "blue-green: a new version never ready (exit 3)"],
  ["blue-green: after an interrupted switch", "blue-green: the next deploy after a half-done switch"],
  ["blue-green: rollback", "blue-green: `rollback`"],
  ["primary/standby through the proxy", "the seed's primary/standby, through the proxy"],
  ["primary/standby with nginx alone", "the seed's primary/standby, nginx alone (`backup` server)"],
  ["primary/standby with nginx alone: a version never healthy", "the seed's primary/standby, nginx alone: a version never healthy"],
  ["primary/standby with nginx alone: finishing an interrupted deploy", "the seed's primary/standby, nginx alone: finishing a half-done deploy"],
];

export function zeroDowntimeReport(result) {
  if (!result) return [];
  const lines = ROWS.filter(([key]) => result[key]?.sent !== undefined).map(([key, label]) => {
    const r = result[key];
    const posts = r.failures.filter((f) => f.method === "POST").length;
    const examples = [...new Set(r.failures.map((f) => f.error))].slice(0, 2).join("; ");
    return `| ${label} | ${r.seconds} s | ${r.sent} | ${r.failed}${r.failed ? ` (${posts} POST of the first ${r.failures.length}: ${examples})` : ""} | ${r.maxMs} ms | ${r.p99} ms |`;
  });
  const ws = result.websocket;
  return [
    "## Zero-downtime deploys",
    "",
    "A steady 200 requests/s (half GETs, half POSTs whose body must come back) through a real nginx, from half a second before each deploy to half a second after it, recording every failed request (5xx, connection error, wrong body). The app: the proxy's test app (START_DELAY_MS 1.5 s) for blue-green, a small Node app with a graceful SIGTERM for the nginx-alone pair (its nginx `fail_timeout` is 5 s and `drain` 6 s to keep the test short). Targets: 0 failed through the proxy.",
    "",
    "| deploy | deploy took | requests | failed | longest | p99 |",
    "|---|---|---|---|---|---|",
    ...lines,
    "",
    ...(ws
      ? [
          `A websocket opened through nginx before the blue-green deploy (drain ${ws.drainSeconds} s) answered until it was closed, ${(ws.closedAfterMs / 1000).toFixed(1)} s after the deploy began (its last answer ${ws.lastAnswerBeforeCloseMs} ms before the close): the drain's end, not the switch, closed it.`,
          "",
        ]
      : []),
  ];
}
