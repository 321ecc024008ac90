/**
 * Compose input that compose itself would refuse on the server is refused locally: exit 2, one line
 * naming file:line:col, and nothing on the server (no app folder, no state folder, no lock).
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { onServer, projectCopy, removeStack, runCli, shq, uniqueName } from "./harness.js";

const stacks: string[] = [];
afterAll(() => {
  for (const name of stacks) removeStack(name, `apps/${name}`);
});

const demo = readFileSync(new URL("../../compose/demo/compose.yaml", import.meta.url), "utf8");

/** What the server has of this app: its folder, its state folder (with the lock), as `ls` sees them. */
function onServerFor(name: string): string {
  return onServer(`cd apps 2>/dev/null && ls -d ${shq(name)} ${shq(`.deploy-vps/${name}`)} 2>/dev/null; true`);
}

const cases: [string, string | Buffer | "folder", RegExp][] = [
  [
    "a service name compose refuses",
    demo.replace("\n  db:\n", "\n  a;touch x:\n    image: local/busybox:latest\n  db:\n"),
    /^compose\.yaml:\d+:3: services: "a;touch x" is not a valid name/,
  ],
  [
    "an image name docker refuses",
    demo.replace("image: local/busybox:latest", 'image: "local/busybox:latest;x"'),
    /^compose\.yaml:\d+:12: service "db": image "local\/busybox:latest;x": invalid reference format$/,
  ],
  ["an unknown top-level key", `${demo}secrts:\n  a: {file: ./a}\n`, /^compose\.yaml:\d+:1: the top level: unknown key "secrts"$/],
  [
    "an unknown service key",
    demo.replace("    restart: unless-stopped\n", "    restart: unless-stopped\n    helthcheck: {}\n"),
    /^compose\.yaml:\d+:5: services\.web: unknown key "helthcheck"$/,
  ],
  ["a NUL byte", demo.replace("GREETING: ${GREETING:-Hello}", "GREETING: Hel\u0000lo"), /^compose\.yaml:\d+:20: character U\+0000 is not allowed in YAML$/],
  [
    "invalid UTF-8",
    Buffer.concat([Buffer.from(demo.replace(/\n$/, "")), Buffer.from("\n# caf"), Buffer.from([0xe9, 0x0a])]),
    /^compose\.yaml:\d+:6: not valid UTF-8/,
  ],
  [
    "a YAML alias bomb",
    `x-a: &a [x, x, x, x, x, x, x, x, x, x]\n${Array.from({ length: 8 }, (_, i) => `x-${i}: &b${i} [${Array(10).fill(i === 0 ? "*a" : `*b${i - 1}`).join(", ")}]`).join("\n")}\n${demo}`,
    /^compose\.yaml:1:1: YAML aliases expand to more than \d+ copies/,
  ],
  ["a compose.yaml that is a folder", "folder", /^cannot read compose\.yaml: it is a folder, not a file$/],
];

describe("compose input that compose would refuse: exit 2, one line, the server untouched", () => {
  it.each(cases)("%s", async (_, content, line) => {
    const name = uniqueName("e2e-cinput");
    stacks.push(name);
    const dir = projectCopy("compose/demo", name);
    const compose = join(dir, "compose.yaml");
    if (content === "folder") {
      (await import("node:fs")).rmSync(compose);
      mkdirSync(compose);
    } else writeFileSync(compose, content);
    const run = await runCli([dir, "--path", `~/apps/${name}`, "--settle", "0"]);
    expect(run.code).toBe(2);
    const lines = run.stderr.trim().split("\n");
    expect(lines.at(-1)?.replace(/^deploy-vps: /, "")).toMatch(line);
    expect(run.stderr).not.toContain("    at ");
    expect(run.stderr).not.toContain("unexpected error");
    expect(onServerFor(name)).toBe("");
  });
});
