import { describe, expect, it } from "vitest";
import { formatSeconds, renderFailure, renderPlan, renderStatus } from "../../../src/proxy/status-render.js";
import type { ServiceStatus, StatusDocument } from "../../../src/proxy/status.js";

const service = (overrides: Partial<ServiceStatus>): ServiceStatus => ({
  name: "shop",
  project: "shop",
  hosts: ["shop.example.com"],
  mode: "blocking",
  state: "ready",
  reason: null,
  idle: "30m",
  idleLeftSeconds: 750,
  lastStartMs: 4200,
  memoryBytes: 210_000_000,
  memoryFreedBytes: null,
  source: "labels on shop-web-1",
  ...overrides,
});

const doc = (services: ServiceStatus[], more: Partial<StatusDocument> = {}): StatusDocument => ({
  services,
  memoryFreedBytes: 1_350_000_000,
  configError: null,
  conflicts: [],
  version: "1",
  ...more,
});

describe("renderStatus", () => {
  it("shows one aligned row a service and the total freed", () => {
    const text = renderStatus(
      "vps",
      doc([
        service({}),
        service({ name: "docs", hosts: ["docs.example.com", "www.docs.example.com"], mode: "async", state: "sleeping", idleLeftSeconds: null, memoryBytes: null, memoryFreedBytes: 1_350_000_000 }),
        service({ name: "wiki", hosts: [], idle: "never", idleLeftSeconds: null, lastStartMs: null }),
      ]),
    );
    expect(text.split("\n")).toEqual([
      "Runtime proxy on vps: 3 services",
      "NAME  HOSTS                                  MODE      STATE     IDLE LEFT  LAST START  MEMORY  FREED",
      "shop  shop.example.com                       blocking  ready     12m 30s    4.2 s       210 MB  -",
      "docs  docs.example.com,www.docs.example.com  async     sleeping  -          4.2 s       -       1.4 GB",
      "wiki  -                                      blocking  ready     never      -           210 MB  -",
      "Memory freed by the services asleep: 1.4 GB",
    ]);
  });

  it("names the container each running service forwards to, under its row", () => {
    const text = renderStatus("vps", doc([service({ live: { id: "0123456789abcdef".repeat(4), name: "shop-web-2", port: 8080 } }), service({ name: "docs", state: "sleeping" })]));
    expect(text.split("\n").slice(2, 5)).toEqual([
      "shop  shop.example.com  blocking  ready     12m 30s    4.2 s       210 MB  -",
      "  live: shop-web-2 port 8080 (id 0123456789ab)",
      "docs  shop.example.com  blocking  sleeping  12m 30s    4.2 s       210 MB  -",
    ]);
  });

  it("says why a service is failed or disabled, its last failure, conflicts and a bad config file", () => {
    const text = renderStatus(
      "vps",
      doc(
        [
          service({ state: "disabled", reason: "label deploy-vps.proxy.port on shop-web-1: 'abc' is not a port (1-65535)" }),
          service({ name: "api", state: "failed", reason: "start timed out", lastFailure: { container: "api-web-1", reason: "exited with code 1", logs: [] }, conflict: "config.json:3:5 also names api" }),
        ],
        { conflicts: ["a.example.com is claimed by shop and api"], configError: "config.json:2:16: Unexpected ," },
      ),
    );
    expect(text).toContain("\n  disabled: label deploy-vps.proxy.port on shop-web-1: 'abc' is not a port (1-65535)\n");
    expect(text).toContain("\n  failed: start timed out\n  last failure: api-web-1: exited with code 1\n  conflict: config.json:3:5 also names api\n");
    expect(text).toContain("\nconflict: a.example.com is claimed by shop and api\n");
    expect(text).toContain("\nconfig file not applied (the last good one runs): config.json:2:16: Unexpected ,\n");
  });

  it("says how to opt in when nothing is proxied", () => {
    expect(renderStatus("vps", doc([], { memoryFreedBytes: 0 }))).toBe(
      "Runtime proxy on vps: 0 services\n  no service asks to be proxied yet (label one with deploy-vps.proxy.host and deploy-vps.proxy.port)\nMemory freed by the services asleep: 0 B",
    );
  });
});

describe("formatSeconds", () => {
  it("reads as a duration", () => {
    expect([0, 59, 60, 750, 3600, 5400].map(formatSeconds)).toEqual(["0s", "59s", "1m 0s", "12m 30s", "1h 0m", "1h 30m"]);
  });
});

describe("renderPlan and renderFailure", () => {
  it("lists what would start, level by level, side by side where a level has several", () => {
    const step = (project: string, service: string, estimatedMs: number, running = false, type: "required" | "optional" = "required") =>
      ({ project, service, container: `${project}-${service}-1`, type, estimatedMs, running });
    expect(
      renderPlan({
        service: "shop",
        levels: [[step("shared", "db", 8000), step("shared", "redis", 0, true)], [step("shop", "web", 2500), step("shop", "mail", 500, false, "optional")]],
        estimatedMs: 10_500,
        parallel: true,
      }),
    ).toBe(
      "Waking shop would take about 10.5 s:\n" +
        "  1. side by side: shared/db (shared-db-1) ~8.0 s, shared/redis (shared-redis-1) already runs\n" +
        "  2. side by side: shop/web (shop-web-1) ~2.5 s, shop/mail (shop-mail-1, optional) ~0.5 s",
    );
    expect(renderPlan({ service: "shop", levels: [[step("shop", "web", 0, true)]], estimatedMs: 0, parallel: false })).toContain("start nothing");
  });

  it("names the failing container and its last log lines", () => {
    expect(renderFailure("shop", { state: "failed", reason: "exited with code 1", container: "shop-web-1", logs: ["Error: EADDRINUSE", "at listen"] })).toBe(
      "shop failed: shop-web-1: exited with code 1\n  shop-web-1 | Error: EADDRINUSE\n  shop-web-1 | at listen",
    );
  });
});
