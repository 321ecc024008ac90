import { describe, expect, it } from "vitest";
import { escapeHtml, type PageValues, renderWaitingPage } from "../../../src/proxy/waiting-page.js";

const LIVE = "/* live */";

function values(overrides: Partial<PageValues> = {}): PageValues {
  return {
    serviceName: "Shop",
    estimatedSeconds: 8,
    elapsedSeconds: 1.5,
    retryAfterSeconds: 8,
    message: "Starting db",
    progress: [
      { name: "db", phase: "ready" },
      { name: "web", phase: "starting" },
    ],
    eventsUrl: "/__deploy-vps/events",
    ...overrides,
  };
}

const THEME = `<!doctype html>
<html lang="en" data-dv-state="starting">
<head><meta charset="utf-8"><title>{{ serviceName }} is starting</title></head>
<body><h1>{{serviceName}}</h1><p>{{ message }}</p>{{ progress }}{{ failure }}</body>
</html>`;

/** The JSON live.js reads, as the browser would: the text between the data element's tags. */
function pageData(html: string): unknown {
  const found = /<script type="application\/json" id="dv-data">(.*?)<\/script>/s.exec(html);
  return JSON.parse(found?.[1] ?? "null");
}

describe("escapeHtml", () => {
  it("escapes the five characters that can start markup or end an attribute", () => {
    expect(escapeHtml(`<a href="x" title='y'>&amp;</a>`)).toBe("&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;amp;&lt;/a&gt;");
  });
});

describe("renderWaitingPage", () => {
  it("fills the placeholders, spaces optional", () => {
    const html = renderWaitingPage("<p>{{serviceName}}|{{ estimatedTime }}|{{  elapsedTime  }}|{{ retryAfter }}|{{ message }}</p>", LIVE, values());
    expect(html).toContain("<p>Shop|8|1|8|Starting db</p>");
  });

  it("shows a display name with markup in it only as text, wherever it is placed", () => {
    const evil = `<script>alert(1)</script>"'&`;
    const html = renderWaitingPage(`${THEME}<a title="{{ serviceName }}">`, LIVE, values({ serviceName: evil, message: evil, progress: [{ name: evil, phase: "pending" }] }));
    expect(html).not.toContain("<script>alert(1)");
    expect(html).not.toContain(`"'&<`);
    const escaped = "&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&amp;";
    expect(html.split(escaped)).toHaveLength(6); // title, h1, message, the progress line, the attribute
  });

  it("keeps `$&`, `$1` and `$$` in a value as written", () => {
    const html = renderWaitingPage("<h1>{{ serviceName }}</h1><p>{{ message }}</p>", LIVE, values({ serviceName: "$& $1 $$ $`", message: "$'" }));
    expect(html).toContain("<h1>$&amp; $1 $$ $`</h1><p>$&#39;</p>");
  });

  it("leaves a placeholder it does not know as it is", () => {
    expect(renderWaitingPage("<p>{{ visitorCount }} {{nope}} {{ }}</p>", LIVE, values())).toContain("<p>{{ visitorCount }} {{nope}} {{ }}</p>");
  });

  it("writes the progress list and the hidden failure block in the DOM contract's markup", () => {
    const html = renderWaitingPage("<body>{{ progress }}{{ failure }}</body>", LIVE, values({ progress: [...values().progress, { name: "x", phase: "pending" }, { name: "y", phase: "failed" }] }));
    expect(html).toContain(
      '<ol class="dv-progress" data-dv="progress" aria-live="polite">' +
        '<li data-phase="ready"><span class="dv-name">db</span> <span class="dv-phase">ready</span></li>' +
        '<li data-phase="starting"><span class="dv-name">web</span> <span class="dv-phase">starting</span></li>' +
        '<li data-phase="pending"><span class="dv-name">x</span> <span class="dv-phase">waiting</span></li>' +
        '<li data-phase="failed"><span class="dv-name">y</span> <span class="dv-phase">failed</span></li>' +
        "</ol>" +
        '<div class="dv-failure" data-dv="failure" role="alert" hidden><p data-dv="failure-text"></p><button type="button" class="dv-retry" data-dv="retry">Try again</button></div>',
    );
  });

  it("injects the no-JS refresh at the top of the head and the data and live script just before the body ends", () => {
    const html = renderWaitingPage(THEME, LIVE, values({ retryAfterSeconds: 7.2 }));
    expect(html).toContain('<head><noscript><meta http-equiv="refresh" content="8"></noscript><meta charset="utf-8">');
    expect(html).toMatch(/<\/div><script type="application\/json" id="dv-data">\{.*\}<\/script><script>\/\* live \*\/<\/script><\/body>\n<\/html>$/);
    expect(pageData(html)).toEqual({ events: "/__deploy-vps/events", elapsedMs: 1500, estimateMs: 8000 });
  });

  it("finds a head with attributes, never a header, and the last body end whatever its case", () => {
    const html = renderWaitingPage('<HTML><header></header><HEAD lang="en"></HEAD><BODY><script>"</body>"</script></BODY ></HTML>', LIVE, values());
    expect(html).toMatch(/^<HTML><header><\/header><HEAD lang="en"><noscript>/);
    expect(html).toMatch(/<script>"<\/body>"<\/script><script type="application\/json".*<\/script><\/BODY ><\/HTML>$/);
  });

  it("still works with a template that has no head or body", () => {
    const bare = renderWaitingPage("<p>{{ serviceName }}</p>", LIVE, values());
    expect(bare).toMatch(/^<noscript><meta http-equiv="refresh" content="8"><\/noscript><p>Shop<\/p><script type="application\/json" id="dv-data">.*<script>\/\* live \*\/<\/script>$/);
    const withDoctype = renderWaitingPage("<!DOCTYPE html><p>x</p>", LIVE, values());
    expect(withDoctype.startsWith("<!DOCTYPE html><noscript>")).toBe(true);
  });

  it("keeps the data JSON inside its script element whatever a value holds", () => {
    const url = "/e?</script><script>alert(1)</script><!--\u2028\u2029";
    const html = renderWaitingPage(THEME, LIVE, values({ eventsUrl: url }));
    // What an HTML parser takes as the element's text: up to the first `</script`.
    const start = html.indexOf('id="dv-data">') + 'id="dv-data">'.length;
    const text = html.slice(start, html.indexOf("</script", start));
    expect(text).not.toContain("<");
    expect(html).not.toMatch(/[\u2028\u2029]/);
    expect(JSON.parse(text)).toMatchObject({ events: url });
  });

  it("keeps a `</script` in live.js from closing its element", () => {
    const html = renderWaitingPage(THEME, 'const s = "</SCRIPT><b>";', values());
    expect(html).toContain('<script>const s = "<\\/SCRIPT><b>";</script></body>');
  });

  it("writes whole seconds, never negative, and a refresh of at least one second", () => {
    const html = renderWaitingPage("{{ estimatedTime }} {{ elapsedTime }} {{ retryAfter }}", LIVE, values({ estimatedSeconds: 7.1, elapsedSeconds: -3, retryAfterSeconds: 0 }));
    expect(html).toContain("8 0 1");
    expect(html).toContain('content="1"');
    expect(pageData(html)).toMatchObject({ elapsedMs: 0, estimateMs: 7100 });
  });
});
