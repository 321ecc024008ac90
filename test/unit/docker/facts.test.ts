import { describe, expect, it } from "vitest";
import { Engine } from "../../../src/docker/engine.js";
import { factsOf, PROJECT_LABEL, readDocker, type StackTarget, stackFacts, WORKING_DIR_LABEL } from "../../../src/docker/facts.js";
import type { ContainerSummary } from "../../../src/docker/responses.js";
import { EngineAnswerError, EngineUnreachable } from "../../../src/docker/transport.js";

const dockerFacts = async (engine: Engine, target: StackTarget) => factsOf(await readDocker(engine), target);
import { type ServerState, serverError } from "../../../src/release/probe.js";

const APP = "/home/deploy/apps/shop";

function container(project: string | undefined, folder: string | undefined, created = 1): ContainerSummary {
  const labels: Record<string, string> = {};
  if (project !== undefined) labels[PROJECT_LABEL] = project;
  if (folder !== undefined) labels[WORKING_DIR_LABEL] = folder;
  return { id: `${project}-${folder}-${created}`, names: [], state: "running", status: "Up", labels, created };
}

describe("stackFacts", () => {
  it("finds the project of a stack started by hand from the app folder, from its newest container", () => {
    const containers = [container("old", APP, 100), container("shop_by_hand", APP, 200), container("shop", "/srv/other", 300)];
    expect(stackFacts(containers, { app: APP }).labelledProject).toBe("shop_by_hand");
  });

  it("takes no folder for the app folder when it only shares a prefix", () => {
    expect(stackFacts([container("x", `${APP}2`)], { app: APP }).labelledProject).toBeUndefined();
  });

  it("looks for other folders under the recorded name first", () => {
    const containers = [container("recorded", "/srv/a"), container("labelled", APP), container("labelled", "/srv/b"), container("candidate", "/srv/c")];
    const target = { app: APP, candidate: "candidate" };
    expect(stackFacts(containers, { ...target, recordedProject: "recorded" }).otherFolders).toEqual(["/srv/a"]);
    expect(stackFacts(containers, target).otherFolders).toEqual(["/srv/b"]);
    expect(stackFacts(containers.filter((c) => c.labels[PROJECT_LABEL] !== "labelled"), target).otherFolders).toEqual(["/srv/c"]);
  });

  it("gives each other folder once, sorted, never the app's own nor an empty one", () => {
    const containers = [container("shop", "/srv/z"), container("shop", "/srv/a"), container("shop", "/srv/z"), container("shop", APP), container("shop", undefined), container("shop", "")];
    expect(stackFacts(containers, { app: APP, candidate: "shop" }).otherFolders).toEqual(["/srv/a", "/srv/z"]);
  });

  it("looks nothing up without a name", () => {
    expect(stackFacts([container("", "/srv/a")], { app: APP })).toEqual({ labelledProject: undefined, otherFolders: [] });
    expect(stackFacts([container("", "/srv/a")], { app: APP, recordedProject: "" }).otherFolders).toEqual([]);
  });
});

/** An Engine whose every call fails with ERROR, before anything is sent. */
const failing = (error: Error) => new Engine(() => Promise.reject(error), "/var/run/docker.sock");

function probed(docker: ServerState["docker"]): ServerState {
  return { app: APP, appKind: "dir", docker, compose: { v2: "2.26.1" }, hasTar: true, otherFolders: [] };
}

describe("readDocker", () => {
  it("tells a socket it cannot reach (the caller asks the CLI instead)", async () => {
    const reading = await readDocker(failing(new EngineUnreachable("/var/run/docker.sock", "Channel open failure: open failed")));
    expect(reading).toEqual({ status: "unreachable", reason: "Channel open failure: open failed" });
    expect(factsOf(reading, { app: APP })).toBe(reading);
  });

  it("gives a permission denied on the socket the probe's own words", async () => {
    const reason = "permission denied while trying to connect to the Docker daemon socket at unix:///var/run/docker.sock";
    const facts = await dockerFacts(failing(new EngineUnreachable("/var/run/docker.sock", reason)), { app: APP });
    expect(facts).toEqual({ status: "error", message: reason });
    if (facts.status !== "error") throw new Error("not an error");
    expect(serverError(probed(facts), "vps")?.message).toBe(
      "the SSH user on vps may not use Docker (permission denied on the Docker socket); run `sudo usermod -aG docker $USER` there and log in again.",
    );
  });

  it("reports a bad answer as Docker failing", async () => {
    const facts = await dockerFacts(failing(new EngineAnswerError("Docker's Engine API answered GET /version with 500: boom")), { app: APP });
    expect(facts).toEqual({ status: "error", message: "Docker's Engine API answered GET /version with 500: boom" });
  });

  it("lets any other failure through", async () => {
    await expect(readDocker(failing(new Error("the SSH connection was lost")))).rejects.toThrow("the SSH connection was lost");
  });
});
