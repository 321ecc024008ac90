import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { parseInspect } from "../../../src/health/containers.js";
import { containerLogsScript, inspectScript, parseLogs } from "../../../src/health/watch.js";
import { type FakeDocker, fakeDocker } from "./fake-docker.js";
import { runRemoteCommand } from "./run.js";

const root = mkdtempSync(join(tmpdir(), "remote-containers-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

let dir: string;
let docker: FakeDocker;
beforeEach(() => {
  dir = mkdtempSync(join(root, "t-"));
  docker = fakeDocker(dir);
});

const web = {
  Id: "aaa",
  Name: "/my-shop-web-1",
  RestartCount: 2,
  Config: { Labels: { "com.docker.compose.service": "web" } },
  State: { Status: "running", ExitCode: 0, StartedAt: "2026-11-30T09:00:00Z" },
};

describe("project-containers.sh (the watch's inspection)", () => {
  it("inspects every container of the project, the name passed as data", () => {
    docker.answer("ids", "aaa\nbbb\n");
    docker.answer("inspect", JSON.stringify([web]));
    const run = runRemoteCommand(inspectScript("my shop's"), { cwd: dir, env: docker.env });
    expect(run.code).toBe(0);
    expect(parseInspect(run.stdout)).toMatchObject([{ name: "my-shop-web-1", service: "web", restartCount: 2, status: "running" }]);
    expect(docker.calls()).toEqual(["ps -aq --filter label=com.docker.compose.project=my shop's", "inspect aaa bbb"]);
  });

  it("answers an empty JSON array when the project has no container", () => {
    const run = runRemoteCommand(inspectScript("shop"), { cwd: dir, env: docker.env });
    expect(run).toEqual({ code: 0, stdout: "[]\n", stderr: "" });
    expect(docker.calls()).toEqual(["ps -aq --filter label=com.docker.compose.project=shop"]);
  });
});

describe("container-logs.sh", () => {
  it("prints the last lines of each container named on stdin, as parseLogs reads them", () => {
    docker.answer("logs-shop-web-1", "one\ntwo\nthree\n| looks like a marker\nlogs shop-db-1\n");
    docker.answer("logs-shop-db-1", "ready\n");
    const run = runRemoteCommand(containerLogsScript(3), { cwd: dir, env: docker.env, stdin: "shop-web-1\n\nshop-db-1\n" });
    expect(run.code).toBe(0);
    expect(parseLogs(run.stdout)).toEqual(
      new Map([
        ["shop-web-1", ["three", "| looks like a marker", "logs shop-db-1"]],
        ["shop-db-1", ["ready"]],
      ]),
    );
  });

  it("shows docker's own error for a container that is gone", () => {
    const run = runRemoteCommand(containerLogsScript(5), { cwd: dir, env: docker.env, stdin: "gone-1\n" });
    expect(parseLogs(run.stdout)).toEqual(new Map([["gone-1", ["Error: No such container: gone-1"]]]));
  });
});
