import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { monitorScreen } from "../../../src/monitor/render.js";
import { monitorScript, parseSnapshot } from "../../../src/monitor/snapshot.js";
import { CONTROL_SOCKET_PATH, type StatusDocument } from "../../../src/proxy/status.js";
import { serverLayout } from "../../../src/release/layout.js";
import { envInAnswer, parseProbe } from "../../../src/release/probe.js";
import { type FakeDocker, fakeDocker } from "./fake-docker.js";
import { runRemoteCommand } from "./run.js";

const root = mkdtempSync(join(tmpdir(), "remote-monitor-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const APP = "apps/my 'shop";
const container = (id: string, name: string, service: string, status: string) => ({
  Id: id,
  Name: `/${name}`,
  RestartCount: 0,
  Config: { Labels: { "com.docker.compose.service": service } },
  State: { Status: status, ExitCode: status === "running" ? 0 : 1, StartedAt: "2026-11-30T09:00:00Z" },
});

let home: string;
let docker: FakeDocker;
beforeEach(() => {
  home = mkdtempSync(join(root, "home-"));
  docker = fakeDocker(home);
  mkdirSync(join(home, APP), { recursive: true });
  writeFileSync(join(home, APP, ".env"), "DB_PASSWORD=hunter2\n");
  docker.answer("ids", "aaa\nbbb\n");
  // No cgroup of "aaa" on this machine: the use comes from docker stats.
  docker.answer("running", "aaa\n");
  docker.answer("inspect", JSON.stringify([container("aaa", "shop-web-1", "web", "running"), container("bbb", "shop-db-1", "db", "exited")]));
  docker.answer("names", "/shop-web-1\n/shop-db-1\n");
  docker.answer("stats", "shop-web-1\t1.50%\t20MiB / 1GiB\nshop-db-1\t0.00%\t0B / 0B\n");
  docker.answer("logs-shop-web-1", "listening\n");
  docker.answer("logs-shop-db-1", "a\nb\nc\npassword hunter2 refused\n");
});

const look = (localProject = "local") => runRemoteCommand(monitorScript(`~/${APP}`, localProject, 2), { cwd: home, env: docker.env });

describe("monitor.sh, after the probe, in one command", () => {
  it("gathers the project's containers, their use and logs, and the host's resources, the probe's answer kept", () => {
    const state = serverLayout(join(home, APP));
    mkdirSync(state.state, { recursive: true });
    writeFileSync(state.project, "recorded\n");
    writeFileSync(state.current, "20261130T090000000Z\n");
    const run = look();
    expect(run.stderr).toBe("");
    expect(parseProbe(run.stdout)).toMatchObject({ app: join(home, APP), appKind: "dir", project: "recorded", current: "20261130T090000000Z" });
    // The .env's values reach the client, which hides them from the logs (and never shows them).
    expect(envInAnswer(Buffer.from(run.stdout))).toBe("DB_PASSWORD=hunter2\n");
    const snapshot = parseSnapshot(run.stdout, Date.parse("2026-11-30T09:10:00Z"));
    expect(snapshot.project).toBe("recorded");
    expect(docker.calls()).toContain("ps -aq --filter label=com.docker.compose.project=recorded");
    expect(snapshot.services.map((s) => [s.service, s.cpuPercent, s.memory, s.uptimeSeconds, s.flagged])).toEqual([
      ["db", 0, "0B / 0B", null, true],
      ["web", 1.5, "20MiB / 1GiB", 600, false],
    ]);
    expect(snapshot.logs).toEqual(
      new Map([
        ["shop-web-1", ["listening"]],
        ["shop-db-1", ["c", "password hunter2 refused"]],
      ]),
    );
    expect(snapshot.resources.load).toHaveLength(3);
    expect(snapshot.resources.memory.totalBytes).toBeGreaterThan(0);
    expect(snapshot.resources.disk.totalBytes).toBeGreaterThan(0);
    expect(run.stdout.trimEnd().split("\n").at(-1)).toBe("done=");
  });

  it("monitors the project in the containers' labels when none is recorded", () => {
    docker.answer("labelled", "by-hand\n");
    expect(parseSnapshot(look().stdout, Date.now()).project).toBe("by-hand");
    expect(docker.calls()).toContain("ps -aq --filter label=com.docker.compose.project=by-hand");
  });

  it("else the local project's name, passed as data", () => {
    docker.answer("ids", "");
    const snapshot = parseSnapshot(look("it's $(local)").stdout, Date.now());
    expect(snapshot.project).toBe("it's $(local)");
    expect(snapshot.services).toEqual([]);
    expect(docker.calls()).toContain("ps -aq --filter label=com.docker.compose.project=it's $(local)");
  });

  it("says which container each of the project's proxy routes sends to, from the proxy's status on its socket", async () => {
    const state = serverLayout(join(home, APP));
    mkdirSync(state.state, { recursive: true });
    writeFileSync(state.project, "shop\n");
    const socket = join(home, CONTROL_SOCKET_PATH.slice(2));
    mkdirSync(join(socket, ".."), { recursive: true });
    const unit = (name: string, project: string, live?: string) => ({ name, project, ...(live ? { live: { id: "f".repeat(64), name: live, port: 8080 } } : {}) });
    const status = { services: [unit("shop", "shop", "shop-web-1"), unit("blog", "blog", "blog-web-2"), unit("asleep", "shop")], memoryFreedBytes: 0 };
    // In a process of its own: the script runs synchronously, and this one's event loop waits for it.
    const body = JSON.stringify(status as Partial<StatusDocument>);
    const server = spawn(process.execPath, ["-e", `require("http").createServer((req, res) => res.end(req.url === "/services" ? ${JSON.stringify(body)} : "{}")).listen(${JSON.stringify(socket)})`]);
    try {
      await expect.poll(() => existsSync(socket), { timeout: 10_000 }).toBe(true);
      const run = look();
      const snapshot = parseSnapshot(run.stdout, Date.now());
      expect(snapshot.live).toEqual([{ unit: "shop", container: "shop-web-1", service: "web" }]);
      expect(monitorScreen(snapshot, "vps", { allLogs: false, color: false })).toContain("live: the proxy's shop sends to shop-web-1 (web)");
    } finally {
      server.kill();
    }
  });

  it("without the proxy: no live line, and nothing else changes", () => {
    const snapshot = parseSnapshot(look().stdout, Date.now());
    expect(snapshot.live).toEqual([]);
    expect(monitorScreen(snapshot, "vps", { allLogs: false, color: false })).not.toContain("live:");
  });
});
