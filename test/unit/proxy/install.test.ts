import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { InputError } from "../../../src/errors.js";
import {
  type ComposeInputs,
  daemonFilesHash,
  type HostFacts,
  nodeIsRecentEnough,
  parseHostFacts,
  proxyCompose,
  proxyHostScript,
  readConfigUpload,
  readDaemonFiles,
  readDependenciesUpload,
  systemdFilePath,
  systemdRefusal,
  systemdUnit,
} from "../../../src/proxy/install.js";
import { runRemoteCommand } from "../remote/run.js";

const scratch = mkdtempSync(join(tmpdir(), "deploy-vps-proxy-install-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
let count = 0;
const folder = () => {
  const dir = join(scratch, String(++count));
  mkdirSync(dir);
  return dir;
};

const inputs: ComposeInputs = {
  image: "node:20-alpine",
  listen: { host: "127.0.0.1", port: 8890 },
  admin: { host: "127.0.0.1", port: 8891 },
  facts: { uid: 1001, gid: 1002, home: "/home/deploy", dockerGid: 998 },
  version: "1.2.3", daemonHash: "abc123",
};

interface ComposeService {
  image: string;
  command: string[];
  network_mode: string;
  restart: string;
  user: string;
  group_add: string[];
  volumes: { source: string; target: string; read_only: boolean }[];
  stop_grace_period: string;
  healthcheck: { test: string[] };
  labels: Record<string, string>;
}
const serviceOf = (text: string) => (parse(text) as { services: { proxy: ComposeService } }).services.proxy;

describe("proxyCompose", () => {
  it("runs the bundle as the deploy user and the socket's group, on the host's network, restarted unless stopped", () => {
    const service = serviceOf(proxyCompose(inputs));
    expect(service.image).toBe("node:20-alpine");
    expect(service.command).toEqual([
      "node",
      "/app/daemon.mjs",
      "--listen",
      "127.0.0.1:8890",
      "--admin",
      "127.0.0.1:8891",
      "--state",
      "/home/deploy/.local/state/deploy-vps-proxy",
      "--docker-socket",
      "/var/run/docker.sock",
    ]);
    expect(service.network_mode).toBe("host");
    expect(service.restart).toBe("unless-stopped");
    expect(service.user).toBe("1001:1002");
    expect(service.group_add).toEqual(["998"]);
    expect(service.stop_grace_period).toBe("10s");
    expect(service.labels["deploy-vps.daemon"]).toBe("proxy");
  });

  it("mounts the bundle and its pages, the Docker socket, the home read-only and the state read-write, each at the same path", () => {
    const mounts = serviceOf(proxyCompose(inputs)).volumes.map((v) => [v.source, v.target, v.read_only]);
    expect(mounts).toEqual([
      ["./daemon.mjs", "/app/daemon.mjs", true],
      // The bundle finds its pages beside itself (new URL("./pages/", import.meta.url)).
      ["./pages", "/app/pages", true],
      ["/var/run/docker.sock", "/var/run/docker.sock", false],
      ["/home/deploy", "/home/deploy", true],
      ["/home/deploy/.local/state/deploy-vps-proxy", "/home/deploy/.local/state/deploy-vps-proxy", false],
      ["/home/deploy/.config/deploy-vps-proxy", "/home/deploy/.config/deploy-vps-proxy", true],
    ]);
  });

  it("is healthy once the control socket accepts a connection", () => {
    expect(serviceOf(proxyCompose(inputs)).healthcheck.test).toEqual([
      "CMD",
      "node",
      "-e",
      expect.stringContaining("connect(process.argv[1])"),
      "/home/deploy/.local/state/deploy-vps-proxy/control.sock",
    ]);
  });

  it("changes with the daemon's files (so `up -d` recreates the container) and only then", () => {
    expect(proxyCompose(inputs)).toBe(proxyCompose({ ...inputs }));
    expect(proxyCompose({ ...inputs, daemonHash: "def456" })).not.toBe(proxyCompose(inputs));
    expect(serviceOf(proxyCompose(inputs)).labels["deploy-vps.daemon.bundle"]).toBe("abc123");
  });

  it("passes the config file when there is one", () => {
    const service = serviceOf(proxyCompose({ ...inputs, config: "config.yml" }));
    expect(service.command.slice(-4)).toEqual(["--config", "/home/deploy/.config/deploy-vps-proxy/config.yml", "--docker-socket", "/var/run/docker.sock"]);
  });

  it("passes the dependencies file when there is one, after the config", () => {
    const service = serviceOf(proxyCompose({ ...inputs, config: "config.json", dependencies: "dependencies.yml" }));
    expect(service.command.slice(-6)).toEqual([
      "--config",
      "/home/deploy/.config/deploy-vps-proxy/config.json",
      "--dependencies",
      "/home/deploy/.config/deploy-vps-proxy/dependencies.yml",
      "--docker-socket",
      "/var/run/docker.sock",
    ]);
    expect(serviceOf(proxyCompose({ ...inputs, dependencies: "dependencies.json" })).command).toContain(
      "/home/deploy/.config/deploy-vps-proxy/dependencies.json",
    );
    expect(serviceOf(proxyCompose(inputs)).command).not.toContain("--dependencies");
  });

  it("keeps a `$` or a `:` in a home path a path (compose interpolates `$`; the short mount syntax splits on `:`)", () => {
    const service = serviceOf(proxyCompose({ ...inputs, facts: { ...inputs.facts, home: "/home/a$b:c" } }));
    expect(service.volumes[3]).toEqual({ type: "bind", source: "/home/a$$b:c", target: "/home/a$$b:c", read_only: true });
    expect(service.command).toContain("/home/a$$b:c/.local/state/deploy-vps-proxy");
  });
});

describe("the daemon's files", () => {
  const built = (pages: Record<string, string>) => {
    const dir = folder();
    writeFileSync(join(dir, "daemon.mjs"), "bundle");
    mkdirSync(join(dir, "pages"));
    for (const [name, text] of Object.entries(pages)) writeFileSync(join(dir, "pages", name), text);
    return { bundle: pathToFileURL(join(dir, "daemon.mjs")), pages: pathToFileURL(`${join(dir, "pages")}/`) };
  };
  const read = async (pages: Record<string, string>) => {
    const { bundle, pages: folderUrl } = built(pages);
    return readDaemonFiles(bundle, folderUrl);
  };

  it("are the bundle and every file of the pages folder, by their path beside it", async () => {
    const dir = built({ "ghost.html": "<p>ghost</p>", "live.js": "live()" });
    mkdirSync(join(fileURLToPath(dir.pages), "not-a-page"));
    const files = await readDaemonFiles(dir.bundle, dir.pages);
    expect(files.map((file) => [file.path, file.content.toString()]).sort()).toEqual([
      ["daemon.mjs", "bundle"],
      ["pages/ghost.html", "<p>ghost</p>"],
      ["pages/live.js", "live()"],
    ]);
  });

  it("hash to a value that changes with a theme as with the bundle, not with the order they are read in", async () => {
    const files = await read({ "ghost.html": "a", "live.js": "b" });
    const hash = daemonFilesHash(files);
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
    expect(daemonFilesHash([...files].reverse())).toBe(hash);
    expect(daemonFilesHash(await read({ "ghost.html": "a", "live.js": "b" }))).toBe(hash);
    expect(daemonFilesHash(await read({ "ghost.html": "A", "live.js": "b" }))).not.toBe(hash);
    expect(daemonFilesHash(await read({ "ghost.html": "a", "live.js": "b", "matrix.html": "" }))).not.toBe(hash);
    // A file's bytes cannot pass for its neighbour's name.
    expect(daemonFilesHash(await read({ "a.html": "x", "b.html": "" }))).not.toBe(daemonFilesHash(await read({ "a.html": "xpages/b.html\0" })));
  });

  it("name what npm run build did not make", async () => {
    const { bundle, pages } = built({});
    rmSync(fileURLToPath(pages), { recursive: true });
    await expect(readDaemonFiles(bundle, pages)).rejects.toThrow(/^the daemon's pages folder .*\/pages\/ is missing: run npm run build\.$/);
    rmSync(fileURLToPath(bundle));
    await expect(readDaemonFiles(bundle, pages)).rejects.toThrow(/^the daemon's bundle .*daemon\.mjs is missing: run npm run build\.$/);
  });
});

describe("systemdUnit", () => {
  it("starts the copied bundle on the server's node with the same options, restarted always", () => {
    const unit = systemdUnit("/usr/bin/node", "/home/deploy", { listen: { host: "127.0.0.1", port: 9000 }, admin: { host: "::1", port: 9001 } });
    expect(unit).toContain(
      'ExecStart="/usr/bin/node" "/home/deploy/.local/share/deploy-vps-proxy/daemon.mjs" "--listen" "127.0.0.1:9000" "--admin" "[::1]:9001" "--state" "/home/deploy/.local/state/deploy-vps-proxy" "--docker-socket" "/var/run/docker.sock"\n',
    );
    expect(unit).toMatch(/^Restart=always$/m);
    expect(unit).toMatch(/^WantedBy=default.target$/m);
  });

  it("runs the bundle from where the daemon's files are uploaded, the pages beside it", () => {
    const unit = systemdUnit("/usr/bin/node", "/home/deploy", { listen: { host: "127.0.0.1", port: 9000 }, admin: { host: "::1", port: 9001 } });
    expect(unit).toContain(`"/home/deploy/${systemdFilePath({ path: "daemon.mjs" })}"`);
    expect(systemdFilePath({ path: "pages/ghost.html" })).toBe(".local/share/deploy-vps-proxy/pages/ghost.html");
  });

  it("runs the daemon with the dependencies file", () => {
    const unit = systemdUnit("/opt/node", "/home/deploy", {
      listen: { host: "127.0.0.1", port: 1 },
      admin: { host: "127.0.0.1", port: 2 },
      dependencies: "dependencies.json",
    });
    expect(unit).toContain('"--dependencies" "/home/deploy/.config/deploy-vps-proxy/dependencies.json"');
  });

  it("escapes what systemd would expand or split", () => {
    const unit = systemdUnit("/opt/node", '/home/a "b" 100%$x', { listen: { host: "127.0.0.1", port: 1 }, admin: { host: "127.0.0.1", port: 2 } });
    expect(unit).toContain('"/home/a \\"b\\" 100%%$$x/.local/share/deploy-vps-proxy/daemon.mjs"');
  });
});

describe("what the probe found", () => {
  const facts: HostFacts = { uid: 1, gid: 1, home: "/h", systemd: true, node: "v20.19.0", socket: false };

  it("parses the probe's lines", () => {
    const home = Buffer.from("/home/my deploy").toString("base64");
    expect(parseHostFacts(`uid=1001\ngid=1002\nhome=${home}\ndockerGid=105\nsystemd=yes\nnode=v22.1.0\nconfig=config.yml\nsocket=yes\n`)).toEqual({
      uid: 1001,
      gid: 1002,
      home: "/home/my deploy",
      dockerGid: 105,
      systemd: true,
      node: "v22.1.0",
      nodePath: undefined,
      config: "config.yml",
      socket: true,
    });
    expect(parseHostFacts("uid=1\ngid=1\nhome=L2g=\ndependencies=dependencies.yaml\n").dependencies).toBe("dependencies.yaml");
    expect(parseHostFacts("uid=1\ngid=1\nhome=L2g=\n").dependencies).toBeUndefined();
  });

  it("refuses an answer without who the user is", () => {
    expect(() => parseHostFacts("gid=1\n")).toThrow(/makes no sense/);
  });

  it("needs node 20.19 or newer and a user manager for --systemd", () => {
    expect(["v20.19.0", "v20.20.2", "v21.0.0", "v22.3.1"].map(nodeIsRecentEnough)).toEqual([true, true, true, true]);
    expect(["v20.18.9", "v18.20.0", "", undefined].map(nodeIsRecentEnough)).toEqual([false, false, false, false]);
    expect(systemdRefusal("vps", facts)).toBeUndefined();
    expect(systemdRefusal("vps", { ...facts, systemd: false })).toMatch(/systemctl --user. does not answer/);
    expect(systemdRefusal("vps", { ...facts, node: "v18.19.0" })).toMatch(/20\.19 or newer; vps has v18\.19\.0/);
    expect(systemdRefusal("vps", { ...facts, node: undefined })).toMatch(/vps has none/);
  });
});

describe("readConfigUpload", () => {
  const file = (name: string, text: string) => {
    const path = join(folder(), name);
    writeFileSync(path, text);
    return path;
  };
  const refusal = async (path: string) => {
    const error = await readConfigUpload(path).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InputError);
    return (error as InputError).message;
  };

  it("takes the seed's config.json as it is, and YAML", async () => {
    const json = file("config.json", '{ "services": [ { "name": "docs", "port": 3001, "timeout": 1800000 } ], "monitorUserAgents": [] }\n');
    expect(await readConfigUpload(json)).toMatchObject({ extension: "json" });
    const yaml = "services:\n  - name: docs\n    port: 3001\n";
    expect(await readConfigUpload(file("proxy.yml", yaml))).toMatchObject({ extension: "yml", text: yaml });
  });

  it("refuses a syntax error, naming file:line:col", async () => {
    const path = file("config.json", '{"services": [\n  {"name": "a",, }\n]}\n');
    expect(await refusal(path)).toBe(`${path}:2:16: Expected double-quoted property name (JSON)`);
  });

  it("refuses what the daemon would refuse, at the value at fault", async () => {
    const notList = file("b.yaml", "x: 1\nservices: 3\n");
    expect(await refusal(notList)).toBe(`${notList}:2:11: "services" must be a list`);
    expect(await refusal(file("c.json", "[1]\n"))).toMatch(/:1:1: expected a mapping/);
    const badPort = file("d.yml", "services:\n  - name: docs\n    port: abc\n");
    expect(await refusal(badPort)).toBe(`${badPort}:3:11: port 'abc' is not a port (1-65535)`);
  });

  it("refuses another extension and a missing file", async () => {
    expect(await refusal(file("config.txt", "services: []"))).toMatch(/takes a .json, .yml or .yaml file/);
    expect(await refusal(join(scratch, "missing.json"))).toMatch(/cannot read/);
  });
});

describe("readDependenciesUpload", () => {
  const file = (name: string, text: string) => {
    const path = join(folder(), name);
    writeFileSync(path, text);
    return path;
  };
  const refusal = async (path: string) => {
    const error = await readDependenciesUpload(path).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InputError);
    return (error as InputError).message;
  };

  it("takes the seed's dependencies.json as it is, and YAML", async () => {
    const seed = readFileSync(new URL("./seed-dependencies.json", import.meta.url), "utf8");
    expect(await readDependenciesUpload(file("dependencies.json", seed))).toEqual({ extension: "json", text: seed });
    const yaml = "services:\n  site:\n    dependencies:\n      - { container: db, startOrder: 1 }\n";
    expect(await readDependenciesUpload(file("deps.YAML", yaml))).toEqual({ extension: "yaml", text: yaml });
  });

  it("refuses what the daemon would refuse, at file:line:col", async () => {
    const other = file("dependencies.yml", "services:\n  site:\n    dependencies:\n      - container: db\n        startOrder: 1\n        healthCheck: { command: docker exec web true }\n");
    expect(await refusal(other)).toBe(`${other}:6:33: command: docker exec runs in 'web', not in this entry's container db`);
    const missing = file("dependencies.json", '{ "services": { "a": { "dependencies": [ { "container": "db" } ] } } }\n');
    expect(await refusal(missing)).toBe(`${missing}:1:42: this dependency has no startOrder`);
    const broken = file("broken.json", '{ "services": { "a": {,} } }\n');
    expect(await refusal(broken)).toBe(`${broken}:1:23: Expected property name or '}' (JSON)`);
  });

  it("refuses another extension and a missing file, naming --dependencies", async () => {
    expect(await refusal(file("dependencies.txt", "services: {}"))).toBe(`--dependencies takes a .json, .yml or .yaml file, got '${join(scratch, String(count), "dependencies.txt")}'.`);
    expect(await refusal(join(scratch, "missing.yml"))).toBe(`--dependencies: cannot read ${join(scratch, "missing.yml")}.`);
  });
});

describe("proxy-host.sh", () => {
  const run = (home: string, action: string, args: string[] = [], stdin?: string) =>
    runRemoteCommand(proxyHostScript(action, args), { cwd: home, stdin });

  it("probe: who the user is, which config file and whether the control socket exists", async () => {
    const home = folder();
    const first = run(home, "probe");
    expect(first.stderr).toBe("");
    const facts = parseHostFacts(first.stdout);
    expect(facts).toMatchObject({ uid: process.getuid?.(), gid: process.getgid?.(), home, socket: false });
    expect(facts.config).toBeUndefined();

    const state = join(home, ".local/state/deploy-vps-proxy");
    mkdirSync(state, { recursive: true });
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(join(state, "control.sock"), resolve));
    mkdirSync(join(home, ".config/deploy-vps-proxy"), { recursive: true });
    writeFileSync(join(home, ".config/deploy-vps-proxy/config.yml"), "services: []\n");
    expect(parseHostFacts(run(home, "probe").stdout)).toMatchObject({ config: "config.yml", socket: true });
    expect(parseHostFacts(run(home, "probe").stdout).dependencies).toBeUndefined();
    writeFileSync(join(home, ".config/deploy-vps-proxy/dependencies.json"), "{}\n");
    expect(parseHostFacts(run(home, "probe").stdout)).toMatchObject({ config: "config.yml", dependencies: "dependencies.json" });
    server.close();
  });

  it("prepare: makes the folders owner-only, writes the config and removes the one of another extension", () => {
    const home = folder();
    expect(run(home, "prepare", ["yml"], "services: []\n").code).toBe(0);
    const config = join(home, ".config/deploy-vps-proxy");
    expect(statSync(join(home, ".local/state/deploy-vps-proxy")).mode & 0o777).toBe(0o700);
    expect(statSync(config).mode & 0o777).toBe(0o700);
    expect(readFileSync(join(config, "config.yml"), "utf8")).toBe("services: []\n");

    expect(run(home, "prepare", ["json"], '{"services": []}').code).toBe(0);
    expect(readdirSync(config)).toEqual(["config.json"]);
    expect(statSync(join(config, "config.json")).mode & 0o777).toBe(0o600);
    // Without a config, the one there stays.
    expect(run(home, "prepare").code).toBe(0);
    expect(readdirSync(config)).toEqual(["config.json"]);
  });

  it("dependencies: writes the dependencies file beside the config, owner-only, and removes the one of another extension", () => {
    const home = folder();
    expect(run(home, "prepare", ["json"], '{"services": []}').code).toBe(0);
    expect(run(home, "dependencies", ["yml"], "services: {}\n").code).toBe(0);
    const config = join(home, ".config/deploy-vps-proxy");
    expect(readFileSync(join(config, "dependencies.yml"), "utf8")).toBe("services: {}\n");
    expect(statSync(join(config, "dependencies.yml")).mode & 0o777).toBe(0o600);
    expect(run(home, "dependencies", ["json"], '{"services": {}}').code).toBe(0);
    expect(readdirSync(config).sort()).toEqual(["config.json", "dependencies.json"]);
    // A new config leaves the dependencies file alone.
    expect(run(home, "prepare", ["yaml"], "services: []\n").code).toBe(0);
    expect(readdirSync(config).sort()).toEqual(["config.yaml", "dependencies.json"]);
  });

  it("put: writes stdin under $HOME, leaving no temporary file", () => {
    const home = folder();
    expect(run(home, "put", [".config/systemd/user/deploy-vps-proxy.service"], "[Unit]\n").code).toBe(0);
    expect(readFileSync(join(home, ".config/systemd/user/deploy-vps-proxy.service"), "utf8")).toBe("[Unit]\n");
    expect(readdirSync(join(home, ".config/systemd/user"))).toEqual(["deploy-vps-proxy.service"]);
  });

  it("put: a page beside the bundle, its folder made", () => {
    const home = folder();
    const page = systemdFilePath({ path: "pages/hacker-terminal.html" });
    expect(run(home, "put", [page], "<html>").code).toBe(0);
    expect(readFileSync(join(home, page), "utf8")).toBe("<html>");
  });

  it("refuses an unknown action", () => {
    const result = run(folder(), "explode");
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/unknown action 'explode'/);
  });
});
