// Types of browser-tools.mjs (plain ESM, shared with bench/pages.mjs).
import type { Browser, BrowserContext, Page } from "playwright-core";

export const CHROMIUM: string;
export function desktopUserAgent(version?: string): string;
export function launchChromium(): Promise<Browser>;
export function browserContext(browser: Browser, options?: { javaScriptEnabled?: boolean }): Promise<BrowserContext>;

export type Phase = "pending" | "starting" | "ready" | "failed";
export interface LinesSnapshot {
  state: string;
  lines: { name: string; phase: Phase | string }[];
}
/** One thing the waiting page lived through, at the browser's Date.now(). */
export type RecordEntry =
  | { at: number; kind: "progress"; data: { state: string; elapsedMs: number; estimateMs: number; message: string; containers: { name: string; phase: string }[] } }
  | { at: number; kind: "ready"; data: { readyAt: number } }
  | { at: number; kind: "failed"; data: { message: string } }
  | { at: number; kind: "csp"; data: string }
  | { at: number; kind: "lines"; data: LinesSnapshot };

export function recorded(page: Page): Promise<RecordEntry[]>;
export function shownAt(page: Page): Promise<number>;
export function untilAppPage(page: Page, timeoutMs?: number): Promise<void>;

/** The first answer: the waiting page. */
export interface FirstAnswer {
  status: number;
  headers: Record<string, string>;
  html: string;
}
export interface Shown {
  page: Page;
  waiting: FirstAnswer;
  record: RecordEntry[];
  /** Every URL the main frame committed, in order. */
  navigations: string[];
  readyAt: number | undefined;
  shownAt: number;
  readyToShownMs: number | undefined;
}
export function openUntilShown(context: BrowserContext, url: string, options?: { timeoutMs?: number; whileWaiting?: (page: Page, waiting: FirstAnswer) => Promise<void> }): Promise<Shown>;
export function phasesByLine(record: RecordEntry[]): Map<string, string[]>;
