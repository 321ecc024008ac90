import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { dockerSize, parseUsage } from "../../../src/docker/container-usage.js";
import { runRemoteScript } from "./run.js";

const root = mkdtempSync(join(tmpdir(), "container-usage-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A cgroup filesystem of FILES (path under the root → content), as the kernel shows one. */
function cgroups(files: Record<string, string>): string {
  const dir = mkdtempSync(join(root, "cgroup-"));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(dir, path, ".."), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}

const usage = (cgroup: string, ids: string) => runRemoteScript("container-usage", { env: { CGROUP: cgroup } }, { cwd: root, stdin: ids });
const V1_NO_LIMIT = "9223372036854771712";

describe("container-usage.sh", () => {
  it("reads cgroup v2 (systemd's and cgroupfs's folders) and v1 (a hierarchy per controller), memory less inactive file", () => {
    const cgroup = cgroups({
      "system.slice/docker-aaa.scope/memory.current": "1000000\n",
      "system.slice/docker-aaa.scope/memory.stat": "anon 600000\ninactive_file 200000\nactive_file 5\n",
      "system.slice/docker-aaa.scope/memory.max": "max\n",
      "system.slice/docker-aaa.scope/cpu.stat": "usage_usec 1500\nuser_usec 1000\n",
      "docker/bbb/memory.current": "4096\n",
      "docker/bbb/memory.stat": "inactive_file 0\n",
      "docker/bbb/memory.max": "536870912\n",
      "docker/bbb/cpu.stat": "usage_usec 7\n",
      "memory/docker/ccc/memory.usage_in_bytes": "3000\n",
      "memory/docker/ccc/memory.stat": "cache 9\ntotal_inactive_file 1000\n",
      "memory/docker/ccc/memory.limit_in_bytes": `${V1_NO_LIMIT}\n`,
      "cpuacct/docker/ccc/cpuacct.usage": "123456789\n",
      "memory/system.slice/docker-ddd.scope/memory.usage_in_bytes": "10\n",
      "memory/system.slice/docker-ddd.scope/memory.stat": "total_inactive_file 0\n",
      "memory/system.slice/docker-ddd.scope/memory.limit_in_bytes": "1048576\n",
    });
    const run = usage(cgroup, "aaa\nbbb\nccc\nddd\neee\n\n");
    expect(run.stderr).toBe("");
    const [at, ...lines] = run.stdout.trimEnd().split("\n");
    expect(at).toMatch(/^at \d+(\.\d+)?$/);
    // ddd's CPU time is nowhere (no cpuacct hierarchy): "-"; eee has no cgroup: no line.
    expect(lines).toEqual(["aaa 800000 0 1500000", "bbb 4096 536870912 7000", "ccc 2000 0 123456789", "ddd 10 1048576 -"]);
  });
});

describe("parseUsage", () => {
  it("gives each container's CPU over the time between the samples (100 % is one core), and memory as docker stats writes it", () => {
    const text = ["at 100.00", "aaa 800000 0 1000000000", "bbb 4096 536870912 5", "ccc 10 0 -", "at 100.50", "aaa 900000 0 1250000000", "bbb 4096 536870912 5", "ccc 10 0 -", "ddd 1 0 9"].join("\n");
    const read = parseUsage(text, 8 * 1024 ** 3);
    expect(Object.fromEntries(read)).toEqual({
      aaa: { cpuPercent: 50, memory: "878.9KiB / 8GiB" },
      bbb: { cpuPercent: 0, memory: "4KiB / 512MiB" },
      ccc: { cpuPercent: null, memory: "10B / 8GiB" },
      // Not in the first sample: no CPU over the window.
      ddd: { cpuPercent: null, memory: "1B / 8GiB" },
    });
  });

  it("reads nothing from one sample or none", () => {
    expect(parseUsage("at 1.00\naaa 1 0 1\n", 1).size).toBe(0);
    expect(parseUsage("", 1).size).toBe(0);
  });
});

describe("dockerSize", () => {
  it.each([
    [0, "0B"],
    [1023, "1023B"],
    [1024, "1KiB"],
    [43_200_000, "41.2MiB"],
    [8_232_370_176, "7.667GiB"],
  ])("%d bytes: %s", (bytes, shown) => {
    expect(dockerSize(bytes)).toBe(shown);
  });
});
