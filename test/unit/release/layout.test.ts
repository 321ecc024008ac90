import { describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { layoutEnv, releaseId, serverLayout, typedLayout } from "../../../src/release/layout.js";
import { quote, Shell } from "../../../src/ssh/quote.js";

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
      composeVersion: "/home/deploy/apps/.deploy-vps/shop/compose-version",
      stagedFiles: "/home/deploy/apps/.deploy-vps/shop/staging/files",
      stagedManifest: "/home/deploy/apps/.deploy-vps/shop/staging/manifest",
      stagedChanged: "/home/deploy/apps/.deploy-vps/shop/staging/changed",
      stagedDeleted: "/home/deploy/apps/.deploy-vps/shop/staging/deleted",
      stagedEnv: "/home/deploy/apps/.deploy-vps/shop/staging/env",
      freshApp: "/home/deploy/apps/.deploy-vps/shop/staging/fresh-app",
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

  it("is the typed path's layout, resolved by the server's shell, once the probe resolved it", () => {
    const home = "/home/deploy";
    const resolved = (path: string) => {
      const env = layoutEnv(typedLayout(path));
      const names = Object.keys(env);
      const assignments = Object.entries(env).map(([k, v]) => `${k}=${v instanceof Shell ? v.code : quote(String(v))}`);
      const printed = names.map((n) => `"$${n}"`).join(" ");
      const command = `${assignments.join(" ")} sh -c ${quote(`printf '%s\\n' ${printed}`)}`;
      return execFileSync("/bin/sh", ["-c", command], { env: { HOME: home, PATH: process.env.PATH }, encoding: "utf8" }).trimEnd();
    };
    const expected = (app: string) => Object.values(layoutEnv(serverLayout(app))).join("\n");
    expect(resolved("~/apps/my shop")).toBe(expected("/home/deploy/apps/my shop"));
    expect(resolved("apps//it's/")).toBe(expected("/home/deploy/apps/it's"));
    expect(resolved("~")).toBe(expected("/home/deploy"));
    expect(resolved("/srv//x/")).toBe(expected("/srv/x"));
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
