import { mkdir, mkdtemp, rm, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadComposeFiles, mergeServiceLists, parseComposeFile } from "../../../src/compose/files.js";
import { InputError } from "../../../src/errors.js";

function errorOf(fn: () => unknown): InputError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(InputError);
    return e as InputError;
  }
  throw new Error("expected an InputError");
}

describe("parseComposeFile", () => {
  it("reads name, services, build and pull_policy", () => {
    const file = parseComposeFile(
      "compose.yaml",
      [
        "name: Acme Shop",
        "x-base: &base",
        "  image: acme/base:1",
        "services:",
        "  web:",
        "    build: ./web",
        "    pull_policy: always",
        "  db:",
        "    image: postgres:16",
        "  job:",
        "    <<: *base",
        "",
      ].join("\n"),
    );
    expect(file.name).toBe("Acme Shop");
    expect(file.path).toBe("compose.yaml");
    expect(file.services).toEqual([
      { name: "web", hasBuild: true, pullPolicy: "always" },
      { name: "db", hasBuild: false, image: "postgres:16" },
      { name: "job", hasBuild: false, image: "acme/base:1" },
    ]);
  });

  it("reports a YAML syntax error as path:line:col", () => {
    const text = "services:\n  web:\n    image: nginx:1 # ok\n    command: a: b\n";
    const e = errorOf(() => parseComposeFile("deploy/compose.yaml", text));
    expect(e.message).toBe("deploy/compose.yaml:4:14: Nested mappings are not allowed in compact mappings");
    const tabs = errorOf(() => parseComposeFile("c.yml", "services:\n  web:\n\timage: x\n"));
    expect(tabs.message).toBe("c.yml:3:1: Tabs are not allowed as indentation");
  });

  it("reports a duplicate key at its position", () => {
    const e = errorOf(() => parseComposeFile("c.yml", "services:\n  web:\n    image: a\n    image: b\n"));
    expect(e.message).toBe("c.yml:4:5: Map keys must be unique");
  });

  it.each([
    [
      "a list at the top",
      "- web\n- db\n",
      "c.yml:1:1: not a compose file: the top level must be a mapping with a `services:` key",
    ],
    [
      "a scalar at the top",
      "hello\n",
      "c.yml:1:1: not a compose file: the top level must be a mapping with a `services:` key",
    ],
    ["no services", "version: '3'\nvolumes: {}\n", "c.yml:1:1: not a compose file: no `services:` mapping"],
    ["empty services", "version: '3'\nservices:\n", "c.yml:1:1: not a compose file: no `services:` mapping"],
    [
      "services as a list",
      "services:\n  - web\n",
      "c.yml:2:3: `services` must be a mapping of service name to definition",
    ],
    ["a service that is a string", "services:\n  web: nginx\n", 'c.yml:2:3: service "web" must be a mapping'],
    [
      "a service with neither image nor build",
      "services:\n  db:\n    image: postgres\n  web:\n    ports: ['80:80']\n",
      'c.yml:4:3: service "web" has neither `image` nor `build`',
    ],
    [
      "an image that is a list",
      "services:\n  web:\n    image:\n      - nginx\n",
      'c.yml:4:7: service "web": `image` must be a string',
    ],
    [
      "an image that is a number",
      "services:\n  web:\n    image: 42\n",
      'c.yml:3:12: service "web": `image` must be a string',
    ],
  ])("rejects %s", (_, text, message) => {
    expect(errorOf(() => parseComposeFile("c.yml", text)).message).toBe(message);
  });

  it("merges the YAML documents of one file in order, as compose v2 does", () => {
    const text = [
      "name: first",
      "services:",
      "  web:",
      "    build: .",
      "    image: a/web:1",
      "---",
      "name: second",
      "services:",
      "  web:",
      "    image: b/web:2",
      "    pull_policy: never",
      "  db:",
      "    image: pg",
      "---",
      "volumes: {}",
      "",
    ].join("\n");
    const file = parseComposeFile("c.yml", text);
    expect(file.name).toBe("second");
    expect(file.services).toEqual([
      { name: "web", hasBuild: true, image: "b/web:2", pullPolicy: "never" },
      { name: "db", hasBuild: false, image: "pg" },
    ]);
    // As compose: a service is complete only once every document is merged.
    expect(errorOf(() => parseComposeFile("c.yml", "services:\n  a:\n    image: x\n---\nservices:\n  b:\n    ports: [80]\n")).message).toBe(
      'c.yml:6:3: service "b" has neither `image` nor `build`',
    );
  });

  it("reads a service that is a YAML alias of another definition", () => {
    const text = "x-base: &base\n  build: .\n  image: acme/app\nservices:\n  web: *base\n  worker: *base\n";
    expect(parseComposeFile("c.yml", text).services).toEqual([
      { name: "web", hasBuild: true, image: "acme/app" },
      { name: "worker", hasBuild: true, image: "acme/app" },
    ]);
  });

  it("lets a partial (override) file omit services and image", () => {
    expect(parseComposeFile("o.yml", "volumes: {}\n", { partial: true }).services).toEqual([]);
    expect(
      parseComposeFile("o.yml", "services:\n  web:\n    ports: ['80:80']\n", { partial: true }).services,
    ).toEqual([{ name: "web", hasBuild: false }]);
  });
});

describe("mergeServiceLists", () => {
  it("lets later files override image and pull_policy and ORs build", () => {
    const merged = mergeServiceLists([
      parseComposeFile(
        "a.yml",
        "services:\n  web:\n    build: .\n    image: a/web\n  db:\n    image: pg:15\n",
      ),
      parseComposeFile(
        "b.yml",
        "services:\n  web:\n    image: b/web\n  db:\n    image: pg:16\n    pull_policy: always\n  cache:\n    image: redis\n",
      ),
    ].map((file) => file.services));
    expect(merged).toEqual([
      { name: "web", hasBuild: true, image: "b/web" },
      { name: "db", hasBuild: false, image: "pg:16", pullPolicy: "always" },
      { name: "cache", hasBuild: false, image: "redis" },
    ]);
  });
});

describe("loadComposeFiles", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "compose-files-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("takes the first default name that exists", async () => {
    await writeFile(join(dir, "docker-compose.yml"), "services:\n  a:\n    image: x\n");
    await writeFile(join(dir, "compose.yml"), "services:\n  b:\n    image: y\n");
    const files = await loadComposeFiles(dir, []);
    expect(files.map((f) => [f.path, f.services[0]?.name])).toEqual([["compose.yml", "b"]]);
  });

  it("follows compose's order: docker-compose.yml before .yaml, and the first override name whatever the main one", async () => {
    await writeFile(join(dir, "docker-compose.yaml"), "services:\n  a:\n    image: yaml\n");
    await writeFile(join(dir, "docker-compose.yml"), "services:\n  a:\n    image: yml\n");
    await writeFile(join(dir, "compose.override.yml"), "services:\n  a:\n    image: override\n");
    await writeFile(join(dir, "docker-compose.override.yaml"), "services:\n  a:\n    image: other\n");
    const files = await loadComposeFiles(dir, []);
    expect(files.map((f) => f.path)).toEqual(["docker-compose.yml", "compose.override.yml"]);
  });

  it("says where it looked when there is no compose file", async () => {
    await expect(loadComposeFiles(dir, [])).rejects.toThrow(
      new InputError(
        `no compose file in ${dir} (looked for compose.yaml, compose.yml, docker-compose.yml, docker-compose.yaml); pass one with -f`,
      ),
    );
  });

  it("names a missing explicit file", async () => {
    await writeFile(join(dir, "compose.yaml"), "services:\n  a:\n    image: x\n");
    await expect(loadComposeFiles(dir, ["compose.yaml", "deploy/prod.yaml"])).rejects.toThrow(
      new InputError(`compose file deploy/prod.yaml not found in ${dir}`),
    );
  });

  it("merges explicit files, allowing partial overrides, with paths relative to the project", async () => {
    await writeFile(join(dir, "base.yaml"), "services:\n  web:\n    build: .\n");
    await writeFile(join(dir, "prod.yaml"), "services:\n  web:\n    ports: ['80:80']\nvolumes: {}\n");
    const files = await loadComposeFiles(dir, ["base.yaml", join(dir, "prod.yaml")]);
    expect(files.map((f) => f.path)).toEqual(["base.yaml", "prod.yaml"]);
    expect(mergeServiceLists(files.map((file) => file.services))).toEqual([{ name: "web", hasBuild: true }]);
  });

  it("checks a second -f file without the required keys the first one may supply", async () => {
    await writeFile(join(dir, "a.yaml"), "services:\n  web:\n    image: x\n    depends_on:\n      db: {condition: service_started}\n  db:\n    image: pg\n");
    await writeFile(join(dir, "b.yaml"), "services:\n  web:\n    depends_on:\n      db: {restart: true}\n");
    expect((await loadComposeFiles(dir, ["a.yaml", "b.yaml"])).map((f) => f.path)).toEqual(["a.yaml", "b.yaml"]);
    await expect(loadComposeFiles(dir, ["b.yaml", "a.yaml"])).rejects.toThrow(
      'b.yaml:4:11: services.web.depends_on.db lacks the required key "condition"',
    );
  });

  it("names a compose file that is a folder, too big, or not UTF-8, in one line", async () => {
    await mkdir(join(dir, "compose.yaml"));
    await expect(loadComposeFiles(dir, [])).rejects.toThrow(new InputError("cannot read compose.yaml: it is a folder, not a file"));
    await rm(join(dir, "compose.yaml"), { recursive: true });
    // Sparse: the size is checked before anything is read.
    await writeFile(join(dir, "compose.yaml"), "");
    await truncate(join(dir, "compose.yaml"), 50 * 1024 * 1024);
    await expect(loadComposeFiles(dir, [])).rejects.toThrow(
      new InputError("compose.yaml: 52428800 bytes, over the limit of 4194304 (4 MB) for a compose file"),
    );
    await writeFile(join(dir, "compose.yaml"), Buffer.from([...Buffer.from("services:\n  w\u00e9b:"), 0xc3, 0x28]));
    await expect(loadComposeFiles(dir, [])).rejects.toThrow(
      expect.objectContaining({ exitCode: 2, message: "compose.yaml:2:7: not valid UTF-8 (compose files must be UTF-8)" }),
    );
  });

  it("reports a syntax error in a loaded file with its relative path", async () => {
    await writeFile(join(dir, "compose.yaml"), "services:\n  web\n    image: x\n");
    await expect(loadComposeFiles(dir, [])).rejects.toThrow(/^compose\.yaml:\d+:\d+: /);
  });
});
