import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { BUILT_IN_THEMES } from "../../../src/proxy/themes.js";
import { renderWaitingPage } from "../../../src/proxy/waiting-page.js";

// Every waiting-page theme in src/proxy/pages/ keeps the waiting-page contract: the
// placeholders and the live elements live.js drives, styled phases and failed state, no motion
// under reduced motion, nothing fetched from anywhere (the page is served under a CSP that
// allows nothing external), and a small size. Each rule is also shown to reject broken copies.

const PAGES = new URL("../../../src/proxy/pages/", import.meta.url);
// live.js (about 3 kB) is injected into the theme: the served page must stay within 20 kB.
const MAX_THEME_BYTES = 14_000;
const PLACEHOLDERS = ["serviceName", "estimatedTime", "elapsedTime", "message", "progress", "failure"];

interface Rule {
  name: string;
  holds: (html: string) => boolean;
  /** Copies of a theme that break the rule: each must make `holds` false. */
  breaks: (html: string) => string[];
}

function placeholder(name: string): RegExp {
  return new RegExp(`\\{\\{\\s*${name}\\s*\\}\\}`, "g");
}

function withStyle(html: string, css: string): string {
  return html.replace("</style>", () => `${css}\n</style>`);
}

function withBody(html: string, markup: string): string {
  return html.replace("</body>", () => `${markup}\n</body>`);
}

function htmlTag(html: string): string {
  return /<html\b[^>]*>/i.exec(html)?.[0] ?? "";
}

/** For each match, the first capture group that took part (alternatives capture in turn). */
function captured(text: string, pattern: RegExp): string[] {
  return [...text.matchAll(pattern)].map((match) => match.slice(1).find((group) => group !== undefined) ?? "");
}

function styles(html: string): string {
  return captured(html, /<style\b[^>]*>([\s\S]*?)<\/style>/gi).join("\n");
}

/** The innermost CSS rules `selector { declarations }` (an @media's own prelude is left out). */
function cssRules(html: string): { selector: string; body: string }[] {
  return [...styles(html).matchAll(/([^{}]+)\{([^{}]*)\}/g)].map((match) => ({ selector: (match[1] ?? "").trim(), body: match[2] ?? "" }));
}

/** The text of the block that opens after `start` (the braces balanced), or "" without one. */
function blockAfter(css: string, start: number): string {
  const open = css.indexOf("{", start);
  if (start < 0 || open < 0) return "";
  let depth = 0;
  for (let at = open; at < css.length; at += 1) {
    if (css[at] === "{") depth += 1;
    if (css[at] === "}") depth -= 1;
    if (depth === 0) return css.slice(open + 1, at);
  }
  return "";
}

function reducedMotionBlock(html: string): string {
  const css = styles(html);
  return blockAfter(css, css.search(/@media\s*\(\s*prefers-reduced-motion\s*:\s*reduce\s*\)/));
}

/** A local reference: an in-page fragment or inline data, never a fetch. */
function isInline(reference: string): boolean {
  return reference === "" || reference.startsWith("#") || /^data:/i.test(reference);
}

function attributeReferences(html: string): string[] {
  return captured(html, /\s(?:src|href|xlink:href|srcset|poster|action|formaction)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]*))/gi).map((reference) => reference.trim());
}

function cssUrls(html: string): string[] {
  const css = [styles(html), ...captured(html, /\sstyle\s*=\s*"([^"]*)"/gi)].join("\n");
  return captured(css, /url\(\s*(?:"([^"]*)"|'([^']*)'|([^)]*))\s*\)/gi).map((reference) => reference.trim());
}

function scripts(html: string): string[] {
  return captured(html, /<script\b[^>]*>([\s\S]*?)<\/script>/gi);
}

function failureDisplayRules(html: string): { selector: string; body: string }[] {
  return cssRules(html).filter(
    (rule) => /\.dv-failure|data-dv="?failure"?\]/.test(rule.selector) && !/\[hidden\]/.test(rule.selector) && /(^|;|\s)display\s*:/.test(rule.body),
  );
}

function hiddenWins(html: string): boolean {
  return cssRules(html).some(
    (rule) =>
      /\[hidden\]/.test(rule.selector) &&
      /display\s*:\s*none/.test(rule.body) &&
      (/!important/.test(rule.body) || /\.dv-failure|data-dv="?failure"?\]/.test(rule.selector)),
  );
}

const RULES: Rule[] = [
  {
    name: "starts with <!doctype html>",
    holds: (html) => /^<!doctype html>/i.test(html),
    breaks: (html) => [html.replace(/^<!doctype html>\s*/i, ""), `\n${html}`],
  },
  {
    name: "<html> names its language",
    holds: (html) => /\slang="[a-z]{2}/i.test(htmlTag(html)),
    breaks: (html) => [html.replace(/(<html\b[^>]*?)\s+lang="[^"]*"/i, "$1")],
  },
  {
    name: '<html> starts in data-dv-state="starting"',
    holds: (html) => /\sdata-dv-state="starting"/.test(htmlTag(html)),
    breaks: (html) => [html.replace(/(<html\b[^>]*?)\s+data-dv-state="[^"]*"/i, "$1")],
  },
  {
    name: "declares utf-8",
    holds: (html) => /<meta charset="utf-8">/i.test(html),
    breaks: (html) => [html.replace(/<meta charset="utf-8">/i, "")],
  },
  {
    name: "has the mobile viewport",
    holds: (html) => /<meta name="viewport" content="width=device-width, initial-scale=1">/.test(html),
    breaks: (html) => [html.replace(/<meta name="viewport"[^>]*>/, "")],
  },
  {
    name: "titles the page with the service name",
    holds: (html) => /<title>[^<]*\{\{\s*serviceName\s*\}\}[^<]*<\/title>/.test(html),
    breaks: (html) => [html.replace(/<title>[^<]*<\/title>/, "<title>Starting</title>")],
  },
  ...PLACEHOLDERS.map(
    (name): Rule => ({
      name: `has {{ ${name} }}`,
      holds: (html) => placeholder(name).test(html),
      breaks: (html) => [html.replace(placeholder(name), "")],
    }),
  ),
  ...["elapsed", "message", "bar"].map(
    (name): Rule => ({
      name: `has the live element data-dv="${name}"`,
      holds: (html) => html.includes(`data-dv="${name}"`),
      breaks: (html) => [html.replaceAll(`data-dv="${name}"`, "")],
    }),
  ),
  {
    name: 'has the live element data-dv="estimate" or data-dv="left"',
    holds: (html) => html.includes('data-dv="estimate"') || html.includes('data-dv="left"'),
    breaks: (html) => [html.replaceAll('data-dv="estimate"', "").replaceAll('data-dv="left"', "")],
  },
  {
    name: "the bar is a progressbar",
    holds: (html) => /<[^>]*data-dv="bar"[^>]*>/.exec(html)?.[0].includes('role="progressbar"') ?? false,
    breaks: (html) => [html.replace(/(<[^>]*data-dv="bar"[^>]*>)/, (tag) => tag.replace('role="progressbar"', ""))],
  },
  {
    name: "styles the failed state",
    holds: (html) => styles(html).includes('html[data-dv-state="failed"]'),
    breaks: (html) => [html.replaceAll('html[data-dv-state="failed"]', 'html[data-dv-state="broken"]')],
  },
  ...["starting", "ready", "failed"].map(
    (phase): Rule => ({
      name: `styles a container in phase ${phase}`,
      holds: (html) => styles(html).includes(`[data-phase="${phase}"]`),
      breaks: (html) => [html.replaceAll(`[data-phase="${phase}"]`, '[data-phase="broken"]')],
    }),
  ),
  {
    name: "styles the retry button",
    holds: (html) => styles(html).includes(".dv-retry"),
    breaks: (html) => [html.replaceAll(".dv-retry", ".broken")],
  },
  {
    name: "keeps the failure block hidden until a failure",
    holds: (html) => failureDisplayRules(html).length === 0 || hiddenWins(html),
    breaks: (html) => [
      withStyle(html.replace(/<style\b[^>]*>[\s\S]*?<\/style>/i, (style) => style.replace(/[^{}]*\[hidden\][^{}]*\{[^{}]*\}/g, "")), ".dv-failure { display: grid; }"),
    ],
  },
  {
    name: "stops every animation and transition under prefers-reduced-motion",
    holds: (html) => {
      const block = reducedMotionBlock(html);
      return /(^|[\s,])\*/.test(block) && /animation(-name)?\s*:\s*none/.test(block) && /transition(-property)?\s*:\s*none/.test(block);
    },
    breaks: (html) => {
      const block = reducedMotionBlock(html);
      return [
        html.replace(/prefers-reduced-motion\s*:\s*reduce/g, "prefers-color-scheme: dark"),
        html.replace(block, () => block.replaceAll("*", ".calm")),
        html.replace(block, () => block.replace(/animation(-name)?\s*:\s*none/g, "animation-duration: 1s")),
        html.replace(block, () => block.replace(/transition(-property)?\s*:\s*none/g, "transition-duration: 1s")),
      ];
    },
  },
  {
    name: "a script that animates checks prefers-reduced-motion",
    holds: (html) => scripts(html).every((script) => !/requestAnimationFrame|setInterval|setTimeout|\.animate\(/.test(script) || script.includes("prefers-reduced-motion")),
    breaks: (html) => [withBody(html, "<script>requestAnimationFrame(function spin() { requestAnimationFrame(spin); });</script>")],
  },
  {
    name: `weighs at most ${MAX_THEME_BYTES} bytes`,
    holds: (html) => Buffer.byteLength(html, "utf8") <= MAX_THEME_BYTES,
    breaks: (html) => [withBody(html, `<!-- ${"x".repeat(MAX_THEME_BYTES)} -->`)],
  },
  {
    name: "src/href name nothing outside the page",
    holds: (html) => attributeReferences(html).every(isInline),
    breaks: (html) => [
      withBody(html, '<img src="https://example.com/logo.png" alt="">'),
      withBody(html, '<a href="http://example.com/">home</a>'),
      withBody(html, "<img src=//cdn.example.com/logo.png alt=''>"),
      withBody(html, "<img src='logo.png' alt=''>"),
    ],
  },
  {
    name: "CSS url() names nothing outside the page",
    holds: (html) => cssUrls(html).every(isInline),
    breaks: (html) => [
      withStyle(html, "body { background: url(https://example.com/bg.png); }"),
      withStyle(html, "body { background: url('//cdn.example.com/bg.png'); }"),
      withBody(html, '<div style="background-image: url(&quot;bg.png&quot;); background: url(bg.png)"></div>'),
    ],
  },
  {
    name: "has no @import",
    holds: (html) => !/@import\b/i.test(styles(html)),
    breaks: (html) => [withStyle(html, '@import "https://example.com/theme.css";'), withStyle(html, "@import url(theme.css);")],
  },
  {
    name: "has no <link>",
    holds: (html) => !/<link\b/i.test(html),
    breaks: (html) => [html.replace("</head>", () => '<link rel="icon" href="data:,">\n</head>')],
  },
  {
    name: "has no <script src>",
    holds: (html) => !/<script\b[^>]*\ssrc\s*=/i.test(html),
    breaks: (html) => [withBody(html, '<script src="data:text/javascript,"></script>')],
  },
  {
    name: "has no @font-face",
    holds: (html) => !/@font-face\b/i.test(html),
    breaks: (html) => [withStyle(html, '@font-face { font-family: Brand; src: local("Arial"); }')],
  },
];

const RULE_CASES = RULES.map((rule) => [rule.name, rule] as const);

const themeFiles = readdirSync(PAGES)
  .filter((file) => file.endsWith(".html"))
  .sort();

describe("the theme folder", () => {
  it("holds the five built-in themes and nothing else", () => {
    const names = themeFiles.map((file) => file.slice(0, -".html".length));
    expect(names).toEqual([...BUILT_IN_THEMES].sort());
  });

  it.each(themeFiles)("serves %s within 20 kB, live.js and a three-container start included", (file) => {
    const page = renderWaitingPage(readFileSync(new URL(file, PAGES), "utf8"), readFileSync(new URL("live.js", PAGES), "utf8"), {
      serviceName: "Support dashboard",
      estimatedSeconds: 12,
      elapsedSeconds: 3,
      retryAfterSeconds: 12,
      message: "Starting web",
      progress: [
        { name: "db", phase: "ready" },
        { name: "cache", phase: "ready" },
        { name: "web", phase: "starting" },
      ],
      eventsUrl: "/__deploy-vps/events",
    });
    expect(Buffer.byteLength(page)).toBeLessThanOrEqual(20 * 1024);
  });
});

describe.each(themeFiles)("theme %s", (file) => {
  const html = readFileSync(new URL(file, PAGES), "utf8");

  it.each(RULE_CASES)("%s", (_name, rule) => {
    expect(rule.holds(html)).toBe(true);
  });

  it.each(RULE_CASES)("a copy that breaks it is caught: %s", (_name, rule) => {
    for (const broken of rule.breaks(html)) {
      expect(broken).not.toBe(html);
      expect(rule.holds(broken)).toBe(false);
    }
  });
});
