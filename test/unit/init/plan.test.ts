import { describe, expect, it } from "vitest";
import { requiredVariables } from "../../../src/compose/variables.js";
import { parseConfigFile } from "../../../src/config/settings.js";
import {
  configYaml,
  envTemplate,
  heavyFolders,
  planEnvTemplate,
  type TreeSummary,
} from "../../../src/init/plan.js";
import { parseEnvFile } from "../../../src/secrets/env-file.js";
import { envValues } from "../secrets/values.js";
import { mergeEnv, missingVariables } from "../../../src/secrets/merge.js";

const lines = (...l: string[]) => `${l.join("\n")}\n`;
const HEADER = [
  "# deploy-vps.yml: how `deploy-vps` ships the compose project in this folder (written by `deploy-vps init`).",
  "# Command-line flags and DEPLOY_* environment variables win over this file. All settings: deploy-vps --help.",
];
const TEMPLATE_HEADER = [
  "# Template of the server's .env, written by `deploy-vps init` from the compose files.",
  "# On each deploy a key keeps the value already on the server; else takes the one in your shell or in a",
  "# local, git-ignored .env.deploy; else, when it is secret-like and empty here, gets a generated one",
  "# (kept afterwards); else gets the value written here.",
];
const values = (text: string) =>
  new Map([...parseConfigFile("deploy-vps.yml", text)].map(([key, sourced]) => [key, sourced.value]));

describe("configYaml", () => {
  it("writes every known setting, commented, in the keys settings.ts reads", () => {
    const text = configYaml({
      host: "deploy@203.0.113.7",
      port: 2222,
      user: "deploy",
      path: "~/apps/shop",
      name: "shop",
      files: ["compose.yaml", "compose.override.yaml"],
      exclude: [{ pattern: "/data/", reason: "bind-mounted by db:\n the server's data" }, "*.sqlite"],
    });
    expect(text).toBe(
      lines(
        ...HEADER,
        "host: deploy@203.0.113.7",
        "port: 2222",
        "user: deploy",
        "path: ~/apps/shop",
        "name: shop",
        "# The compose files, in `docker compose -f` order.",
        "files:",
        "  - compose.yaml",
        "  - compose.override.yaml",
        "# Never shipped (gitignore syntax), on top of node_modules, .git, caches, root dist/ and build/, and local .env files.",
        "exclude:",
        "  - /data/  # bind-mounted by db: the server's data",
        '  - "*.sqlite"',
      ),
    );
    expect(values(text)).toEqual(
      new Map<string, unknown>([
        ["host", "deploy@203.0.113.7"],
        ["port", 2222],
        ["user", "deploy"],
        ["path", "~/apps/shop"],
        ["name", "shop"],
        ["files", ["compose.yaml", "compose.override.yaml"]],
        ["exclude", ["/data/", "*.sqlite"]],
      ]),
    );
  });

  it("leaves out what is not known, with a commented hint for the host", () => {
    const text = configYaml({ files: [], exclude: [] });
    expect(text).toBe(
      lines(...HEADER, "# host: deploy@203.0.113.7   # required: set it here, or pass -H / DEPLOY_HOST"),
    );
    expect(values(text).size).toBe(0);
  });

  it("quotes what YAML would read as something else, and it reads back as written", () => {
    const input = { host: "vps", path: "~", name: "yes", files: ["a #b.yaml", "123"], exclude: ["!keep/", "&x", "[a]"] };
    const text = configYaml(input);
    expect(text).toContain('path: "~"\n');
    expect(values(text)).toEqual(
      new Map<string, unknown>([
        ["host", "vps"],
        ["path", "~"],
        ["name", "yes"],
        ["files", ["a #b.yaml", "123"]],
        ["exclude", ["!keep/", "&x", "[a]"]],
      ]),
    );
  });
});

describe("envTemplate", () => {
  const compose = {
    path: "compose.yaml",
    text: lines(
      "services:",
      "  web:",
      "    image: ${REGISTRY:-ghcr.io/x}/web",
      "    environment:",
      "      DB: postgres://app:${POSTGRES_PASSWORD}@db/app",
      "      NODE_ENV: ${NODE_ENV:-production}",
      "      GREETING: ${GREETING:-Hello world}",
      "      SMTP_HOST: ${SMTP_HOST}",
      "      URL: ${PUBLIC_URL:?set the public URL}",
      "      DEBUG: ${DEBUG:+--debug}",
      "      LEVEL: ${LEVEL:-${DEFAULT_LEVEL:-info}}",
      "      PORT: ${PORT:-80}",
      "  worker:",
      "    image: worker",
      "    environment:",
      "      SMTP_HOST: ${SMTP_HOST}",
      "      PORT: ${PORT:-8080}",
      "      JWT_SECRET: ${JWT_SECRET:-dev-secret}",
      "      MIXED: ${MIXED}",
      "      MIXED2: ${MIXED:-m}",
    ),
  };
  const override = {
    path: "compose.prod.yaml",
    text: lines("name: ${PROJECT}", "services:", "  web:", "    environment:", "      X: ${SMTP_HOST} ${SENTRY_DSN}"),
  };

  it("lists every variable in first-use order, grouped by the compose file that uses it first", () => {
    expect(envTemplate([compose, override])).toBe(
      lines(
        ...TEMPLATE_HEADER,
        "",
        "# Used by compose.yaml",
        "REGISTRY=ghcr.io/x",
        "# generated on the server on first deploy",
        "POSTGRES_PASSWORD=",
        "NODE_ENV=production",
        "GREETING='Hello world'",
        "# must be provided: used by services web, worker",
        "SMTP_HOST=",
        "# must be provided: used by service web (compose: set the public URL)",
        "PUBLIC_URL=",
        "# optional: compose uses it only when it is set",
        "# DEBUG=",
        "# optional: left unset, compose uses its default ${DEFAULT_LEVEL:-info}",
        "# LEVEL=",
        "DEFAULT_LEVEL=info",
        "# optional: left unset, compose uses its defaults 80 | 8080",
        "# PORT=",
        "# generated on the server on first deploy",
        "JWT_SECRET=",
        "MIXED=m",
        "",
        "# Used by compose.prod.yaml",
        "# must be provided: the compose files use it without a default",
        "PROJECT=",
        "# must be provided: used by service web",
        "SENTRY_DSN=",
      ),
    );
  });

  it("says which keys must be provided, and the deploy's own check agrees", () => {
    const plan = planEnvTemplate([compose, override]);
    expect(plan.mustProvide).toEqual(["SMTP_HOST", "PUBLIC_URL", "PROJECT", "SENTRY_DSN"]);
    expect(plan.added).toBe(plan.text);
    const merged = mergeEnv({
      template: parseEnvFile(".env.example", plan.text, true),
      provided: new Map(),
      generate: () => "x",
    });
    expect(missingVariables(requiredVariables([compose.text, override.text]), merged.values)).toEqual(plan.mustProvide);
    expect(merged.generated).toEqual(["POSTGRES_PASSWORD", "JWT_SECRET"]);
  });

  it("keeps an existing template's lines and appends only the keys it lacks", () => {
    const existing = parseEnvFile(
      ".env.example",
      lines("# mine", "NODE_ENV=development", "SMTP_HOST='smtp.example.com' # ours", "POSTGRES_PASSWORD=", "UNUSED=1"),
      true,
    );
    const plan = planEnvTemplate([{ path: "compose.yaml", text: compose.text.split("  worker:")[0] ?? "" }], existing);
    expect(plan.added).toBe(
      lines(
        "",
        "# Used by compose.yaml, added by deploy-vps init",
        "REGISTRY=ghcr.io/x",
        "GREETING='Hello world'",
        "# must be provided: used by service web (compose: set the public URL)",
        "PUBLIC_URL=",
        "# optional: compose uses it only when it is set",
        "# DEBUG=",
        "# optional: left unset, compose uses its default ${DEFAULT_LEVEL:-info}",
        "# LEVEL=",
        "DEFAULT_LEVEL=info",
        "PORT=80",
      ),
    );
    expect(plan.text).toBe(
      lines("# mine", "NODE_ENV=development", "SMTP_HOST='smtp.example.com' # ours", "POSTGRES_PASSWORD=", "UNUSED=1") +
        plan.added,
    );
    expect(plan.keys).toEqual(["REGISTRY", "GREETING", "PUBLIC_URL", "DEBUG", "LEVEL", "DEFAULT_LEVEL", "PORT"]);
    expect(plan.mustProvide).toEqual(["PUBLIC_URL"]);
    const after = envValues(parseEnvFile(".env.example", plan.text, true));
    expect(after.get("NODE_ENV")).toBe("development");
    expect(after.get("SMTP_HOST")).toBe("smtp.example.com");
    expect(after.get("GREETING")).toBe("Hello world");
  });

  it("leaves a key with a default unset when setting it would also turn on a ${X:+…} use", () => {
    const text = lines("services:", "  web:", "    image: web", "    command: ${MODE:-fast} ${MODE:+--mode}");
    expect(planEnvTemplate([{ path: "compose.yaml", text }]).added.split("\n").slice(-3)).toEqual([
      "# optional: left unset, compose uses its default fast",
      "# MODE=",
      "",
    ]);
  });

  it("adds nothing to a template that has every key, and says so for compose files without variables", () => {
    const existing = parseEnvFile(".env.example", "A=1\nB=\n", true);
    const text = lines("services:", "  web:", "    image: web:${A}", "    command: ${B:-x}");
    expect(planEnvTemplate([{ path: "compose.yaml", text }], existing)).toEqual({
      text: "A=1\nB=\n",
      added: "",
      keys: [],
      mustProvide: [],
    });
    expect(envTemplate([{ path: "compose.yaml", text: "services:\n  web:\n    image: web\n" }])).toBe(
      lines(...TEMPLATE_HEADER, "", "# The compose files use no variables."),
    );
  });
});

describe("heavyFolders", () => {
  const tree = (paths: string[], skipped: string[] = []): TreeSummary => ({
    files: paths.map((path) => ({ path, size: 1500 })),
    skipped: { folders: skipped },
  });

  it("suggests read-write data bind mounts even when empty locally, never read-only ones", () => {
    expect(
      heavyFolders(tree(["config/app.json", "data/postgres/PG_VERSION", "data/postgres/base/1"]), {
        mounts: [
          { service: "db", source: "data/postgres", readOnly: false },
          { service: "backup", source: "data/postgres", readOnly: false },
          { service: "web", source: "uploads", readOnly: false },
          { service: "web", source: "config", readOnly: false },
          { service: "web", source: "seed-data", readOnly: true },
        ],
        contexts: ["."],
      }),
    ).toEqual([
      { pattern: "/data/postgres/", reason: "bind-mounted by db, backup: the server's own data, never overwritten (2 files, 3.0 kB)" },
      { pattern: "/uploads/", reason: "bind-mounted by web: the server's own data, never overwritten" },
    ]);
  });

  it("keeps the outer of two nested data mounts", () => {
    expect(
      heavyFolders(tree([]), {
        mounts: [
          { service: "db", source: "data/db", readOnly: false },
          { service: "app", source: "data", readOnly: false },
        ],
        contexts: [],
      }).map((s) => s.pattern),
    ).toEqual(["/data/"]);
  });

  it("suggests the parent of several git clones, or a lone clone, when they hold files", () => {
    const files = ["infrastructure/repos/a/README", "infrastructure/repos/b/x.ts", "tools/lib/main.c", "app.ts"];
    expect(
      heavyFolders(
        tree(files, [".git", "infrastructure/repos/a/.git", "infrastructure/repos/b/.git", "tools/lib/.git", "empty/.git"]),
      ),
    ).toEqual([
      { pattern: "/infrastructure/repos/", reason: "2 git clones: vendored repositories (2 files, 3.0 kB)" },
      { pattern: "/tools/lib/", reason: "a git clone: a vendored repository (1 file, 1.5 kB)" },
    ]);
  });

  it("suggests local-only folders at any depth and local files, once each", () => {
    expect(
      heavyFolders(
        tree(["tmp/a", "apps/web/tmp/b", "apps/web/src/log/logger.go", "logs/x.log", "api/.venv/lib/x.py", "db.sqlite", "a/b.sqlite3", "apps/web/server.log", "src/app.ts"]),
      ),
    ).toEqual([
      { pattern: "tmp/", reason: "temporary files (2 files, 3.0 kB)" },
      { pattern: "logs/", reason: "log files (1 file, 1.5 kB)" },
      { pattern: ".venv/", reason: "a Python virtualenv (1 file, 1.5 kB)" },
      { pattern: "*.sqlite", reason: "local SQLite databases (1 file, 1.5 kB)" },
      { pattern: "*.sqlite3", reason: "local SQLite databases (1 file, 1.5 kB)" },
      { pattern: "*.log", reason: "log files (1 file, 1.5 kB)" },
    ]);
  });

  it("never suggests a folder that is or holds a build context", () => {
    expect(
      heavyFolders(tree(["tmp/build/Dockerfile", "vendored/a/Dockerfile", "vendored/b/x"], ["vendored/a/.git", "vendored/b/.git"]), {
        mounts: [{ service: "web", source: "data", readOnly: false }],
        contexts: ["tmp/build", "vendored/a", "data"],
      }),
    ).toEqual([]);
  });

  it("suggests nothing for a clean tree", () => {
    expect(heavyFolders(tree(["compose.yaml", "web/Dockerfile", "web/src/index.ts"]), { mounts: [], contexts: ["web"] })).toEqual([]);
  });
});
