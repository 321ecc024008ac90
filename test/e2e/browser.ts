/**
 * The browser of the waiting pages' e2e tests: one chromium per test file, a fresh context per
 * test, all closed after the file even when a test failed; screenshots kept in test/artifacts/.
 * The parts shared with the benchmark are in browser-tools.mjs.
 */
import { copyFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll } from "vitest";
import { ROOT } from "./harness.js";
import { browserContext, launchChromium } from "./browser-tools.mjs";

export * from "./browser-tools.mjs";

export const ARTIFACTS = join(ROOT, "test/artifacts");

/**
 * Call at a test file's top level: the file's browser, launched on first use, and the contexts
 * handed out, all closed in afterAll.
 */
export function fileBrowser(): { context(options?: { javaScriptEnabled?: boolean }): Promise<BrowserContext> } {
  let browser: Promise<Browser> | undefined;
  const contexts: BrowserContext[] = [];
  afterAll(async () => {
    for (const context of contexts) await context.close().catch(() => undefined);
    await (await browser?.catch(() => undefined))?.close();
  });
  return {
    async context(options = {}) {
      browser ??= launchChromium();
      const context = await browserContext(await browser, options);
      contexts.push(context);
      return context;
    },
  };
}

/** Saves PAGE as test/artifacts/NAME.png, and as docs/themes/NAME.png too when DOCS_SCREENSHOTS=1 (the README's pictures). */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const file = join(ARTIFACTS, `${name}.png`);
  // An entrance still under way (a theme typing its lines in) is shown finished: the picture shows the whole page.
  await page.evaluate(() => {
    for (const animation of document.getAnimations()) if (animation.effect?.getComputedTiming().iterations !== Infinity) animation.finish();
  });
  await page.screenshot({ path: file });
  if (process.env.DOCS_SCREENSHOTS === "1") {
    mkdirSync(join(ROOT, "docs/themes"), { recursive: true });
    copyFileSync(file, join(ROOT, "docs/themes", `${name}.png`));
  }
  return file;
}
