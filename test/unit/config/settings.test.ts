import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { homedir, tmpdir, userInfo } from "node:os";
import { basename, join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type Flags, loadSettings, parseConfigFile, type Settings } from "../../../src/config/settings.js";
import { InputError } from "../../../src/errors.js";

const KNOWN =
  "host, port, user, identity, knownHosts, path, name, files, exclude, envTemplate, settle, timeout, compose, lockWait, blueGreen";

function errorOf(fn: () => unknown): InputError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(InputError);
    return e as InputError;
  }
  throw new Error("expected an InputError");
}

async function rejection(promise: Promise<unknown>): Promise<InputError> {
  try {
    await promise;
  } catch (e) {
    expect(e).toBeInstanceOf(InputError);
    return e as InputError;
  }
  throw new Error("expected an InputError");
}

describe("parseConfigFile", () => {
  it("reads values with their file:line:col", () => {
    const text =
      "host: vps.example.com\nport: 2222\nfiles:\n  - compose.yaml\n  - compose.prod.yaml\ncompose: v2\n";
    expect([...parseConfigFile("deploy-vps.yml", text)]).toEqual([
      ["host", { value: "vps.example.com", source: "deploy-vps.yml:1:7", rank: 3 }],
      ["port", { value: 2222, source: "deploy-vps.yml:2:7", rank: 3 }],
      ["files", { value: ["compose.yaml", "compose.prod.yaml"], source: "deploy-vps.yml:4:3", rank: 3 }],
      ["compose", { value: "v2", source: "deploy-vps.yml:6:10", rank: 3 }],
    ]);
  });

  it("gives nothing for an empty or comment-only file", () => {
    expect(parseConfigFile("deploy-vps.yml", "").size).toBe(0);
    expect(parseConfigFile("deploy-vps.yml", "# nothing yet\n").size).toBe(0);
  });

  it("reports a YAML syntax error as file:line:col", () => {
    expect(errorOf(() => parseConfigFile("deploy-vps.yml", "host: a\nport: a: b\n")).message).toBe(
      "deploy-vps.yml:2:7: Nested mappings are not allowed in compact mappings",
    );
    expect(errorOf(() => parseConfigFile("deploy-vps.yml", "host: a\nhost: b\n")).message).toBe(
      "deploy-vps.yml:2:1: Map keys must be unique",
    );
    expect(errorOf(() => parseConfigFile("deploy-vps.yml", "host: a\n\tport: 2\n")).message).toBe(
      "deploy-vps.yml:2:1: Tabs are not allowed as indentation",
    );
  });

  it("refuses an unknown key at its position, listing the known ones", () => {
    const e = errorOf(() => parseConfigFile("deploy-vps.yml", "host: a\n# typo below\n  \nprot: 22\n"));
    expect(e.message).toBe(`deploy-vps.yml:4:1: unknown setting 'prot'; known settings: ${KNOWN}`);
    const nested = errorOf(() => parseConfigFile("deploy-vps.yml", "{ host: a,   Host: b }\n"));
    expect(nested.message).toBe(`deploy-vps.yml:1:14: unknown setting 'Host'; known settings: ${KNOWN}`);
  });

  it("refuses a file that is not a mapping", () => {
    expect(errorOf(() => parseConfigFile("deploy-vps.yml", "- host\n- port\n")).message).toBe(
      "deploy-vps.yml:1:1: expected a mapping of settings (host: ..., path: ...)",
    );
  });
});

describe("loadSettings", () => {
  let dir: string;
  const flags = (f: Flags = {}) => f;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "deploy-vps-settings-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const write = (name: string, text: string) => writeFile(join(dir, name), text);

  it("uses defaults for an empty project", async () => {
    const settings = await loadSettings(dir, {}, {});
    expect(settings).toEqual({
      projectDir: dir,
      folderName: basename(dir),
      host: undefined,
      port: 22,
      user: userInfo().username,
      identity: undefined,
      knownHosts: join(homedir(), ".ssh", "known_hosts"),
      path: undefined,
      name: undefined,
      files: [],
      exclude: [],
      envTemplate: ".env.example",
      settle: 30,
      timeout: 20,
      compose: undefined,
      dryRun: false,
      json: false,
      acceptNewHostKey: false,
      lockWait: 0,
      forceUnlock: false,
      full: false,
      identitiesOnly: false,
      proxyJump: undefined,
      verbose: false,
      quiet: false,
      password: undefined,
      passphrase: undefined,
    } satisfies Settings);
  });

  describe("precedence: flag > environment > local .env > deploy-vps.yml > default", () => {
    beforeEach(async () => {
      await write("deploy-vps.yml", "host: yml.example.com\nport: 2201\n");
      await write(".env", "DEPLOY_HOST=dotenv.example.com\nDEPLOY_PORT=2202\n");
    });

    it("flag wins", async () => {
      const s = await loadSettings(dir, flags({ host: "flag.example.com", port: "2204" }), {
        DEPLOY_HOST: "env.example.com",
        DEPLOY_PORT: "2203",
      });
      expect([s.host, s.port]).toEqual(["flag.example.com", 2204]);
    });

    it("then the environment", async () => {
      const s = await loadSettings(dir, {}, { DEPLOY_HOST: "env.example.com", DEPLOY_PORT: "2203" });
      expect([s.host, s.port]).toEqual(["env.example.com", 2203]);
    });

    it("then DEPLOY_* keys of the local .env (an empty variable counts as unset)", async () => {
      const s = await loadSettings(dir, {}, { DEPLOY_HOST: "" });
      expect([s.host, s.port]).toEqual(["dotenv.example.com", 2202]);
    });

    it("then deploy-vps.yml", async () => {
      await rm(join(dir, ".env"));
      const s = await loadSettings(dir, {}, {});
      expect([s.host, s.port]).toEqual(["yml.example.com", 2201]);
    });

    it("then the default", async () => {
      await rm(join(dir, ".env"));
      await rm(join(dir, "deploy-vps.yml"));
      const s = await loadSettings(dir, {}, {});
      expect([s.host, s.port]).toEqual([undefined, 22]);
    });

    it("-f/--file wins over DEPLOY_COMPOSE_FILES and deploy-vps.yml", async () => {
      await write("deploy-vps.yml", "files: [a.yaml]\n");
      const s = await loadSettings(dir, flags({ file: ["compose.prod.yaml"] }), { DEPLOY_COMPOSE_FILES: "b.yaml" });
      expect(s.files).toEqual(["compose.prod.yaml"]);
    });

    it("an empty flag list does not hide lower sources", async () => {
      await write("deploy-vps.yml", "files: [a.yaml, b.yaml]\n");
      const s = await loadSettings(dir, flags({ file: [] }), {});
      expect(s.files).toEqual(["a.yaml", "b.yaml"]);
    });
  });

  it("reads every setting from deploy-vps.yml", async () => {
    await write(
      "deploy-vps.yml",
      [
        "host: vps.example.com",
        "port: 2222",
        "user: deploy",
        "identity: keys/id_ed25519",
        "knownHosts: ~/kh",
        "path: ~/apps/shop",
        "name: shop",
        "files: [compose.yaml, compose.prod.yaml]",
        "exclude: ['*.log', tmp/]",
        "envTemplate: deploy/.env.template",
        "settle: 0",
        "timeout: 600",
        "compose: v1",
        "",
      ].join("\n"),
    );
    const s = await loadSettings(dir, {}, {});
    expect(s).toMatchObject({
      host: "vps.example.com",
      port: 2222,
      user: "deploy",
      identity: join(dir, "keys", "id_ed25519"),
      knownHosts: join(homedir(), "kh"),
      path: "~/apps/shop",
      name: "shop",
      files: ["compose.yaml", "compose.prod.yaml"],
      exclude: ["*.log", "tmp/"],
      envTemplate: "deploy/.env.template",
      settle: 0,
      timeout: 600,
      compose: "v1",
    });
  });

  it("splits comma lists from the environment", async () => {
    const s = await loadSettings(dir, {}, { DEPLOY_COMPOSE_FILES: " compose.yaml, ,compose.prod.yaml " });
    expect(s.files).toEqual(["compose.yaml", "compose.prod.yaml"]);
  });

  it("copies the boolean flags", async () => {
    const s = await loadSettings(dir, flags({ dryRun: true, json: true, acceptNewHostKey: true }), {});
    expect([s.dryRun, s.json, s.acceptNewHostKey]).toEqual([true, true, true]);
  });

  describe("user@host", () => {
    it("splits the user off the host", async () => {
      const s = await loadSettings(dir, flags({ host: "alice@vps.example.com" }), {});
      expect([s.user, s.host]).toEqual(["alice", "vps.example.com"]);
    });

    it("splits at the last @", async () => {
      const s = await loadSettings(dir, {}, { DEPLOY_HOST: "me@corp@10.0.0.5" });
      expect([s.user, s.host]).toEqual(["me@corp", "10.0.0.5"]);
    });

    it("an explicit --user wins over the user in --host", async () => {
      const s = await loadSettings(dir, flags({ host: "alice@vps", user: "bob" }), {});
      expect([s.user, s.host]).toEqual(["bob", "vps"]);
    });

    it("works from deploy-vps.yml too", async () => {
      await write("deploy-vps.yml", "host: deploy@vps.example.com\n");
      const s = await loadSettings(dir, {}, {});
      expect([s.user, s.host]).toEqual(["deploy", "vps.example.com"]);
    });
  });

  it("never reads keys of the local .env that are not DEPLOY_*", async () => {
    await write(
      ".env",
      [
        "SECRET=topsecret-Q9xv7",
        "DATABASE_URL=postgres://app:pw-Z3kq8@db/app",
        "HOST=evil-host-W2",
        "DEPLOY_HOST=vps.example.com",
        "DEPLOY_PASSWORD=sshpass-M4",
        "",
      ].join("\n"),
    );
    const s = await loadSettings(dir, {}, {});
    const json = JSON.stringify(s);
    expect(json).not.toContain("topsecret-Q9xv7");
    expect(json).not.toContain("SECRET");
    expect(json).not.toContain("pw-Z3kq8");
    expect(json).not.toContain("evil-host-W2");
    expect(s.host).toBe("vps.example.com");
    expect(s.password).toBe("sshpass-M4");
  });

  it("does not take unprefixed look-alikes from the local .env", async () => {
    await write(".env", "HOST=evil.example.com\nPORT=99999\nUSER=mallory\nCOMPOSE=v9\nPASSWORD=pw-Z3kq8\n");
    const s = await loadSettings(dir, {}, {});
    expect([s.host, s.port, s.user, s.compose, s.password]).toEqual([
      undefined,
      22,
      userInfo().username,
      undefined,
      undefined,
    ]);
    expect(JSON.stringify(s)).not.toContain("pw-Z3kq8");
  });

  it("takes the SSH password and passphrase from the environment first, then the local .env", async () => {
    await write(".env", "DEPLOY_PASSWORD=from-file\nDEPLOY_SSH_PASSPHRASE=phrase-file\n");
    const fromFile = await loadSettings(dir, {}, {});
    expect([fromFile.password, fromFile.passphrase]).toEqual(["from-file", "phrase-file"]);
    const fromEnv = await loadSettings(dir, {}, { DEPLOY_PASSWORD: "from-env", DEPLOY_SSH_PASSPHRASE: "" });
    expect([fromEnv.password, fromEnv.passphrase]).toEqual(["from-env", "phrase-file"]);
  });

  describe("port validation names its source", () => {
    const message = (source: string, got: string) =>
      `${source}: the SSH port must be a whole number from 1 to 65535, got '${got}'.`;

    it("--port", async () => {
      const e = await rejection(loadSettings(dir, flags({ port: "ssh" }), {}));
      expect(e.message).toBe(message("--port", "ssh"));
    });

    it("DEPLOY_PORT", async () => {
      const e = await rejection(loadSettings(dir, {}, { DEPLOY_PORT: "0" }));
      expect(e.message).toBe(message("DEPLOY_PORT", "0"));
    });

    it("the local .env", async () => {
      await write(".env", "DEPLOY_PORT=65536\n");
      const e = await rejection(loadSettings(dir, {}, {}));
      expect(e.message).toBe(message(".env DEPLOY_PORT", "65536"));
    });

    it("deploy-vps.yml:line:col", async () => {
      await write("deploy-vps.yml", "host: vps\nport: 22.5\n");
      const e = await rejection(loadSettings(dir, {}, {}));
      expect(e.message).toBe(message("deploy-vps.yml:2:7", "22.5"));
    });

    it("accepts the bounds and a string number", async () => {
      expect((await loadSettings(dir, flags({ port: "1" }), {})).port).toBe(1);
      expect((await loadSettings(dir, flags({ port: " 65535 " }), {})).port).toBe(65535);
      await write("deploy-vps.yml", 'port: "2222"\n');
      expect((await loadSettings(dir, {}, {})).port).toBe(2222);
    });

    it.each(["0x16", "1e3", "0b10110"])(
      "refuses %s, which is not written as a whole number",
      async (port) => {
        const e = await rejection(loadSettings(dir, flags({ port }), {}));
        expect(e.message).toBe(message("--port", port));
      },
    );
  });

  it("validates settle and timeout with their sources", async () => {
    const settle = await rejection(loadSettings(dir, flags({ settle: "3601" }), {}));
    expect(settle.message).toBe(
      "--settle: the settle window (seconds) must be a whole number from 0 to 3600, got '3601'.",
    );
    await write("deploy-vps.yml", "timeout: 0\n");
    const timeout = await rejection(loadSettings(dir, {}, {}));
    expect(timeout.message).toBe(
      "deploy-vps.yml:1:10: the connection timeout (seconds) must be a whole number from 1 to 600, got '0'.",
    );
  });

  it("refuses a compose version other than v1 or v2", async () => {
    const e = await rejection(loadSettings(dir, {}, { DEPLOY_COMPOSE: "v3" }));
    expect(e.message).toBe("DEPLOY_COMPOSE: compose must be v1 or v2, got 'v3'.");
  });

  it("adds .deployignore lines after the config's and the flags' excludes", async () => {
    await write("deploy-vps.yml", "exclude:\n  - infrastructure/repos\n");
    await write(".deployignore", "# local junk\n*.log\r\n\n/scripts/migration/data/\n!keep.log\n");
    const s = await loadSettings(dir, flags({ exclude: ["tmp/"] }), {});
    expect(s.exclude).toEqual([
      "infrastructure/repos",
      "tmp/",
      "*.log",
      "/scripts/migration/data/",
      "!keep.log",
    ]);
  });

  it("resolves identity and known_hosts against the project and ~", async () => {
    const s = await loadSettings(dir, flags({ identity: "~/.ssh/deploy", knownHosts: "kh" }), {});
    expect(s.identity).toBe(join(homedir(), ".ssh", "deploy"));
    expect(s.knownHosts).toBe(join(dir, "kh"));
    const e = await loadSettings(dir, {}, { DEPLOY_SSH_KEY: "/abs/key" });
    expect(e.identity).toBe("/abs/key");
  });

  it("reports a broken deploy-vps.yml", async () => {
    await write("deploy-vps.yml", "host: a\nhots: b\n");
    const e = await rejection(loadSettings(dir, {}, {}));
    expect(e.message).toBe(`deploy-vps.yml:2:1: unknown setting 'hots'; known settings: ${KNOWN}`);
  });

  it("refuses a project folder that does not exist", async () => {
    const missing = join(dir, "nope");
    const e = await rejection(loadSettings(missing, {}, {}));
    expect(e.message).toBe(`project folder not found: ${missing}`);
  });

  it("refuses a file given as the project folder", async () => {
    await write("compose.yaml", "services: {}\n");
    const e = await rejection(loadSettings(join(dir, "compose.yaml"), {}, {}));
    expect(e.message).toBe(`not a folder: ${join(dir, "compose.yaml")}; give the project folder.`);
  });

  it("resolves a relative project folder", async () => {
    await mkdir(join(dir, "my app"));
    const s = await loadSettings(join(dir, "x", "..", "my app"), {}, {});
    expect(s.projectDir).toBe(join(dir, "my app"));
    expect(s.folderName).toBe("my app");
  });
});

describe("user@host against a configured user", () => {
  it("the user written in --host beats `user:` in deploy-vps.yml", async () => {
    const { mkdtempSync, writeFileSync } = await import("node:fs");
    const { tmpdir } = await import("node:os");
    const { join } = await import("node:path");
    const { loadSettings } = await import("../../../src/config/settings.js");
    const dir = mkdtempSync(join(tmpdir(), "settings-user-"));
    writeFileSync(join(dir, "deploy-vps.yml"), "user: alice\n");
    const settings = await loadSettings(dir, { host: "bob@vps" }, {});
    expect([settings.user, settings.host]).toEqual(["bob", "vps"]);
    const explicit = await loadSettings(dir, { host: "bob@vps", user: "carol" }, {});
    expect(explicit.user).toBe("carol");
  });
});

describe("blueGreen (the primary/standby layout)", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "deploy-vps-blue-green-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  const load = async (text: string) => {
    await writeFile(join(dir, "deploy-vps.yml"), text);
    return (await loadSettings(dir, {}, {})).blueGreen;
  };
  const refusal = (text: string) => load(text).then(() => "accepted", (error: InputError) => error.message);

  it("reads the four lines of the seed, with the seed's interval and timeout, CRON_ENABLED and a 30 s drain as defaults", async () => {
    const text = "host: vps\nblueGreen:\n  primary: strapi-master\n  standby: strapi-slave\n  health: http://127.0.0.1:{port}/_health\n";
    expect(await load(text)).toEqual({
      primary: "strapi-master",
      standby: "strapi-slave",
      health: "http://127.0.0.1:{port}/_health",
      intervalSeconds: 15,
      timeoutSeconds: 180,
      drainSeconds: 30,
      cronVariable: "CRON_ENABLED",
      unit: undefined,
      at: {
        blueGreen: "deploy-vps.yml:2:1",
        primary: "deploy-vps.yml:3:12",
        standby: "deploy-vps.yml:4:12",
        health: "deploy-vps.yml:5:11",
      },
    });
  });

  it("reads every optional key, flow style too", async () => {
    const settings = await load(
      "blueGreen: { primary: a, standby: b, health: 'https://x:{port}/h', interval: 2, timeout: 20, drain: 0, cron: RUN_JOBS, unit: site }\n",
    );
    expect(settings).toMatchObject({ intervalSeconds: 2, timeoutSeconds: 20, drainSeconds: 0, cronVariable: "RUN_JOBS", unit: "site" });
  });

  it("is absent when not written", async () => {
    expect(await load("host: vps\n")).toBeUndefined();
  });

  it("refuses, at the key's position, what it cannot use", async () => {
    expect(await refusal("blueGreen: yes\n")).toBe(
      "deploy-vps.yml:1:12: blueGreen must be a mapping (primary: ..., standby: ..., health: ...).",
    );
    expect(await refusal("blueGreen:\n  primary: a\n  health: http://h:{port}/\n")).toBe(
      "deploy-vps.yml:1:1: blueGreen needs `standby` (the compose service that serves while the primary is recreated).",
    );
    expect(await refusal("blueGreen:\n  primary: a\n  standby: b\n  health: http://h:{port}/\n  intervall: 3\n")).toBe(
      "deploy-vps.yml:5:14: unknown blueGreen setting 'intervall'; known: primary, standby, health, interval, timeout, drain, cron, unit.",
    );
    expect(await refusal("blueGreen:\n  primary: a\n  standby: b\n  health: 127.0.0.1:{port}/_health\n")).toBe(
      "deploy-vps.yml:4:11: blueGreen health must be an http:// or https:// URL, got '127.0.0.1:{port}/_health'.",
    );
    expect(await refusal("blueGreen:\n  primary: a\n  standby: b\n  health: http://127.0.0.1:1337/_health\n")).toBe(
      "deploy-vps.yml:4:11: blueGreen health must use {port}, each service's published port, so that each is checked on its own; got 'http://127.0.0.1:1337/_health'.",
    );
    expect(await refusal("blueGreen:\n  primary: a\n  standby: b\n  health: http://h:{port}/\n  timeout: 3m\n")).toBe(
      "deploy-vps.yml:5:12: blueGreen timeout (seconds) must be a whole number from 1 to 86400, got '3m'.",
    );
    expect(await refusal("blueGreen:\n  primary: a\n  standby: b\n  health: http://h:{port}/\n  cron: CRON-ENABLED\n")).toBe(
      "deploy-vps.yml:5:9: blueGreen cron must be an environment variable name, got 'CRON-ENABLED'.",
    );
    expect(await refusal("blueGreen:\n  primary: [a]\n")).toBe("deploy-vps.yml:2:3: 'primary' must be a single value");
    expect(await refusal("blueGreen:\n  primary: a\n  standby: b\n  health: http://h:{port}/\n  unit: my site\n")).toBe(
      "deploy-vps.yml:5:9: blueGreen unit must be a route name (letters, digits, '.', '_', '-'), got 'my site'.",
    );
  });
});
