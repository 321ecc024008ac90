import { retrySeconds } from "./answers.js";
import type { Phase } from "./progress.js";

/**
 * A waiting page from a theme: the theme's placeholders filled with escaped values, and the
 * live client injected. Themes come from users too, so nothing a value holds may become markup
 * or script, and nothing a theme writes is needed for the page to follow the start.
 */

export interface PageValues {
  /** The route's display name. */
  serviceName: string;
  estimatedSeconds: number;
  elapsedSeconds: number;
  retryAfterSeconds: number;
  /** The status sentence. */
  message: string;
  progress: readonly { name: string; phase: Phase }[];
  /** Where live.js opens its event stream: "/__deploy-vps/events". */
  eventsUrl: string;
}

const ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

/** Text made safe in an element's content and in a quoted attribute. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => ESCAPES[char] ?? char);
}

/** What a phase reads as on the page; live.js writes the same words. */
const PHASE_WORDS: Record<Phase, string> = { pending: "waiting", starting: "starting", ready: "ready", failed: "failed" };

function progressList(lines: PageValues["progress"]): string {
  const items = lines.map(
    ({ name, phase }) => `<li data-phase="${phase}"><span class="dv-name">${escapeHtml(name)}</span> <span class="dv-phase">${PHASE_WORDS[phase]}</span></li>`,
  );
  return `<ol class="dv-progress" data-dv="progress" aria-live="polite">${items.join("")}</ol>`;
}

/**
 * Hidden until live.js hears the start failed (it writes the same markup into a theme without
 * one); the button reloads the page, whose GET wakes the unit again.
 */
const FAILURE_BLOCK =
  '<div class="dv-failure" data-dv="failure" role="alert" hidden><p data-dv="failure-text"></p><button type="button" class="dv-retry" data-dv="retry">Try again</button></div>';

const wholeSeconds = (seconds: number, round: (x: number) => number): number => (Number.isFinite(seconds) ? Math.max(0, round(seconds)) : 0);
const millis = (seconds: number): number => wholeSeconds(seconds * 1000, Math.round);

/**
 * JSON that stays data inside a `<script>` element: `<` can neither close the element nor open a
 * comment, and the two line separators old parsers took for line breaks are escaped too.
 */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/[<\u2028\u2029]/g, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/** Before the first of these tags' end (the head's opening, else the html's, else the doctype), else at the very start. */
const HEAD_OPENINGS = [/<head(?:\s[^>]*)?>/i, /<html(?:\s[^>]*)?>/i, /<!doctype[^>]*>/i];

function insertInHead(html: string, markup: string): string {
  for (const opening of HEAD_OPENINGS) {
    const found = opening.exec(html);
    if (found) {
      const at = found.index + found[0].length;
      return html.slice(0, at) + markup + html.slice(at);
    }
  }
  return markup + html;
}

/** Before the last `</body>` (a theme's own script may mention an earlier one), else at the very end. */
function insertBeforeBodyEnd(html: string, markup: string): string {
  const at = [...html.matchAll(/<\/body\s*>/gi)].at(-1)?.index;
  return at === undefined ? html + markup : html.slice(0, at) + markup + html.slice(at);
}

/** `{{ name }}`, spaces optional. */
const PLACEHOLDER = /\{\{\s*([A-Za-z][A-Za-z0-9_]*)\s*\}\}/g;

export function renderWaitingPage(template: string, live: string, values: PageValues): string {
  const retryAfter = retrySeconds(values.retryAfterSeconds);
  const filled: Record<string, string> = {
    serviceName: escapeHtml(values.serviceName),
    estimatedTime: String(wholeSeconds(values.estimatedSeconds, Math.ceil)),
    elapsedTime: String(wholeSeconds(values.elapsedSeconds, Math.floor)),
    retryAfter: String(retryAfter),
    message: escapeHtml(values.message),
    progress: progressList(values.progress),
    failure: FAILURE_BLOCK,
  };
  // A function, never a replacement string: `$&` or `$1` in a value must stay as written.
  const page = template.replace(PLACEHOLDER, (placeholder, name: string) => (Object.hasOwn(filled, name) ? (filled[name] ?? "") : placeholder));
  const data = scriptJson({ events: values.eventsUrl, elapsedMs: millis(values.elapsedSeconds), estimateMs: millis(values.estimatedSeconds) });
  // live.js is ours, but a `</script` in it would end the element early: keep it inert.
  const script = live.replace(/<\/(script)/gi, (_match, tag: string) => `<\\/${tag}`);
  const withRefresh = insertInHead(page, `<noscript><meta http-equiv="refresh" content="${retryAfter}"></noscript>`);
  return insertBeforeBodyEnd(withRefresh, `<script type="application/json" id="dv-data">${data}</script><script>${script}</script>`);
}
