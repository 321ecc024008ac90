/**
 * Every command the README shows is run here, as written, against the test host. The README's
 * hosts (`vps`, `vps.example.com`, `203.0.113.7`) are `Host` aliases of an ssh config made for
 * the test, `deploy-vps` is the built CLI, and a README command this file does not know fails it.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, onServer, projectCopy, removeStack, ROOT, tempDir, testHost, uniqueName } from "./harness.js";
import { removeDaemon, runningContainers } from "./proxy-harness.js";

/** Commands of ```sh blocks, and `$ ` lines of ```console blocks, comments stripped. */
function readmeCommands(markdown: string): string[] {
  const commands: string[] = [];
  for (const block of markdown.matchAll(/^```(sh|console)\n([\s\S]*?)^```$/gm)) {
    const [, kind, body = ""] = block;
    for (const line of body.split("\n")) {
      const command = kind === "sh" ? line : line.startsWith("$ ") ? line.slice(2) : "";
      const bare = command.replace(/\s{2,}#.*$/, "").trim();
      if (bare && !bare.startsWith("#")) commands.push(bare);
    }
  }
  return commands;
}

interface Case {
  /** Exit code expected; `timeout` for a command that runs until stopped (--watch): see untilTwoScreens. */
  code: number | "timeout";
  /** Run from the folder that holds the project, not from the project itself. */
  fromParent?: boolean;
  /** Typed on a terminal (script(1)), for commands that ask. */
  answer?: string;
  check?: (run: { stdout: string; stderr: string }) => void;
}

const PROJECT = "shop";
const APP = `apps/${PROJECT}`;
const LEGACY = "/srv/legacy";
const PORT = await freePort();
/** `npm run demo` deploys compose/demo under this name, into apps/<name>, on its own free port. */
const DEMO = uniqueName("e2e-readme-demo");
const DEMO_PORT = await freePort();
/** The proxy the README installs listens on free ports; each copy of compose/demo is routed under a host of its own. */
const PROXY_LISTEN = `127.0.0.1:${await freePort()}`;
const PROXY_ENV = { DEPLOY_PROXY_LISTEN: PROXY_LISTEN, DEPLOY_PROXY_ADMIN: `127.0.0.1:${await freePort()}`, DEPLOY_PROXY_IMAGE: "local/node:20" };
const README_HOST = `${PROJECT}-${process.pid}.localhost`;
const DEMO_HOST = `${DEMO}.localhost`;

/** What each README command must do, in the README's order. */
const CASES: Record<string, Case> = {
  "npx deploy-vps --host deploy@203.0.113.7": { code: 0 },
  "deploy-vps init --host deploy@203.0.113.7": {
    code: 0,
    answer: "y",
    check: () => expect(readFileSync(join(project, "deploy-vps.yml"), "utf8")).toContain("host: deploy@203.0.113.7"),
  },
  "deploy-vps": { code: 0, check: ({ stderr }) => expect(stderr).toContain("Watch: 2 services up") },
  "echo '<p>v2</p>' >> web/site/index.html.in": { code: 0 },
  "deploy-vps monitor-vps": { code: 0, check: ({ stdout }) => expect(stdout).toContain("shop-web-1") },
  "deploy-vps --host deploy@203.0.113.7": { code: 0 },
  "deploy-vps ./shop -H vps.example.com -u deploy -d '~/apps/shop' --settle 60": { code: 0, fromParent: true },
  "deploy-vps --dry-run": { code: 0, check: ({ stderr }) => expect(stderr).toContain("Read the project") },
  "deploy-vps --json > deploy.json": {
    code: 0,
    check: () => expect(JSON.parse(readFileSync(join(project, "deploy.json"), "utf8"))).toMatchObject({ name: "shop", status: "deployed" }),
  },
  "deploy-vps monitor-vps -H vps": { code: 0, check: ({ stdout }) => expect(stdout).toContain("web") },
  "deploy-vps monitor -H vps --watch 5": { code: "timeout", check: ({ stdout }) => expect(screens(stdout)).toBe(2) },
  "deploy-vps monitor -H vps --json": { code: 0, check: ({ stdout }) => expect(JSON.parse(stdout).services.length).toBe(2) },
  "deploy-vps releases -H vps --log": { code: 0 },
  "deploy-vps rollback -H vps": { code: 0 },
  "deploy-vps rollback -H vps --to 20261123T193637376Z": { code: 0 },
  "deploy-vps fix-compose -H vps -d /srv/legacy --dry-run": { code: 2, check: ({ stdout }) => expect(stdout).toContain("pull_policy: never") },
  "deploy-vps fix-compose --local": { code: 2 },
  "deploy-vps proxy install -H vps": { code: 0, check: ({ stdout }) => expect(stdout).toContain(`listening on ${PROXY_LISTEN}`) },
  "deploy-vps proxy nginx docs.example.com": { code: 0, check: ({ stdout }) => expect(stdout).toContain("server_name docs.example.com;") },
  "deploy-vps proxy status -H vps": { code: 0, check: ({ stdout }) => expect(stdout).toContain(README_HOST) },
  "deploy-vps proxy wake shop -H vps --dry-run": { code: 0 },
  "deploy-vps proxy sleep shop -H vps": { code: 0, check: () => expect(runningContainers(PROJECT)).toEqual([]) },
  "deploy-vps proxy wake shop -H vps": { code: 0, check: () => expect(runningContainers(PROJECT).length).toBe(2) },
  "deploy-vps proxy logs -H vps": { code: 0, check: ({ stdout }) => expect(stdout).toContain('"message":"ready"') },
};

/** Run elsewhere, and why. */
const ELSEWHERE: Record<string, string> = {
  "npm ci && npm run demo": "npm ci is .ci/run's first step (not here: it would replace node_modules under the running tests); npm run demo is run below",
  "npm test": ".ci/run runs it: this file is part of it",
  "npm run build": "npm test runs it before this file",
  "npm run check": ".ci/run runs it before npm test",
  "npm run test:unit": "npm test runs the same unit tests",
  "npm run demo:proxy": "run below, after npm run demo",
  "deploy-vps proxy wake ragflow -H vps --dry-run --json": "ragflow is the README's example; wake-chains.test.ts runs the same dry run on its RAGFlow-like stack",
  "curl -X POST 'http://127.0.0.1:8891/api/wake/ragflow?dryRun=true'": "proxy.test.ts asks its daemon's admin listener the same dry run (and is refused a real wake there)",
  "deploy-vps audit -H vps": "audit.test.ts runs it on its fixture of the seed's situation (the test host's own nginx would give other findings each run)",
  "deploy-vps audit -H vps --fix": "audit.test.ts runs it on a copy of its fixture's nginx, and on one that fails nginx -t",
  "deploy-vps audit -H vps --markdown > docs/services.md": "audit.test.ts checks the table --markdown prints",
  "deploy-vps audit -H vps --proxy-config /opt/docker-autostart/config.json": "audit.test.ts audits its fixture's config.json with --proxy-config",
  "npm run bench": "takes ten minutes and builds its own network namespace; run by hand, results in docs/benchmarks.md",
};

let sandbox: string;
let project: string;
/** Where the README's npm commands run: they build dist/, which the other lane's tests are running. */
let checkout: string;

/** This repository as it is on disk (uncommitted changes included), its node_modules linked, nothing built. */
function repositoryCopy(): string {
  const dir = join(tempDir("repository"), "deploy-vps");
  execFileSync("rsync", ["-a", "--exclude=/node_modules", "--exclude=/.git", "--exclude=/dist", "--exclude=/test/artifacts", join(ROOT, "/"), join(dir, "/")]);
  symlinkSync(join(ROOT, "node_modules"), join(dir, "node_modules"));
  return dir;
}
let bin: string;
let sshConfig: string;

function env(): NodeJS.ProcessEnv {
  // Only the README's own flags and the ssh config say where to go.
  const dropped = new Set(["DEPLOY_HOST", "DEPLOY_PORT", "DEPLOY_USER", "DEPLOY_SSH_KEY", "SSH_AUTH_SOCK"]);
  const base = Object.fromEntries(Object.entries({ ...process.env, ...testHost() }).filter(([name]) => !dropped.has(name)));
  return { ...base, PATH: `${bin}:${process.env.PATH}`, DEPLOY_SSH_CONFIG: sshConfig, DEMO_PORT: PORT, DEMO_HOST: README_HOST, ...PROXY_ENV, NO_COLOR: "1" };
}

/** How many monitor screens an output holds: each starts with `<project> on <host>:<path>`. */
const screens = (output: string) => output.match(new RegExp(`^${PROJECT} on `, "gm"))?.length ?? 0;

/**
 * A script that runs COMMAND until it has drawn its second screen, then stops it as Ctrl-C would
 * and exits 124, like timeout(1): it waits for what the command prints, not for a set time. A
 * command that ends on its own first exits with its own status.
 */
function untilTwoScreens(command: string): string {
  return [
    `out=$(mktemp); ${command} > "$out" & pid=$!`,
    `while [ "$(grep -c '^${PROJECT} on ' "$out")" -lt 2 ] && kill -0 "$pid" 2>/dev/null; do sleep 0.1; done`,
    `if kill -INT "$pid" 2>/dev/null; then wait "$pid"; code=124; else wait "$pid"; code=$?; fi`,
    `cat "$out"; rm -f "$out"; exit "$code"`,
  ].join("\n");
}

function run(command: string, spec: Case): { code: number | "timeout"; stdout: string; stderr: string } {
  const cwd = command.startsWith("npm ") ? checkout : spec.fromParent ? join(project, "..") : project;
  // The one id the README cannot know: the release before the live one.
  const actual = command.replace("20261123T193637376Z", () => onServer(`ls apps/.deploy-vps/${PROJECT}/releases | sort | tail -n 2 | head -n 1`).trim());
  const argv = spec.answer
    ? ["script", "-qec", actual, "/dev/null"]
    : spec.code === "timeout"
      ? ["bash", "-c", untilTwoScreens(actual)]
      : ["bash", "-c", actual];
  const result = spawnSync(argv[0] as string, argv.slice(1), { cwd, env: env(), input: spec.answer ? `${spec.answer}\n` : undefined, encoding: "utf8", timeout: 400_000 });
  return { code: result.status === 124 && spec.code === "timeout" ? "timeout" : (result.status ?? -1), stdout: result.stdout, stderr: result.stderr };
}

describe("README", () => {
  const commands = readmeCommands(readFileSync(join(ROOT, "README.md"), "utf8"));

  beforeAll(() => {
    const host = testHost();
    checkout = repositoryCopy();
    project = projectCopy("compose/demo", PROJECT);
    sandbox = dirname(project);
    bin = join(sandbox, "bin");
    mkdirSync(bin);
    const cli = join(ROOT, "dist/cli.js");
    writeFileSync(join(bin, "deploy-vps"), `#!/bin/sh\nexec "${process.execPath}" "${cli}" "$@"\n`);
    writeFileSync(join(bin, "npx"), `#!/bin/sh\n[ "$1" = deploy-vps ] && shift && exec "${process.execPath}" "${cli}" "$@"\nexec "${process.execPath}" "$(dirname "${process.execPath}")/npx" "$@"\n`);
    for (const name of ["deploy-vps", "npx"]) chmodSync(join(bin, name), 0o755);
    sshConfig = join(sandbox, "ssh_config");
    writeFileSync(
      sshConfig,
      `Host vps vps.example.com 203.0.113.7\n  HostName ${host.DEPLOY_HOST}\n  Port ${host.DEPLOY_PORT}\n  User ${host.DEPLOY_USER}\n  IdentityFile ${host.DEPLOY_SSH_KEY}\n`,
    );
    // A stack someone deployed by hand, with the seed's registry-prefixed image, for fix-compose.
    execFileSync("bash", ["-c", `rm -rf ${LEGACY} && mkdir -p ${LEGACY} && cp -a ${ROOT}/compose/demo/. ${LEGACY}/ && chown -R deploy: ${LEGACY}`]);
    removeStack(PROJECT, APP);
  });
  afterAll(() => {
    removeStack(PROJECT, APP);
    removeStack(DEMO, `apps/${DEMO}`);
    removeDaemon();
    execFileSync("rm", ["-rf", LEGACY]);
  });

  it("shows only commands this file runs, or says where they are run", () => {
    const known = new Set([...Object.keys(CASES), ...Object.keys(ELSEWHERE)]);
    expect(commands.filter((command) => !known.has(command))).toEqual([]);
    expect([...known].filter((command) => !commands.includes(command))).toEqual([]);
  });

  it("every command does what the README says", () => {
    for (const command of commands) {
      const spec = CASES[command];
      if (!spec) continue;
      const result = run(command, spec);
      expect({ command, code: result.code, stderr: result.code === spec.code ? "" : result.stderr.slice(-2000) }).toEqual({ command, code: spec.code, stderr: "" });
      expect(result.stderr).not.toContain("    at ");
      spec.check?.(result);
    }
    expect(existsSync(join(project, "deploy.json"))).toBe(true);
  }, 900_000);

  it("the quick start's npm run demo deploys compose/demo and its page answers", () => {
    const env = { ...process.env, DEPLOY_NAME: DEMO, DEMO_APP: `apps/${DEMO}`, DEMO_PORT, DEMO_HOST, ...PROXY_ENV };
    const demo = spawnSync("npm", ["run", "demo"], { cwd: checkout, env, encoding: "utf8", timeout: 400_000 });
    expect(demo.stderr).not.toContain("    at ");
    expect(demo.status).toBe(0);
    expect(demo.stdout).toContain(`http://127.0.0.1:${DEMO_PORT}/ answers`);
    expect(demo.stdout).toContain("Hello from deploy-vps");

    const proxy = spawnSync("npm", ["run", "demo:proxy"], { cwd: checkout, env, encoding: "utf8", timeout: 400_000 });
    expect(proxy.stderr).not.toContain("    at ");
    expect(proxy.status).toBe(0);
    expect(proxy.stdout).toContain(`${DEMO} is asleep.`);
    expect(proxy.stdout).toMatch(/200 after [\d.]+ s \(the stack was asleep; this request woke it\):\n[\s\S]*?<h1>Hello from deploy-vps<\/h1>/);
  }, 900_000);
});
