/**
 * Host keys against the real sshd: unknown, accepted, changed, hashed and revoked entries, each
 * in a known_hosts file of the test's own (--known-hosts). `releases` is the cheapest command
 * that connects, checks the host key and succeeds on an existing folder.
 */
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cliEnv, ROOT, onServer, runCli, tempDir, testHost, uniqueName } from "./harness.js";

const STATE = process.env.DEPLOY_VPS_TEST_HOST_DIR ?? "/var/lib/deploy-vps-test-host";
const scratch = tempDir("hostkeys");
const folder = uniqueName("e2e-hostkeys");
let project: string;

/** `SHA256:…` of a public key file, as OpenSSH prints it. */
function fingerprintOf(pubFile: string): string {
  const fields = execFileSync("ssh-keygen", ["-lf", pubFile], { encoding: "utf8" }).split(" ");
  const fp = fields[1] ?? "";
  expect(fp).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
  return fp;
}

/** The base64 key of a `.pub` file. */
function keyOf(pubFile: string): string {
  const [type, key] = readFileSync(pubFile, "utf8").trim().split(" ");
  expect(type).toBe("ssh-ed25519");
  return key ?? "";
}

const realPub = join(STATE, "ssh_host_ed25519_key.pub");
const hostName = () => `[${testHost().DEPLOY_HOST}]:${testHost().DEPLOY_PORT}`;

function knownHosts(name: string, text?: string): string {
  const file = join(scratch, name);
  if (text !== undefined) writeFileSync(file, text);
  return file;
}

function connect(file: string, ...flags: string[]) {
  return runCli(["releases", project, "--path", `~/apps/${folder}`, "--known-hosts", file, ...flags]);
}

function expectRefused(run: Awaited<ReturnType<typeof runCli>>): string {
  expect(run.stderr).not.toContain("    at ");
  const last = run.stderr.trim().split("\n").at(-1) ?? "";
  expect(last).toMatch(/^deploy-vps: /);
  expect(run.code).toBe(1);
  return last;
}

beforeAll(() => {
  project = join(scratch, "project");
  mkdirSync(project);
  onServer(`mkdir -p apps/${folder}`);
});
afterAll(() => {
  onServer(`rm -rf apps/${folder}`);
});

describe("host keys", () => {
  it("an unknown host without a TTY: exit 1 with its SHA256 fingerprint and --accept-new-host-key; nothing recorded", async () => {
    const file = knownHosts("unknown");
    const run = await connect(file);
    const line = expectRefused(run);
    expect(line).toContain(fingerprintOf(realPub));
    expect(line).toContain("--accept-new-host-key");
    expect(existsSync(file)).toBe(false);
  });

  it("an unknown host on a terminal: shows the fingerprint and asks; yes records the key, no refuses", async () => {
    const onTerminal = (file: string, answer: string) =>
      new Promise<{ code: number | null; output: string }>((resolve) => {
        const cli = `${process.execPath} ${join(ROOT, "dist/cli.js")} releases ${project} --path '~/apps/${folder}' --known-hosts ${file}`;
        // script(1) gives the CLI a real pseudo-terminal; the answer is typed once the question shows.
        const child = spawn("script", ["-qec", cli, "/dev/null"], { env: cliEnv() });
        let output = "";
        child.stdout.on("data", (chunk) => {
          output += chunk;
          if (output.includes("(yes/no)? ") && !child.stdin.writableEnded) child.stdin.end(`${answer}\n`);
        });
        child.on("close", (code) => resolve({ code, output }));
      });
    const refused = knownHosts("tty-no");
    const no = await onTerminal(refused, "no");
    expect(no.output).toContain(`The authenticity of host '${hostName()}' can't be established.`);
    expect(no.output).toContain(`ssh-ed25519 key fingerprint is ${fingerprintOf(realPub)}.`);
    expect(no.code, no.output).toBe(1);
    expect(existsSync(refused)).toBe(false);
    const trusted = knownHosts("tty-yes");
    const yes = await onTerminal(trusted, "yes");
    expect(yes.code, yes.output).toBe(0);
    expect(readFileSync(trusted, "utf8")).toBe(`${hostName()} ssh-ed25519 ${keyOf(realPub)}\n`);
  });

  it("an unknown host on a terminal, the question left unanswered: --timeout takes it back, exit 1, no hang", async () => {
    const file = knownHosts("tty-silent");
    const cli = `${process.execPath} ${join(ROOT, "dist/cli.js")} releases ${project} --path '~/apps/${folder}' --known-hosts ${file} --timeout 2`;
    const child = spawn("script", ["-qec", cli, "/dev/null"], { env: cliEnv() });
    let output = "";
    child.stdout.on("data", (chunk) => {
      output += chunk;
    });
    const started = Date.now();
    // A question still open would keep the CLI alive: give up after 15 s rather than the test's timeout.
    const killer = setTimeout(() => child.kill("SIGKILL"), 15_000);
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    clearTimeout(killer);
    expect(output).toContain("(yes/no)? ");
    expect(output).toMatch(/deploy-vps: unknown host/);
    expect(code).toBe(1);
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(existsSync(file)).toBe(false);
  });

  it("--accept-new-host-key trusts and records it; the next run needs no flag", async () => {
    const file = knownHosts("accept");
    const run = await connect(file, "--accept-new-host-key");
    expect(run.stderr).not.toContain("    at ");
    expect(run.code).toBe(0);
    expect(readFileSync(file, "utf8")).toBe(`${hostName()} ssh-ed25519 ${keyOf(realPub)}\n`);
    const again = await connect(file);
    expect(again.stderr).not.toContain("deploy-vps:");
    expect(again.code).toBe(0);
    expect(readFileSync(file, "utf8")).toBe(`${hostName()} ssh-ed25519 ${keyOf(realPub)}\n`);
  });

  it("a changed key: exit 1 naming both fingerprints, and --accept-new-host-key does not override it", async () => {
    const other = join(scratch, "other_host_key");
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", other]);
    const text = `${hostName()} ssh-ed25519 ${keyOf(`${other}.pub`)}\n`;
    const file = knownHosts("changed", text);
    for (const flags of [[], ["--accept-new-host-key"]]) {
      const line = expectRefused(await connect(file, ...flags));
      expect(line).toContain(fingerprintOf(realPub));
      expect(line).toContain(fingerprintOf(`${other}.pub`));
      expect(line).toMatch(/changed/i);
      expect(readFileSync(file, "utf8")).toBe(text);
    }
  });

  it("a hashed entry (ssh-keygen -H) is trusted", async () => {
    const file = knownHosts("hashed", `${hostName()} ssh-ed25519 ${keyOf(realPub)}\n`);
    execFileSync("ssh-keygen", ["-q", "-H", "-f", file], { stdio: "ignore" });
    const hashed = readFileSync(file, "utf8");
    expect(hashed).toMatch(/^\|1\|[^ ]+ ssh-ed25519 /);
    expect(hashed).not.toContain(testHost().DEPLOY_HOST);
    const run = await connect(file);
    expect(run.stderr).not.toContain("deploy-vps:");
    expect(run.code).toBe(0);
    expect(readFileSync(file, "utf8")).toBe(hashed);
  });

  it("an @revoked key is refused, even beside a plain entry for it and with --accept-new-host-key", async () => {
    const line = `${hostName()} ssh-ed25519 ${keyOf(realPub)}`;
    const text = `@revoked ${line}\n${line}\n`;
    const file = knownHosts("revoked", text);
    for (const flags of [[], ["--accept-new-host-key"]]) {
      const message = expectRefused(await connect(file, ...flags));
      expect(message).toMatch(/revoked/);
      expect(message).toContain(fingerprintOf(realPub));
      expect(readFileSync(file, "utf8")).toBe(text);
    }
  });
});
