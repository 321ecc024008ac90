import { describe, expect, it } from "vitest";
import { EnvironmentError, InputError } from "../../../src/errors.js";
import type { ServerState } from "../../../src/release/probe.js";
import { localNames, localProject, probePath, probeTarget, refuseServer, resolveTarget, serverProjectName } from "../../../src/release/target.js";

function server(overrides: Partial<ServerState> = {}): ServerState {
  return {
    app: "/home/deploy/apps/shop",
    appKind: "dir",
    docker: { status: "ok" },
    compose: { v2: "2.27.0", v1: "/usr/bin/docker-compose" },
    hasTar: true,
    otherFolders: [],
    ...overrides,
  };
}

const local = { folder: "/home/me/Shop" };

describe("localNames and localProject", () => {
  it("takes compose's name, then the config's, then the folder's", () => {
    const settings = { name: "fromconfig", folderName: "folder" };
    expect(localNames("fromcompose", settings)).toEqual({ compose: "fromcompose", config: "fromconfig", folder: "folder" });
    expect(localProject(localNames("fromcompose", settings))).toBe("fromcompose");
    expect(localProject(localNames(undefined, settings))).toBe("fromconfig");
    expect(localProject(localNames(undefined, { folderName: "/home/me/My Shop" }))).toBe("myshop");
  });
});

describe("probeTarget: what the probe looks at, before anything is known of the server", () => {
  it("is --path when given, else ~/apps/<local project>; the candidate is always the local name", () => {
    expect(probeTarget({}, local)).toEqual({ path: "~/apps/shop", candidate: "shop" });
    expect(probeTarget({ path: "/srv/legacy" }, { ...local, compose: "Legacy" })).toEqual({ path: "/srv/legacy", candidate: "legacy" });
  });
});

describe("probePath", () => {
  it("needs no local project name when --path is given", () => {
    const nameless = { folder: "/home/me/Ü Ö" };
    expect(probePath({ path: "/srv/legacy" }, nameless)).toBe("/srv/legacy");
    expect(() => probePath({}, nameless)).toThrow(InputError);
  });
});

describe("serverProjectName", () => {
  it("local names first, then the name a deploy recorded, then the one labelled on the folder's containers, then the folder", () => {
    expect(serverProjectName({ project: "recorded", labelledProject: "labelled" }, { ...local, compose: "mine" })).toBe("mine");
    expect(serverProjectName({ project: "recorded", labelledProject: "labelled" }, { ...local, config: "cfg" })).toBe("cfg");
    expect(serverProjectName({ project: "recorded", labelledProject: "labelled" }, local)).toBe("recorded");
    expect(serverProjectName({ labelledProject: "labelled" }, local)).toBe("labelled");
    expect(serverProjectName({}, local)).toBe("shop");
  });
});

describe("resolveTarget: after the probe", () => {
  it("gives the app folder, the project, the layout and the Compose to use", () => {
    expect(resolveTarget(server({ project: "shop-prod" }), local, { host: "vps" })).toEqual({
      app: "/home/deploy/apps/shop",
      project: "shop-prod",
      layout: expect.objectContaining({ app: "/home/deploy/apps/shop", state: "/home/deploy/apps/.deploy-vps/shop" }),
      compose: "v2",
    });
    expect(resolveTarget(server(), local, { host: "vps", compose: "v1" }).compose).toBe("v1");
  });

  it("refuses what the probe found wrong, naming the host and folder", () => {
    expect(() => resolveTarget(server({ appKind: "file" }), local, { host: "vps" })).toThrow(InputError);
    expect(() => resolveTarget(server({ appKind: "missing" }), local, { host: "vps", mustExist: true })).toThrow(
      "vps:/home/deploy/apps/shop does not exist",
    );
    expect(resolveTarget(server({ appKind: "missing" }), local, { host: "vps" }).app).toBe("/home/deploy/apps/shop");
    expect(() => resolveTarget(server({ docker: { status: "missing" } }), local, { host: "vps" })).toThrow(EnvironmentError);
  });

  it("refuseServer: the same refusals, for a command that names the project from the server's own files", () => {
    expect(() => refuseServer(server({ appKind: "missing" }), { host: "vps", mustExist: true })).toThrow(InputError);
    expect(() => refuseServer(server({ compose: { v1: "/usr/bin/docker-compose" } }), { host: "vps", compose: "v2" })).toThrow(
      "vps has no Compose v2",
    );
    expect(refuseServer(server(), { host: "vps" })).toBeUndefined();
  });

  it("refuses, for a command that brings the stack up, a project another folder's stack runs under", () => {
    const shared = server({ otherFolders: ["/srv/old-shop"] });
    expect(() => resolveTarget(shared, local, { host: "vps", ownProject: true })).toThrow(
      'compose project "shop" already runs from /srv/old-shop on vps; deploying /home/deploy/apps/shop under the same name would replace it.',
    );
    // Commands that only look (releases, monitor-vps) or go back to a release of this folder do not.
    expect(resolveTarget(shared, local, { host: "vps" }).project).toBe("shop");
  });
});
