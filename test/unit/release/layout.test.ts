import { describe, expect, it } from "vitest";
import { releaseId, serverLayout } from "../../../src/release/layout.js";

describe("serverLayout", () => {
  it("keeps deploy state beside the app folder, not inside it", () => {
    expect(serverLayout("/home/deploy/apps/shop")).toEqual({
      app: "/home/deploy/apps/shop",
      state: "/home/deploy/apps/.deploy-vps/shop",
      staging: "/home/deploy/apps/.deploy-vps/shop/staging",
      releases: "/home/deploy/apps/.deploy-vps/shop/releases",
      envBackups: "/home/deploy/apps/.deploy-vps/shop/env-backups",
      current: "/home/deploy/apps/.deploy-vps/shop/current",
      project: "/home/deploy/apps/.deploy-vps/shop/project",
      lock: "/home/deploy/apps/.deploy-vps/shop/lock",
      containers: "/home/deploy/apps/.deploy-vps/shop/containers",
      workerLog: "/home/deploy/apps/.deploy-vps/shop/worker.log",
      meta: "/home/deploy/apps/.deploy-vps/shop/meta",
      switching: "/home/deploy/apps/.deploy-vps/shop/switching",
      log: "/home/deploy/apps/.deploy-vps/shop/log",
    });
  });

  it("gives two apps in the same parent separate state folders", () => {
    expect(serverLayout("/srv/a").state).toBe("/srv/.deploy-vps/a");
    expect(serverLayout("/srv/b").state).toBe("/srv/.deploy-vps/b");
  });

  it("handles names with spaces and a trailing slash", () => {
    expect(serverLayout("/srv/my shop").releases).toBe("/srv/.deploy-vps/my shop/releases");
    const slashed = serverLayout("/srv/shop/");
    expect(slashed.app).toBe("/srv/shop/");
    expect(slashed.state).toBe("/srv/.deploy-vps/shop");
  });

  it("matches the state path the probe script computes", () => {
    // probe.ts: state="$(dirname -- "$app")/.deploy-vps/$(basename -- "$app")"
    expect(serverLayout("/root/app").state).toBe("/root/.deploy-vps/app");
    expect(serverLayout("/app").state).toBe("/.deploy-vps/app");
  });
});

describe("releaseId", () => {
  it("is the UTC time, compact, with milliseconds", () => {
    expect(releaseId(new Date("2024-05-01T10:02:03.045Z"))).toBe("20240501T100203045Z");
    expect(releaseId(new Date("1999-12-31T23:59:59.999Z"))).toBe("19991231T235959999Z");
    expect(releaseId(new Date(Date.UTC(2030, 0, 2, 3, 4, 5, 6)))).toBe("20300102T030405006Z");
  });

  it("is filename-safe", () => {
    const id = releaseId(new Date("2024-05-01T10:02:03.045Z"));
    expect(id).toMatch(/^[0-9]{8}T[0-9]{9}Z$/);
    expect(id).not.toMatch(/[/:\\ .-]/);
  });

  it("sorts as text in time order", () => {
    const times = [
      "2024-05-01T10:02:03.045Z",
      "2024-05-01T10:02:03.046Z",
      "2024-05-01T10:02:04.000Z",
      "2024-05-01T09:59:59.999Z",
      "2023-12-31T23:59:59.999Z",
      "2024-11-01T00:00:00.000Z",
      "2024-05-10T00:00:00.000Z",
    ].map((t) => new Date(t));
    const byTime = [...times].sort((a, b) => a.getTime() - b.getTime()).map(releaseId);
    const byText = times.map(releaseId).sort();
    expect(byText).toEqual(byTime);
    expect(new Set(byText).size).toBe(times.length);
  });
});
