import { describe, expect, it } from "vitest";
import { PROXY_LABELS } from "../../../src/proxy/labels.js";
import { dependencyLabels, parseCheckProbe } from "../../../src/proxy/requirements.js";
import { labelled } from "./facts.js";

const REQUIRES = PROXY_LABELS.requires;
const SOURCE = "label deploy-vps.proxy.requires on shop-web-1";

function facts(labels: Record<string, string>) {
  const { facts, problems } = dependencyLabels(labelled(labels));
  expect(problems).toEqual([]);
  return facts;
}

function problems(labels: Record<string, string>): string[] {
  return dependencyLabels(labelled(labels)).problems;
}

describe("dependencyLabels", () => {
  it("declares nothing for a container without wake-chain labels", () => {
    expect(facts({})).toEqual({ requirements: [] });
    expect(facts({ [PROXY_LABELS.host]: "a.example.com", [PROXY_LABELS.port]: "80", [PROXY_LABELS.idle]: "5m" })).toEqual({ requirements: [] });
  });

  it("reads requires: project/service and container names, healthy by default", () => {
    expect(facts({ [REQUIRES]: "databases-shared/postgresql, databases-shared/redis:healthy,mysql-clemence" }).requirements).toEqual([
      { target: { project: "databases-shared", service: "postgresql" }, until: "ready", need: "required", source: SOURCE },
      { target: { project: "databases-shared", service: "redis" }, until: "ready", need: "required", source: SOURCE },
      { target: { container: "mysql-clemence" }, until: "ready", need: "required", source: SOURCE },
    ]);
  });

  it("reads every condition, ours and compose's", () => {
    const until = (condition: string) => facts({ [REQUIRES]: `db/postgres:${condition}` }).requirements[0]?.until;
    expect(until("started")).toBe("started");
    expect(until("healthy")).toBe("ready");
    expect(until("completed")).toBe("completed");
    expect(until("service_started")).toBe("started");
    expect(until("service_healthy")).toBe("ready");
    expect(until("service_completed_successfully")).toBe("completed");
    expect(until(" Healthy ")).toBe("ready");
  });

  it("reads wants as optional requirements, beside requires", () => {
    expect(facts({ [REQUIRES]: "db/postgres", [PROXY_LABELS.wants]: "monitoring/exporter:started" }).requirements).toEqual([
      { target: { project: "db", service: "postgres" }, until: "ready", need: "required", source: SOURCE },
      {
        target: { project: "monitoring", service: "exporter" },
        until: "started",
        need: "optional",
        source: "label deploy-vps.proxy.wants on shop-web-1",
      },
    ]);
  });

  it("names the label, the container and the item at fault, and keeps the good items", () => {
    const { facts: declared, problems: found } = dependencyLabels(labelled({ [REQUIRES]: "db/postgres, db/redis:ready" }));
    expect(found).toEqual(["label deploy-vps.proxy.requires on shop-web-1: 'db/redis:ready' has no condition 'ready' (started, healthy or completed)"]);
    expect(declared.requirements).toHaveLength(1);
  });

  it("refuses bad requirement syntax, one line each", () => {
    expect(problems({ [REQUIRES]: "" })).toEqual([
      "label deploy-vps.proxy.requires on shop-web-1: '' names nothing (e.g. databases/postgresql, mysql-clemence:healthy)",
    ]);
    expect(problems({ [PROXY_LABELS.wants]: " , " })).toEqual([
      "label deploy-vps.proxy.wants on shop-web-1: ' , ' names nothing (e.g. databases/postgresql, mysql-clemence:healthy)",
    ]);
    expect(problems({ [REQUIRES]: "a,,b" })).toEqual(["label deploy-vps.proxy.requires on shop-web-1: 'a,,b' has an empty item between its commas"]);
    expect(problems({ [REQUIRES]: "db:healthy:started" })).toEqual([
      "label deploy-vps.proxy.requires on shop-web-1: 'db:healthy:started' has more than one ':' (write NAME:CONDITION, CONDITION started, healthy or completed)",
    ]);
    expect(problems({ [REQUIRES]: "db:" })).toEqual([
      "label deploy-vps.proxy.requires on shop-web-1: 'db:' has no condition '' (started, healthy or completed)",
    ]);
    expect(problems({ [REQUIRES]: "my db" })).toEqual([
      "label deploy-vps.proxy.requires on shop-web-1: 'my db' is not a container name (letters, digits, '.', '_', '-')",
    ]);
    const notPair = "is not PROJECT/SERVICE (a compose project and one of its services, e.g. databases-shared/postgresql)";
    expect(problems({ [REQUIRES]: "a/b/c" })).toEqual([`label deploy-vps.proxy.requires on shop-web-1: 'a/b/c' ${notPair}`]);
    expect(problems({ [REQUIRES]: "Shop/web" })).toEqual([`label deploy-vps.proxy.requires on shop-web-1: 'Shop/web' ${notPair}`]);
    expect(problems({ [REQUIRES]: "shop/" })).toEqual([`label deploy-vps.proxy.requires on shop-web-1: 'shop/' ${notPair}`]);
  });

  it("reads a check with its defaults: 1s interval, 60s timeout, as many tries as fit", () => {
    expect(facts({ [PROXY_LABELS.check]: "tcp 5432" }).check).toEqual({ probe: { kind: "tcp", port: 5432 }, intervalMs: 1000, timeoutMs: 60_000, retries: 61 });
    expect(
      facts({
        [PROXY_LABELS.check]: "cmd pg_isready -U postgres",
        [PROXY_LABELS.checkInterval]: "500ms",
        [PROXY_LABELS.checkTimeout]: "30s",
      }).check,
    ).toEqual({ probe: { kind: "command", command: "pg_isready -U postgres" }, intervalMs: 500, timeoutMs: 30_000, retries: 61 });
    expect(facts({ [PROXY_LABELS.check]: "http 8080 /health", [PROXY_LABELS.checkRetries]: "5" }).check).toEqual({
      probe: { kind: "http", port: 8080, path: "/health" },
      intervalMs: 1000,
      timeoutMs: 60_000,
      retries: 5,
    });
  });

  it("refuses a bad check or check setting, and takes no check then", () => {
    const refused = (labels: Record<string, string>) => {
      const { facts: declared, problems: found } = dependencyLabels(labelled(labels));
      expect(declared.check).toBeUndefined();
      return found;
    };
    expect(refused({ [PROXY_LABELS.check]: "ping db" })).toEqual([
      "label deploy-vps.proxy.check on shop-web-1: 'ping db' is not a check (tcp PORT, http PORT /path, cmd COMMAND)",
    ]);
    expect(refused({ [PROXY_LABELS.check]: "tcp 5432", [PROXY_LABELS.checkInterval]: "soon" })).toEqual([
      "label deploy-vps.proxy.check-interval on shop-web-1: 'soon' is not a duration (e.g. 500ms, 2s, 1m)",
    ]);
    expect(refused({ [PROXY_LABELS.check]: "tcp 5432", [PROXY_LABELS.checkTimeout]: "0s" })).toEqual([
      "label deploy-vps.proxy.check-timeout on shop-web-1: '0s' is not a duration (e.g. 500ms, 2s, 1m)",
    ]);
    expect(refused({ [PROXY_LABELS.check]: "tcp 5432", [PROXY_LABELS.checkRetries]: "0" })).toEqual([
      "label deploy-vps.proxy.check-retries on shop-web-1: '0' is not a whole number of tries, 1 or more",
    ]);
    expect(refused({ [PROXY_LABELS.check]: "tcp 5432", [PROXY_LABELS.checkRetries]: "2.5" })).toEqual([
      "label deploy-vps.proxy.check-retries on shop-web-1: '2.5' is not a whole number of tries, 1 or more",
    ]);
    expect(refused({ [PROXY_LABELS.checkInterval]: "2s", [PROXY_LABELS.checkRetries]: "3" })).toEqual([
      "label deploy-vps.proxy.check-interval on shop-web-1: '2s' does nothing without deploy-vps.proxy.check",
      "label deploy-vps.proxy.check-retries on shop-web-1: '3' does nothing without deploy-vps.proxy.check",
    ]);
  });

  it("reads idle as a dependency's idle policy only on a container that is no route", () => {
    expect(facts({ [PROXY_LABELS.idle]: "10m" }).idleMs).toBe(600_000);
    expect(facts({ [PROXY_LABELS.idle]: "never" })).toEqual({ requirements: [] });
    expect(facts({ [PROXY_LABELS.idle]: "10m", [PROXY_LABELS.port]: "80" }).idleMs).toBeUndefined();
    expect(facts({ [PROXY_LABELS.idle]: "10m", [PROXY_LABELS.host]: "a.example.com" }).idleMs).toBeUndefined();
    expect(problems({ [PROXY_LABELS.idle]: "later" })).toEqual(["label deploy-vps.proxy.idle on shop-web-1: 'later' is not a duration (e.g. 10m, 1h, never)"]);
    expect(problems({ [PROXY_LABELS.idle]: "0" })).toEqual(["label deploy-vps.proxy.idle on shop-web-1: '0' is not a duration (e.g. 10m, 1h, never)"]);
  });

  it("shows a long or multi-line value on one line, cut short", () => {
    const [problem] = problems({ [REQUIRES]: `bad name\n${"x".repeat(200)}` });
    expect(problem).not.toContain("\n");
    expect(problem).toContain("...'");
  });
});

describe("parseCheckProbe", () => {
  it("reads tcp, http (path / by default) and cmd", () => {
    expect(parseCheckProbe(" TCP 6379 ")).toEqual({ kind: "tcp", port: 6379 });
    expect(parseCheckProbe("http 80")).toEqual({ kind: "http", port: 80, path: "/" });
    expect(parseCheckProbe("http 9200 /_cluster/health?wait_for_status=yellow")).toEqual({
      kind: "http",
      port: 9200,
      path: "/_cluster/health?wait_for_status=yellow",
    });
    expect(parseCheckProbe("cmd  mysqladmin ping -h localhost -p$MYSQL_ROOT_PASSWORD")).toEqual({
      kind: "command",
      command: "mysqladmin ping -h localhost -p$MYSQL_ROOT_PASSWORD",
    });
  });

  it("says what is wrong", () => {
    const usage = "is not a check (tcp PORT, http PORT /path, cmd COMMAND)";
    expect(parseCheckProbe("tcp")).toBe(`${usage}: tcp takes one port, 1-65535`);
    expect(parseCheckProbe("tcp 70000")).toBe(`${usage}: tcp takes one port, 1-65535`);
    expect(parseCheckProbe("tcp 80 81")).toBe(`${usage}: tcp takes one port, 1-65535`);
    expect(parseCheckProbe("http 80 health")).toBe(`${usage}: http takes a port, 1-65535, and a path starting with /`);
    expect(parseCheckProbe("http /health")).toBe(`${usage}: http takes a port, 1-65535, and a path starting with /`);
    expect(parseCheckProbe("cmd   ")).toBe(`${usage}: cmd takes the command to run inside the container`);
    expect(parseCheckProbe("")).toBe(usage);
  });
});
