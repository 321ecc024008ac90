// biome-ignore-all lint/suspicious/noTemplateCurlyInString: compose interpolation is the test data
import { describe, expect, it, vi } from "vitest";
import { YAMLMap } from "yaml";
import { parseComposeFile } from "../../../src/compose/files.js";
import { composeFixes } from "../../../src/compose/fix.js";
import { localImageName, rewriteDiff, rewriteForLocalImages, unifiedDiff } from "../../../src/compose/rewrite.js";

const lines = (...l: string[]) => `${l.join("\n")}\n`;
const rewrite = (text: string, project = "acme") =>
  rewriteForLocalImages(parseComposeFile("compose.yaml", text), project);

const seed = lines(
  "services:",
  "  # the public site",
  "  web:",
  "    build: ./web   # built here",
  "    image: ${REGISTRY:-ghcr.io/acme}/acme-web:${IMAGE_TAG:-latest}",
  "  worker:",
  "    build: { context: ., dockerfile: worker.Dockerfile }",
  "    image: acme/worker:2",
  "  db:",
  "    image: postgres:16-alpine",
);

describe("localImageName", () => {
  it.each([
    ["acme/worker:2", "acme/worker:2"],
    ["myapp", "myapp"],
    ["postgres:16-alpine", "postgres:16-alpine"],
    ["library/nginx", "library/nginx"],
    ["ghcr.io/acme/web:1", "acme/web:latest"],
    ["registry:5000/web", "acme/web:latest"],
    ["localhost/web", "acme/web:latest"],
    ["${REGISTRY}/web", "acme/web:latest"],
    ["acme/web:$TAG", "acme/web:latest"],
    ["", "acme/web:latest"],
  ])("%s -> %s", (image, expected) => {
    expect(localImageName("acme", "web", image)).toBe(expected);
  });

  it("names a missing image after project and (lowercased) service", () => {
    expect(localImageName("shop", "Api", undefined)).toBe("shop/api:latest");
  });
});

describe("rewriteForLocalImages", () => {
  it("gives built services a local image and pull_policy: never, keeping everything else", () => {
    const result = rewrite(seed);
    expect(result.text).toBe(
      lines(
        "services:",
        "  # the public site",
        "  web:",
        "    build: ./web   # built here",
        "    image: acme/web:latest",
        "    pull_policy: never",
        "  worker:",
        "    build: { context: ., dockerfile: worker.Dockerfile }",
        "    image: acme/worker:2",
        "    pull_policy: never",
        "  db:",
        "    image: postgres:16-alpine",
      ),
    );
    expect(result.changed).toBe(true);
    expect(result.images).toEqual({ web: "acme/web:latest", worker: "acme/worker:2" });
  });

  it("is idempotent", () => {
    const once = rewrite(seed);
    const twice = rewrite(once.text);
    expect(twice).toEqual({ text: once.text, changed: false, images: once.images });
  });

  it("turns an existing pull_policy into never and adds a missing image after build", () => {
    const text = lines(
      "services:",
      "  api:",
      "    build:",
      "      context: .",
      "      args:",
      "      - A=1",
      "    # ports for the proxy",
      "    ports: ['8080:80']",
      "    pull_policy: always # refresh",
    );
    const result = rewrite(text, "shop");
    expect(result.text).toBe(
      lines(
        "services:",
        "  api:",
        "    build:",
        "      context: .",
        "      args:",
        "      - A=1",
        "    image: shop/api:latest",
        "    # ports for the proxy",
        "    ports: ['8080:80']",
        "    pull_policy: never # refresh",
      ),
    );
    expect(result.images).toEqual({ api: "shop/api:latest" });
  });

  it("keeps quoting style, flow mappings, CRLF and a missing final newline", () => {
    const text = [
      "services:",
      "  a: {build: ., image: 'ghcr.io/x/a'}",
      "  b:",
      '    image: "localhost:5000/b"',
      "    build: .",
    ].join("\r\n");
    expect(rewrite(text).text).toBe(
      [
        "services:",
        "  a: {build: ., image: 'acme/a:latest', pull_policy: never}",
        "  b:",
        '    image: "acme/b:latest"',
        "    pull_policy: never",
        "    build: .",
      ].join("\r\n"),
    );
  });

  it("refuses a file compose would refuse before editing it", () => {
    const text = "services:\n  web:\n    build: .\n    pull_policy: [x]\n";
    expect(() => rewrite(text)).toThrow("compose.yaml:4:18: services.web.pull_policy must be a string");
  });

  it("leaves a file without built services untouched", () => {
    const text = "services:\n  db:\n    image: postgres # pinned later\n    pull_policy: always\n";
    expect(rewrite(text)).toEqual({ text, changed: false, images: {} });
  });

  it("gives a service that is a YAML alias a mapping of its own, leaving the anchor's other users alone", () => {
    const text = "x-base: &base\n  build: .\nservices:\n  web: *base\n  worker: *base\n  db:\n    image: pg\n";
    const result = rewrite(text);
    expect(result.text).toBe(
      [
        "x-base: &base",
        "  build: .",
        "services:",
        "  web: { <<: *base, image: acme/web:latest, pull_policy: never }",
        "  worker: { <<: *base, image: acme/worker:latest, pull_policy: never }",
        "  db:",
        "    image: pg",
        "",
      ].join("\n"),
    );
    expect(parseComposeFile("compose.yaml", result.text).services).toEqual([
      { name: "web", hasBuild: true, image: "acme/web:latest", pullPolicy: "never" },
      { name: "worker", hasBuild: true, image: "acme/worker:latest", pullPolicy: "never" },
      { name: "db", hasBuild: false, image: "pg" },
    ]);
  });

  it("replaces an image that is an alias with the service's own value, not the anchor", () => {
    const text = lines(
      "services:",
      "  app:",
      "    image: &img ghcr.io/acme/web:1",
      "  web:",
      "    build: .",
      "    image: *img",
    );
    expect(rewrite(text).text).toBe(
      lines(
        "services:",
        "  app:",
        "    image: &img ghcr.io/acme/web:1",
        "  web:",
        "    build: .",
        "    image: acme/web:latest",
        "    pull_policy: never",
      ),
    );
  });

  it("edits each service in the last YAML document that defines it, as compose merges them", () => {
    const text = lines(
      "services:",
      "  web:",
      "    build: .",
      "    image: ghcr.io/acme/web:1",
      "---",
      "services:",
      "  web:",
      "    image: ghcr.io/acme/web:2",
      "  db:",
      "    image: pg",
    );
    const result = rewrite(text);
    expect(result.text).toBe(
      lines(
        "services:",
        "  web:",
        "    build: .",
        "    image: ghcr.io/acme/web:1",
        "---",
        "services:",
        "  web:",
        "    image: acme/web:latest",
        "    pull_policy: never",
        "  db:",
        "    image: pg",
      ),
    );
    expect(parseComposeFile("compose.yaml", result.text).services[0]).toEqual({
      name: "web",
      hasBuild: true,
      image: "acme/web:latest",
      pullPolicy: "never",
    });
  });
});

describe("rewriteDiff", () => {
  it.each([
    ["the seed", seed],
    ["a missing final newline, CRLF and flow mappings", "services:\r\n  a: {build: ., image: 'ghcr.io/x/a'}\r\n  b:\r\n    image: \"localhost:5000/b\"\r\n    build: ."],
    ["aliases", "x-base: &base\n  build: .\nservices:\n  web: *base\n  worker: *base\n  db:\n    image: pg\n"],
    [
      "many services, changes near and far",
      `services:\n${Array.from({ length: 12 }, (_, i) => `  s${i}:\n${i % 3 ? "    image: nginx\n" : "    build: .\n"}    restart: always\n`).join("")}`,
    ],
  ])("is the whole-file diff, from the edits alone: %s", (_, text) => {
    const file = parseComposeFile("compose.yaml", text);
    const result = rewriteForLocalImages(file, "acme");
    expect(result.edits?.length).toBeGreaterThan(0);
    expect(rewriteDiff("compose.yaml", text, result)).toBe(unifiedDiff("compose.yaml", text, result.text));
  });
});

describe("unifiedDiff", () => {
  it("is empty for equal texts", () => {
    expect(unifiedDiff("compose.yaml", seed, seed)).toBe("");
  });

  it("shows changes with 3 lines of context and separate hunks", () => {
    const before = lines("1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13", "14");
    const after = lines("1", "2", "3", "4", "five", "6", "7", "8", "9", "10", "11", "12", "13", "14", "15");
    expect(unifiedDiff("f.yaml", before, after)).toBe(
      lines(
        "--- f.yaml",
        "+++ f.yaml",
        "@@ -2,7 +2,7 @@",
        " 2",
        " 3",
        " 4",
        "-5",
        "+five",
        " 6",
        " 7",
        " 8",
        "@@ -12,3 +12,4 @@",
        " 12",
        " 13",
        " 14",
        "+15",
      ),
    );
  });

  it("numbers an empty side from the line before it", () => {
    expect(unifiedDiff("f", "", "a\n")).toBe("--- f\n+++ f\n@@ -0,0 +1,1 @@\n+a\n");
  });
});

describe("the cost of a rewrite", () => {
  /**
   * Work counted, not timed, while a file of N built services is parsed, rewritten and diffed: characters
   * copied by String#slice, pairs a YAMLMap#get scans, predicate calls of Array#find and Array#some (yaml's
   * own duplicate-key check) and cells Array#fill sets. A pass that goes over the whole text or every service once per service shows up as N².
   */
  function work(services: number): number {
    const text = `services:\n${Array.from(
      { length: services },
      (_, i) => `  s${i}:\n    build: ./s${i}\n    image: ghcr.io/acme/s${i}:1\n    restart: always\n`,
    ).join("")}`;
    let count = 0;
    const slice = String.prototype.slice;
    const find = Array.prototype.find;
    const some = Array.prototype.some;
    const fill = Array.prototype.fill;
    const get = YAMLMap.prototype.get;
    const spies = [
      vi.spyOn(String.prototype, "slice").mockImplementation(function (this: string, ...args) {
        const part = slice.apply(this, args);
        count += part.length;
        return part;
      }),
      vi.spyOn(Array.prototype, "find").mockImplementation(function (this: unknown[], predicate, thisArg) {
        return find.call(this, (...args) => (count++, predicate.apply(thisArg, args)));
      }),
      vi.spyOn(Array.prototype, "some").mockImplementation(function (this: unknown[], predicate, thisArg) {
        return some.call(this, (...args) => (count++, predicate.apply(thisArg, args)));
      }),
      vi.spyOn(Array.prototype, "fill").mockImplementation(function (this: unknown[], ...args) {
        count += this.length;
        return fill.apply(this, args as [unknown]);
      }),
      vi.spyOn(YAMLMap.prototype, "get").mockImplementation(function (this: YAMLMap, ...args) {
        count += this.items.length;
        return get.apply(this, args);
      }),
    ];
    try {
      const [fix] = composeFixes([parseComposeFile("compose.yaml", text)], "acme");
      expect(fix?.after).toContain(`  s${services - 1}:\n    build: ./s${services - 1}\n    image: acme/s${services - 1}:latest`);
    } finally {
      for (const spy of spies) spy.mockRestore();
    }
    return count;
  }

  it("grows linearly with the number of services", () => {
    const ratio = work(800) / work(200);
    // Four times the services: about four times the work when linear, sixteen when quadratic.
    expect(ratio).toBeLessThan(6);
  });
});
