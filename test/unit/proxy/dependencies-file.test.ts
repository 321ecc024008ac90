import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { InputError } from "../../../src/errors.js";
import { DependenciesFileError, fileDependencies, insideCommand, parseDependenciesFile } from "../../../src/proxy/dependencies-file.js";

/** The seed's dependencies.json, exactly as dependency-wake-chain.fr.md shows it. */
const SEED = readFileSync(new URL("./seed-dependencies.json", import.meta.url), "utf8");

function errorOf(text: string, file = "dependencies.yml"): string {
  try {
    parseDependenciesFile(text, file);
  } catch (error) {
    expect(error).toBeInstanceOf(DependenciesFileError);
    expect(error).toBeInstanceOf(InputError);
    return (error as Error).message;
  }
  throw new Error("expected a DependenciesFileError");
}

/** A YAML file with one unit `site` whose one entry has these extra lines (indented under the entry). */
function oneEntry(lines: string): string {
  return `services:\n  site:\n    dependencies:\n      - container: db\n        startOrder: 1\n${lines
    .split("\n")
    .map((line) => `        ${line}`)
    .join("\n")}\n`;
}

describe("parseDependenciesFile", () => {
  it("reads the seed's dependencies.json as it is", () => {
    const doc = parseDependenciesFile(SEED, "dependencies.json");
    expect(doc.units.map((unit) => [unit.key, unit.main, unit.entries.length])).toEqual([
      ["clemence", "wordpress-clemence", 3],
      ["nextcloud", "nextcloud", 4],
      ["ragflow", "ragflow-server", 5],
      ["memvid", "memvid-api", 3],
    ]);
    expect(doc.units[0]?.entries[0]).toEqual({
      container: "mysql-clemence",
      need: "required",
      startOrder: 1,
      parallelGroup: 0,
      check: {
        probe: { kind: "command", command: "mysqladmin ping -h localhost -u root -p$MYSQL_ROOT_PASSWORD" },
        intervalMs: 2000,
        timeoutMs: 30_000,
        retries: 15,
      },
      source: "dependencies.json:9:9",
    });
    expect(doc.units[1]?.entries[3]).toEqual({
      container: "nextcloud-cron",
      need: "optional",
      startOrder: 3,
      parallelGroup: 0,
      source: "dependencies.json:86:9",
    });
    expect(doc.units[2]?.entries[0]?.parallelGroup).toBe(1);
  });

  it("reads the same in YAML, with the http and tcp checks and the defaults", () => {
    const doc = parseDependenciesFile(
      `services:
  shop:
    dependencies:
      - container: shop-db
        startOrder: 1
        healthCheck: { tcp: 5432 }
      - container: shop-api
        startOrder: 1
        parallelGroup: 2
        type: Optional
        healthCheck: { http: { port: 8080, path: /health }, interval: 500, timeout: 5000 }
      - container: shop-cache
        startOrder: 1
        healthCheck: { http: { port: 80 }, retries: 3 }
`,
      "dependencies.yml",
    );
    const [db, api, cache] = doc.units[0]?.entries ?? [];
    expect(doc.units[0]?.main).toBe("shop");
    expect(db?.check).toEqual({ probe: { kind: "tcp", port: 5432 }, intervalMs: 1000, timeoutMs: 60_000, retries: 61 });
    expect(api).toMatchObject({ need: "optional", parallelGroup: 2 });
    expect(api?.check).toEqual({ probe: { kind: "http", port: 8080, path: "/health" }, intervalMs: 500, timeoutMs: 5000, retries: 11 });
    expect(cache?.check).toEqual({ probe: { kind: "http", port: 80, path: "/" }, intervalMs: 1000, timeoutMs: 60_000, retries: 3 });
  });

  it("ignores keys it does not know, and takes an empty file or no services as no units", () => {
    expect(parseDependenciesFile('{ "version": 2, "services": { "a": { "port": "x", "future": [1], "dependencies": [] } } }', "d.json").units).toEqual([
      { key: "a", main: "a", entries: [] },
    ]);
    expect(parseDependenciesFile("", "d.yml").units).toEqual([]);
    expect(parseDependenciesFile("{}", "d.json").units).toEqual([]);
    expect(parseDependenciesFile("services:\n  a: {}\n", "d.yml").units).toEqual([{ key: "a", main: "a", entries: [] }]);
  });

  it("points at a syntax error, in JSON's words for a JSON file", () => {
    expect(errorOf('{\n  "services": {\n    "a": {,}\n  }\n}\n', "dependencies.json")).toMatch(/^dependencies\.json:3:11: .*\(JSON\)$/);
    expect(errorOf("services:\n  a: [\n", "dependencies.yml")).toMatch(/^dependencies\.yml:\d+:\d+: /);
  });

  it("points at the value of the wrong type, one line each", () => {
    expect(errorOf("- a\n")).toBe('dependencies.yml:1:1: expected a mapping with a "services" mapping');
    expect(errorOf("services: [a]\n")).toBe('dependencies.yml:1:11: "services" must be a mapping of units by name (e.g. "clemence": { ... })');
    expect(errorOf("services:\n  a: 3\n")).toBe("dependencies.yml:2:6: unit 'a' must be a mapping (name, dependencies, ...)");
    expect(errorOf("services:\n  a:\n    name: 'bad name'\n")).toBe(
      "dependencies.yml:3:11: name 'bad name' is not a container name (letters, digits, '.', '_', '-')",
    );
    expect(errorOf("services:\n  a:\n    dependencies: { container: db }\n")).toBe("dependencies.yml:3:19: dependencies must be a list");
    expect(errorOf("services:\n  a:\n    dependencies: [db]\n")).toBe(
      "dependencies.yml:3:20: each dependency must be a mapping (container, type, startOrder, ...)",
    );
    expect(errorOf("services:\n  a:\n    dependencies:\n      - startOrder: 1\n")).toBe("dependencies.yml:4:9: this dependency has no container");
    expect(errorOf("services:\n  a:\n    dependencies:\n      - container: db\n")).toBe("dependencies.yml:4:9: this dependency has no startOrder");
    expect(errorOf("services:\n  a:\n    dependencies:\n      - container: 5\n        startOrder: 1\n")).toBe(
      "dependencies.yml:4:20: container must be a non-empty string",
    );
    expect(errorOf("services:\n  a:\n    dependencies:\n      - { container: db, startOrder: 1 }\n      - { container: db, startOrder: 2 }\n")).toBe(
      "dependencies.yml:5:22: a second entry for 'db' in this unit (the first is at dependencies.yml:4:9)",
    );
    expect(errorOf(oneEntry("type: mandatory"))).toBe("dependencies.yml:6:15: type 'mandatory' is not required or optional");
    expect(errorOf(oneEntry("parallelGroup: -1"))).toBe("dependencies.yml:6:24: parallelGroup -1 is not a whole number (0 or more)");
    expect(errorOf(oneEntry("healthCheck: pg_isready"))).toBe(
      "dependencies.yml:6:22: healthCheck must be a mapping (command, interval, timeout, retries)",
    );
    expect(errorOf(oneEntry("healthCheck: { interval: 1000 }"))).toBe("dependencies.yml:6:22: healthCheck needs one of command, http or tcp");
    expect(errorOf(oneEntry("healthCheck: { command: pg_isready, tcp: 5432 }"))).toBe(
      "dependencies.yml:6:22: healthCheck needs one of command, http or tcp",
    );
    expect(errorOf(oneEntry("healthCheck: { tcp: 0 }"))).toBe("dependencies.yml:6:29: tcp 0 is not a port (1-65535)");
    expect(errorOf(oneEntry("healthCheck: { http: 80 }"))).toBe("dependencies.yml:6:30: http must be a mapping (port, path)");
    expect(errorOf(oneEntry("healthCheck: { http: { path: /x } }"))).toBe("dependencies.yml:6:30: http has no port");
    expect(errorOf(oneEntry("healthCheck: { http: { port: 80, path: health } }"))).toBe("dependencies.yml:6:48: path 'health' must start with /");
    expect(errorOf(oneEntry('healthCheck: { tcp: 5432, interval: "2s" }'))).toBe(
      "dependencies.yml:6:45: interval '2s' is not a number of milliseconds above 0",
    );
    expect(errorOf(oneEntry("healthCheck: { tcp: 5432, timeout: 0 }"))).toBe(
      "dependencies.yml:6:44: timeout 0 is not a number of milliseconds above 0",
    );
    expect(errorOf(oneEntry("healthCheck: { tcp: 5432, retries: 1.5 }"))).toBe(
      "dependencies.yml:6:44: retries 1.5 is not a whole number of tries, 1 or more",
    );
  });

  it("refuses a health check that would run on the host or in another container, at its line", () => {
    const seedWithOther = SEED.replace("docker exec redis-shared redis-cli ping", "docker exec redis-other redis-cli ping");
    expect(errorOf(seedWithOther, "dependencies.json")).toBe(
      "dependencies.json:69:24: command: docker exec runs in 'redis-other', not in this entry's container redis-shared",
    );
    expect(errorOf(oneEntry("healthCheck: { command: docker ps }"))).toBe(
      "dependencies.yml:6:33: command: only docker exec db COMMAND is accepted (the command runs inside the container, never on the host)",
    );
  });
});

describe("insideCommand", () => {
  it("removes the docker exec prefix and keeps the rest as written, $VARS included", () => {
    expect(insideCommand("docker exec mysql-clemence mysqladmin ping -p$MYSQL_ROOT_PASSWORD", "mysql-clemence")).toBe(
      "mysqladmin ping -p$MYSQL_ROOT_PASSWORD",
    );
    expect(insideCommand("docker  exec -it  db   sh -c 'pg_isready -U \"$USER\"'", "db")).toBe("sh -c 'pg_isready -U \"$USER\"'");
    expect(insideCommand("docker exec --tty --interactive db true", "db")).toBe("true");
    expect(insideCommand("pg_isready -U postgres", "db")).toBe("pg_isready -U postgres");
    // A word that merely starts with docker is a command like any other.
    expect(insideCommand("dockerize -wait tcp://db:5432", "db")).toBe("dockerize -wait tcp://db:5432");
  });

  it("says what is wrong", () => {
    expect(insideCommand("docker exec", "db")).toEqual({ problem: "docker exec names no container (write docker exec db COMMAND)" });
    expect(insideCommand("docker exec -it", "db")).toEqual({ problem: "docker exec names no container (write docker exec db COMMAND)" });
    expect(insideCommand("docker exec db  ", "db")).toEqual({ problem: "docker exec db has no command after the container" });
    expect(insideCommand("docker exec other true", "db")).toEqual({ problem: "docker exec runs in 'other', not in this entry's container db" });
    expect(insideCommand("docker exec -u postgres db true", "db")).toEqual({
      problem: "docker exec's -u is not kept (the command runs as the container's user, in its environment): remove it",
    });
    expect(insideCommand("docker", "db")).toEqual({
      problem: "only docker exec db COMMAND is accepted (the command runs inside the container, never on the host)",
    });
  });
});

describe("fileDependencies", () => {
  const { byContainer, members } = fileDependencies(parseDependenciesFile(SEED, "dependencies.json"));

  it("makes each entry need the group before it: ready when that one has a check, its type as the need", () => {
    expect(byContainer.get("mysql-clemence")?.requirements).toEqual([]);
    expect(byContainer.get("wordpress-clemence")?.requirements).toEqual([
      { target: { container: "mysql-clemence" }, until: "ready", need: "required", source: "dependencies.json:20:9" },
    ]);
    expect(byContainer.get("nginx-clemence")?.requirements).toEqual([
      { target: { container: "wordpress-clemence" }, until: "ready", need: "required", source: "dependencies.json:31:9" },
    ]);
    expect(byContainer.get("nextcloud")?.requirements.map((requirement) => requirement.target)).toEqual([
      { container: "postgresql-shared" },
      { container: "redis-shared" },
    ]);
    expect(byContainer.get("nextcloud-cron")?.requirements).toEqual([
      { target: { container: "nextcloud" }, until: "ready", need: "required", source: "dependencies.json:86:9" },
    ]);
    expect(byContainer.get("ragflow-server")?.requirements.map((requirement) => requirement.target)).toEqual([
      { container: "ragflow-mysql" },
      { container: "ragflow-redis" },
      { container: "ragflow-minio" },
      { container: "ragflow-es-01" },
    ]);
    for (const backend of ["ragflow-mysql", "ragflow-redis", "ragflow-minio", "ragflow-es-01"])
      expect(byContainer.get(backend)?.requirements).toEqual([]);
  });

  it("keeps each container's check, the first unit's when two units give one", () => {
    expect(byContainer.get("nextcloud")?.check?.probe).toEqual({ kind: "command", command: "curl -f http://localhost:80/status.php" });
    expect(byContainer.get("nextcloud-cron")?.check).toBeUndefined();
    // redis-shared is in nextcloud and in memvid, with the same check.
    expect(byContainer.get("redis-shared")?.check).toEqual({ probe: { kind: "command", command: "redis-cli ping" }, intervalMs: 1000, timeoutMs: 10_000, retries: 10 });
    expect(byContainer.get("memvid-api")?.requirements).toEqual([
      { target: { container: "redis-shared" }, until: "ready", need: "required", source: "dependencies.json:179:9" },
    ]);
  });

  it("names each unit's main container and its other members, the optional ones apart", () => {
    expect(members.get("clemence")).toEqual({ main: "wordpress-clemence", containers: ["mysql-clemence", "nginx-clemence"], optional: ["nginx-clemence"] });
    expect(members.get("nextcloud")).toEqual({
      main: "nextcloud",
      containers: ["postgresql-shared", "redis-shared", "nextcloud-cron"],
      optional: ["nextcloud-cron"],
    });
    expect(members.get("memvid")).toEqual({ main: "memvid-api", containers: ["redis-shared", "memvid-ui"], optional: ["memvid-ui"] });
  });

  it("starts a dependency that has no check once it is started, and keeps its type as the need", () => {
    const doc = parseDependenciesFile(
      "services:\n  a:\n    dependencies:\n      - { container: cache, type: optional, startOrder: 1 }\n      - { container: web, startOrder: 5 }\n",
      "d.yml",
    );
    expect(fileDependencies(doc).byContainer.get("web")?.requirements).toEqual([
      { target: { container: "cache" }, until: "started", need: "optional", source: "d.yml:5:9" },
    ]);
  });

  it("orders groups by startOrder then parallelGroup, whatever the file's order", () => {
    const doc = parseDependenciesFile(
      `services:
  a:
    dependencies:
      - { container: last, startOrder: 2 }
      - { container: second, startOrder: 1, parallelGroup: 2 }
      - { container: first, startOrder: 1, parallelGroup: 1 }
      - { container: first-too, startOrder: 1, parallelGroup: 1 }
`,
      "d.yml",
    );
    const needs = (container: string) =>
      fileDependencies(doc).byContainer.get(container)?.requirements.map((requirement) => ("container" in requirement.target ? requirement.target.container : ""));
    expect(needs("first")).toEqual([]);
    expect(needs("first-too")).toEqual([]);
    expect(needs("second")).toEqual(["first", "first-too"]);
    expect(needs("last")).toEqual(["second"]);
  });
});
