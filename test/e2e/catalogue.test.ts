/**
 * A catalogue of bad input and broken servers: each case ends with its exit code and one
 * `deploy-vps: ` line on stderr, no stack trace, and, where it reaches the server, nothing there
 * changed. The broken servers are users of the test host (test/host/setup.sh): `nodocker` has no
 * docker command, `nogroup` may not use the Docker socket, `notar` has no tar, `busytar` has busybox's.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type AddressInfo, type Socket } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CliRun, freePort, onServer, projectCopy, removeStacks, runCli, shq, tempDir, testHost, uniqueName } from "./harness.js";

const STATE = process.env.DEPLOY_VPS_TEST_HOST_DIR ?? "/var/lib/deploy-vps-test-host";

/** Exit code, exactly one `deploy-vps: ` line and it is the last one, no stack trace; returns that line. */
function expectError(run: CliRun, code: number): string {
  expect(run.stderr).not.toContain("    at ");
  const lines = run.stderr.trim().split("\n");
  expect(lines.filter((line) => line.startsWith("deploy-vps: "))).toHaveLength(1);
  const last = lines.at(-1) ?? "";
  expect(last).toMatch(/^deploy-vps: \S/);
  expect(run.code).toBe(code);
  return last;
}

/** Which of these server paths (relative to the deploy user's home, or absolute) exist. */
function existing(...paths: string[]): string[] {
  const script = paths.map((p) => `test -e ${p.startsWith("/") ? shq(p) : `"$HOME"/${shq(p)}`} && echo ${shq(p)}`);
  return onServer(`${script.join("; ")}; true`).split("\n").filter(Boolean);
}

const stacks: string[] = [];
let dir: string;
/** A fresh app folder that no case may create: neither it nor its state folder must appear. */
const untouched = uniqueName("e2e-cat");
const untouchedPaths = [`apps/${untouched}`, `apps/.deploy-vps/${untouched}`];
const path = `~/apps/${untouched}`;

beforeAll(() => {
  dir = projectCopy("compose/demo", uniqueName("e2e-cat-project"));
});
afterAll(() => removeStacks(stacks));

describe("logging in", () => {
  const keyDir = tempDir("key");
  const key = join(keyDir, "id_ed25519");
  const comment = uniqueName("e2e-passphrase-key");
  const password = () => readFileSync(join(STATE, "deploy-password"), "utf8").trim();
  /** No agent, no key given, and a home without ~/.ssh: only the password can log in. */
  const passwordOnly = (pass: string) => ({
    DEPLOY_PASSWORD: pass,
    DEPLOY_SSH_KEY: "",
    SSH_AUTH_SOCK: undefined,
    HOME: tempDir("home"),
  });

  beforeAll(() => {
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "right-pass", "-C", comment, "-f", key]);
    onServer(`cat >> .ssh/authorized_keys <<'KEY'\n${readFileSync(`${key}.pub`, "utf8").trim()}\nKEY`);
  });
  afterAll(() => {
    onServer(`sed -i ${shq(`/ ${comment}$/d`)} .ssh/authorized_keys`);
  });

  it("a key file that does not exist: exit 2, naming it", async () => {
    const run = await runCli([dir, "--path", path, "-i", "/nonexistent/key"]);
    expect(expectError(run, 2)).toContain("/nonexistent/key");
    expect(existing(...untouchedPaths)).toEqual([]);
  });

  it("a key with the wrong passphrase: exit 2, naming the key and DEPLOY_SSH_PASSPHRASE", async () => {
    const run = await runCli([dir, "--path", path, "-i", key, "--settle", "0"], { DEPLOY_SSH_PASSPHRASE: "wrong" });
    const line = expectError(run, 2);
    expect(line).toContain(key);
    expect(line).toContain("DEPLOY_SSH_PASSPHRASE");
    expect(existing(...untouchedPaths)).toEqual([]);
  });

  it("the same key with the right passphrase deploys: exit 0", async () => {
    const name = uniqueName("e2e-passphrase");
    stacks.push(name);
    const run = await runCli([projectCopy("compose/demo", name), "--path", `~/apps/${name}`, "-i", key, "--settle", "0"], {
      DEPLOY_SSH_PASSPHRASE: "right-pass",
      DEMO_PORT: await freePort(),
    });
    expect(run.stderr).not.toContain("    at ");
    expect(run.code).toBe(0);
    expect(existing(`apps/${name}/compose.yaml`)).toEqual([`apps/${name}/compose.yaml`]);
  });

  it("a password (DEPLOY_PASSWORD) with no key and no agent deploys: exit 0", async () => {
    const name = uniqueName("e2e-password");
    stacks.push(name);
    const run = await runCli(
      [projectCopy("compose/demo", name), "--path", `~/apps/${name}`, "--settle", "0"],
      { ...passwordOnly(password()), DEMO_PORT: await freePort() },
    );
    expect(run.stderr).not.toContain("    at ");
    expect(run.code).toBe(0);
    expect(existing(`apps/${name}/compose.yaml`)).toEqual([`apps/${name}/compose.yaml`]);
  });

  it("a wrong password: exit 1, naming user@host", async () => {
    const { DEPLOY_USER, DEPLOY_HOST } = testHost();
    const run = await runCli([dir, "--path", path], passwordOnly(`${password()}-wrong`));
    expect(expectError(run, 1)).toContain(`${DEPLOY_USER}@${DEPLOY_HOST}`);
    expect(existing(...untouchedPaths)).toEqual([]);
  });
});

describe("the network", () => {
  it("connection refused (port 1): exit 1", async () => {
    const run = await runCli([dir, "--path", path, "--port", "1"]);
    expect(expectError(run, 1)).toMatch(/connection refused/i);
  });

  // A network namespace of its own with only a loopback that is down: no packet can leave.
  const isolated = { via: ["unshare", "-n"] };

  it("host unreachable: exit 1", async () => {
    const run = await runCli([dir, "--path", path, "--host", "127.0.0.1"], {}, isolated);
    expect(expectError(run, 1)).toMatch(/unreachable/i);
  });

  it("a host name that does not resolve: exit 1, naming it", async () => {
    const run = await runCli([dir, "--path", path, "--host", "no-such-host.invalid"], {}, isolated);
    const line = expectError(run, 1);
    expect(line).toContain("no-such-host.invalid");
    expect(line).toMatch(/DNS|not found|resolve/i);
  });

  it("a server that accepts and never says a word: exit 1 after --timeout, naming --timeout", async () => {
    const sockets: Socket[] = [];
    // Timed from the CLI's connection, not from its start: Node's start-up on a busy machine
    // is no part of --timeout.
    let connected = 0;
    const silent = createServer((socket) => {
      connected ||= Date.now();
      sockets.push(socket);
    });
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    try {
      const port = (silent.address() as AddressInfo).port;
      const run = await runCli([dir, "--path", path, "--port", String(port), "--timeout", "2"]);
      const elapsed = Date.now() - connected;
      expect(expectError(run, 1)).toContain("--timeout");
      expect(sockets.length).toBeGreaterThan(0);
      // Waited for --timeout (less the time this busy process may take to hear of the connection).
      expect(elapsed).toBeGreaterThanOrEqual(1500);
      expect(elapsed).toBeLessThan(5500);
    } finally {
      for (const socket of sockets) socket.destroy();
      silent.close();
    }
  });
  it("a broken compose file while the server still says nothing: exit 2 at once, and the half-open connection is dropped", async () => {
    // The handshake starts while the project is read; a project that fails must not wait for it.
    const closed: Promise<void>[] = [];
    const silent = createServer((socket) => {
      closed.push(new Promise((resolve) => socket.on("close", () => resolve())));
      socket.resume();
    });
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    try {
      const broken = projectCopy("compose/demo", uniqueName("e2e-cat-broken-compose"));
      writeFileSync(join(broken, "compose.yaml"), "services:\n  web:\n    image: [busybox\n");
      const port = (silent.address() as AddressInfo).port;
      const started = Date.now();
      const run = await runCli([broken, "--path", path, "--port", String(port), "--timeout", "20"]);
      expect(expectError(run, 2)).toMatch(/compose\.yaml:\d+:\d+: /);
      // Waiting out the handshake would take the 20 s --timeout.
      expect(Date.now() - started).toBeLessThan(10_000);
      expect(closed.length).toBe(1);
      await Promise.all(closed);
    } finally {
      silent.close();
    }
  });
});

describe("a server that lacks something", () => {
  // These users cannot write in deploy's home: a fresh folder in /tmp shows whether anything was made.
  const scratch = `/tmp/${uniqueName("e2e-cat-broken")}`;
  const brokenPath = `${scratch}/app`;
  afterAll(() => {
    expect(existing(scratch)).toEqual([]);
  });

  it("no docker command: exit 1, saying so", async () => {
    const run = await runCli([dir, "--path", brokenPath, "--user", "nodocker"]);
    expect(expectError(run, 1)).toContain("no docker command");
    expect(existing(scratch)).toEqual([]);
  });

  it("a user that may not use Docker: exit 1, with the usermod command", async () => {
    const run = await runCli([dir, "--path", brokenPath, "--user", "nogroup"]);
    expect(expectError(run, 1)).toContain("usermod -aG docker");
    expect(existing(scratch)).toEqual([]);
  });

  it("no tar: exit 1, saying so", async () => {
    const run = await runCli([dir, "--path", brokenPath, "--user", "notar"]);
    expect(expectError(run, 1)).toMatch(/\btar\b/);
    expect(existing(scratch)).toEqual([]);
  });

  it("busybox's tar (an Alpine server): exit 1, asking for GNU tar, before anything changes", async () => {
    const run = await runCli([dir, "--path", brokenPath, "--user", "busytar"]);
    expect(expectError(run, 1)).toContain("tar is not GNU tar (");
    expect(existing(scratch)).toEqual([]);
  });
});

describe("bad input", () => {
  it("a project folder that does not exist: exit 2", async () => {
    const run = await runCli(["/nonexistent/project", "--path", path]);
    expect(expectError(run, 2)).toContain("/nonexistent/project");
  });

  it("a project file the deploying user may not read: exit 2 naming it, before the server is touched", async () => {
    const unreadable = projectCopy("compose/demo", uniqueName("e2e-cat-unreadable"));
    writeFileSync(join(unreadable, "web/site/root-only.txt"), "not yours\n", { mode: 0o600 });
    // The CLI runs as the local user deploy; the project is readable to it but for that one file.
    execFileSync("chmod", ["-R", "go+rX", join(unreadable, "..")]);
    execFileSync("chmod", ["600", join(unreadable, "web/site/root-only.txt")]);
    const run = await runCli([unreadable, "--path", path], { HOME: "/home/deploy" }, { via: ["runuser", "-u", "deploy", "--"] });
    expect(expectError(run, 2)).toBe(
      "deploy-vps: cannot read web/site/root-only.txt in the project (permission denied): fix its permissions, or exclude it in .deployignore.",
    );
    expect(existing(...untouchedPaths)).toEqual([]);
  });

  it("an empty project folder: exit 2, no compose file", async () => {
    const empty = join(tempDir("empty"), "empty");
    mkdirSync(empty);
    const run = await runCli([empty, "--path", path]);
    expect(expectError(run, 2)).toContain("no compose file");
    expect(existing(...untouchedPaths)).toEqual([]);
  });

  it("--path that is a file on the server: exit 2, the file unchanged", async () => {
    const file = uniqueName("e2e-afile");
    onServer(`printf 'keep me\\n' > ${file} && touch -d '2001-02-03 04:05:06' ${file}`);
    try {
      const stat = () => onServer(`stat -c '%s %Y %a %i' ${file}; md5sum ${file}`);
      const before = stat();
      const run = await runCli([dir, "--path", `~/${file}`]);
      expect(expectError(run, 2)).toContain("is a file");
      expect(stat()).toBe(before);
      expect(onServer(`cat ${file}`)).toBe("keep me\n");
      expect(existing(`.deploy-vps/${file}`)).toEqual([]);
    } finally {
      onServer(`rm -f ${file}`);
    }
  });

  it("an unknown flag: exit 2, with a suggestion", async () => {
    const run = await runCli([dir, "--hots", "x"]);
    const line = expectError(run, 2);
    expect(line).toContain("--hots");
    expect(line).toMatch(/did you mean --host/i);
  });

  it("--port abc: exit 2", async () => {
    const run = await runCli([dir, "--path", path, "--port", "abc"]);
    expect(expectError(run, 2)).toContain("abc");
  });
});

describe("after the catalogue", () => {
  it("the fresh app folder was never created", () => {
    expect(existing(...untouchedPaths)).toEqual([]);
  });
});
