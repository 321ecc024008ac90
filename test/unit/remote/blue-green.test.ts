import { once } from "node:events";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { blueGreenScript } from "../../../src/blue-green/start.js";
import { runRemoteCommand } from "./run.js";

/**
 * blue-green.sh under /bin/sh with stand-ins: a `docker` that keeps the service's container ids
 * in a file (a `--scale` adds the next one, `rm -f` takes them out) and a `curl` that answers
 * the control socket's requests from files. Both record their calls. The real daemon, compose
 * and Docker are the e2e tests'.
 */
const FAKE_DOCKER = `#!/bin/sh
here=$(dirname "$0")
printf 'docker %s\\n' "$*" >> "$here/calls"
case "$1" in
  compose) case "$*" in *--scale*) cat "$here/next-id" >> "$here/ids" ;; esac; echo "compose says $*" ;;
  ps) cat "$here/ids" ;;
  rm) shift; for id; do [ "$id" = -f ] || { grep -v -x "$id" "$here/ids" > "$here/ids.new"; mv "$here/ids.new" "$here/ids"; }; done ;;
  logs) cat "$here/logs" ;;
  *) echo "fake docker: unexpected $*" >&2; exit 1 ;;
esac
`;
const FAKE_CURL = `#!/bin/sh
here=$(dirname "$0")
printf 'curl %s\\n' "$*" >> "$here/calls"
out=/dev/null
while [ $# -gt 0 ]; do case "$1" in -o) out=$2; shift ;; http*) url=$1 ;; esac; shift; done
case "$url" in */live) kind=live ;; *) kind=switch ;; esac
cat "$here/$kind.body" > "$out"
cat "$here/$kind.status"
`;

const root = mkdtempSync(join(tmpdir(), "blue-green-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const OLD = "a".repeat(64);
const NEW = "b".repeat(64);
const LEFTOVER = "c".repeat(64);
const web = { service: "web", unit: "shop/web", drainSeconds: 30, readySeconds: 120 };

let dir: string;
let bin: string;
let control: Server | undefined;
beforeEach(async () => {
  dir = mkdtempSync(join(root, "t-"));
  bin = join(dir, "bin");
  mkdirSync(bin);
  for (const [name, text] of [["docker", FAKE_DOCKER], ["curl", FAKE_CURL]] as const) {
    writeFileSync(join(bin, name), text);
    chmodSync(join(bin, name), 0o755);
  }
  writeFileSync(join(bin, "next-id"), `${NEW}\n`);
  const state = join(dir, ".local", "state", "deploy-vps-proxy");
  mkdirSync(state, { recursive: true });
  control = createServer().listen(join(state, "control.sock"));
  await once(control, "listening");
});
afterEach(() => control?.close());

const answer = (kind: "live" | "switch", status: number, body: unknown) => {
  writeFileSync(join(bin, `${kind}.status`), String(status));
  writeFileSync(join(bin, `${kind}.body`), `${JSON.stringify(body)}\n`);
};
const containers = (...ids: string[]) => writeFileSync(join(bin, "ids"), ids.map((id) => `${id}\n`).join(""));
const calls = () => readFileSync(join(bin, "calls"), "utf8").split("\n").filter(Boolean);

function run(build = false) {
  const script = blueGreenScript(dir, { kind: "v2", project: "shop", files: ["compose.yaml"] }, build, [web]);
  return runRemoteCommand(script, { cwd: dir, env: { PATH: `${bin}:${process.env.PATH}` } });
}

const compose = "docker compose -p shop --env-file .env -f compose.yaml";
const ps = "docker ps -aq --no-trunc --filter label=com.docker.compose.project=shop --filter label=com.docker.compose.service=web --filter label=com.docker.compose.oneoff=False";

describe("blue-green.sh", () => {
  it("removes what an unfinished switch left, starts a second container, has the proxy switch to it, then brings the rest up", () => {
    containers(OLD, LEFTOVER);
    answer("live", 200, { id: OLD, name: "shop-web-1", port: 3000 });
    answer("switch", 200, { service: "shop/web", to: { id: NEW, name: "shop-web-2", port: 3000 }, from: [{ id: OLD, name: "shop-web-1" }] });
    const result = run(true);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    const socket = join(dir, ".local/state/deploy-vps-proxy/control.sock");
    const curl = `curl -sS --unix-socket ${socket} -o`;
    expect(calls().map((call) => call.replace(/ -o \S+/, " -o"))).toEqual([
      `${compose} build`,
      `${curl} -w %{http_code} http://proxy/services/shop%2Fweb/live`,
      ps,
      `docker rm -f ${LEFTOVER}`,
      `${compose} up -d --no-deps --no-recreate --scale web=2 web`,
      ps,
      `${curl} -w %{http_code} -X POST http://proxy/services/shop%2Fweb/switch?to=${NEW}&drain=30&ready=120&after=remove`,
      `${compose} up -d --remove-orphans`,
    ]);
    expect(result.stdout.split("\n").filter((line) => line.startsWith("deploy-vps:step "))).toEqual([
      "deploy-vps:step web: removing what an unfinished switch left",
      "deploy-vps:step web: starting a new container beside the one serving",
      "deploy-vps:step web: waiting up to 120 s for it to be ready, then switching",
      "deploy-vps:step web: switched to shop-web-2, the old one drained and removed",
    ]);
  });

  it("a new container never ready: prints its last log lines, removes it, exits 3; the rest is not brought up", () => {
    containers(OLD);
    answer("live", 200, { id: OLD, name: "shop-web-1", port: 3000 });
    answer("switch", 422, { error: "not ready after 120 s", container: "shop-web-2" });
    writeFileSync(join(bin, "logs"), "listening on 3000\nError: cannot reach db\n");
    const result = run();
    expect(result.code).toBe(3);
    expect(result.stdout.split("\n").filter((line) => /^deploy-vps:(log|unready) /.test(line))).toEqual([
      "deploy-vps:log listening on 3000",
      "deploy-vps:log Error: cannot reach db",
      "deploy-vps:unready web: its new container was not ready within 120 s (not ready after 120 s); it was removed, the old one still serves",
    ]);
    expect(calls().slice(-2)).toEqual([`docker logs --tail 20 ${NEW}`, `docker rm -f ${NEW}`]);
    expect(readFileSync(join(bin, "ids"), "utf8")).toBe(`${OLD}\n`);
  });

  it("no container serves (a first deploy, a stack asleep): nothing but the `up -d`", () => {
    containers();
    answer("live", 404, { error: "no container of shop/web runs" });
    const result = run();
    expect(result.code).toBe(0);
    expect(calls().filter((call) => call.startsWith("docker"))).toEqual([`${compose} up -d --remove-orphans`]);
  });

  it("a switch the proxy refuses (no route, another switch running): the new container is removed, exit 1", () => {
    containers(OLD);
    answer("live", 200, { id: OLD, name: "shop-web-1", port: 3000 });
    answer("switch", 409, { error: "another switch of shop/web runs" });
    const result = run();
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("the proxy refused the switch of web (HTTP 409): another switch of shop/web runs");
    expect(calls().at(-1)).toBe(`docker rm -f ${NEW}`);
  });

  it("without the proxy's control socket, changes nothing and says what to do", () => {
    control?.close();
    rmSync(join(dir, ".local"), { recursive: true });
    containers(OLD);
    const result = run(true);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/control socket .* is missing: install the proxy/);
    expect(() => calls()).toThrow();
  });
});
