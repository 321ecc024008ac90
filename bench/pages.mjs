// The waiting pages' part of `npm run bench` (`--only pages` runs it alone), on the test host:
// a dynamic site of two services (test/fixtures/proxy-app's dependency variant: a db healthy
// about 2 s after its start, the web app waiting for it), deployed by deploy-vps, behind the
// proxy and nginx, opened cold in Debian's chromium, side by side in one run:
//   the proxy's waiting page: readiness (the `ready` event's readyAt, the daemon's clock) to the
//   site's page shown (its DOMContentLoaded end, the browser's clock: same machine);
//   what a visitor gets instead from Sablier's way, a page that reloads itself every 5 s: here a
//   static page with <meta http-equiv="refresh" content="5"> that nginx serves in place of the
//   proxy's 503 (error_page), in front of the same cold start; readiness read from the same event
//   stream by a client of the bench's own.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { browserContext, desktopUserAgent, launchChromium, openUntilShown, shownAt, untilAppPage } from "../test/e2e/browser-tools.mjs";
import { fixtureCompose, nextEvent, startNginx } from "../test/e2e/proxy-tools.mjs";
import { withBenchStack } from "./proxy.mjs";

const PROJECT = "bench-pages";
const HOST = "bench-pages.test";
const RELOAD_SECONDS = 5;
export const PAGES_TARGETS = { p50Ms: 300 };

/** The Pth percentile of XS, nearest rank (of 10 samples, p95 is the largest). */
const percentile = (xs, p) => [...xs].sort((a, b) => a - b)[Math.max(0, Math.ceil((p / 100) * xs.length) - 1)];

/** nginx in front of the proxy at LISTEN that answers every 5xx with the reloading page in FOLDER. */
function reloadingNginx(listen, folder) {
  writeFileSync(
    join(folder, "waiting.html"),
    `<!doctype html><html><head><meta charset="utf-8"><meta http-equiv="refresh" content="${RELOAD_SECONDS}"><title>Starting</title></head><body><p>Starting, this page reloads every ${RELOAD_SECONDS} s.</p></body></html>\n`,
  );
  return startNginx(
    [
      "server {",
      "    listen 80;",
      `    server_name ${HOST};`,
      "    location / {",
      `        proxy_pass http://127.0.0.1:${listen};`,
      "        proxy_http_version 1.1;",
      "        proxy_set_header Host $host;",
      "        proxy_intercept_errors on;",
      "        error_page 502 503 504 /__waiting.html;",
      "    }",
      `    location = /__waiting.html { internal; alias ${join(folder, "waiting.html")}; add_header Cache-Control no-store always; }`,
      "}",
    ].join("\n"),
  );
}

/**
 * Runs the waiting pages benchmark (CLI and SSH as bench/proxy.mjs's withBenchStack takes them):
 * RUNS cold starts with each page, in alternation.
 */
export async function pagesBench({ cli, ssh, runs = 10 }) {
  const compose = fixtureCompose({ variant: "dependency", startDelayMs: 1000, labels: { host: HOST, port: 8080, mode: "dynamic", idle: "never" } });
  const scratch = mkdtempSync(join(tmpdir(), "deploy-vps-bench-pages-"));
  const browser = await launchChromium();
  try {
    return await withBenchStack({ cli, ssh, project: PROJECT, host: HOST, compose }, async ({ listen, viaNginx, nginxes }) => {
      const reloading = await reloadingNginx(listen, scratch);
      nginxes.push(reloading);
      const samples = { live: [], reloading: [] };
      const cold = async (kind, open) => {
        await cli(["proxy", "sleep", PROJECT]);
        const context = await browserContext(browser);
        try {
          const sample = await open(context);
          samples[kind].push(sample);
          console.error(`[pages] ${kind} ${samples[kind].length}/${runs}: readiness → shown ${sample.toFixed(0)} ms`);
        } finally {
          await context.close();
        }
      };
      for (let run = 1; run <= runs; run++) {
        await cold("live", async (context) => {
          const shown = await openUntilShown(context, `http://${HOST}:${viaNginx.port}/page`, {
            timeoutMs: 60_000,
            whileWaiting: async (_, waiting) => {
              if (waiting.status !== 503 || !waiting.headers["content-type"]?.startsWith("text/html")) throw new Error(`the cold site answered ${waiting.status} ${waiting.headers["content-type"]}, not the waiting page`);
            },
          });
          if (shown.readyToShownMs === undefined) throw new Error("the waiting page got no ready event");
          return shown.readyToShownMs;
        });
        await cold("reloading", async (context) => {
          const page = await context.newPage();
          await page.goto(`http://${HOST}:${reloading.port}/page`, { waitUntil: "domcontentloaded" });
          const ready = await nextEvent(`http://127.0.0.1:${listen}/__deploy-vps/events`, "ready", { host: HOST, headers: { "user-agent": desktopUserAgent() } });
          await untilAppPage(page, 60_000);
          return (await shownAt(page)) - ready.readyAt;
        });
      }
      return { runs, live: samples.live, reloading: samples.reloading };
    });
  } finally {
    await browser.close();
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** The "Waiting pages" section of docs/benchmarks.md. */
export function pagesReport(result) {
  if (!result) return [];
  const row = (name, xs) => `| ${name} | ${percentile(xs, 50).toFixed(0)} ms | ${percentile(xs, 95).toFixed(0)} ms | ${xs.map((x) => x.toFixed(0)).join(", ")} |`;
  const p50 = percentile(result.live, 50);
  return [
    "## Waiting pages",
    "",
    `Run ${new Date().toISOString()} on this machine (\`npm run bench -- --only pages\` replaces this section alone).`,
    "",
    `A dynamic site of two services (test/fixtures/proxy-app's dependency variant: a db healthy about 2 s after its start, the web app waiting for it and listening 1 s after), deployed by deploy-vps, behind the proxy (\`proxy install\`) and nginx 1.22, put to sleep (\`proxy sleep\`) before each of ${result.runs} cold starts per page, in alternation, each in a fresh context of Debian's headless chromium. Readiness = the \`readyAt\` of the daemon's \`ready\` event on \`/__deploy-vps/events\`; shown = the site's page's DOMContentLoaded end in the browser (\`performance.timeOrigin\` + its navigation entry), both on this machine's clock. The page that reloads every ${RELOAD_SECONDS} s is Sablier's way, emulated: a static page with \`<meta http-equiv="refresh" content="${RELOAD_SECONDS}">\` that nginx serves in place of the proxy's 503 (\`proxy_intercept_errors\`, \`error_page\`) in front of the same cold start; its readiness read from the same event stream by a client of the bench's own. p95 is the nearest rank: of ${result.runs} samples, the largest.`,
    "",
    "| page | readiness → shown, p50 | p95 | samples |",
    "|---|---|---|---|",
    row("deploy-vps's waiting page (live events)", result.live),
    row(`a page reloading every ${RELOAD_SECONDS} s`, result.reloading),
    "",
    "| target | this run | verdict |",
    "|---|---|---|",
    `| readiness → shown ≤ ${PAGES_TARGETS.p50Ms} ms at p50 | ${p50.toFixed(0)} ms | ${p50 <= PAGES_TARGETS.p50Ms ? "met" : "missed"} |`,
    "",
  ];
}
