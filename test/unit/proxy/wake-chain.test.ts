import { describe, expect, it } from "vitest";
import type { ChainPlan, ContainerFacts, DependencyFacts } from "../../../src/proxy/model.js";
import { type ChainAnswer, dependencyGraph, neededBy, stepMove, wakeChain, type WakeUnit, wakePlanDocument } from "../../../src/proxy/wake-chain.js";
import { compose, declared, dependsOn, plain, requirement } from "./chain-facts.js";

const unit = (project: string, routed: string[], members: string[] = [], optionalMembers: string[] = []): WakeUnit => ({
  project,
  members,
  optionalMembers: new Set(optionalMembers),
  routed: new Set(routed),
});

function plan(answer: ChainAnswer): ChainPlan {
  if (!answer.ok) throw new Error(`no plan: ${JSON.stringify(answer)}`);
  return answer.plan;
}

const names = (chain: ChainPlan) => chain.levels.map((level) => level.map((s) => s.container.name));
const stepOf = (chain: ChainPlan, name: string) => chain.levels.flat().find((s) => s.container.name === name);

function chain(containers: ContainerFacts[], facts: Map<string, DependencyFacts>, wake: WakeUnit): ChainAnswer {
  return wakeChain(dependencyGraph(containers, facts), wake);
}

describe("wakeChain, the seed's four shapes", () => {
  it("WordPress: the database first, then the site, then the nginx the dependencies file lists after it", () => {
    const containers = [
      compose("clemence", "wordpress", { dependsOn: [dependsOn("mysql", "service_healthy")] }),
      compose("clemence", "mysql"),
      plain("nginx-clemence"),
    ];
    // As fileDependencies gives them: nginx needs the entry of the group before it; it is an optional member.
    const facts = declared({ "nginx-clemence": { requirements: [requirement("clemence-wordpress-1", "started", "required")] } });
    const wake = plan(chain(containers, facts, unit("clemence", ["clemence/wordpress"], ["nginx-clemence"], ["nginx-clemence"])));

    expect(names(wake)).toEqual([["clemence-mysql-1"], ["clemence-wordpress-1"], ["nginx-clemence"]]);
    expect(stepOf(wake, "clemence-mysql-1")).toMatchObject({ until: "ready", need: "required", own: true, routed: false });
    expect(stepOf(wake, "clemence-wordpress-1")).toMatchObject({ until: "ready", need: "required", own: true, routed: true });
    expect(stepOf(wake, "nginx-clemence")).toMatchObject({ until: "started", need: "optional", own: false });
  });

  it("Nextcloud: two services of another project, side by side, before the site", () => {
    const containers = [
      compose("nextcloud", "web"),
      compose("nextcloud", "cron", { dependsOn: [dependsOn("web")] }),
      compose("databases-shared", "postgresql"),
      compose("databases-shared", "redis"),
      compose("databases-shared", "adminer"),
    ];
    const facts = declared({
      "nextcloud/web": { requirements: [requirement("databases-shared/postgresql", "started"), requirement("databases-shared/redis", "ready")] },
    });
    const wake = plan(chain(containers, facts, unit("nextcloud", ["nextcloud/web"])));

    expect(names(wake)).toEqual([["databases-shared-postgresql-1", "databases-shared-redis-1"], ["nextcloud-web-1"], ["nextcloud-cron-1"]]);
    expect(stepOf(wake, "databases-shared-postgresql-1")).toMatchObject({ own: false, until: "started", need: "required" });
    expect(stepOf(wake, "databases-shared-redis-1")).toMatchObject({ own: false, until: "ready" });
  });

  it("RAGFlow: four backends in parallel, then the server; the plan's estimate is the slowest backend plus the server", () => {
    const backends = ["mysql", "elasticsearch", "minio", "redis"];
    const containers = [
      compose("ragflow", "server", { dependsOn: backends.map((b) => dependsOn(b, "service_healthy")) }),
      ...backends.map((b) => compose("ragflow", b, { state: b === "redis" ? "running" : "exited" })),
    ];
    const wake = plan(chain(containers, declared({}), unit("ragflow", ["ragflow/server"])));
    expect(names(wake)).toEqual([
      ["ragflow-elasticsearch-1", "ragflow-minio-1", "ragflow-mysql-1", "ragflow-redis-1"],
      ["ragflow-server-1"],
    ]);

    const estimates: Record<string, number> = { mysql: 12_000, elasticsearch: 45_000, minio: 8_000, redis: 50_000, server: 30_000 };
    const document = wakePlanDocument("ragflow", wake, (c) => estimates[c.service ?? ""] ?? 0, (c) => c.state === "running");
    expect(document.estimatedMs).toBe(45_000 + 30_000);
    expect(document.parallel).toBe(true);
    expect(document.levels[0]?.find((s) => s.service === "redis")).toEqual({
      project: "ragflow",
      service: "redis",
      container: "ragflow-redis-1",
      type: "required",
      estimatedMs: 0,
      running: true,
    });
    expect(document.levels[1]).toEqual([
      { project: "ragflow", service: "server", container: "ragflow-server-1", type: "required", estimatedMs: 30_000, running: false },
    ]);
  });

  it("MemVid: ui, then an api of another project, then a redis of a third; nothing else of those projects", () => {
    const containers = [
      compose("memvid-ui", "ui"),
      compose("memvid-api", "api"),
      compose("memvid-api", "worker"),
      compose("shared", "redis"),
    ];
    const facts = declared({
      "memvid-ui/ui": { requirements: [requirement("memvid-api/api")] },
      "memvid-api/api": { requirements: [requirement("shared/redis")], check: { probe: { kind: "tcp", port: 8000 }, intervalMs: 1000, timeoutMs: 60_000, retries: 60 } },
    });
    const wake = plan(chain(containers, facts, unit("memvid-ui", ["memvid-ui/ui"])));
    expect(names(wake)).toEqual([["shared-redis-1"], ["memvid-api-api-1"], ["memvid-ui-ui-1"]]);
    expect(stepOf(wake, "memvid-api-api-1")).toMatchObject({ own: false, until: "ready", check: { probe: { kind: "tcp", port: 8000 } } });
    const document = wakePlanDocument("memvid", wake, () => 1000, () => false);
    expect(document).toMatchObject({ estimatedMs: 3000, parallel: false });
  });
});

describe("wakeChain, what each step must reach and how much it matters", () => {
  it("awaits the strongest condition its dependents ask", () => {
    const containers = [
      compose("shop", "web", { dependsOn: [dependsOn("db"), dependsOn("migrate", "service_completed_successfully")] }),
      compose("shop", "worker", { dependsOn: [dependsOn("db", "service_healthy")] }),
      compose("shop", "migrate", { dependsOn: [dependsOn("db", "service_healthy")] }),
      compose("shop", "db"),
    ];
    const wake = plan(chain(containers, declared({}), unit("shop", ["shop/web"])));
    expect(names(wake)).toEqual([["shop-db-1"], ["shop-migrate-1", "shop-worker-1"], ["shop-web-1"]]);
    expect(wake.levels.flat().map((s) => [s.container.name, s.until])).toEqual([
      ["shop-db-1", "ready"],
      ["shop-migrate-1", "completed"],
      ["shop-worker-1", "started"],
      ["shop-web-1", "ready"],
    ]);
  });

  it("makes a container required when anyone in the wake requires it, optional when only wanted (with what it needs)", () => {
    const containers = [
      compose("site", "web"),
      compose("site", "admin"),
      compose("shared", "cache"),
      compose("monitoring", "exporter"),
      compose("monitoring", "store"),
    ];
    const facts = declared({
      "site/web": { requirements: [requirement("shared/cache", "started", "optional"), requirement("monitoring/exporter", "started", "optional")] },
      "site/admin": { requirements: [requirement("shared/cache", "started", "required")] },
      "monitoring/exporter": { requirements: [requirement("monitoring/store", "started", "required")] },
    });
    const wake = plan(chain(containers, facts, unit("site", ["site/web"])));
    expect(Object.fromEntries(wake.levels.flat().map((s) => [s.container.name, s.need]))).toEqual({
      "site-web-1": "required",
      "site-admin-1": "required",
      "shared-cache-1": "required",
      "monitoring-exporter-1": "optional",
      "monitoring-store-1": "optional",
    });
  });

  it("needs every container of a scaled service, and leaves one-off containers out", () => {
    const containers = [
      compose("site", "web"),
      compose("backend", "api", { id: "api-1", name: "backend-api-1" }),
      compose("backend", "api", { id: "api-2", name: "backend-api-2" }),
      compose("backend", "api", { id: "api-run", name: "backend-api-run-1", oneoff: true }),
    ];
    const wake = plan(chain(containers, declared({ "site/web": { requirements: [requirement("backend/api")] } }), unit("site", ["site/web"])));
    expect(names(wake)).toEqual([["backend-api-1", "backend-api-2"], ["site-web-1"]]);
  });
});

describe("wakeChain, refusals", () => {
  it("names a cycle across projects in order, the first name repeated at the end", () => {
    const containers = [compose("a", "web"), compose("b", "api"), compose("c", "db"), plain("cache")];
    const facts = declared({
      "a/web": { requirements: [requirement("b/api")] },
      "b/api": { requirements: [requirement("cache")] },
      cache: { requirements: [requirement("a/web")] },
      "c/db": { requirements: [requirement("c/db")] },
    });
    expect(chain(containers, facts, unit("a", ["a/web"]))).toEqual({ ok: false, cycle: ["a/web", "b/api", "cache", "a/web"] });
    // The same loop told from b's side starts at b's own container.
    expect(chain(containers, facts, unit("b", ["b/api"]))).toEqual({ ok: false, cycle: ["b/api", "cache", "a/web", "b/api"] });
    expect(chain(containers, facts, unit("c", []))).toEqual({ ok: false, cycle: ["c/db", "c/db"] });
  });

  it("names the required dependencies that match no container; a missing optional one is left out", () => {
    const containers = [compose("nc", "web"), compose("databases-shared", "redis")];
    const facts = declared({
      "nc/web": {
        requirements: [
          requirement("databases-shared/postgresql"),
          requirement("databases-shared/redis"),
          requirement("mysql-clemence", "started"),
          requirement("monitoring/exporter", "started", "optional"),
        ],
      },
    });
    expect(chain(containers, facts, unit("nc", ["nc/web"]))).toEqual({
      ok: false,
      missing: ["nc-web-1 requires databases-shared/postgresql: no such container", "nc-web-1 requires mysql-clemence: no such container"],
    });
    const graph = dependencyGraph(containers, facts);
    expect(graph.missing.map((m) => m.line)).toContain("nc-web-1 wants monitoring/exporter: no such container");

    const wanting = declared({ "nc/web": { requirements: [requirement("monitoring/exporter", "started", "optional")] } });
    expect(names(plan(chain(containers, wanting, unit("nc", ["nc/web"]))))).toEqual([["nc-web-1"]]);
  });

  it("does not refuse a unit for what only another unit misses", () => {
    const containers = [compose("a", "web"), compose("b", "web")];
    const facts = declared({ "b/web": { requirements: [requirement("gone/db")] } });
    expect(names(plan(chain(containers, facts, unit("a", ["a/web"]))))).toEqual([["a-web-1"]]);
  });
});

describe("wakePlanDocument", () => {
  it("sums each level's slowest container still to start; a level with one left to start is not parallel", () => {
    const containers = [compose("p", "web", { dependsOn: [dependsOn("a"), dependsOn("b")] }), compose("p", "a", { state: "running" }), compose("p", "b")];
    const wake = plan(chain(containers, declared({}), unit("p", ["p/web"])));
    const document = wakePlanDocument("p", wake, (c) => (c.service === "a" ? 9000 : 2000), (c) => c.state === "running");
    expect(document.estimatedMs).toBe(2000 + 2000);
    expect(document.parallel).toBe(false);
    expect(wakePlanDocument("p", { levels: [] }, () => 1, () => false)).toEqual({ service: "p", levels: [], estimatedMs: 0, parallel: false });
  });
});

describe("neededBy", () => {
  it("lists for each container the units whose wake includes it, and how", () => {
    const containers = [compose("nc", "web"), compose("wiki", "web"), compose("shared", "postgresql"), compose("shared", "redis")];
    const facts = declared({
      "nc/web": { requirements: [requirement("shared/postgresql"), requirement("shared/redis", "started", "optional")] },
      "wiki/web": { requirements: [requirement("shared/postgresql")] },
    });
    const graph = dependencyGraph(containers, facts);
    const view = (name: string) => ({ ...unit(name, [`${name}/web`]), name, state: "ready" as const, idleMs: null });
    expect(Object.fromEntries(neededBy(graph, [view("nc"), view("wiki")]))).toEqual({
      "nc/web": [{ unit: "nc", need: "required" }],
      "wiki/web": [{ unit: "wiki", need: "required" }],
      "shared/postgresql": [
        { unit: "nc", need: "required" },
        { unit: "wiki", need: "required" },
      ],
      "shared/redis": [{ unit: "nc", need: "optional" }],
    });
  });
});

describe("stepMove", () => {
  const step = plan(
    chain([compose("p", "web", { dependsOn: [dependsOn("db")] }), compose("p", "db")], declared({}), unit("p", ["p/web"])),
  ).levels[1]?.[0];
  if (step === undefined) throw new Error("web has a step");

  it("joins a start in flight, restarts after a stop in flight, leaves alone what is there", () => {
    expect(step.requires).toEqual(["p/db"]);
    const none = new Set<string>();
    expect(stepMove(step, none, { running: false, reached: false, job: "start" })).toBe("join");
    expect(stepMove(step, none, { running: true, reached: true, job: "stop" })).toBe("restart-after-stop");
    expect(stepMove(step, none, { running: true, reached: true })).toBe("skip");
    expect(stepMove(step, none, { running: true, reached: false })).toBe("wait");
    expect(stepMove(step, none, { running: false, reached: false })).toBe("start");
  });

  it("does not start a step whose requirement failed, and leaves one already there alone", () => {
    const failed = new Set(["p/db"]);
    expect(stepMove(step, failed, { running: false, reached: false })).toBe("fail");
    expect(stepMove(step, failed, { running: false, reached: false, job: "start" })).toBe("fail");
    expect(stepMove(step, failed, { running: true, reached: true })).toBe("skip");
  });
});
