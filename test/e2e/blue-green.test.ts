import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { onServer, removeStack, runCli, tempDir, uniqueName } from "./harness.js";

/**
 * What a blue-green deploy refuses before anything changes on the server. It installs no runtime
 * proxy, but runs in the suite's proxy lane (test/suite.mjs picks the files that name
 * deploy-vps-proxy): that lane runs one file at a time and each removes its daemon, so no
 * other file's proxy is on the host while this one says there is none.
 */
const names: string[] = [];
afterAll(() => {
  for (const name of names) removeStack(name, `apps/${name}`);
});

/** A project of one busybox service routed by the proxy and labelled blue-green, with `extra` lines in its definition. */
function project(extra: string[]): { dir: string; name: string } {
  const name = uniqueName("e2e-bluegreen");
  names.push(name);
  const dir = join(tempDir("project"), name);
  mkdirSync(dir);
  const lines = [
    "services:",
    "  web:",
    "    image: local/busybox:latest",
    '    command: ["httpd", "-f", "-p", "3000"]',
    ...extra,
    "    labels:",
    "      deploy-vps.proxy.host: shop.example.test",
    "      deploy-vps.proxy.port: 3000",
    "      deploy-vps.proxy.deploy: blue-green",
  ];
  writeFileSync(join(dir, "compose.yaml"), `${lines.join("\n")}\n`);
  return { dir, name };
}

/** Whether anything of the app exists on the server: its folder, or a container of its project. */
function onServerNow(name: string): string {
  return onServer(`ls -d apps/${name} 2>/dev/null; docker ps -aq --filter label=com.docker.compose.project=${name}`).trim();
}

describe("a blue-green deploy refuses, before anything changes", () => {
  it("a blue-green service with ports: (exit 2, at the key, saying why and what to use)", async () => {
    const { dir, name } = project(["    ports:", "      - 127.0.0.1:8080:3000"]);
    const run = await runCli([dir, "--path", `~/apps/${name}`]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^deploy-vps: compose\.yaml:5:5: service "web" is deployed blue-green .*two containers cannot hold one host port.*`blueGreen:` in deploy-vps\.yml/m);
    expect(run.stderr).not.toContain("    at ");
    expect(onServerNow(name)).toBe("");
  });

  it("a host where the runtime proxy is not installed (exit 1, saying to install it)", async () => {
    const { dir, name } = project([]);
    const run = await runCli([dir, "--path", `~/apps/${name}`]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`deploy-vps: web is deployed blue-green through the runtime proxy, which is not running on 127.0.0.1`);
    expect(run.stderr).toContain("deploy-vps proxy install -H 127.0.0.1");
    expect(onServerNow(name)).toBe("");
  });
});
