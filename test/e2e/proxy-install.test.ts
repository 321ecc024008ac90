/**
 * `deploy-vps proxy install` on the real test host: the daemon deployed as compose project
 * deploy-vps-proxy through deploy-vps's own pipeline, reached over its control socket through
 * the SSH connection. The proxy is one per host: this file waits for another one to go away
 * rather than replace it, and removes only what it installed.
 */
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { daemonFilesHash, readDaemonFiles } from "../../src/proxy/install.js";
import { freePort, onServer, removeProject, ROOT, runCli, tempDir } from "./harness.js";

const PROJECT = "deploy-vps-proxy";
const STATE = ".local/state/deploy-vps-proxy";
const CONFIG = ".config/deploy-vps-proxy";
const containers = () => onServer(`docker ps -aq --filter label=com.docker.compose.project=${PROJECT}`).trim();
/** What an install would change on the server, listed. */
const serverSnapshot = () =>
  onServer(`ls -lA apps/${PROJECT} apps/.deploy-vps/${PROJECT} ${STATE} ${CONFIG} .config/systemd/user .local/share/${PROJECT} 2>&1; docker ps -aq --filter label=com.docker.compose.project=${PROJECT}`);
const inspect = (format: string) => onServer(`docker inspect -f '${format}' ${PROJECT}-proxy-1`).trim();
/** The waiting pages the build put beside the bundle, which the install ships with it. */
const PAGES = join(ROOT, "dist/proxy/pages");
const pagesInContainer = () => onServer(`docker exec ${PROJECT}-proxy-1 ls -A /app/pages`).split("\n").filter((name) => name !== "");
/** What the app folder holds beside compose.yaml: the bundle and the pages. */
const daemonFiles = () => 1 + readdirSync(PAGES).length;

let installed = false;
beforeAll(async () => {
  // Another engineer's run (or the proxy suite) may have its proxy on this host: wait for it to go.
  const deadline = Date.now() + 240_000;
  while (containers() !== "") {
    if (Date.now() > deadline) throw new Error(`a ${PROJECT} is already installed on the test host and did not go away; remove it (docker compose -p ${PROJECT} down) and run again`);
    await new Promise((resolve) => setTimeout(resolve, 5000));
  }
  // What a killed run of this file left (no container, so nobody's live proxy).
  onServer(`rm -rf ${STATE} ${CONFIG}`);
}, 300_000);

afterAll(() => {
  if (!installed) return;
  removeProject(PROJECT);
  // Every file of the install is the deploy user's (no folder made by a bind mount): no container needed to remove them.
  onServer(`rm -rf apps/${PROJECT} apps/.deploy-vps/${PROJECT} ${STATE} ${CONFIG}`);
});

const listen = `127.0.0.1:${await freePort()}`;
const admin = `127.0.0.1:${await freePort()}`;
/** The admin address the upgrade moves to, kept by the installs after it. */
const newAdmin = `127.0.0.1:${await freePort()}`;
const local = tempDir("proxy");

/** The test host's sshd config with AllowStreamLocalForwarding off, on a port of its own; stopped (by its pid) after the file. */
const sshdPids: string[] = [];
afterAll(() => {
  for (const pidFile of sshdPids) execFileSync("sh", ["-c", `kill "$(cat ${pidFile})"`]);
});
async function restrictedSshd(): Promise<{ port: string; knownHosts: string }> {
  const port = await freePort();
  const hostDir = "/var/lib/deploy-vps-test-host";
  const base = readFileSync(join(hostDir, "sshd_config"), "utf8");
  const global = base.slice(0, base.search(/^Match /m)).replace(/^Port .*$/m, `Port ${port}`).replace(/^PidFile .*$/m, `PidFile ${local}/sshd.pid`);
  const config = join(local, "sshd_config");
  writeFileSync(config, `${global}AllowStreamLocalForwarding no\n${base.slice(base.search(/^Match /m))}`);
  execFileSync("/usr/sbin/sshd", ["-f", config]);
  sshdPids.push(join(local, "sshd.pid"));
  const knownHosts = join(local, "known_hosts");
  const [type, key] = readFileSync(join(hostDir, "ssh_host_ed25519_key.pub"), "utf8").split(" ");
  writeFileSync(knownHosts, `[127.0.0.1]:${port} ${type} ${key}\n`);
  return { port, knownHosts };
}

describe("proxy nginx", () => {
  it("prints a server block that nginx accepts", async () => {
    const run = await runCli(["proxy", "nginx", "docs.example.com", "*.docs.example.com", "--listen", `127.0.0.1:${await freePort()}`, "--proxy", listen]);
    expect(run.code).toBe(0);
    const conf = join(local, "nginx.conf");
    writeFileSync(conf, `pid ${local}/nginx.pid;\nerror_log ${local}/error.log;\nevents {}\nhttp {\n  access_log off;\n${run.stdout}}\n`);
    // nginx -t parses the file and checks every directive; it fails on a single bad one.
    expect(() => execFileSync("nginx", ["-t", "-q", "-c", conf, "-p", local], { stdio: "pipe" })).not.toThrow();
  });

  it("refuses a bad host name in one line, exit 2, without SSH", async () => {
    const run = await runCli(["proxy", "nginx", "bad_host!"], { DEPLOY_HOST: "203.0.113.1" });
    expect(run.code).toBe(2);
    expect(run.stdout).toBe("");
    expect(run.stderr).toBe("deploy-vps: 'bad_host!' is not a host name (letters, digits, '-' and '.', or *.example.com).\n");
  });
});

describe("proxy install", () => {
  it.each([
    { option: "--config", name: "config.json", text: '{"services": [\n  {"name": "docs",, "port": 3001}\n]}\n', problem: "2:19: Expected double-quoted property name (JSON)" },
    {
      option: "--dependencies",
      name: "dependencies.yml",
      text: "services:\n  site:\n    dependencies:\n      - container: db\n        startOrder: 1\n        healthCheck: { command: docker exec web true }\n",
      problem: "6:33: command: docker exec runs in 'web', not in this entry's container db",
    },
  ])("refuses a bad $option before anything on the server changes (exit 2, file:line:col)", async ({ option, name, text, problem }) => {
    const bad = join(local, name);
    writeFileSync(bad, text);
    const before = serverSnapshot();
    const run = await runCli(["proxy", "install", "--image", "local/node:20", option, bad, "--listen", listen, "--admin", admin]);
    expect(run.code).toBe(2);
    expect(run.stderr).toBe(`deploy-vps: ${bad}:${problem}\n`);
    expect(serverSnapshot()).toBe(before);
  });

  it("refuses --systemd where no systemd user manager answers, writing nothing", async () => {
    const before = serverSnapshot();
    const run = await runCli(["proxy", "install", "--systemd", "--listen", listen, "--admin", admin]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^deploy-vps: --systemd needs a systemd user manager for the deploy user on 127\.0\.0\.1, .*install without --systemd/);
    expect(run.stderr.trim().split("\n")).toHaveLength(1);
    expect(serverSnapshot()).toBe(before);
  });

  it("status before any install: the proxy is not installed (exit 1)", async () => {
    const run = await runCli(["proxy", "status"]);
    expect(run.code).toBe(1);
    expect(run.stderr).toBe("deploy-vps: the proxy is not installed on 127.0.0.1 (deploy-vps proxy install -H 127.0.0.1).\n");
  });

  it("an image without Node: compose cannot start the daemon, exit 1 with Docker's reason", async () => {
    installed = true;
    const run = await runCli(["proxy", "install", "--image", "local/busybox:latest", "--listen", listen, "--admin", admin]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^deploy-vps: docker compose failed on 127\.0\.0\.1 .*"node": executable file not found/m);
  });

  const config = join(local, "seed-config.json");
  writeFileSync(config, '{ "services": [ { "name": "docs", "port": 3001, "timeout": 1800000, "mode": "blocking", "hosts": ["docs.example.com"] } ], "monitorUserAgents": [] }\n');

  it("installs the daemon as the deploy user, on the host's network, healthy, and shows its status", async () => {
    const run = await runCli(["proxy", "install", "--image", "local/node:20", "--config", config, "--listen", listen, "--admin", admin]);
    // The failed install above left release one: only the compose file changed since.
    expect(run.stderr).toContain(`Upload: 1 changed, 0 deleted, ${daemonFiles()} unchanged`);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`Proxy installed on 127.0.0.1 (in container ${PROJECT}), listening on ${listen}.`);
    expect(run.stdout).toMatch(/Runtime proxy on 127\.0\.0\.1: \d+ services?/);

    const [uid, gid, home, socketGid] = onServer("id -u; id -g; echo \"$HOME\"; stat -c %g /var/run/docker.sock").trim().split("\n");
    expect(inspect("{{.HostConfig.NetworkMode}} {{.Config.User}} {{.HostConfig.GroupAdd}} {{.HostConfig.RestartPolicy.Name}} {{.State.Health.Status}}")).toBe(
      `host ${uid}:${gid} [${socketGid}] unless-stopped healthy`,
    );
    expect(inspect("{{json .Config.Cmd}}")).toBe(
      JSON.stringify(["node", "/app/daemon.mjs", "--listen", listen, "--admin", admin, "--state", `${home}/${STATE}`, "--config", `${home}/${CONFIG}/config.json`, "--docker-socket", "/var/run/docker.sock"]),
    );
    expect(onServer(`cat ${CONFIG}/config.json`)).toBe(readFileSync(config, "utf8"));
    // The bundle finds its pages beside itself; the label that recreates the container covers them.
    expect(pagesInContainer()).toEqual(readdirSync(PAGES).sort());
    const files = await readDaemonFiles(pathToFileURL(join(ROOT, "dist/proxy/daemon.mjs")), pathToFileURL(`${PAGES}/`));
    expect(inspect('{{index .Config.Labels "deploy-vps.daemon.bundle"}}')).toBe(daemonFilesHash(files));
    // Only the deploy user may drive the daemon.
    expect(onServer(`stat -c '%a %u' ${STATE}/control.sock`).trim()).toBe(`600 ${uid}`);
  });

  it("status --json answers the contract's document over the control socket", async () => {
    const run = await runCli(["proxy", "status", "--json"]);
    expect(run.code).toBe(0);
    const doc = JSON.parse(run.stdout) as { services: unknown[]; memoryFreedBytes: number; conflicts: unknown[] };
    expect(Array.isArray(doc.services)).toBe(true);
    expect(typeof doc.memoryFreedBytes).toBe("number");
    expect(Array.isArray(doc.conflicts)).toBe(true);
  });

  it("status through an sshd that forbids stream-local forwarding: exit 1, naming AllowStreamLocalForwarding", async () => {
    const sshd = await restrictedSshd();
    const run = await runCli(["proxy", "status"], { DEPLOY_PORT: sshd.port, DEPLOY_KNOWN_HOSTS: sshd.knownHosts });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^deploy-vps: the server refused a channel to the proxy's control socket .*control\.sock .*AllowStreamLocalForwarding no/);
    expect(run.stderr.trim().split("\n")).toHaveLength(1);
  });

  it("a second install with nothing changed changes nothing: same container, upload skipped", async () => {
    const before = inspect("{{.Id}} {{.State.StartedAt}}");
    const run = await runCli(["proxy", "install", "--image", "local/node:20", "--listen", listen, "--admin", admin]);
    expect(run.code).toBe(0);
    expect(run.stderr).toMatch(/Upload: nothing changed since release/);
    expect(run.stdout).toContain("Proxy installed on 127.0.0.1 (unchanged)");
    expect(inspect("{{.Id}} {{.State.StartedAt}}")).toBe(before);
    // The config file uploaded before stays, and the daemon keeps reading it.
    expect(inspect("{{json .Config.Cmd}}")).toContain(`${CONFIG}/config.json`);
  });

  it("upgrades in place: a changed daemon file recreates the container, and the state folder survives", async () => {
    const before = inspect("{{.Id}}");
    onServer(`echo kept > ${STATE}/marker`);
    const run = await runCli(["proxy", "install", "--image", "local/node:20", "--listen", listen, "--admin", newAdmin]);
    expect(run.stderr.split("\n").filter((line) => line.startsWith("deploy-vps:"))).toEqual([]);
    expect(run.code).toBe(0);
    expect(run.stderr).toContain(`Upload: 1 changed, 0 deleted, ${daemonFiles()} unchanged`);
    expect(inspect("{{.Id}}")).not.toBe(before);
    expect(inspect("{{json .Config.Cmd}}")).toContain(newAdmin);
    expect(onServer(`cat ${STATE}/marker`)).toBe("kept\n");
    expect(run.stdout).toContain("Runtime proxy on 127.0.0.1");
  });

  it("a changed waiting page alone recreates the container, which sees it", async () => {
    const before = inspect("{{.Id}}");
    const page = join(PAGES, "e2e-added-theme.html");
    writeFileSync(page, "<!doctype html><title>{{ serviceName }}</title>\n");
    try {
      const run = await runCli(["proxy", "install", "--image", "local/node:20", "--listen", listen, "--admin", newAdmin]);
      expect(run.code).toBe(0);
      // The new page, and the compose file whose label changed with it.
      expect(run.stderr).toContain("Upload: 2 changed, 0 deleted");
      expect(inspect("{{.Id}}")).not.toBe(before);
      expect(pagesInContainer()).toContain("e2e-added-theme.html");
    } finally {
      rmSync(page);
    }
  });

  it("wake of an unknown service: the daemon's 404, exit 2", async () => {
    const run = await runCli(["proxy", "wake", "no-such-service"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toBe("deploy-vps: no service named no-such-service\n");
  });

  it("logs: the daemon's lines, read to the end", async () => {
    const run = await runCli(["proxy", "logs", "--lines", "5"]);
    expect(run.code).toBe(0);
    expect(run.stderr).toBe("");
  });
});
