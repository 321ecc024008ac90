import { describe, expect, it } from "vitest";
import {
  DEFAULT_IDLE_MS,
  DEFAULT_START_TIMEOUT_MS,
  isHostName,
  isThemeName,
  normaliseTheme,
  PROXY_LABELS,
  routeFromLabels,
} from "../../../src/proxy/labels.js";
import type { DisabledRoute, Route } from "../../../src/proxy/model.js";
import { containerFacts, labelled } from "./facts.js";

const BASE = { [PROXY_LABELS.host]: "docs.example.com", [PROXY_LABELS.port]: "8080" };

function route(labels: Record<string, string>): Route {
  const declared = routeFromLabels(labelled(labels));
  if (declared === undefined || !("target" in declared)) throw new Error(`expected a route, got ${JSON.stringify(declared)}`);
  return declared;
}

function reason(labels: Record<string, string>, overrides = {}): string {
  const declared = routeFromLabels(labelled(labels, overrides));
  if (declared === undefined || "target" in declared) throw new Error(`expected a disabled route, got ${JSON.stringify(declared)}`);
  return declared.reason;
}

describe("routeFromLabels", () => {
  it("is undefined for a container with no deploy-vps.proxy.* label", () => {
    expect(routeFromLabels(containerFacts({ labels: { "deploy-vps.other": "x", "traefik.enable": "true" } }))).toBeUndefined();
  });

  it("is undefined for a service that carries only labels reserved for the next issues", () => {
    expect(routeFromLabels(labelled({ [PROXY_LABELS.requires]: "db", [PROXY_LABELS.displayName]: "Worker" }))).toBeUndefined();
    expect(routeFromLabels(labelled({ [PROXY_LABELS.requires]: "db", [PROXY_LABELS.port]: "80" }))).toMatchObject({
      reason: expect.stringContaining("deploy-vps.proxy.host on shop-web-1 is missing"),
    });
  });

  it("is undefined for a dependency: only wake-chain labels, or idle without host and port", () => {
    const dependency = {
      [PROXY_LABELS.wants]: "monitoring/exporter",
      [PROXY_LABELS.check]: "tcp 5432",
      [PROXY_LABELS.checkInterval]: "2s",
      [PROXY_LABELS.checkTimeout]: "30s",
      [PROXY_LABELS.checkRetries]: "5",
    };
    expect(routeFromLabels(labelled(dependency))).toBeUndefined();
    expect(routeFromLabels(labelled({ ...dependency, [PROXY_LABELS.idle]: "10m" }))).toBeUndefined();
    expect(routeFromLabels(labelled({ [PROXY_LABELS.idle]: "10m" }))).toBeUndefined();
    // With a port, idle is the route's own again, and the missing host is named.
    expect(routeFromLabels(labelled({ [PROXY_LABELS.idle]: "10m", [PROXY_LABELS.port]: "80" }))).toMatchObject({
      reason: expect.stringContaining("deploy-vps.proxy.host on shop-web-1 is missing"),
    });
    expect(routeFromLabels(labelled({ [PROXY_LABELS.idle]: "10m", [PROXY_LABELS.mode]: "async" }))).toMatchObject({
      reason: expect.stringContaining("deploy-vps.proxy.host on shop-web-1 is missing"),
    });
  });

  it("routes a container that carries wake-chain labels beside host and port", () => {
    expect(route({ ...BASE, [PROXY_LABELS.requires]: "db/postgres", [PROXY_LABELS.check]: "http 8080 /health" })).toMatchObject({ name: "shop" });
  });

  it("reads host and port, with the defaults for the rest", () => {
    expect(route(BASE)).toEqual({
      name: "shop",
      project: "shop",
      hosts: ["docs.example.com"],
      mode: "dynamic",
      idleMs: DEFAULT_IDLE_MS,
      startTimeoutMs: DEFAULT_START_TIMEOUT_MS,
      target: { kind: "container", service: "web", port: 8080 },
      source: { kind: "labels", container: "shop-web-1" },
    });
    expect(DEFAULT_IDLE_MS).toBe(1_800_000);
    expect(DEFAULT_START_TIMEOUT_MS).toBe(300_000);
  });

  it("reads every label", () => {
    const r = route({
      [PROXY_LABELS.host]: " Docs.Example.com., *.Preview.Example.com ,docs.example.com",
      [PROXY_LABELS.port]: " 3000 ",
      [PROXY_LABELS.mode]: "Blocking",
      [PROXY_LABELS.idle]: "1h30m",
      [PROXY_LABELS.startTimeout]: "90s",
      [PROXY_LABELS.estimate]: "12s",
      [PROXY_LABELS.theme]: " hackerTerminal ",
      [PROXY_LABELS.displayName]: "  Docs <beta> & co  ",
    });
    expect(r).toMatchObject({
      hosts: ["docs.example.com", "*.preview.example.com"],
      mode: "blocking",
      idleMs: 5_400_000,
      startTimeoutMs: 90_000,
      estimateMs: 12_000,
      theme: "hackerTerminal",
      displayName: "Docs <beta> & co",
      target: { port: 3000 },
    });
  });

  it("keeps a theme name as written, for a custom theme's file", () => {
    expect(route({ ...BASE, [PROXY_LABELS.theme]: "mon_Theme-2" }).theme).toBe("mon_Theme-2");
    expect(route({ ...BASE, [PROXY_LABELS.displayName]: "é".repeat(100) }).displayName).toBe("é".repeat(100));
  });

  it("keeps a unit up with idle never", () => {
    expect(route({ ...BASE, [PROXY_LABELS.idle]: "never" }).idleMs).toBeNull();
  });

  it("accepts the labels reserved for the next issues without reading them", () => {
    const r = route({
      ...BASE,
      [PROXY_LABELS.requires]: "db",
      [PROXY_LABELS.deploy]: "blue-green",
      [PROXY_LABELS.healthPath]: "/up",
      [PROXY_LABELS.drain]: "30s",
    });
    expect(r.name).toBe("shop");
  });

  it.each([
    [{ [PROXY_LABELS.port]: "abc" }, "label deploy-vps.proxy.port on shop-web-1: 'abc' is not a port (1-65535)"],
    [{ [PROXY_LABELS.port]: "0" }, "label deploy-vps.proxy.port on shop-web-1: '0' is not a port (1-65535)"],
    [{ [PROXY_LABELS.port]: "65536" }, "label deploy-vps.proxy.port on shop-web-1: '65536' is not a port (1-65535)"],
    [{ [PROXY_LABELS.port]: "80.5" }, "label deploy-vps.proxy.port on shop-web-1: '80.5' is not a port (1-65535)"],
    [
      { [PROXY_LABELS.idle]: "5 parsecs" },
      "label deploy-vps.proxy.idle on shop-web-1: '5 parsecs' is not a duration (e.g. 30m, 1h, never)",
    ],
    [{ [PROXY_LABELS.idle]: "0s" }, "label deploy-vps.proxy.idle on shop-web-1: '0s' is not a duration (e.g. 30m, 1h, never)"],
    [
      { [PROXY_LABELS.startTimeout]: "soon" },
      "label deploy-vps.proxy.start-timeout on shop-web-1: 'soon' is not a duration (e.g. 30s, 5m, 1h30m)",
    ],
    [
      { [PROXY_LABELS.estimate]: "-3s" },
      "label deploy-vps.proxy.estimate on shop-web-1: '-3s' is not a duration (e.g. 30s, 5m, 1h30m)",
    ],
    [
      { [PROXY_LABELS.mode]: "Lazy" },
      "label deploy-vps.proxy.mode on shop-web-1: 'Lazy' is not a mode (dynamic, blocking, async)",
    ],
    [
      { [PROXY_LABELS.host]: "docs example.com, ok.example.com, -bad.example.com" },
      "label deploy-vps.proxy.host on shop-web-1: 'docs example.com, -bad.example.com' is not a host name (e.g. docs.example.com, *.example.com)",
    ],
    [
      { [PROXY_LABELS.theme]: "../../etc/passwd" },
      "label deploy-vps.proxy.theme on shop-web-1: '../../etc/passwd' is not a theme name (letters, digits, hyphens and underscores, e.g. matrix, hacker-terminal, myTheme)",
    ],
    [
      { [PROXY_LABELS.theme]: ".." },
      "label deploy-vps.proxy.theme on shop-web-1: '..' is not a theme name (letters, digits, hyphens and underscores, e.g. matrix, hacker-terminal, myTheme)",
    ],
    [
      { [PROXY_LABELS.theme]: "matrix.html" },
      "label deploy-vps.proxy.theme on shop-web-1: 'matrix.html' is not a theme name (letters, digits, hyphens and underscores, e.g. matrix, hacker-terminal, myTheme)",
    ],
    [
      { [PROXY_LABELS.displayName]: "   " },
      "label deploy-vps.proxy.display-name on shop-web-1: '   ' is not a display name (some text, at most 100 characters)",
    ],
    [
      { [PROXY_LABELS.displayName]: "x".repeat(101) },
      `label deploy-vps.proxy.display-name on shop-web-1: '${"x".repeat(80)}...' is not a display name (some text, at most 100 characters)`,
    ],
    [
      { "deploy-vps.proxy.hots": "docs.example.com" },
      "label deploy-vps.proxy.hots on shop-web-1 ('docs.example.com'): not a label deploy-vps knows; did you mean deploy-vps.proxy.host?",
    ],
    [
      { "deploy-vps.proxy.start_timeout": "5m" },
      "label deploy-vps.proxy.start_timeout on shop-web-1 ('5m'): not a label deploy-vps knows; did you mean deploy-vps.proxy.start-timeout?",
    ],
  ])("disables the service for %j", (bad, expected) => {
    expect(reason({ ...BASE, ...bad })).toBe(expected);
  });

  it("says which label is missing", () => {
    expect(reason({ [PROXY_LABELS.port]: "8080" })).toBe(
      "label deploy-vps.proxy.host on shop-web-1 is missing (the host names to route, e.g. docs.example.com)",
    );
    expect(reason({ [PROXY_LABELS.host]: " , " , [PROXY_LABELS.port]: "8080" })).toContain("deploy-vps.proxy.host on shop-web-1 is missing");
    expect(reason({ [PROXY_LABELS.host]: "docs.example.com" })).toBe(
      "label deploy-vps.proxy.port on shop-web-1 is missing (the container's port, 1-65535)",
    );
  });

  it("names every bad label on one line, and keeps the good hosts for status", () => {
    const declared = routeFromLabels(
      labelled({ ...BASE, [PROXY_LABELS.port]: "abc", [PROXY_LABELS.idle]: "5 parsecs" }),
    ) as DisabledRoute;
    expect(declared.reason).toBe(
      "label deploy-vps.proxy.port on shop-web-1: 'abc' is not a port (1-65535); label deploy-vps.proxy.idle on shop-web-1: '5 parsecs' is not a duration (e.g. 30m, 1h, never)",
    );
    expect(declared.reason).not.toContain("\n");
    expect(declared).toMatchObject({ name: "shop", project: "shop", hosts: ["docs.example.com"], source: { kind: "labels", container: "shop-web-1" } });
    expect("target" in declared).toBe(false);
  });

  it("disables a labelled container that compose did not make", () => {
    const declared = routeFromLabels(containerFacts({ name: "loose", project: undefined, service: undefined, labels: BASE }));
    expect(declared).toMatchObject({
      name: "loose",
      reason: "container loose has deploy-vps.proxy.* labels but is not part of a compose project",
    });
  });
});

describe("host names", () => {
  it.each(["docs.example.com", "localhost", "*.example.com", "a-b.c0.io", `${"a".repeat(63)}.com`])("accepts %s", (host) => {
    expect(isHostName(host)).toBe(true);
  });
  it.each(["", "*", "*.", "a..b", "-a.com", "a-.com", "a_b.com", "docs example.com", "a.*.com", "**.a.com", `${"a".repeat(64)}.com`, "http://a.com", "a.com:80"])(
    "refuses %j",
    (host) => {
      expect(isHostName(host)).toBe(false);
    },
  );
});

describe("theme names", () => {
  it("normaliseTheme makes the seed's camelCase (and snake_case) kebab-case", () => {
    expect(normaliseTheme("hackerTerminal")).toBe("hacker-terminal");
    expect(normaliseTheme("hacker_terminal")).toBe("hacker-terminal");
    expect(normaliseTheme("matrix")).toBe("matrix");
    expect(normaliseTheme(" Ghost ")).toBe("ghost");
  });

  it.each(["matrix", "hackerTerminal", "mon_theme", "Theme-2", "a", "x".repeat(64)])("accepts %j", (name) => {
    expect(isThemeName(name)).toBe(true);
  });
  it.each(["", "..", ".", "a/b", "../x", "a.html", "-x", "_x", "a b", "a\\b", "x".repeat(65), "thème"])("refuses %j", (name) => {
    expect(isThemeName(name)).toBe(false);
  });
});

describe("reasons stay on one line", () => {
  it("escapes a newline in a value and cuts a long one short", () => {
    const text = reason({ ...BASE, [PROXY_LABELS.idle]: "5m\nrm -rf /" });
    expect(text).toBe("label deploy-vps.proxy.idle on shop-web-1: '5m\\nrm -rf /' is not a duration (e.g. 30m, 1h, never)");
    const long = reason({ ...BASE, [PROXY_LABELS.mode]: "x".repeat(500) });
    expect(long).toContain(`'${"x".repeat(80)}...'`);
    expect(long.length).toBeLessThan(200);
  });
});
