/**
 * A blue-green switch through the runtime proxy (issue 17), end to end: the daemon installed by
 * the CLI on the test host, a routed stack whose app answers slowly, a second container of its
 * service made as a deploy makes it (`up --scale web=2 --no-recreate`), a load through the proxy
 * while the switch is asked over the control socket with curl, as the deploy's scripts ask it.
 */
import { setTimeout as sleep } from "node:timers/promises";
import WebSocket from "ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LiveTarget, SwitchRefusal, SwitchResult } from "../../src/proxy/status.js";
import { freePort, onServer, onServerAsync, removeStack, shq, uniqueName } from "./harness.js";
import { composeUp, everyStep, httpCall, proxyCli, removeDaemon, runningContainers, serviceStatus, untilAnswered, waitForService } from "./proxy-harness.js";

const stack = uniqueName("e2e-pxsw");
const host = `${stack}.test`;
const listenPort = await freePort();
const adminPort = await freePort();
const proxy = `http://127.0.0.1:${listenPort}`;
const DRAIN_SECONDS = 4;
/** Each request of the load: as long as a slow page. */
const SLOW = "/slow?ms=300";

/** The curl command line a deploy script runs on the server (contract: /work/notes/switch-design.md). */
const control = (method: "GET" | "POST", path: string) =>
  `curl -sS -X ${method} -w '\\n%{http_code}' --unix-socket "$HOME/.local/state/deploy-vps-proxy/control.sock" ${shq(`http://deploy-vps-proxy${path}`)}`;

/** The daemon's answer over its control socket, read from curl's output (body, then the status on the last line). */
async function ask<T>(method: "GET" | "POST", path: string): Promise<{ status: number; body: T }> {
  const output = (await onServerAsync(control(method, path))).trimEnd();
  const cut = output.lastIndexOf("\n");
  return { status: Number(output.slice(cut + 1)), body: JSON.parse(output.slice(0, cut)) as T };
}

const live = () => ask<LiveTarget | SwitchRefusal>("GET", `/services/${stack}/live`);

/** The web containers' ids, oldest first. */
function webContainers(): string[] {
  return onServer(`docker ps -q --no-trunc --filter ${shq(`label=com.docker.compose.project=${stack}`)} --filter label=com.docker.compose.service=web`)
    .split("\n")
    .filter(Boolean)
    .reverse();
}

/** When the app in container ID started: the proxy's answers carry it in /boot. */
function bootOf(id: string): number {
  return (JSON.parse(onServer(`docker exec ${shq(id)} wget -qO- http://127.0.0.1:8080/boot`)) as { startedAt: number }).startedAt;
}

const bootThroughProxy = async () => (JSON.parse((await httpCall(`${proxy}/boot`, { host })).body) as { startedAt: number }).startedAt;

afterAll(() => everyStep("proxy-switch.test.ts: cleanup failed", [removeDaemon, () => removeStack(stack, `apps/${stack}`)]));

beforeAll(async () => {
  // The install runs over its own SSH connection while compose brings the stack up.
  const installing = proxyCli("install", "--image", "local/node:20", "--listen", `127.0.0.1:${listenPort}`, "--admin", `127.0.0.1:${adminPort}`);
  composeUp(stack, { variant: "unready-sibling", startDelayMs: 1000, labels: { host, port: 8080, mode: "blocking", idle: "1h" } });
  const install = await installing;
  expect(install.code, install.stderr).toBe(0);
  await waitForService(stack, "ready");
  await untilAnswered(`${proxy}/hello`, { host });
});

describe("a blue-green switch through the proxy", () => {
  let oldId = "";
  let newId = "";

  it("forwards to the oldest container while a second one of the service runs beside it", async () => {
    [oldId = ""] = webContainers();
    expect(await live()).toEqual({ status: 200, body: { id: oldId, name: `${stack}-web-1`, port: 8080 } });
    onServer(`cd apps/${shq(stack)} && docker compose -p ${shq(stack)} -f compose.yaml up -d --no-deps --no-recreate --scale web=2 web 2>&1`);
    const both = webContainers();
    expect(both).toHaveLength(2);
    newId = both.find((id) => id !== oldId) ?? "";
    // The new one listens after its start delay: then it could take requests, and still gets none.
    await sleep(1500);
    const oldBoot = bootOf(oldId);
    for (let i = 0; i < 5; i++) expect(await bootThroughProxy()).toBe(oldBoot);
    expect((await live()).body).toMatchObject({ id: oldId });
  });

  it("switches under load with no failed request, lets the old container's requests finish, holds a websocket until the drain's end, then removes the old container", async () => {
    const failures: string[] = [];
    let done = 0;
    let loading = true;
    const load = Array.from({ length: 16 }, async (_, worker) => {
      for (let n = 0; loading; n++) {
        // Every third request a POST with a body: never replayed by the proxy, so it must never be lost.
        const post = (worker + n) % 3 === 0;
        const body = `order ${worker}-${n}`;
        const answer = await (post ? httpCall(`${proxy}/echo`, { host, method: "POST", body, headers: { "content-type": "text/plain" } }) : httpCall(`${proxy}${SLOW}`, { host })).catch(
          (error: Error) => ({ status: 0, body: error.message }),
        );
        if (answer.status !== 200 || answer.body !== (post ? body : "slow\n")) failures.push(`${post ? "POST" : "GET"} ${answer.status} ${answer.body}`);
        done += 1;
      }
    });
    const ws = new WebSocket(`ws://127.0.0.1:${listenPort}/ws`, { headers: { host }, perMessageDeflate: false });
    await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
    let wsClosedAt = 0;
    ws.once("close", () => (wsClosedAt = Date.now()));
    const echo = (text: string) =>
      new Promise<string>((resolve, reject) => {
        ws.once("message", (data) => resolve(String(data)));
        ws.send(text, (error) => {
          if (error) reject(error);
        });
      });
    expect(await echo("before")).toBe("before");
    // Slow requests on the old container when the switch comes: they must end well, not be cut.
    const inFlight = Array.from({ length: 5 }, () => httpCall(`${proxy}/slow?ms=2500`, { host }));
    await sleep(300);

    const asked = Date.now();
    const switching = ask<SwitchResult | SwitchRefusal>("POST", `/services/${stack}/switch?to=${newId}&drain=${DRAIN_SECONDS}&ready=20&after=remove`);
    // The pin is seen in `live` at once, long before the switch answers (after the drain).
    while (((await live()).body as LiveTarget).id !== newId) {
      if (Date.now() - asked > 20_000) throw new Error("the route never moved to the new container");
      await sleep(100);
    }
    const switchedSeen = Date.now();
    const newBoot = bootOf(newId);
    for (let i = 0; i < 5; i++) expect(await bootThroughProxy()).toBe(newBoot);
    // The websocket opened before the switch still runs on the old container, through the drain.
    expect(await echo("during the drain")).toBe("during the drain");
    expect(wsClosedAt).toBe(0);

    const slow = await Promise.all(inFlight);
    expect(slow.map((answer) => `${answer.status} ${answer.body}`)).toEqual(Array(5).fill("200 slow\n"));
    const switched = await switching;
    loading = false;
    await Promise.all(load);

    expect(switched.status, JSON.stringify(switched.body)).toBe(200);
    const result = switched.body as SwitchResult;
    expect(result).toMatchObject({ service: stack, to: { id: newId, name: `${stack}-web-2`, port: 8080 }, from: [{ id: oldId, name: `${stack}-web-1` }], after: "remove", cut: 1 });
    expect(result.drainedMs).toBeGreaterThanOrEqual(DRAIN_SECONDS * 1000 - 100);
    // Cut at the drain's deadline, not before.
    expect(wsClosedAt).toBeGreaterThan(0);
    expect(wsClosedAt - Date.parse(result.switchedAt)).toBeGreaterThanOrEqual(DRAIN_SECONDS * 1000 - 200);
    expect(wsClosedAt - switchedSeen).toBeLessThan(DRAIN_SECONDS * 1000 + 2000);

    expect(failures).toEqual([]);
    expect(done).toBeGreaterThan(100);
    expect(onServer(`docker ps -aq --no-trunc --filter id=${shq(oldId)}`).trim()).toBe("");
    expect(runningContainers(stack)).toEqual([`${stack}-sibling-1`, `${stack}-web-2`]);
    expect(await live()).toEqual({ status: 200, body: { id: newId, name: `${stack}-web-2`, port: 8080 } });
    const status = await serviceStatus(stack);
    expect(status).toMatchObject({ state: "ready", live: { id: newId, name: `${stack}-web-2`, port: 8080 } });
  });

  it("refuses with 422 a switch to a container that never becomes ready, and the route does not move", async () => {
    const sibling = onServer(`docker ps -q --no-trunc --filter ${shq(`label=com.docker.compose.project=${stack}`)} --filter label=com.docker.compose.service=sibling`).trim();
    // It listens on 8080 (a TCP connect would pass), but its health path answers 404.
    const refused = await ask<SwitchRefusal>("POST", `/services/${stack}/switch?to=${stack}-sibling-1&ready=2&drain=1&after=remove`);
    expect(refused).toEqual({
      status: 422,
      body: { error: `${stack}-sibling-1 was not ready within 2 s (GET /missing on port 8080 does not answer 2xx or 3xx); ${stack} still forwards where it did`, container: `${stack}-sibling-1` },
    });
    expect((await live()).body).toMatchObject({ id: newId });
    expect(await bootThroughProxy()).toBe(bootOf(newId));
    expect(onServer(`docker ps -q --no-trunc --filter id=${shq(sibling)}`).trim()).toBe(sibling);
  });

  it("answers 404, 409 and 400 before anything moves, and counts the switches in its metrics", async () => {
    expect(await ask("POST", `/services/nope-${stack}/switch?to=${newId}&after=keep`)).toEqual({ status: 404, body: { error: `no service named nope-${stack}` } });
    const daemon = onServer("docker ps -q --no-trunc --filter label=com.docker.compose.project=deploy-vps-proxy").trim();
    expect(await ask("POST", `/services/${stack}/switch?to=${daemon}&after=keep`)).toMatchObject({ status: 409, body: { error: `${daemon} is not a container of compose project ${stack}` } });
    expect(await ask("POST", `/services/${stack}/switch?to=${newId}&after=later`)).toMatchObject({ status: 400 });
    const metrics = (await httpCall(`http://127.0.0.1:${adminPort}/metrics`)).body;
    expect(metrics).toContain(`deploy_vps_proxy_switches_total{service="${stack}",outcome="switched"} 1`);
    expect(metrics).toContain(`deploy_vps_proxy_switches_total{service="${stack}",outcome="unready"} 1`);
    expect(metrics).toContain(`deploy_vps_proxy_drain_cut_total{service="${stack}"} 1`);
  });
});
