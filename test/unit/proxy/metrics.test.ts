import { describe, expect, it } from "vitest";
import { ProxyMetrics } from "../../../src/proxy/metrics.js";
import type { ChainStepResult } from "../../../src/proxy/wake.js";

const step = (container: string, own: boolean, ms: number, started = true): ChainStepResult => ({
  container,
  project: own ? "ragflow" : "ragflow-deps",
  service: container,
  own,
  ms,
  started,
  phase: "ready",
});

/** The exposition's lines for one metric family, without its HELP and TYPE lines. */
async function lines(metrics: ProxyMetrics, name: string): Promise<string[]> {
  const text = await metrics.registry.metrics();
  return text.split("\n").filter((line) => line.startsWith(name) && !line.startsWith("#"));
}

describe("the dependency chains' metrics, with the seed's names", () => {
  it("a successful wake: each dependency it started in the histogram, one success, the parallel efficiency", async () => {
    const metrics = new ProxyMetrics(() => new Map());
    metrics.wakeEnded("ragflow", {
      ok: true,
      ms: 4_000,
      levelsMs: [3_000, 1_000],
      // Four backends side by side (the slowest 3 s), one already running, then the server.
      steps: [step("es-01", false, 3_000), step("mysql", false, 800), step("redis", false, 300), step("minio", false, 1_900), step("cache", false, 0, false), step("server", true, 1_000)],
    });
    expect(await lines(metrics, "dependency_wake_duration_seconds_count")).toEqual([
      'dependency_wake_duration_seconds_count{service="ragflow",dependency="es-01"} 1',
      'dependency_wake_duration_seconds_count{service="ragflow",dependency="mysql"} 1',
      'dependency_wake_duration_seconds_count{service="ragflow",dependency="redis"} 1',
      'dependency_wake_duration_seconds_count{service="ragflow",dependency="minio"} 1',
    ]);
    expect(await lines(metrics, 'dependency_wake_duration_seconds_sum{service="ragflow",dependency="es-01"}')).toEqual([
      'dependency_wake_duration_seconds_sum{service="ragflow",dependency="es-01"} 3',
    ]);
    expect(await lines(metrics, "dependency_wake_success_total")).toEqual(['dependency_wake_success_total{service="ragflow"} 1']);
    // (3 + 0.8 + 0.3 + 1.9 + 0 + 1) s of work in 4 s.
    expect(await lines(metrics, "dependency_wake_parallel_efficiency")).toEqual(['dependency_wake_parallel_efficiency{service="ragflow"} 1.75']);
    expect(await lines(metrics, "dependency_wake_failure_total")).toEqual([]);
  });

  it("failures by reason, planning ones included; a wake put to sleep counts as neither", async () => {
    const metrics = new ProxyMetrics(() => new Map());
    const failure = { container: "mysql-clemence", reason: "exited (exit code 1) while starting", logs: [], status: 502 as const };
    metrics.wakeEnded("clemence", { ok: false, ms: 900, failure, cause: "exited", steps: [] });
    metrics.wakeEnded("clemence", { ok: false, ms: 900, failure, cause: "health_check_failed", steps: [] });
    metrics.wakeEnded("clemence", { ok: false, ms: 900, failure, cause: "aborted", steps: [] });
    metrics.wakeFailed("loop", "cycle");
    expect((await lines(metrics, "dependency_wake_failure_total")).sort()).toEqual([
      'dependency_wake_failure_total{service="clemence",reason="exited"} 1',
      'dependency_wake_failure_total{service="clemence",reason="health_check_failed"} 1',
      'dependency_wake_failure_total{service="loop",reason="cycle"} 1',
    ]);
    expect(await lines(metrics, "dependency_wake_success_total")).toEqual([]);
    expect(await lines(metrics, "dependency_wake_parallel_efficiency")).toEqual([]);
  });

  it("the efficiency is the last wake's, not an average", async () => {
    const metrics = new ProxyMetrics(() => new Map());
    metrics.wakeEnded("memvid", { ok: true, ms: 1_000, levelsMs: [1_000], steps: [step("redis", false, 1_000), step("api", false, 1_000)] });
    metrics.wakeEnded("memvid", { ok: true, ms: 2_000, levelsMs: [2_000], steps: [step("redis", false, 1_000), step("api", false, 1_000)] });
    expect(await lines(metrics, "dependency_wake_parallel_efficiency")).toEqual(['dependency_wake_parallel_efficiency{service="memvid"} 1']);
  });
});

describe("the blue-green switches' metrics", () => {
  it("counts switches by outcome; a drained one adds its drain time and what it cut", async () => {
    const metrics = new ProxyMetrics(() => new Map());
    metrics.switched("shop", "switched", { ms: 1_500, cut: 2 });
    metrics.switched("shop", "switched", { ms: 500, cut: 0 });
    metrics.switched("shop", "unready");
    expect((await lines(metrics, "deploy_vps_proxy_switches_total")).sort()).toEqual([
      'deploy_vps_proxy_switches_total{service="shop",outcome="switched"} 2',
      'deploy_vps_proxy_switches_total{service="shop",outcome="unready"} 1',
    ]);
    expect(await lines(metrics, "deploy_vps_proxy_drain_duration_seconds_sum")).toEqual(['deploy_vps_proxy_drain_duration_seconds_sum{service="shop"} 2']);
    expect(await lines(metrics, "deploy_vps_proxy_drain_duration_seconds_count")).toEqual(['deploy_vps_proxy_drain_duration_seconds_count{service="shop"} 2']);
    expect(await lines(metrics, "deploy_vps_proxy_drain_cut_total")).toEqual(['deploy_vps_proxy_drain_cut_total{service="shop"} 2']);
  });
});
