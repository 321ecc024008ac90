import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { type LogEntry, parseReleases, type ReleaseMeta, releasesScript } from "../../../src/release/history.js";
import { serverLayout } from "../../../src/release/layout.js";
import { runRemoteCommand } from "./run.js";

const root = mkdtempSync(join(tmpdir(), "remote-releases-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const meta = (id: string): ReleaseMeta => ({ id, time: "2026-11-30T09:00:00.000Z", by: "me@laptop", files: 1, bytes: 5000, project: "shop", composeFiles: ["compose.yaml"] });
const entry = (release: string, outcome: LogEntry["outcome"]): LogEntry => ({ time: "2026-11-30T09:00:01.000Z", by: "me@laptop", action: "deploy", release, outcome });

describe("releases.sh", () => {
  it("lists the kept releases newest first with size and metadata, the live one, and the log", () => {
    const layout = serverLayout(join(root, "apps", "my 'shop"));
    for (const id of ["20261130T080000000Z", "20261130T090000000Z", "20261130T070000000Z"]) {
      mkdirSync(join(layout.releases, id), { recursive: true });
      writeFileSync(join(layout.releases, id, "big"), Buffer.alloc(64 * 1024, 1));
    }
    mkdirSync(layout.meta);
    writeFileSync(join(layout.meta, "20261130T090000000Z.json"), JSON.stringify(meta("20261130T090000000Z")));
    writeFileSync(layout.current, "20261130T080000000Z\n");
    const log = [entry("20261130T080000000Z", "healthy"), entry("20261130T090000000Z", "failed")];
    writeFileSync(layout.log, log.map((e) => `${JSON.stringify(e)}\n`).join(""));

    const run = runRemoteCommand(releasesScript(layout), { cwd: root });
    expect(run.stderr).toBe("");
    const { releases, log: read } = parseReleases(run.stdout);
    expect(releases.map((r) => [r.id, r.live, r.meta])).toEqual([
      ["20261130T090000000Z", false, meta("20261130T090000000Z")],
      ["20261130T080000000Z", true, undefined],
      ["20261130T070000000Z", false, undefined],
    ]);
    for (const release of releases) expect(release.sizeKb).toBeGreaterThanOrEqual(64);
    expect(read).toEqual(log);
  });

  it("answers nothing, and succeeds, for a folder never deployed", () => {
    const run = runRemoteCommand(releasesScript(serverLayout(join(root, "apps", "new"))), { cwd: root });
    expect(run).toEqual({ code: 0, stdout: "", stderr: "" });
  });
});
