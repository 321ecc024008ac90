import { readFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventStreamHeaders, waitingPage } from "../../../src/proxy/answers.js";
import { sseEvent } from "../../../src/proxy/progress.js";
import { BUILT_IN_THEMES } from "../../../src/proxy/themes.js";
import { renderWaitingPage } from "../../../src/proxy/waiting-page.js";
import { launchChromium } from "../../e2e/browser-tools.mjs";

/**
 * Each built-in theme as a visitor's browser shows it (Debian's chromium), served with the
 * daemon's own headers and an event stream the test drives: what the issue asks of every theme
 * beyond its markup. Reduced motion stops every animation, CSS and script alike; a phone's
 * width needs no sideways scroll; a failed start stops the animations too.
 */

const PAGES = new URL("../../../src/proxy/pages/", import.meta.url);
const LIVE = await readFile(new URL("live.js", PAGES), "utf8");
const EVENTS = "/__deploy-vps/events";
const LINES = [
  { name: "databases-shared/postgresql", phase: "ready" },
  { name: "cache", phase: "starting" },
  { name: "web", phase: "pending" },
] as const;

let browser: Browser;
let server: Server;
let base: string;
const streams: ServerResponse[] = [];

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? "/", "http://page");
  if (url.pathname === EVENTS) {
    res.writeHead(200, eventStreamHeaders);
    res.write(sseEvent("progress", { state: "starting", elapsedMs: 2_000, estimateMs: 12_000, message: "Starting cache", containers: LINES }));
    streams.push(res);
    return;
  }
  const theme = url.pathname.slice(1);
  const template = await readFile(new URL(`${theme}.html`, PAGES), "utf8");
  const html = renderWaitingPage(template, LIVE, {
    serviceName: "Support dashboard of the northern region",
    estimatedSeconds: 12,
    elapsedSeconds: 2,
    retryAfterSeconds: 12,
    message: "Starting cache",
    progress: LINES,
    eventsUrl: EVENTS,
  });
  const answer = waitingPage(html, 12);
  res.writeHead(answer.status, answer.headers).end(answer.body);
}

/** Counts the page's animation frames from its first script on: a script animation asks for them. */
function countFrames(): void {
  const counted = window as unknown as { frames_: number };
  counted.frames_ = 0;
  const ask = window.requestAnimationFrame.bind(window);
  window.requestAnimationFrame = (callback) => {
    counted.frames_ += 1;
    return ask(callback);
  };
}

/** The page's motion over a second: CSS animations running, and the animation frames it asked for. */
async function motion(page: Page): Promise<{ running: number; frames: number }> {
  const before = await page.evaluate(() => (window as unknown as { frames_: number }).frames_);
  await page.waitForTimeout(1_000);
  return page.evaluate((start) => ({
    running: document.getAnimations().filter((animation) => animation.playState === "running").length,
    frames: (window as unknown as { frames_: number }).frames_ - start,
  }), before);
}

/** THEME's page, once its event stream is open: the page, and the stream the test then drives. */
async function open(theme: string, options: { reducedMotion: "reduce" | "no-preference"; width?: number }): Promise<{ page: Page; stream: ServerResponse }> {
  const context = await browser.newContext({ reducedMotion: options.reducedMotion, viewport: { width: options.width ?? 1200, height: 800 } });
  await context.addInitScript(countFrames);
  const page = await context.newPage();
  const opened = streams.length;
  await page.goto(`${base}/${theme}`);
  await expect.poll(() => streams.length).toBeGreaterThan(opened);
  const stream = streams.at(-1);
  if (!stream) throw new Error("no event stream");
  return { page, stream };
}

beforeAll(async () => {
  server = createServer((req, res) => void handle(req, res));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  for (const stream of streams) stream.end();
  await browser?.close();
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve));
});

describe.each(BUILT_IN_THEMES)("theme %s in a browser", (theme) => {
  it("moves, and stands still under prefers-reduced-motion", async () => {
    const { page: moving } = await open(theme, { reducedMotion: "no-preference" });
    const normal = await motion(moving);
    // Without this, the still check below could pass for a theme that never moves at all.
    expect(normal.running + normal.frames, `${theme} shows no motion at all`).toBeGreaterThan(0);
    await moving.context().close();

    const { page: still } = await open(theme, { reducedMotion: "reduce" });
    expect(await motion(still)).toEqual({ running: 0, frames: 0 });
    await still.context().close();
  });

  it("fits a phone's 360 px width without a sideways scroll", async () => {
    const { page } = await open(theme, { reducedMotion: "no-preference", width: 360 });
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(360);
    await page.context().close();
  });

  it("stops moving once the start failed, and shows the error with its retry button", async () => {
    const { page, stream } = await open(theme, { reducedMotion: "no-preference" });
    stream.end(sseEvent("failed", { message: "cache could not be started." }));
    await page.locator('[data-dv="retry"]').waitFor({ state: "visible" });
    expect(await page.textContent('[data-dv="failure-text"]')).toBe("cache could not be started.");
    await page.waitForTimeout(300);
    expect(await motion(page)).toEqual({ running: 0, frames: 0 });
    await page.context().close();
  });
});
