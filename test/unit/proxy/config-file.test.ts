import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { InputError } from "../../../src/errors.js";
import { parseProxyConfig, ProxyConfigError } from "../../../src/proxy/config-file.js";

/** The seed's config.json, exactly as autostop-strategy.fr.md shows it. */
const SEED = readFileSync(new URL("./seed-config.json", import.meta.url), "utf8");

function errorOf(text: string, file = "config.yml"): string {
  try {
    parseProxyConfig(text, file);
  } catch (error) {
    expect(error).toBeInstanceOf(ProxyConfigError);
    expect(error).toBeInstanceOf(InputError);
    return (error as Error).message;
  }
  throw new Error("expected a ProxyConfigError");
}

describe("parseProxyConfig", () => {
  it("imports the seed's config.json as it is", () => {
    const config = parseProxyConfig(SEED, "config.json");
    expect(config.file).toBe("config.json");
    expect(config.monitorUserAgents).toEqual([]);
    expect(config.entries.map((entry) => entry.name)).toEqual([
      "ragflow",
      "xtts",
      "paperless",
      "nextcloud",
      "memvid",
      "jitsi",
      "clemence",
      "solidarlink",
    ]);
    expect(config.entries[0]).toEqual({
      name: "ragflow",
      port: 9500,
      idleMs: 180_000,
      mode: "dynamic",
      theme: "matrix",
      composeDir: "/opt/ragflow",
      hosts: [],
      startTimeoutMs: 300_000,
      line: 3,
      col: 5,
    });
    expect(config.entries[1]).toMatchObject({ name: "xtts", mode: "blocking", line: 11, col: 5 });
    expect(config.entries[1]?.theme).toBeUndefined();
    // As written: the theme book finds the built-in hacker-terminal through normaliseTheme.
    expect(config.entries.at(-1)).toMatchObject({ name: "solidarlink", theme: "hackerTerminal", composeDir: "/var/www/solidarlink" });
    expect(config.themesFolder).toBeUndefined();
  });

  it("reads the v2 seed's async: true, blocking: true and displayName, ignores keys it does not know", () => {
    const config = parseProxyConfig(
      JSON.stringify({
        services: [
          { name: "whisperx", port: 8002, async: true, mode: "dynamic", displayName: "WhisperX API" },
          { name: "tika", port: 9998, blocking: true },
          { name: "docs", port: 8000, async: false },
        ],
        proxyPort: 8890,
      }),
      "config.json",
    );
    expect(config.entries.map((entry) => entry.mode)).toEqual(["async", "blocking", "dynamic"]);
    expect(config.entries.map((entry) => entry.displayName)).toEqual(["WhisperX API", undefined, undefined]);
    expect(config.entries[2]?.idleMs).toBe(1_800_000);
  });

  it("reads the same in YAML, with our own keys", () => {
    const config = parseProxyConfig(
      [
        "services:",
        "  - name: docs",
        "    port: 8000",
        "    mode: Async",
        "    idle: never",
        "    startTimeout: 2m",
        "    estimate: 15s",
        "    theme: my_Theme",
        "    displayName: ' Docs <b>&</b> '",
        "    composeDir: /opt/docs///",
        "    hosts: [Docs.Example.com., '*.docs.example.com']",
        "  - name: api",
        "    port: '9000'",
        "    idle: 90",
        "    hosts: api.example.com, api2.example.com",
        "monitorUserAgents: [MyPinger, ' Acme-Health ']",
        "themesFolder: /srv/themes/",
        "",
      ].join("\n"),
      "config.yml",
    );
    expect(config.entries[0]).toEqual({
      name: "docs",
      port: 8000,
      idleMs: null,
      mode: "async",
      theme: "my_Theme",
      displayName: "Docs <b>&</b>",
      composeDir: "/opt/docs",
      hosts: ["docs.example.com", "*.docs.example.com"],
      startTimeoutMs: 120_000,
      estimateMs: 15_000,
      line: 2,
      col: 5,
    });
    expect(config.entries[1]).toMatchObject({ port: 9000, idleMs: 90_000, hosts: ["api.example.com", "api2.example.com"] });
    expect(config.monitorUserAgents).toEqual(["MyPinger", "Acme-Health"]);
    expect(config.themesFolder).toBe("/srv/themes/");
  });

  it("takes a relative themesFolder from the config file's folder", () => {
    const folderOf = (text: string, file: string) => parseProxyConfig(text, file).themesFolder;
    expect(folderOf('{"themesFolder": "themes"}', "/home/deploy/.config/deploy-vps-proxy/config.json")).toBe(
      "/home/deploy/.config/deploy-vps-proxy/themes",
    );
    expect(folderOf("themesFolder: ../shared/pages\n", "/etc/proxy/config.yml")).toBe("/etc/shared/pages");
    expect(folderOf("themesFolder:\n", "/etc/proxy/config.yml")).toBeUndefined();
  });

  it("takes an empty file or an empty list as no services", () => {
    expect(parseProxyConfig("", "config.yml").entries).toEqual([]);
    expect(parseProxyConfig("{}", "config.json").entries).toEqual([]);
    expect(parseProxyConfig('{"services": []}', "config.json").entries).toEqual([]);
  });

  it("points a JSON syntax error at its line and column", () => {
    const broken = SEED.replace('"port": 8020,', '"port": 8020');
    expect(errorOf(broken, "config.json")).toBe("config.json:14:7: Expected ',' or '}' after property value (JSON)");
    expect(errorOf('{"services": [ {"name": "a", "port": 1} ]}}', "config.json")).toBe(
      "config.json:1:43: Unexpected non-whitespace character after JSON (JSON)",
    );
  });

  it("points a YAML syntax error at its line and column", () => {
    expect(errorOf("services:\n  - name: a\n   port: 1\n")).toMatch(/^config\.yml:3:\d+: /);
    expect(errorOf('services: [ { name: "a" ]\n')).toMatch(/^config\.yml:1:\d+: /);
  });

  it("refuses a duplicate key at the second one", () => {
    expect(errorOf('{"services": [{"name": "a", "port": 1, "port": 2}]}', "config.json")).toMatch(/^config\.json:1:\d+: .*unique/);
  });

  it.each([
    ["port: abc", "config.yml:3:11: port 'abc' is not a port (1-65535)"],
    ["port: 70000", "config.yml:3:11: port 70000 is not a port (1-65535)"],
    ["port: 80\n    timeout: -5", "config.yml:4:14: timeout -5 is not a number of milliseconds above 0"],
    ["port: 80\n    timeout: 3m", "config.yml:4:14: timeout '3m' is not a number of milliseconds above 0"],
    ["port: 80\n    idle: 5 parsecs", "config.yml:4:11: idle '5 parsecs' is not a duration (e.g. 30m, 1h, never)"],
    ["port: 80\n    timeout: 1000\n    idle: 5m", "config.yml:5:11: give timeout (milliseconds) or idle (a duration), not both"],
    ["port: 80\n    mode: lazy", "config.yml:4:11: mode 'lazy' is not a mode (dynamic, blocking, async)"],
    ["port: 80\n    async: yes", "config.yml:4:12: async must be true or false"],
    ["port: 80\n    startTimeout: forever", "config.yml:4:19: startTimeout 'forever' is not a duration (e.g. 30s, 5m, 1h30m)"],
    ["port: 80\n    estimate: 0", "config.yml:4:15: estimate 0 is not a duration (e.g. 30s, 5m, 1h30m)"],
    ["port: 80\n    themeName: ../x", "config.yml:4:16: themeName '../x' is not a theme name (letters, digits, hyphens and underscores, e.g. matrix, hacker-terminal, myTheme)"],
    ["port: 80\n    theme: mine.html", "config.yml:4:12: theme 'mine.html' is not a theme name (letters, digits, hyphens and underscores, e.g. matrix, hacker-terminal, myTheme)"],
    ["port: 80\n    displayName: ''", "config.yml:4:18: displayName must be a non-empty string"],
    [`port: 80\n    displayName: ${"x".repeat(101)}`, `config.yml:4:18: displayName '${"x".repeat(80)}...' is longer than 100 characters`],
    ["port: 80\n    theme: 3", "config.yml:4:12: theme must be a non-empty string"],
    ["port: 80\n    composeDir: opt/x", "config.yml:4:17: composeDir 'opt/x' must be an absolute path (the stack's folder on the server)"],
    ["port: 80\n    hosts: [ok.example.com, 'bad host']", "config.yml:4:12: hosts: 'bad host' is not a host name (e.g. docs.example.com, *.example.com)"],
    ["port: 80\n    hosts: [1, 2]", "config.yml:4:13: hosts must be a non-empty string"],
  ])("points a bad value at itself: %j", (fields, message) => {
    expect(errorOf(`services:\n  - name: a\n    ${fields}\n`)).toBe(message);
  });

  it("says what an entry is missing, at the entry", () => {
    expect(errorOf("services:\n  - port: 80\n")).toBe("config.yml:2:5: this service has no name");
    expect(errorOf("services:\n  - name: a\n")).toBe("config.yml:2:5: this service has no port");
    expect(errorOf('{"services": [\n  {"name": "a", "port": null}\n]}', "config.json")).toBe("config.json:2:3: this service has no port");
  });

  it("refuses a name that cannot be a word of a URL", () => {
    expect(errorOf("services:\n  - name: a/b\n    port: 1\n")).toBe(
      "config.yml:2:11: name 'a/b' must be letters, digits, '.', '_' or '-', starting with a letter or digit",
    );
  });

  it("refuses a second service of the same name, at the second one", () => {
    const twice = SEED.replace('"name": "memvid"', '"name": "xtts"');
    expect(errorOf(twice, "config.json")).toBe("config.json:35:15: a second service named 'xtts' (the first is at line 11)");
  });

  it("refuses shapes that are not the seed's", () => {
    expect(errorOf("- a\n- b\n")).toBe('config.yml:1:1: expected a mapping with a "services" list');
    expect(errorOf("services: web\n")).toBe('config.yml:1:11: "services" must be a list');
    expect(errorOf("services:\n  - web\n")).toBe("config.yml:2:5: each service must be a mapping (name, port, ...)");
    expect(errorOf("monitorUserAgents: Pinger\n")).toBe("config.yml:1:20: monitorUserAgents must be a list of strings");
    expect(errorOf("themesFolder: [a]\n")).toBe("config.yml:1:15: themesFolder must be a non-empty string");
    expect(errorOf('{\n  "themesFolder": 3\n}', "config.json")).toBe("config.json:2:19: themesFolder must be a non-empty string");
  });
});

describe("errors stay on one line", () => {
  it("shows a list or a mapping by its kind, and escapes a multi-line value", () => {
    expect(errorOf("services:\n  - name: a\n    port: [80]\n")).toBe("config.yml:3:11: port (a list) is not a port (1-65535)");
    expect(errorOf("services:\n  - name: a\n    port: 80\n    idle: {a: 1}\n")).toBe(
      "config.yml:4:11: idle (a mapping) is not a duration (e.g. 30m, 1h, never)",
    );
    expect(errorOf('services:\n  - name: a\n    port: 80\n    mode: "a\\nb"\n')).toBe(
      "config.yml:4:11: mode 'a\\nb' is not a mode (dynamic, blocking, async)",
    );
  });
});

describe("config.json as editors save it", () => {
  it("reads tab indentation, CRLF line ends and a byte-order mark", () => {
    const tabs = '{\n\t"services": [\n\t\t{\n\t\t\t"name": "a",\n\t\t\t"port": 80\n\t\t}\n\t]\n}\n';
    expect(parseProxyConfig(tabs, "config.json").entries[0]).toMatchObject({ name: "a", port: 80, line: 3, col: 3 });
    const crlf = '{\r\n  "services": [{"name": "b", "port": 81}]\r\n}\r\n';
    expect(parseProxyConfig(crlf, "config.json").entries[0]).toMatchObject({ name: "b", line: 2, col: 16 });
    const bom = '\ufeff{"services": [{"name": "c", "port": 82}]}';
    expect(parseProxyConfig(bom, "config.json").entries[0]).toMatchObject({ name: "c" });
  });
});
