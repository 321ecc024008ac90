import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { LOCAL_IMAGES_FILE, localImagesFor, withWrittenFiles } from "../../../src/compose/local-images.js";
import { composeV1Refuses, loadComposeModel } from "../../../src/compose/model.js";
import { InputError } from "../../../src/errors.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "compose-model-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Writes the fixture's files (path -> lines) into the temp project folder. */
async function project(files: Record<string, string[]>): Promise<void> {
  for (const [path, lines] of Object.entries(files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), `${lines.join("\n")}\n`);
  }
}

const model = (given: string[] = [], env: Record<string, string> = {}) => loadComposeModel(dir, given, env);
const built = async (given: string[] = [], env: Record<string, string> = {}) =>
  Object.fromEntries((await model(given, env)).services.map((s) => [s.name, s.hasBuild ? `built as ${s.image ?? "-"}` : s.image]));

describe("extends", () => {
  it("within a file: a service with neither image nor build of its own inherits the build", async () => {
    await project({
      "compose.yaml": ["services:", "  web:", "    build: .", "    image: ghcr.io/acme/web:1", "  worker:", "    extends: web", "    command: work"],
    });
    expect(await built()).toEqual({ web: "built as ghcr.io/acme/web:1", worker: "built as ghcr.io/acme/web:1" });
  });

  it("from another file, recursively, with that file's paths relative to its own folder", async () => {
    await project({
      "compose.yaml": ["services:", "  api:", "    extends: { file: base/common.yaml, service: api }", "    image: acme/api:2"],
      "base/common.yaml": ["services:", "  api:", "    extends: { file: ../shared/build.yaml, service: builder }"],
      "shared/build.yaml": ["services:", "  builder:", "    build: ./ctx", "    image: registry.example.com/api:3"],
    });
    const m = await model();
    expect(m.services).toEqual([{ name: "api", hasBuild: true, image: "acme/api:2" }]);
    expect(m.sources.map((f) => f.path)).toEqual(["compose.yaml", "base/common.yaml", "shared/build.yaml"]);
    // Only the project's own services: what the other files define is not part of the project.
    expect(m.services.map((s) => s.name)).toEqual(["api"]);
  });

  it("a cycle, a missing service and a file outside the project are one-line errors", async () => {
    await project({ "compose.yaml": ["services:", "  a:", "    extends: b", "  b:", "    extends: a"] });
    await expect(model()).rejects.toThrow(/^extends cycle: compose\.yaml#a → compose\.yaml#b → compose\.yaml#a$/);
    await project({ "compose.yaml": ["services:", "  a:", "    extends: { file: other.yaml, service: base }"], "other.yaml": ["services: {}"] });
    await expect(model()).rejects.toThrow(new InputError('compose.yaml:2:3: service "a" extends "base", which other.yaml does not define'));
    await project({ "compose.yaml": ["services:", "  a:", "    extends: { file: ../x.yaml, service: base }"] });
    await expect(model()).rejects.toThrow(
      new InputError('compose.yaml extends "a" from ../x.yaml, which is outside the project folder and would not be shipped'),
    );
  });
});

describe("include", () => {
  it("brings in the included files' services, built ones too, relative to each including file", async () => {
    await project({
      "compose.yaml": ["include:", "  - infra/compose.yaml", "services:", "  web:", "    image: nginx"],
      "infra/compose.yaml": ["include:", "  - path: [db/compose.yaml, db/prod.yaml]", "services:", "  queue:", "    build: ./queue"],
      "infra/db/compose.yaml": ["services:", "  db:", "    build: .", "    image: ghcr.io/acme/db:1"],
      "infra/db/prod.yaml": ["services:", "  db:", "    image: ghcr.io/acme/db:2"],
    });
    const m = await model();
    expect(Object.fromEntries(m.services.map((s) => [s.name, [s.hasBuild, s.image]]))).toEqual({
      db: [true, "ghcr.io/acme/db:2"],
      queue: [true, undefined],
      web: [false, "nginx"],
    });
    expect(m.included.sort()).toEqual(["infra/compose.yaml", "infra/db/compose.yaml", "infra/db/prod.yaml"]);
    expect(m.files.map((f) => f.path)).toEqual(["compose.yaml"]);
  });

  it("a file with only `include:` is a project; a cycle and a missing file are one-line errors", async () => {
    await project({ "compose.yaml": ["include: [a.yaml]"], "a.yaml": ["services:", "  a:", "    build: ."] });
    expect(await built()).toEqual({ a: "built as -" });
    await project({ "a.yaml": ["include: [compose.yaml]", "services:", "  a:", "    build: ."] });
    await expect(model()).rejects.toThrow(new InputError("include cycle: compose.yaml → a.yaml → compose.yaml"));
    await project({ "compose.yaml": ["include: [nowhere.yaml]"] });
    await expect(model()).rejects.toThrow(new InputError("compose.yaml includes nowhere.yaml, which does not exist"));
  });
});

describe("several files", () => {
  it("an override file's registry image on a built service is what the model keeps, and what gets pinned", async () => {
    await project({
      "compose.yaml": ["services:", "  web:", "    build: .", "  db:", "    image: postgres:16"],
      "compose.override.yaml": ["services:", "  web:", "    image: ghcr.io/acme/web:1.4.2"],
    });
    const m = await model();
    expect(m.files.map((f) => f.path)).toEqual(["compose.yaml", "compose.override.yaml"]);
    expect(m.services).toEqual([
      { name: "web", hasBuild: true, image: "ghcr.io/acme/web:1.4.2" },
      { name: "db", hasBuild: false, image: "postgres:16" },
    ]);
    const images = localImagesFor(m, "shop");
    expect(images.images).toEqual({ web: "shop/web:latest" });
    expect(images.composeFiles).toEqual(["compose.yaml", "compose.override.yaml", LOCAL_IMAGES_FILE]);
    expect(images.written.get(LOCAL_IMAGES_FILE)).toContain('services:\n  "web":\n    image: "shop/web:latest"\n    pull_policy: never\n');
  });

  it("a project with no service at all is not a compose project", async () => {
    await project({ "compose.yaml": ["version: '3'", "networks:", "  web: {}"], "b.yaml": ["volumes: {}"] });
    await expect(model()).rejects.toThrow(new InputError("compose.yaml:1:1: not a compose file: no `services:` mapping"));
    await expect(model(["compose.yaml", "b.yaml"])).rejects.toThrow(new InputError("no services in compose.yaml, b.yaml"));
  });

  it("points at the first definition of a service that no file gives an image or build", async () => {
    await project({
      "a.yaml": ["services:", "  web:", "    build: .", "  worker:", "    command: run"],
      "b.yaml": ["services:", "  worker:", "    environment: {A: 1}"],
    });
    await expect(model(["a.yaml", "b.yaml"])).rejects.toThrow(
      'a.yaml:4:3: service "worker" has neither `image` nor `build` in any compose file',
    );
  });
});

describe("which files, and the project's name", () => {
  it("COMPOSE_FILE from the project's .env, split on COMPOSE_PATH_SEPARATOR; -f wins over it", async () => {
    await project({
      "compose.yaml": ["services:", "  a:", "    image: default"],
      "prod.yaml": ["services:", "  a:", "    image: prod"],
      "extra.yaml": ["services:", "  b:", "    build: ."],
      ".env": ["COMPOSE_FILE=prod.yaml;extra.yaml", "COMPOSE_PATH_SEPARATOR=;"],
    });
    expect((await model()).files.map((f) => f.path)).toEqual(["prod.yaml", "extra.yaml"]);
    expect((await model(["compose.yaml"])).files.map((f) => f.path)).toEqual(["compose.yaml"]);
    // The shell's environment wins over the .env, as in compose.
    expect((await model([], { COMPOSE_FILE: "compose.yaml" })).files.map((f) => f.path)).toEqual(["compose.yaml"]);
  });

  it("interpolates `name:` from the shell, then the project's .env, then its default; COMPOSE_PROJECT_NAME wins", async () => {
    await project({ "compose.yaml": ["name: ${PROJECT_NAME:-shop}", "services:", "  a:", "    image: x"] });
    expect((await model()).name).toBe("shop");
    await project({ ".env": ["PROJECT_NAME=store"] });
    expect((await model()).name).toBe("store");
    expect((await model([], { PROJECT_NAME: "depot" })).name).toBe("depot");
    await project({ ".env": ["PROJECT_NAME=store", "COMPOSE_PROJECT_NAME=from-env"] });
    expect((await model()).name).toBe("from-env");
  });

  it("the last project file's `name:` wins; a required variable that is missing is a one-line error", async () => {
    await project({
      "a.yaml": ["name: first", "services:", "  a:", "    image: x"],
      "b.yaml": ["name: second"],
      "c.yaml": ["name: ${NAME:?set NAME}", "services:", "  a:", "    image: x"],
    });
    expect((await model(["a.yaml", "b.yaml"])).name).toBe("second");
    await expect(model(["c.yaml"])).rejects.toThrow(new InputError("c.yaml: name: required variable NAME is missing a value: set NAME"));
  });
});

describe("composeV1Refuses", () => {
  it("names an include, else a top-level name:, that docker-compose 1.29 refuses", async () => {
    await project({ "compose.yaml": ["include: [a.yaml]"], "a.yaml": ["services:", "  a:", "    build: ."] });
    expect(composeV1Refuses(await model())).toBe("the compose files include a.yaml");
    await project({ "compose.yaml": ["name: shop", "services:", "  a:", "    build: ."] });
    expect(composeV1Refuses(await model())).toBe("compose.yaml has a top-level `name:`");
    await project({ "compose.yaml": ["services:", "  a:", "    build: ."] });
    expect(composeV1Refuses(await model())).toBeUndefined();
  });
});

describe("localImagesFor", () => {
  it("a service that only uses the image a built one builds (a shared anchor) runs that build, and says so", async () => {
    await project({
      "compose.yaml": [
        "services:",
        "  web:",
        "    build: .",
        "    image: &img ghcr.io/acme/web:1",
        "  worker:",
        "    image: *img",
        "  cache:",
        "    image: ghcr.io/acme/cache:1",
      ],
    });
    const images = localImagesFor(await model(), "shop");
    expect(images.images).toEqual({ web: "shop/web:latest", worker: "shop/web:latest" });
    expect(images.builtBy).toEqual({ worker: "web" });
  });

  it("nothing built: no file of deploy-vps's own, the project's files only", async () => {
    await project({ "compose.yaml": ["services:", "  a:", "    image: nginx"] });
    const images = localImagesFor(await model(), "shop");
    expect([images.written.size, images.composeFiles]).toEqual([0, ["compose.yaml"]]);
  });
});

describe("withWrittenFiles", () => {
  it("puts deploy-vps's file in its walk-order place, replacing one of that name", () => {
    const file = (path: string) => ({ path, size: 1, mode: 0o644, mtimeMs: 1, isLink: false });
    const tree = [file("Dockerfile"), file("compose/x"), file("compose.yaml"), file(LOCAL_IMAGES_FILE), file("web/a")];
    const shipped = withWrittenFiles(tree, new Map([[LOCAL_IMAGES_FILE, "abc"]]));
    expect(shipped.map((f) => f.path)).toEqual(["Dockerfile", "compose/x", "compose.deploy-vps.yaml", "compose.yaml", "web/a"]);
    expect(shipped[2]).toMatchObject({ size: 3, mode: 0o644 });
  });
});
