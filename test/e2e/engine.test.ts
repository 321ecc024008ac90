/**
 * The Engine API over the test host's real sshd (a direct-streamlocal channel to the real
 * Docker socket) gives the probe the answers its docker CLI calls give.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { engineOverSsh } from "../../src/docker/engine-over-ssh.js";
import { type Engine } from "../../src/docker/engine.js";
import { factsOf, PROJECT_LABEL, readDocker, type StackTarget, WORKING_DIR_LABEL } from "../../src/docker/facts.js";

const dockerFacts = async (engine: Engine, target: StackTarget) => factsOf(await readDocker(engine), target);
import { probeServer } from "../../src/release/probe.js";
import { Remote } from "../../src/ssh/connection.js";
import { sh } from "../../src/ssh/quote.js";
import { freePort, ROOT, onServer, removeProject, shq, tempDir, testHost, uniqueName } from "./harness.js";

const STATE = process.env.DEPLOY_VPS_TEST_HOST_DIR ?? "/var/lib/deploy-vps-test-host";
const host = testHost();
const connect = (user = host.DEPLOY_USER, port = Number(host.DEPLOY_PORT), knownHosts = host.DEPLOY_KNOWN_HOSTS) =>
  Remote.connect({
    host: host.DEPLOY_HOST,
    port,
    user,
    identity: host.DEPLOY_SSH_KEY,
    knownHosts,
    acceptNewHostKey: false,
    timeoutSeconds: 20,
  });

/** A container as compose would label it, made (not started: `ps -a` and the API list it alike). */
function labelledContainer(project: string, folder: string): void {
  onServer(
    `docker create --label ${shq(`${PROJECT_LABEL}=${project}`)} --label ${shq(`${WORKING_DIR_LABEL}=${folder}`)} local/busybox:latest true >/dev/null`,
  );
}

describe("the Engine API over SSH", () => {
  const byHand = uniqueName("e2e-engine");
  const shared = uniqueName("e2e-engine-shared");
  const home = onServer(`printf %s "$HOME"`);
  const app = `${home}/apps/${byHand}`;
  let remote: Remote;

  beforeAll(async () => {
    remote = await connect();
    // A stack started by hand from the app folder, and another folder's stack under the name
    // this app's local project would take.
    labelledContainer(byHand, app);
    labelledContainer(shared, `${home}/apps/${shared}-a`);
    labelledContainer(shared, `${home}/apps/${shared}-b`);
  });
  afterAll(() => {
    remote?.close();
    removeProject(byHand);
    removeProject(shared);
  });

  it("sees what the probe's docker calls see", async () => {
    const facts = await dockerFacts(engineOverSsh(remote), { app, candidate: shared });
    const probed = await probeServer(remote, app, { env: false, candidate: shared });
    expect(facts).toMatchObject({ status: "ok", labelledProject: byHand, otherFolders: [] });
    expect(facts).toMatchObject({ labelledProject: probed.labelledProject, otherFolders: probed.otherFolders });
    if (facts.status !== "ok") throw new Error("Docker did not answer");
    expect(facts.serverVersion).toBe(onServer("docker version --format '{{.Server.Version}}'").trim());
  });

  it("finds the other folders under the project name, as the probe does", async () => {
    const elsewhere = `${home}/apps/${uniqueName("e2e-engine-none")}`;
    const facts = await dockerFacts(engineOverSsh(remote), { app: elsewhere, candidate: shared });
    const probed = await probeServer(remote, elsewhere, { env: false, candidate: shared });
    expect(facts).toMatchObject({ status: "ok", labelledProject: undefined, otherFolders: [`${home}/apps/${shared}-a`, `${home}/apps/${shared}-b`] });
    expect(facts).toMatchObject({ otherFolders: probed.otherFolders });
  });

  it("says the socket is unreachable when sshd cannot open it, so the caller can ask the CLI", async () => {
    const facts = await dockerFacts(engineOverSsh(remote, "/run/no-docker-here.sock"), { app });
    expect(facts).toEqual({ status: "unreachable", reason: "Channel open failure: open failed" });
  });

  it("cannot tell a user outside the docker group over SSH: unreachable, and the CLI says why", async () => {
    const outsider = await connect("nogroup");
    try {
      expect(await dockerFacts(engineOverSsh(outsider), { app })).toMatchObject({ status: "unreachable" });
      const probed = await probeServer(outsider, "apps/none", { env: false });
      expect(probed.docker).toMatchObject({ status: "error", message: expect.stringMatching(/permission denied/) });
    } finally {
      outsider.close();
    }
  });
});

describe("the Engine API through an sshd that forbids forwarding", () => {
  const folder = tempDir("sshd");
  const pidFile = join(folder, "sshd.pid");
  afterAll(() => {
    if (existsSync(pidFile)) process.kill(Number(readFileSync(pidFile, "utf8").trim()));
  });

  it("says unreachable (DisableForwarding yes), so the caller can ask the CLI", async () => {
    // A second sshd of the test host's, on a port of its own, with forwarding off.
    const port = await freePort();
    const config = join(folder, "sshd_config");
    writeFileSync(
      config,
      [`ListenAddress 127.0.0.1`, `Port ${port}`, `HostKey ${STATE}/ssh_host_ed25519_key`, `PidFile ${pidFile}`, "UsePAM no", "AuthorizedKeysFile .ssh/authorized_keys", "DisableForwarding yes", ""].join("\n"),
    );
    const knownHosts = join(folder, "known_hosts");
    const key = readFileSync(`${STATE}/ssh_host_ed25519_key.pub`, "utf8").split(" ").slice(0, 2).join(" ");
    writeFileSync(knownHosts, `[127.0.0.1]:${port} ${key}\n`);
    execFileSync("/usr/sbin/sshd", ["-f", config]);
    // sshd writes its pid file once it listens.
    for (let waited = 0; !existsSync(pidFile) && waited < 5000; waited += 50) await sleep(50);
    const remote = await connect(host.DEPLOY_USER, Number(port), knownHosts);
    try {
      expect((await remote.run(sh`docker info --format ok`)).stdout.toString().trim()).toBe("ok");
      expect(await dockerFacts(engineOverSsh(remote), { app: "/srv/app" })).toEqual({ status: "unreachable", reason: "Channel open failure: open failed" });
    } finally {
      remote.close();
    }
  });
});

describe("the Engine API over the local socket", () => {
  it("gives a user who may not use Docker the CLI's words, which the probe turns into its advice", () => {
    // The runtime daemon's way in: this machine's socket, read by a user outside the docker group.
    const script = `import { localEngine } from ${JSON.stringify(join(ROOT, "dist/docker/engine.js"))};
import { readDocker } from ${JSON.stringify(join(ROOT, "dist/docker/facts.js"))};
console.log(JSON.stringify(await readDocker(localEngine())));`;
    const answer = execFileSync(process.execPath, ["--input-type=module", "-e", script], { uid: 65534, gid: 65534, encoding: "utf8" });
    expect(JSON.parse(answer)).toEqual({
      status: "error",
      message: "permission denied while trying to connect to the Docker daemon socket at unix:///var/run/docker.sock",
    });
  });
});
