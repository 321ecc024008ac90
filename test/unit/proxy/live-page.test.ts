import { readFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Browser, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { eventStreamHeaders, waitingPage } from "../../../src/proxy/answers.js";
import { type ProgressSnapshot, sseEvent } from "../../../src/proxy/progress.js";
import { renderWaitingPage } from "../../../src/proxy/waiting-page.js";
import { launchChromium } from "../../e2e/browser-tools.mjs";

/**
 * live.js for real: Debian's chromium against a local HTTP server that plays the daemon. The
 * server answers a page path with the rendered waiting page (the daemon's headers, its CSP
 * included) until the test says the site is up, and hands the test each event stream to drive.
 */

const LIVE = await readFile(new URL("../../../src/proxy/pages/live.js", import.meta.url), "utf8");
const EVENTS = "/__deploy-vps/events";
const THEME = `<!doctype html>
<html lang="en" data-dv-state="starting">
<head><meta charset="utf-8"><title>{{ serviceName }} is starting</title></head>
<body>
<h1>{{ serviceName }}</h1>
<p data-dv="message">{{ message }}</p>
<p><span data-dv="elapsed">{{ elapsedTime }}</span> s of <span data-dv="estimate">{{ estimatedTime }}</span> s, <span data-dv="left"></span> s left</p>
<div data-dv="bar" role="progressbar" aria-valuemin="0" aria-valuemax="100"></div>
{{ progress }}
{{ failure }}
</body>
</html>`;
/** A custom theme may leave the failure block out: live.js then makes one. */
const WITHOUT_FAILURE_BLOCK = THEME.replace("{{ failure }}", "");
const SITE = "<!doctype html><title>site</title><p>the site itself</p>";

let browser: Browser;
let server: Server;
let base: string;
/** One page for the tests with JavaScript: a browser's first page is its slowest to open. */
let page: Page;
const problems: string[] = [];

/** What the fake daemon does, set by each test. */
const daemon = {
  template: THEME,
  retryAfterSeconds: 5,
  siteUp: false,
  refuseStreams: false,
  /** GETs of each page path (with its query), with when they came. */
  gets: new Map<string, number[]>(),
  /** Every stream opened, to end them after each test; `unclaimed` waits for a test to take it. */
  streams: [] as ServerResponse[],
  unclaimed: [] as ServerResponse[],
  waiting: [] as ((stream: ServerResponse) => void)[],
};

function handle(req: IncomingMessage, res: ServerResponse): void {
  const url = req.url ?? "/";
  if (url === EVENTS) {
    if (daemon.refuseStreams) {
      res.writeHead(500).end();
      return;
    }
    res.writeHead(200, eventStreamHeaders);
    res.write("retry: 1000\n\n");
    daemon.streams.push(res);
    const waiter = daemon.waiting.shift();
    if (waiter) waiter(res);
    else daemon.unclaimed.push(res);
    return;
  }
  daemon.gets.set(url, [...(daemon.gets.get(url) ?? []), Date.now()]);
  if (daemon.siteUp) {
    res.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(SITE);
    return;
  }
  const html = renderWaitingPage(daemon.template, LIVE, {
    serviceName: "Shop",
    estimatedSeconds: 10,
    elapsedSeconds: 0,
    retryAfterSeconds: daemon.retryAfterSeconds,
    message: "Waking up",
    progress: [
      { name: "db", phase: "pending" },
      { name: "web", phase: "pending" },
    ],
    eventsUrl: EVENTS,
  });
  const answer = waitingPage(html, daemon.retryAfterSeconds);
  res.writeHead(answer.status, answer.headers).end(req.method === "HEAD" ? undefined : answer.body);
}

/** The next event stream a page opens. */
function nextStream(): Promise<ServerResponse> {
  const open = daemon.unclaimed.shift();
  return open ? Promise.resolve(open) : new Promise((resolve) => daemon.waiting.push(resolve));
}

function progress(overrides: Partial<ProgressSnapshot>): string {
  return sseEvent("progress", { state: "starting", elapsedMs: 0, estimateMs: 10_000, message: "", containers: [], ...overrides });
}

const lines = () =>
  page.$$eval('[data-dv="progress"] li', (items) =>
    items.map((li) => [li.getAttribute("data-phase"), li.querySelector(".dv-name")?.textContent, li.querySelector(".dv-phase")?.textContent]),
  );
const textOf = (name: string) => page.textContent(`[data-dv="${name}"]`);

/** A fresh page per test: a reload a test left scheduled must not land in the next one. */
async function openPage(): Promise<Page> {
  const opened = await (await browser.newContext()).newPage();
  opened.setDefaultTimeout(10_000);
  // Every script error and CSP refusal; the waiting page's own 503 is logged too, but it is the answer.
  opened.on("pageerror", (error) => problems.push(error.message));
  opened.on("console", (message) => {
    if (message.type() === "error" && !message.text().includes("status of 503")) problems.push(message.text());
  });
  return opened;
}

beforeAll(async () => {
  server = createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  browser = await launchChromium();
  page = await openPage();
}, 60_000);

afterEach(async () => {
  await page.context().close();
  page = await openPage();
  problems.length = 0;
  for (const stream of daemon.streams.splice(0)) stream.end();
  Object.assign(daemon, { template: THEME, retryAfterSeconds: 5, siteUp: false, refuseStreams: false, unclaimed: [], waiting: [] });
  daemon.gets.clear();
});

afterAll(async () => {
  await browser?.close();
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve));
});

describe("live.js in a browser", () => {
  it("follows the start, ticks the counters, and loads the same URL the moment the unit is ready", async () => {
    const streamOpened = nextStream();
    await page.goto(`${base}/shop/cart?item=1`);
    const stream = await streamOpened;
    expect(await page.title()).toBe("Shop is starting");

    const hostile = "<img src=x onerror=alert(1)>";
    stream.write(progress({ elapsedMs: 2000, message: "Starting db", containers: [{ name: "db", phase: "starting" }, { name: hostile, phase: "pending" }] }));
    await page.waitForFunction(() => document.querySelector('[data-dv="message"]')?.textContent === "Starting db");
    expect(await lines()).toEqual([
      ["starting", "db", "starting"],
      ["pending", hostile, "waiting"],
    ]);
    expect(await page.$$('[data-dv="progress"] img')).toHaveLength(0);
    // One tick's figures, read at once: elapsed and left from the same moment, the bar from the same share.
    const counters = () =>
      page.evaluate(() => {
        const bar = document.querySelector<HTMLElement>('[data-dv="bar"]');
        const text = (name: string) => Number(document.querySelector(`[data-dv="${name}"]`)?.textContent);
        return { elapsed: text("elapsed"), left: text("left"), estimate: text("estimate"), share: Number(bar?.style.getPropertyValue("--dv-progress")), now: Number(bar?.getAttribute("aria-valuenow")) };
      });
    const first = await counters();
    expect(first.estimate).toBe(10);
    expect(first.elapsed).toBeGreaterThanOrEqual(2);
    expect(first.elapsed + first.left).toBe(10);
    expect(first.share).toBeGreaterThanOrEqual(first.elapsed / 10);
    expect(first.share).toBeLessThan((first.elapsed + 1) / 10);
    // The percentage of the same share (the CSS variable is written to three decimals).
    expect(Math.abs(first.now - first.share * 100)).toBeLessThanOrEqual(1);
    // The counters move by themselves between events.
    await page.waitForFunction((before) => Number(document.querySelector('[data-dv="elapsed"]')?.textContent) > before, first.elapsed, { timeout: 5000 });
    const later = await counters();
    expect(later.left).toBeLessThan(first.left);
    expect(later.share).toBeGreaterThan(first.share);

    stream.write(progress({ elapsedMs: 4000, message: "Starting web", containers: [{ name: "db", phase: "ready" }, { name: "web", phase: "starting" }] }));
    await page.waitForFunction(() => document.querySelector('[data-dv="message"]')?.textContent === "Starting web");
    expect(await lines()).toEqual([
      ["ready", "db", "ready"],
      ["starting", "web", "starting"],
    ]);

    // The stream stays open after `ready`: only the ready handler can have loaded the site.
    daemon.siteUp = true;
    stream.write(sseEvent("ready", { readyAt: Date.now() }));
    await page.waitForFunction(() => document.title === "site");
    expect(daemon.gets.get("/shop/cart?item=1")).toHaveLength(2);
    expect(page.url()).toBe(`${base}/shop/cart?item=1`);
    expect(problems).toEqual([]);
  });

  it.each([
    ["its own failure block", "the failed event", THEME],
    ["a failure block live.js makes", "a snapshot", WITHOUT_FAILURE_BLOCK],
  ])("shows a failed start in %s, told by %s, whose retry button reloads the page", async (_block, told, template) => {
    daemon.template = template;
    const streamOpened = nextStream();
    await page.goto(`${base}/shop`);
    const stream = await streamOpened;
    expect(await page.isVisible('[data-dv="failure"]')).toBe(false);

    const containers = [{ name: "db", phase: "failed" as const }];
    if (told === "a snapshot") stream.write(progress({ state: "failed", message: "Could not start", containers, failure: "db could not be started." }));
    else stream.write(progress({ elapsedMs: 1000, message: "Starting db", containers }) + sseEvent("failed", { message: "db could not be started." }));
    await page.waitForFunction(() => document.documentElement.dataset.dvState === "failed");
    expect(await page.isVisible('[data-dv="failure"]')).toBe(true);
    expect(await textOf("failure-text")).toBe("db could not be started.");
    expect(await page.$$('[data-dv="failure"]')).toHaveLength(1);
    if (told === "the failed event") {
      // The counters stop with the start.
      const elapsed = await textOf("elapsed");
      await page.waitForTimeout(1200);
      expect(await textOf("elapsed")).toBe(elapsed);
    }

    daemon.siteUp = true;
    await page.click('[data-dv="retry"]');
    await page.waitForFunction(() => document.title === "site");
    expect(daemon.gets.get("/shop")).toHaveLength(2);
    expect(problems).toEqual([]);
  });

  it("reloads the page two seconds after the stream closes for good", async () => {
    daemon.refuseStreams = true;
    await page.goto(`${base}/closed`);
    await page.waitForFunction(() => document.documentElement.dataset.dvState === "starting");
    await expect.poll(() => daemon.gets.get("/closed")?.length, { timeout: 5000, interval: 100 }).toBe(2);
    const [first = 0, second = 0] = daemon.gets.get("/closed") ?? [];
    expect(second - first).toBeGreaterThanOrEqual(1900);
    // The reloaded page settles on a stream that opens.
    daemon.refuseStreams = false;
    await nextStream();
  });

  it("gets to the site without JavaScript, by the page's refresh", async () => {
    daemon.retryAfterSeconds = 1;
    const context = await browser.newContext({ javaScriptEnabled: false });
    const noScript = await context.newPage();
    await noScript.goto(`${base}/no-js`);
    expect(await noScript.title()).toBe("Shop is starting");
    daemon.siteUp = true;
    await expect.poll(() => noScript.title(), { timeout: 5000 }).toBe("site");
    expect(daemon.gets.get("/no-js")).toHaveLength(2);
    await context.close();
  });
});
