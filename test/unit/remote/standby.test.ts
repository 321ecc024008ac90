import { spawn } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { StandbyLayout } from "../../../src/blue-green/plan.js";
import { standbyStartScript } from "../../../src/blue-green/standby.js";

/**
 * standby.sh's path through the runtime proxy, here: a `docker` that keeps each service's
 * container in files (`running-S`, `exists-S` hold its id), and a control socket answering
 * `live` and `switch` as the daemon does (src/proxy/status.ts), with real curl. The nginx path
 * and real Docker are standby.test.ts's (e2e).
 */
const FAKE_DOCKER = `#!/bin/sh
state=$(dirname "$0")/state
printf '%s\\n' "$*" >> "$state/calls"
service_of() { grep -l "^$1$" "$state"/exists-* | sed 's/.*exists-//'; }
case "$1" in
  compose)
    last=$(eval "echo \\"\\\${$#}\\"")
    case "$*" in
      *" up --no-start "*) n=$(($(cat "$state/count") + 1)); echo $n > "$state/count"; printf '%064d\\n' "$n" > "$state/exists-$last" ;;
      *" up -d --no-deps --force-recreate "*) n=$(($(cat "$state/count") + 1)); echo $n > "$state/count"
        printf '%064d\\n' "$n" > "$state/exists-$last"; cp "$state/exists-$last" "$state/running-$last" ;;
      *" stop "*) rm -f "$state/running-$last" ;;
    esac ;;
  ps)
    service=$(printf '%s\\n' "$*" | sed -n 's/.*com.docker.compose.service=\\([^ ]*\\).*/\\1/p')
    kind=running; case "$*" in *" -a "*) kind=exists ;; esac
    if [ -n "$service" ]; then cat "$state/$kind-$service" 2>/dev/null; else cat "$state"/running-* 2>/dev/null; fi ;;
  inspect) cat "$state/env-$(service_of "$4")" 2>/dev/null; true ;;
  start) cp "$state/exists-$(service_of "$2")" "$state/running-$(service_of "$2")" ;;
  logs) echo "a log line" ;;
  rm|stop) true ;;
  *) echo "fake docker: unexpected $*" >&2; exit 1 ;;
esac
`;

let home: string;
let state: string;
let servers: Server[];
/** What the control socket was asked, `METHOD path?query`. */
let asked: string[];
let live: string | undefined;
let refuse: boolean;

const id = (n: number) => String(n).padStart(64, "0");
const write = (file: string, text: string) => writeFileSync(join(state, file), `${text}\n`);
const read = (file: string) => (existsSync(join(state, file)) ? readFileSync(join(state, file), "utf8").trim() : "");

async function listen(server: Server, where: string | number): Promise<void> {
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(where, resolve));
}

beforeEach(async () => {
  home = mkdtempSync(join(tmpdir(), "standby-sh-"));
  state = join(home, "bin", "state");
  mkdirSync(state, { recursive: true });
  writeFileSync(join(home, "bin", "docker"), FAKE_DOCKER);
  chmodSync(join(home, "bin", "docker"), 0o755);
  write("count", "1");
  write("exists-web", id(1));
  write("running-web", id(1));
  write("env-web", "CRON_ENABLED=true");
  mkdirSync(join(home, "app"));
  servers = [];
  asked = [];
  live = id(1);
  refuse = false;
  const socketFolder = join(home, ".local/state/deploy-vps-proxy");
  mkdirSync(socketFolder, { recursive: true });
  await listen(
    createServer((req, res) => {
      asked.push(`${req.method} ${req.url}`);
      const url = new URL(req.url ?? "/", "http://proxy");
      if (url.pathname === "/services/shop/live") return res.writeHead(200).end(JSON.stringify({ id: live, name: "c", port: 3000 }));
      if (refuse) return res.writeHead(422).end(JSON.stringify({ error: "web-standby-1 never answered; shop still forwards where it did" }));
      // The daemon's switch: the route moves, then the container it left is stopped.
      const from = readdirSync(state).find((file) => file.startsWith("running-") && read(file) === live);
      if (from) rmSync(join(state, from));
      live = url.searchParams.get("to") ?? undefined;
      res.writeHead(200).end("{}");
    }),
    join(socketFolder, "control.sock"),
  );
});

afterEach(async () => {
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  rmSync(home, { recursive: true, force: true });
});

async function runScript(): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const health = createServer((_, res) => res.end("ok"));
  await listen(health, 0);
  const port = (health.address() as AddressInfo).port;
  const layout: StandbyLayout = {
    primary: "web",
    standby: "web-standby",
    primaryPort: port,
    standbyPort: port,
    primaryContainerPort: 3000,
    standbyContainerPort: 3001,
    others: ["worker"],
    health: "http://127.0.0.1:{port}/_health",
    intervalSeconds: 1,
    timeoutSeconds: 5,
    drainSeconds: 7,
    cronVariable: "CRON_ENABLED",
    unit: "shop",
  };
  const script = standbyStartScript("app", { kind: "v2", project: "shop", files: ["compose.yaml"] }, false, layout);
  return new Promise((resolve) => {
    const child = spawn("/bin/sh", ["-c", script.code], {
      cwd: home,
      env: { PATH: `${join(home, "bin")}:${process.env.PATH}`, HOME: home, LC_ALL: "C" },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => (stdout += chunk));
    child.stderr.on("data", (chunk) => (stderr += chunk));
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

const switches = () => asked.filter((call) => call.startsWith("POST"));
const composeCalls = () => read("calls").split("\n").filter((call) => call.startsWith("compose"));

describe("standby.sh through the runtime proxy", () => {
  it("switches to the standby on its container port, recreates the primary, switches back: no compose stop", async () => {
    const run = await runScript();
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(switches()).toEqual([
      `POST /services/shop/switch?to=${id(2)}&port=3001&drain=7&ready=5&after=stop`,
      `POST /services/shop/switch?to=${id(3)}&port=3000&drain=7&ready=5&after=stop`,
    ]);
    expect(composeCalls().filter((call) => / stop /.test(call))).toEqual([]);
    expect(composeCalls().at(-1)).toBe("compose -p shop --env-file .env -f compose.yaml up -d --remove-orphans web worker");
    expect(live).toBe(id(3));
    expect(read("running-web-standby")).toBe("");
  });

  it("undoes a deploy that left both running with the standby live: traffic back to the primary first", async () => {
    write("exists-web-standby", id(9));
    write("running-web-standby", id(9));
    live = id(9);
    const run = await runScript();
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toContain("deploy-vps:step the last deploy left web-standby running: traffic back to web\n");
    expect(switches()[0]).toBe(`POST /services/shop/switch?to=${id(1)}&port=3000&drain=7&ready=5&after=stop`);
    expect(switches()).toHaveLength(3);
  });

  it("fails, the primary still routed and the standby stopped, when the proxy refuses the switch", async () => {
    refuse = true;
    const run = await runScript();
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`the proxy did not switch shop to ${id(2)}: {"error":"web-standby-1 never answered; shop still forwards where it did"}`);
    expect(read("running-web")).toBe(id(1));
    expect(composeCalls().some((call) => call.endsWith("--force-recreate web"))).toBe(false);
    expect(read("running-web-standby")).toBe("");
  });

  it("refuses, before anything changes, while another container runs with the cron variable on", async () => {
    write("exists-web-standby", id(9));
    write("running-web-standby", id(9));
    write("env-web-standby", "CRON_ENABLED=On");
    const run = await runScript();
    expect(run.code).toBe(2);
    expect(run.stdout).toContain(`deploy-vps:refused container ${id(9)} of shop runs with CRON_ENABLED on, and only web may`);
    expect(asked.filter((call) => call.startsWith("POST"))).toEqual([]);
    expect(composeCalls()).toEqual([]);
  });
});
