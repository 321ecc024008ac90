/**
 * nginx-fix.sh, the server side of `deploy-vps audit --fix` (issue 18), over the real SSH
 * connection against a real nginx: a private config in a folder of the deploy user (Debian's
 * layout: sites-enabled/ holding a symlink into sites-available/ and a plain file, included with
 * `*`), its master run by deploy, so that the script runs as deploy and its reload reaches it.
 * A root-owned folder beside it holds a file deploy cannot write; the test host has no sudo.
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, chownSync, existsSync, lchownSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { remoteScript } from "../../src/remote/script.js";
import { freePort, onServer, shq, tempDir, testHost, uniqueName } from "./harness.js";
import { httpCall, untilAnswered } from "./proxy-tools.mjs";

const home = onServer(`printf %s "$HOME"`);
const [uid, gid] = onServer("id -u; id -g").trim().split("\n").map(Number) as [number, number];
/** deploy's own nginx folder, named so that a killed run's leftover is swept (harness). */
const dir = join(home, uniqueName("e2e-nginx-fix"));
/** root's folder, readable by deploy's nginx, writable only by root. */
const locked = tempDir("nginx-fix-root");
const conf = join(dir, "nginx.conf");
const TEMP_FOLDERS = ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"];
let url = "";
let port = "";

const site = (host: string, answer: string) =>
  `server {\n    listen 127.0.0.1:${port};\n    server_name ${host};\n    location / { return 200 "${answer}"; }\n}\n`;
/** The upstream makes a second reading of the file (a backup nginx would include) fail nginx -t. */
const shop = (answer: string) => `upstream shop_backend { server 127.0.0.1:9; }\n${site("shop.test", answer)}`;

/** Writes FILE as deploy's (or as root's with `root`), mode 0644. */
function put(file: string, text: string, owner: "deploy" | "root" = "deploy"): void {
  writeFileSync(file, text, { mode: 0o644 });
  if (owner === "deploy") chownSync(file, uid, gid);
}

const sha256 = (text: string | Buffer) => createHash("sha256").update(text).digest("hex");
const b64 = (text: string) => Buffer.from(text).toString("base64");
const fromB64 = (text: string) => Buffer.from(text, "base64").toString();

interface Change {
  path: string;
  /** The content the audit read; undefined: a new file. */
  before?: string;
  after: string;
}

let stamps = 0;

/** nginx-fix.sh run over SSH as the CLI runs it, the changes on its stdin, nginx run with MAIN. */
function fix(changes: Change[], main = conf): { code: number | null; stdout: string; stderr: string; stamp: string } {
  const stamp = `20261201T0315${String(stamps++).padStart(2, "0")}Z`;
  const input = changes.map(({ path, before, after }) => `${b64(path)} ${before === undefined ? "-" : sha256(before)} ${b64(after)}\n`).join("");
  const command = remoteScript("nginx-fix", { env: { NGINX_CONF: main, STAMP: stamp } }).code;
  const host = testHost();
  const run = spawnSync(
    "ssh",
    ["-o", "BatchMode=yes", "-o", `UserKnownHostsFile=${host.DEPLOY_KNOWN_HOSTS}`, "-i", host.DEPLOY_SSH_KEY, "-p", host.DEPLOY_PORT,
      `${host.DEPLOY_USER}@${host.DEPLOY_HOST}`, command],
    { input, encoding: "utf8" },
  );
  return { code: run.status, stdout: run.stdout, stderr: run.stderr, stamp };
}

/** Every config file of both folders: a link's target, or a file's owner, mode and content hash (nginx's own pid, log and temp files left out). */
function snapshot(): Record<string, string> {
  const entries: Record<string, string> = {};
  const walk = (folder: string) => {
    for (const name of readdirSync(folder)) {
      const file = join(folder, name);
      if (folder === dir && (TEMP_FOLDERS.includes(name) || name === "nginx.pid" || name === "error.log")) continue;
      const stat = lstatSync(file);
      const key = relative("/", file);
      if (stat.isSymbolicLink()) entries[key] = `-> ${readlinkSync(file)}`;
      else if (stat.isDirectory()) walk(file);
      else entries[key] = `${stat.uid}:${(stat.mode & 0o7777).toString(8)} ${sha256(readFileSync(file))}`;
    }
  };
  walk(dir);
  walk(locked);
  return entries;
}

/** What nginx answers for HOST, once it answers ANSWER (a reload takes effect in the master's own time). */
async function answerFor(host: string, answer?: string): Promise<string> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const { body } = await untilAnswered(url, { host, timeoutMs: 5000 });
    if (answer === undefined || body === answer || Date.now() > deadline) return body;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** How many times the master reloaded its config (it logs each at notice level). */
const reloads = () => readFileSync(join(dir, "error.log"), "utf8").split("(SIGHUP) received").length - 1;

const available = () => join(dir, "sites-available/app");
const enabled = (name: string) => join(dir, "sites-enabled", name);
const appChange = (): Change => ({ path: enabled("app"), before: site("app.test", "v1"), after: site("app.test", "v2") });
const shopChange = (after = shop("shop2")): Change => ({ path: enabled("shop"), before: shop("shop1"), after });
const newSite = (): Change => ({ path: enabled("new"), after: site("new.test", "new") });

beforeAll(async () => {
  port = await freePort();
  url = `http://127.0.0.1:${port}/`;
  for (const folder of [dir, join(dir, "sites-available"), join(dir, "sites-enabled"), join(dir, "conf.d")]) {
    mkdirSync(folder);
    chownSync(folder, uid, gid);
  }
  chmodSync(locked, 0o755);
  const temp = TEMP_FOLDERS.map((kind) => `    ${kind}_temp_path ${join(dir, kind)};`);
  put(conf, ["worker_processes 1;", `pid ${join(dir, "nginx.pid")};`, `error_log ${join(dir, "error.log")} notice;`,
    "events { worker_connections 64; }", "http {", "    access_log off;", ...temp,
    `    include ${join(dir, "conf.d")}/*.conf;`, `    include ${join(dir, "sites-enabled")}/*;`, `    include ${locked}/*.conf;`, "}", ""].join("\n"));
  put(available(), site("app.test", "v1"));
  symlinkSync("../sites-available/app", enabled("app"));
  lchownSync(enabled("app"), uid, gid);
  put(enabled("shop"), shop("shop1"));
  put(join(locked, "locked.conf"), site("locked.test", "locked"), "root");
  onServer(`PATH=$PATH:/usr/sbin nginx -c ${shq(conf)} </dev/null >/dev/null 2>&1`);
  expect(await answerFor("app.test")).toBe("v1");
});

afterAll(async () => {
  const pidFile = join(dir, "nginx.pid");
  if (existsSync(pidFile)) {
    const pid = Number(readFileSync(pidFile, "utf8").trim());
    process.kill(pid, "SIGQUIT");
    const deadline = Date.now() + 5000;
    while (existsSync(`/proc/${pid}`) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  }
  rmSync(dir, { recursive: true, force: true });
});

/** Runs the fix, expecting it to refuse with CODE and change nothing; its stderr. */
function refused(code: number, changes: Change[], main = conf): string {
  const before = snapshot();
  const run = fix(changes, main);
  expect(run.code, run.stderr).toBe(code);
  expect(run.stdout).toBe("");
  expect(snapshot()).toEqual(before);
  return run.stderr.trim();
}

/** Runs CHECK with FILE there (TEXT, OWNER's, MODE), then removes it. */
async function withFile(file: string, text: string, owner: "deploy" | "root", mode: number, check: () => void): Promise<void> {
  put(file, text, owner);
  chmodSync(file, mode);
  try {
    check();
  } finally {
    rmSync(file);
  }
  expect(await answerFor("app.test")).toBe("v1");
}

const needsRoot = "nginx-fix: the fix needs root or passwordless sudo for nginx:";

describe("nginx-fix.sh", () => {
  it("changes nothing without the rights: a file deploy cannot write, with no sudo (exit 5)", async () => {
    const lockedFile = join(locked, "locked.conf");
    const change = { path: lockedFile, before: site("locked.test", "locked"), after: site("locked.test", "mine") };
    expect(refused(5, [appChange(), change])).toBe(`${needsRoot} ${lockedFile} is not writable by deploy; nothing was changed`);
    expect(await answerFor("app.test")).toBe("v1");
  });

  it("changes nothing in a file deploy may write but does not own: its owner would change (exit 5)", async () => {
    const shared = join(dir, "conf.d/shared.conf");
    await withFile(shared, "# root's, writable by all\n", "root", 0o666, () => {
      const change = { path: shared, before: "# root's, writable by all\n", after: "# deploy's?\n" };
      expect(refused(5, [appChange(), change])).toBe(`${needsRoot} ${shared} belongs to root, not deploy; nothing was changed`);
    });
  });

  it("changes nothing when the nginx master is not deploy's to signal (exit 5)", async () => {
    // The same config, its pid file naming a process of root's (this test's) as the master.
    const rootMain = join(dir, "nginx-root.conf");
    const rootPid = join(dir, "root.pid");
    await withFile(rootPid, `${process.pid}\n`, "deploy", 0o644, () => {
      put(rootMain, readFileSync(conf, "utf8").replace(join(dir, "nginx.pid"), rootPid));
      try {
        expect(refused(5, [appChange()], rootMain)).toBe(
          `${needsRoot} the nginx master (pid ${process.pid}, ${rootPid}) is not deploy's to reload; nothing was changed`,
        );
      } finally {
        rmSync(rootMain);
      }
    });
  });

  it("changes nothing when nginx -t as deploy is refused a file it cannot read (exit 5, not a broken config)", async () => {
    await withFile(join(locked, "secret.conf"), "# root's alone\n", "root", 0o600, () => {
      expect(refused(5, [appChange()])).toMatch(/needs root or passwordless sudo for nginx: nginx -t as deploy: .*secret\.conf.*Permission denied/);
    });
  });

  it("changes nothing when the current config is already broken (exit 3, nginx -t's output)", async () => {
    await withFile(join(dir, "conf.d/broken.conf"), "server {\n    listen 127.0.0.1:1\n}\n", "deploy", 0o644, () => {
      const stderr = refused(3, [appChange()]);
      expect(stderr).toContain("broken.conf:3");
      expect(stderr).toContain("nginx -t fails on the current config: fix it first; nothing was changed");
    });
  });

  it("changes nothing when a file changed since the audit read it, or a new one exists already (exit 4)", () => {
    expect(refused(4, [{ ...appChange(), before: site("app.test", "v0") }, newSite()])).toBe(
      `nginx-fix: ${available()} changed since the audit read it; run audit again`,
    );
    expect(refused(4, [appChange(), { path: enabled("shop"), after: shop("shop2") }])).toBe(
      `nginx-fix: ${enabled("shop")} exists: changed since the audit read it; run audit again`,
    );
  });

  it("puts every file back when nginx -t refuses the new config (exit 3), nginx not reloaded", async () => {
    const reloaded = reloads();
    const stderr = refused(3, [appChange(), newSite(), shopChange(shop("shop2").replace("return 200", "retrun 200"))]);
    expect(stderr).toContain('unknown directive "retrun"');
    expect(stderr).toContain("nginx -t refuses the new config; every file was put back, nginx was not reloaded");
    expect(await answerFor("app.test")).toBe("v1");
    expect(reloads()).toBe(reloaded);
  });

  it("writes the files, keeps a backup of each, reloads nginx: a symlinked site, a plain file, a new one", async () => {
    const before = snapshot();
    const reloaded = reloads();
    const run = fix([appChange(), shopChange(), newSite()]);
    expect(run.code, run.stderr).toBe(0);
    const backup = (file: string) => join(file, "..", `.${file.split("/").pop()}.deploy-vps-${run.stamp}`);
    expect(run.stdout.trim().split("\n").map((line) => line.replace(/=(.*)/, (_, value: string) => `=${fromB64(value)}`))).toEqual([
      `backup=${backup(available())}`,
      `written=${available()}`,
      `backup=${backup(enabled("shop"))}`,
      `written=${enabled("shop")}`,
      `written=${enabled("new")}`,
    ]);
    // The link stays a link; its target holds the new site.
    expect(readlinkSync(enabled("app"))).toBe("../sites-available/app");
    expect(readFileSync(available(), "utf8")).toBe(site("app.test", "v2"));
    expect(readFileSync(enabled("shop"), "utf8")).toBe(shop("shop2"));
    expect(readFileSync(enabled("new"), "utf8")).toBe(site("new.test", "new"));
    // Each file kept its owner and mode; the backups are the files as they were.
    const after = snapshot();
    const key = (file: string) => relative("/", file);
    for (const file of [available(), enabled("shop")]) {
      expect(after[key(file)]?.split(" ")[0]).toBe(before[key(file)]?.split(" ")[0]);
      expect(after[key(backup(file))]).toBe(before[key(file)]);
    }
    expect(after[key(enabled("new"))]).toBe(`${uid}:644 ${sha256(site("new.test", "new"))}`);
    expect(await answerFor("app.test", "v2")).toBe("v2");
    expect(await answerFor("shop.test", "shop2")).toBe("shop2");
    expect(await answerFor("new.test", "new")).toBe("new");
    expect((await httpCall(url, { host: "locked.test" })).body).toBe("locked");
    expect(reloads()).toBe(reloaded + 1);
  });
});
