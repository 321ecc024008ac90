// A real browser for the waiting pages' tests and benchmark: Debian's chromium driven by
// playwright-core (which never downloads a browser of its own), and what a test reads in it:
// the page's event stream, its progress lines as they change, and when the next page was shown.
// Plain ESM (types in browser-tools.d.mts) so that bench/pages.mjs uses the same code as the tests.
import { chromium } from "playwright-core";

// recorder() and the page.evaluate callbacks run in the page, not in Node.
/* global window, document, sessionStorage, MutationObserver, performance */

export const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";

/** The record's key in the site's sessionStorage: it outlives the waiting page's switch to the site (same origin). */
const RECORD = "deploy-vps-e2e-record";

/**
 * Launches headless chromium. Every name under .test resolves to 127.0.0.1, so a test opens
 * http://SITE.test:NGINXPORT/ and nginx sees the Host a visitor's browser would send.
 */
export function launchChromium() {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
      "--disable-quic",
      "--host-resolver-rules=MAP *.test 127.0.0.1",
    ],
  });
}

/** A desktop Chrome's User-Agent, of VERSION. */
export function desktopUserAgent(version = "140.0.0.0") {
  return `Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/${version} Safari/537.36`;
}

/**
 * A fresh context of BROWSER. Its user agent is a desktop Chrome's: headless chromium's own says
 * "HeadlessChrome", which the proxy rightly counts as a bot (answered, never woken).
 */
export async function browserContext(browser, { javaScriptEnabled = true } = {}) {
  const context = await browser.newContext({ javaScriptEnabled, viewport: { width: 1200, height: 750 }, userAgent: desktopUserAgent(browser.version()) });
  if (javaScriptEnabled) await context.addInitScript(recorder, RECORD);
  return context;
}

/**
 * Runs in every page before its own scripts: appends to sessionStorage what the waiting page
 * lives through, each entry { at: Date.now(), kind, data }: the stream's progress, ready and
 * failed events (EventSource wrapped), the progress lines and the page's state each time the DOM
 * changes them (a MutationObserver), and any Content-Security-Policy violation.
 */
function recorder(key) {
  const add = (kind, data) => {
    try {
      const entries = JSON.parse(sessionStorage.getItem(key) ?? "[]");
      entries.push({ at: Date.now(), kind, data });
      sessionStorage.setItem(key, JSON.stringify(entries));
    } catch {
      // An opaque origin (about:blank, a form's page) has no sessionStorage, and nothing to record.
    }
  };
  const Native = window.EventSource;
  if (Native)
    window.EventSource = class extends Native {
      constructor(url, init) {
        super(url, init);
        for (const kind of ["progress", "ready", "failed"])
          this.addEventListener(kind, (event) => add(kind, JSON.parse(event.data)));
      }
    };
  document.addEventListener("securitypolicyviolation", (event) => add("csp", `${event.violatedDirective} ${event.blockedURI}`));
  let last = "";
  const snapshot = () => {
    const lines = [...document.querySelectorAll('[data-dv="progress"] li')].map((li) => ({
      name: li.querySelector(".dv-name")?.textContent ?? "",
      phase: li.getAttribute("data-phase") ?? "",
    }));
    const state = document.documentElement.getAttribute("data-dv-state");
    const text = JSON.stringify({ state, lines });
    if (state !== null && text !== last) add("lines", { state, lines });
    last = text;
  };
  document.addEventListener("DOMContentLoaded", () => {
    snapshot();
    new MutationObserver(snapshot).observe(document.documentElement, { subtree: true, childList: true, characterData: true, attributes: true });
  });
}

/** What the recorder wrote in PAGE's origin so far. */
export function recorded(page) {
  return page.evaluate((key) => JSON.parse(sessionStorage.getItem(key) ?? "[]"), RECORD);
}

/** When PAGE's current document was shown: its DOMContentLoaded end, in epoch ms of the machine's clock. */
export function shownAt(page) {
  return page.evaluate(() => {
    const [navigation] = performance.getEntriesByType("navigation");
    return performance.timeOrigin + (navigation?.domContentLoadedEventEnd ?? 0);
  });
}

/** Resolves once PAGE shows the fixture app's own page (test/fixtures/proxy-app's /page), else rejects after TIMEOUTMS. */
export async function untilAppPage(page, timeoutMs = 60_000) {
  await page.locator("body[data-app-page]").waitFor({ state: "attached", timeout: timeoutMs });
}

/**
 * Opens URL (a sleeping dynamic site's /page) in a fresh page of CONTEXT, runs WHILEWAITING(page,
 * the first answer) if given, and waits for the site's own page, with no reload by the caller: the
 * waiting page's answer, what the recorder saw, and readiness → shown (the `ready` event's
 * readyAt to the app page's DOMContentLoaded end).
 */
export async function openUntilShown(context, url, { timeoutMs = 60_000, whileWaiting } = {}) {
  const page = await context.newPage();
  const navigations = [];
  page.on("framenavigated", (frame) => {
    if (frame === page.mainFrame()) navigations.push(frame.url());
  });
  const first = await page.goto(url, { waitUntil: "domcontentloaded" });
  if (!first) throw new Error(`${url}: no answer`);
  const waiting = { status: first.status(), headers: first.headers(), html: await first.text() };
  await whileWaiting?.(page, waiting);
  await untilAppPage(page, timeoutMs);
  const record = await recorded(page);
  const ready = record.find((entry) => entry.kind === "ready");
  const shown = await shownAt(page);
  return { page, waiting, record, navigations, readyAt: ready?.data.readyAt, shownAt: shown, readyToShownMs: ready ? shown - ready.data.readyAt : undefined };
}

/** Per line name, the phases it went through in RECORD's DOM snapshots, in order, repeats dropped. */
export function phasesByLine(record) {
  const phases = new Map();
  for (const entry of record.filter((e) => e.kind === "lines"))
    for (const line of entry.data.lines) {
      const seen = phases.get(line.name) ?? [];
      if (seen.at(-1) !== line.phase) seen.push(line.phase);
      phases.set(line.name, seen);
    }
  return phases;
}
