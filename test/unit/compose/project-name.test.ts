import { describe, expect, it } from "vitest";
import { normalizeProjectName, resolveProjectName } from "../../../src/compose/project-name.js";
import { InputError } from "../../../src/errors.js";

describe("normalizeProjectName", () => {
  it.each([
    ["Acme Shop", "acmeshop"],
    ["-my_app", "my_app"],
    ["__-x-_", "x-_"],
    ["Ünïcode!", "ncode"],
    ["my.app v2", "myappv2"],
    ["already-fine_1", "already-fine_1"],
    ["!!!", ""],
  ])("%s -> %s", (raw, expected) => {
    expect(normalizeProjectName(raw)).toBe(expected);
  });
});

describe("resolveProjectName", () => {
  const all = {
    compose: "From Compose",
    config: "from-config",
    server: "from-server",
    folder: "From Folder",
  };

  it("prefers compose, then config, then server, then folder", () => {
    expect(resolveProjectName(all)).toEqual({ name: "fromcompose", source: "compose" });
    expect(resolveProjectName({ ...all, compose: undefined })).toEqual({
      name: "from-config",
      source: "config",
    });
    expect(resolveProjectName({ folder: "f", server: "srv" })).toEqual({ name: "srv", source: "server" });
    expect(resolveProjectName({ folder: "/home/me/Acme Shop" })).toEqual({
      name: "acmeshop",
      source: "folder",
    });
  });

  it("skips candidates that normalise to nothing", () => {
    expect(resolveProjectName({ compose: "***", config: "", folder: "app" })).toEqual({
      name: "app",
      source: "folder",
    });
  });

  it("asks for `name:` when nothing is usable", () => {
    expect(() => resolveProjectName({ compose: "!", folder: "/src/Ü Ö" })).toThrow(
      new InputError(
        'cannot make a project name from the folder name "Ü Ö" (compose allows only a-z, 0-9, _ and -); ' +
          "set `name:` at the top of your compose file",
      ),
    );
  });
});
