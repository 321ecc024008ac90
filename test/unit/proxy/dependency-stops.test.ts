import { describe, expect, it } from "vitest";
import { dependencyStops, failedWakeStops, sleepDecision } from "../../../src/proxy/dependency-stops.js";
import type { ContainerFacts, DependencyFacts, UnitState } from "../../../src/proxy/model.js";
import { dependencyGraph, type UnitView } from "../../../src/proxy/wake-chain.js";
import { compose, declared, dependsOn, plain, requirement } from "./chain-facts.js";

const MINUTE = 60_000;
const none = new Set<string>();
const NOW = Date.parse("2026-11-30T12:00:00Z");
const up = { state: "running", startedAt: "2026-11-30T11:00:00Z" };

const view = (name: string, state: UnitState, routed = [`${name}/web`], members: string[] = [], idleMs: number | null = null): UnitView => ({
  name,
  project: name,
  state,
  members,
  routed: new Set(routed),
  idleMs,
});

/**
 * Nextcloud and a wiki both need the shared postgresql; redis only Nextcloud; both declare 10m of
 * idleness. The sites run while their unit is ready or starting, as the daemon keeps them.
 */
function sharedDatabases(units: UnitView[], idle: Partial<DependencyFacts> = { idleMs: 10 * MINUTE }) {
  const site = (name: string) => (units.some((u) => u.name === name && (u.state === "ready" || u.state === "starting")) ? up : {});
  const containers: ContainerFacts[] = [
    compose("nc", "web", site("nc")),
    compose("wiki", "web", site("wiki")),
    compose("shared", "postgresql", up),
    compose("shared", "redis", up),
  ];
  return dependencyGraph(
    containers,
    declared({
      "nc/web": { requirements: [requirement("shared/postgresql"), requirement("shared/redis")] },
      "wiki/web": { requirements: [requirement("shared/postgresql")] },
      "shared/postgresql": idle,
      "shared/redis": idle,
    }),
  );
}

describe("dependencyStops", () => {
  it("stops a shared dependency only once no ready or starting unit has needed it for its idle time", () => {
    const decide = (units: UnitView[], lastNeeded: ReadonlyMap<string, number>, now: number) =>
      dependencyStops({ graph: sharedDatabases(units), startsInFlight: none, units, lastNeeded, now });

    const bothUp = decide([view("nc", "ready"), view("wiki", "starting")], new Map(), NOW);
    expect(bothUp.stop).toEqual([]);
    expect(bothUp.lastNeeded.get("shared/postgresql")).toBe(NOW);

    // Nextcloud sleeps: redis is no longer needed, postgresql still is by the wiki.
    const wikiOnly = [view("nc", "sleeping"), view("wiki", "ready")];
    const ncAsleep = decide(wikiOnly, bothUp.lastNeeded, NOW + MINUTE);
    expect(ncAsleep.stop).toEqual([]);
    expect(ncAsleep.nextCheckAt).toBe(NOW + 10 * MINUTE);

    const redisIdle = decide(wikiOnly, ncAsleep.lastNeeded, NOW + 10 * MINUTE);
    expect(redisIdle.stop).toEqual([["shared/redis"]]);

    // Both asleep: postgresql waits its own 10 minutes from the wiki's last need.
    const allAsleep = [view("nc", "sleeping"), view("wiki", "sleeping")];
    const early = decide(allAsleep, redisIdle.lastNeeded, NOW + 15 * MINUTE);
    expect(early.stop).toEqual([["shared/redis"]]);
    expect(early.nextCheckAt).toBe(NOW + 20 * MINUTE);
    expect(decide(allAsleep, early.lastNeeded, NOW + 20 * MINUTE).stop).toEqual([
      ["shared/postgresql", "shared/redis"],
    ]);
  });

  it("never stops a dependency that declares no idle policy (the seed's always-on shared databases)", () => {
    const units = [view("nc", "sleeping"), view("wiki", "failed")];
    const result = dependencyStops({ graph: sharedDatabases(units, {}), startsInFlight: none, units, lastNeeded: new Map(), now: NOW + 999 * MINUTE });
    expect(result).toMatchObject({ stop: [], nextCheckAt: null });
  });

  it("counts idleness from the container's start when no unit was ever seen needing it", () => {
    const result = dependencyStops({ graph: sharedDatabases([]), startsInFlight: none, units: [], lastNeeded: new Map(), now: Date.parse("2026-11-30T11:05:00Z") });
    expect(result).toMatchObject({ stop: [], nextCheckAt: Date.parse("2026-11-30T11:10:00Z") });
  });

  it("stops dependents first, and keeps what a running container outside the stop still needs", () => {
    const containers = [
      compose("db", "pgbouncer", up),
      compose("db", "postgresql", up),
      compose("cache", "redis", up),
      plain("cron-runner", up),
    ];
    const graph = dependencyGraph(
      containers,
      declared({
        "db/pgbouncer": { requirements: [requirement("db/postgresql")], idleMs: 0 },
        "db/postgresql": { idleMs: 0 },
        "cache/redis": { idleMs: 0 },
        // Started by hand, needs redis and has no idle policy: redis stays while it runs.
        "cron-runner": { requirements: [requirement("cache/redis")] },
      }),
    );
    const result = dependencyStops({ graph, startsInFlight: none, units: [], lastNeeded: new Map(), now: NOW });
    expect(result.stop).toEqual([["db/pgbouncer"], ["db/postgresql"]]);
  });

  it("keeps what a starting unit needs though nothing that needs it runs yet", () => {
    const graph = dependencyGraph([compose("api", "web"), compose("shared", "redis", up)], declared({
      "api/web": { requirements: [requirement("shared/redis")] },
      "shared/redis": { idleMs: 0 },
    }));
    const decide = (state: UnitState) => dependencyStops({ graph, units: [view("api", state)], startsInFlight: none, lastNeeded: new Map(), now: NOW });
    expect(decide("starting").stop).toEqual([]);
    expect(decide("stopping").stop).toEqual([["shared/redis"]]);
  });

  it("keeps what a container being started needs, as if it ran", () => {
    const graph = dependencyGraph([compose("api", "web"), compose("shared", "redis", up)], declared({
      "api/web": { requirements: [requirement("shared/redis")] },
      "shared/redis": { idleMs: 0 },
    }));
    const input = { graph, units: [view("api", "failed")], lastNeeded: new Map<string, number>(), now: NOW };
    expect(dependencyStops({ ...input, startsInFlight: new Set(["api/web"]) }).stop).toEqual([]);
    expect(dependencyStops({ ...input, startsInFlight: none }).stop).toEqual([["shared/redis"]]);
  });

  it("stops what a unit's sleep kept up for another unit once nobody has needed it for the unit's own idle time", () => {
    const graph = (reports: Partial<ContainerFacts>) =>
      dependencyGraph(
        [compose("shop", "web"), compose("shop", "db", up), compose("reports", "web", reports)],
        declared({ "reports/web": { requirements: [requirement("shop/db")] } }),
      );
    const shop = (idleMs: number | null) => view("shop", "sleeping", ["shop/web"], [], idleMs);
    const needed = dependencyStops({ graph: graph(up), startsInFlight: none, units: [shop(5 * MINUTE), view("reports", "ready")], lastNeeded: new Map(), now: NOW });
    expect(needed.stop).toEqual([]);

    const unneeded = [shop(5 * MINUTE), view("reports", "sleeping")];
    const early = dependencyStops({ graph: graph({}), startsInFlight: none, units: unneeded, lastNeeded: needed.lastNeeded, now: NOW + MINUTE });
    expect(early).toMatchObject({ stop: [], nextCheckAt: NOW + 5 * MINUTE });
    expect(dependencyStops({ graph: graph({}), startsInFlight: none, units: unneeded, lastNeeded: early.lastNeeded, now: NOW + 5 * MINUTE }).stop).toEqual([["shop/db"]]);
    // A unit that never idles leaves its containers up; a ready one needs its own.
    const never = dependencyStops({ graph: graph({}), startsInFlight: none, units: [shop(null), view("reports", "sleeping")], lastNeeded: needed.lastNeeded, now: NOW + 99 * MINUTE });
    expect(never.stop).toEqual([]);
    const ready = [view("shop", "ready", ["shop/web"], [], 0), view("reports", "sleeping")];
    expect(dependencyStops({ graph: graph({}), startsInFlight: none, units: ready, lastNeeded: needed.lastNeeded, now: NOW + 99 * MINUTE }).stop).toEqual([]);
  });
});

describe("sleepDecision", () => {
  it("stops a unit's own containers dependents first, and its members", () => {
    const graph = dependencyGraph(
      [
        compose("clemence", "wordpress", { ...up, dependsOn: [dependsOn("mysql", "service_healthy")] }),
        compose("clemence", "mysql", up),
        compose("clemence", "wpcli"),
        plain("nginx-clemence", up),
      ],
      declared({ "nginx-clemence": { requirements: [requirement("clemence-wordpress-1", "started")] } }),
    );
    const units = [view("clemence", "ready", ["clemence/wordpress"], ["nginx-clemence"])];
    expect(sleepDecision(graph, units, "clemence", none)).toEqual({ stop: [["nginx-clemence"], ["clemence/wordpress"], ["clemence/mysql"]], keep: [] });
  });

  it("keeps the own containers another ready or starting unit needs, with what they need, and stops the rest", () => {
    const graph = (reports: Partial<ContainerFacts>) =>
      dependencyGraph(
        [
          compose("shop", "web", { ...up, dependsOn: [dependsOn("db")] }),
          compose("shop", "db", { ...up, dependsOn: [dependsOn("volume-init", "service_completed_successfully")] }),
          compose("shop", "volume-init", up),
          compose("reports", "web", reports),
        ],
        declared({ "reports/web": { requirements: [requirement("shop/db")] } }),
      );
    const decision = sleepDecision(graph(up), [view("shop", "ready"), view("reports", "starting")], "shop", none);
    expect(decision).toEqual({
      stop: [["shop/web"]],
      keep: [
        { id: "shop/db", by: ["reports"] },
        { id: "shop/volume-init", by: ["reports"] },
      ],
    });
    // Once reports sleeps, nothing holds them.
    expect(sleepDecision(graph({}), [view("shop", "ready"), view("reports", "sleeping")], "shop", none)).toEqual({
      stop: [["shop/web"], ["shop/db"], ["shop/volume-init"]],
      keep: [],
    });
  });

  it("holds the unit awake when another unit needs its routed container", () => {
    const graph = (ui: Partial<ContainerFacts>) =>
      dependencyGraph(
        [compose("memvid-ui", "web", ui), compose("memvid-api", "web", up), compose("memvid-api", "worker", up)],
        declared({ "memvid-ui/web": { requirements: [requirement("memvid-api/web")] } }),
      );
    expect(sleepDecision(graph(up), [view("memvid-ui", "ready"), view("memvid-api", "ready")], "memvid-api", none)).toEqual({ hold: ["memvid-ui"] });
    expect(sleepDecision(graph({}), [view("memvid-ui", "starting"), view("memvid-api", "ready")], "memvid-api", none)).toEqual({ hold: ["memvid-ui"] });
    expect(sleepDecision(graph({}), [view("memvid-ui", "failed"), view("memvid-api", "ready")], "memvid-api", none)).toEqual({
      stop: [["memvid-api/web", "memvid-api/worker"]],
      keep: [],
    });
  });

  it("holds the unit awake while a running container outside it needs its routed container", () => {
    const graph = dependencyGraph(
      [compose("api", "web", up), plain("batch", up)],
      declared({ batch: { requirements: [requirement("api/web")] } }),
    );
    expect(sleepDecision(graph, [view("api", "ready")], "api", none)).toEqual({ hold: ["batch"] });
  });
});

describe("failedWakeStops", () => {
  it("stops what the failed wake started, dependents first, but what another unit needs or a container still up needs", () => {
    const graph = dependencyGraph(
      [
        compose("nc", "web"),
        compose("shared", "pgbouncer", up),
        compose("shared", "postgresql", up),
        compose("shared", "redis", up),
        compose("shared", "minio", up),
        compose("wiki", "web", up),
        plain("backup", up),
      ],
      declared({
        "nc/web": { requirements: [requirement("shared/pgbouncer"), requirement("shared/redis"), requirement("shared/minio")] },
        "shared/pgbouncer": { requirements: [requirement("shared/postgresql")] },
        "wiki/web": { requirements: [requirement("shared/redis")] },
        backup: { requirements: [requirement("shared/minio")] },
      }),
    );
    const started = new Set(["shared/pgbouncer", "shared/postgresql", "shared/redis", "shared/minio", "nc/web"]);
    const units = [view("nc", "starting"), view("wiki", "ready")];
    expect(failedWakeStops(graph, units, "nc", started, none)).toEqual([["shared/pgbouncer"], ["shared/postgresql"]]);
  });
});
