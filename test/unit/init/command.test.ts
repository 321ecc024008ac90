// `deploy-vps init` on real folders: files written, never overwritten, and accepted by the deploy's own checks.
// No SSH and no Docker: it calls init() directly on temporary copies, so it is a unit test.
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Command } from "commander";
import { afterAll, describe, expect, it, vi } from "vitest";
import { loadComposeFiles } from "../../../src/compose/files.js";
import { requiredVariables } from "../../../src/compose/variables.js";
import { loadSettings } from "../../../src/config/settings.js";
import { InputError } from "../../../src/errors.js";
import { init, type InitIO, type InitOptions, registerInit } from "../../../src/init/command.js";
import { parseEnvFile } from "../../../src/secrets/env-file.js";
import { mergeEnv, missingVariables } from "../../../src/secrets/merge.js";

const repo = join(dirname(fileURLToPath(import.meta.url)), "../../..");
const scratch = mkdtempSync(join(tmpdir(), "deploy-vps-init-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

let count = 0;
function folder(name: string): string {
  const dir = join(scratch, `${++count}`, name);
  mkdirSync(dir, { recursive: true });
  return dir;
}
function write(root: string, path: string, content: string): void {
  mkdirSync(dirname(join(root, path)), { recursive: true });
  writeFileSync(join(root, path), content);
}
const read = (root: string, path: string) => readFileSync(join(root, path), "utf8");

/** Answers the questions in order (no more answers: "no"), and records them and the output. */
function scripted(...answers: boolean[]): InitIO & { questions: string[]; output: () => string } {
  const questions: string[] = [];
  const out: string[] = [];
  return {
    questions,
    output: () => out.join("\n"),
    confirm: async (question) => {
      questions.push(question);
      return answers.shift() ?? false;
    },
    out: (text) => {
      out.push(text);
    },
  };
}
const options = (extra: Partial<InitOptions> = {}): InitOptions => ({ yes: false, ...extra });

/** The deploy's own check on a first deploy with nothing provided: what would stop it. */
async function stillMissing(dir: string): Promise<string[]> {
  const compose = await loadComposeFiles(dir, []);
  const template = parseEnvFile(".env.example", read(dir, ".env.example"), true);
  const values = mergeEnv({ template, provided: new Map(), generate: () => "x" }).values;
  return missingVariables(requiredVariables(compose.map((file) => file.text)), values);
}

/** Keys the template marks `# must be provided`. */
function mustProvide(template: string): string[] {
  const lines = template.split("\n");
  return lines.flatMap((line, i) =>
    (lines[i - 1] ?? "").startsWith("# must be provided") ? [line.slice(0, line.indexOf("="))] : [],
  );
}

/** Like the seed: registry-prefixed images, 10 variables, vendored clones, a data bind mount, node_modules. */
function seedLike(): string {
  const root = folder("alecia");
  const built = (service: string) => `
  ${service}:
    build: ./apps/${service}
    image: \${REGISTRY:-ghcr.io/x}/alecia-${service}:\${IMAGE_TAG:-latest}
    environment:
      NODE_ENV: \${NODE_ENV:-production}
      DATABASE_URL: postgres://app:\${POSTGRES_PASSWORD}@postgres:5432/app
      REDIS_URL: redis://:\${REDIS_PASSWORD}@redis:6379
      BETTER_AUTH_SECRET: \${BETTER_AUTH_SECRET}
      SMTP_HOST: \${SMTP_HOST}
      SMTP_PORT: \${SMTP_PORT:-587}`;
  write(
    root,
    "docker-compose.yml",
    `services:${built("website")}${built("cms")}
      APP_KEYS: \${STRAPI_APP_KEYS}
      PUBLIC_URL: \${PUBLIC_URL:?the site's public URL}
  postgres:
    image: postgres:16
    environment:
      POSTGRES_PASSWORD: \${POSTGRES_PASSWORD}
    volumes: ["./data/postgres:/var/lib/postgresql/data"]
  redis:
    image: redis:7
    command: redis-server --requirepass $\${REDIS_PASSWORD}
    environment:
      REDIS_PASSWORD: \${REDIS_PASSWORD}
`,
  );
  for (const service of ["website", "cms"]) {
    write(root, `apps/${service}/Dockerfile`, "FROM node:20\n");
    write(root, `apps/${service}/src/index.ts`, "export {};\n");
    write(root, `apps/${service}/node_modules/react/index.js`, "module.exports = {};\n");
  }
  for (const repo of ["strapi", "medusa"]) {
    write(root, `infrastructure/repos/${repo}/.git/HEAD`, "ref: refs/heads/main\n");
    write(root, `infrastructure/repos/${repo}/README.md`, "vendored\n");
  }
  write(root, "data/postgres/PG_VERSION", "16\n");
  write(root, "node_modules/pkg/index.js", "module.exports = 1;\n");
  return root;
}

describe("deploy-vps init on the bundled demo", () => {
  it("writes deploy-vps.yml and appends to .env.example without touching its values", async () => {
    const dir = join(folder("demo"), "demo");
    cpSync(join(repo, "compose/demo"), dir, { recursive: true });
    const before = read(dir, ".env.example");
    const io = scripted();
    expect(await init(dir, options({ host: "deploy@203.0.113.7", port: "2222", yes: true }), io)).toBe(0);
    expect(io.questions).toEqual([]);

    const config = read(dir, "deploy-vps.yml");
    expect(config).toContain("host: deploy@203.0.113.7\nport: 2222\n");
    expect(config).toContain("files:\n  - compose.yaml\n");
    expect(config).toContain("exclude:\n  - /data/  # bind-mounted by db: the server's own data, never overwritten");
    const settings = await loadSettings(dir, {}, {});
    expect([settings.host, settings.user, settings.port, settings.files, settings.exclude]).toEqual([
      "203.0.113.7",
      "deploy",
      2222,
      ["compose.yaml"],
      ["/data/"],
    ]);

    const template = read(dir, ".env.example");
    expect(template).toBe(
      `${before}\n# Used by compose.yaml, added by deploy-vps init\nREGISTRY=ghcr.io/example\nIMAGE_TAG=latest\n`,
    );
    expect(await stillMissing(dir)).toEqual([]);
    expect(io.output()).toContain(".env.example exists; its lines are kept and these are appended:");
    expect(io.output()).not.toContain("Hello from deploy-vps"); // the user's values are not printed
  });
});

describe("deploy-vps init on a seed-like monorepo", () => {
  it("asks once, then writes both files; only the must-be-provided names are left for the deploy", async () => {
    const dir = seedLike();
    const io = scripted(true);
    expect(await init(dir, options({ host: "vps.example.com", user: "deploy", path: "~/apps/alecia" }), io)).toBe(0);
    expect(io.questions).toEqual(["Write deploy-vps.yml and .env.example? [y/N]"]);

    expect(read(dir, "deploy-vps.yml")).toBe(
      [
        "# deploy-vps.yml: how `deploy-vps` ships the compose project in this folder (written by `deploy-vps init`).",
        "# Command-line flags and DEPLOY_* environment variables win over this file. All settings: deploy-vps --help.",
        "host: vps.example.com",
        "user: deploy",
        "path: ~/apps/alecia",
        "# The compose files, in `docker compose -f` order.",
        "files:",
        "  - docker-compose.yml",
        "# Never shipped (gitignore syntax), on top of node_modules, .git, caches, root dist/ and build/, and local .env files.",
        "exclude:",
        "  - /data/postgres/  # bind-mounted by postgres: the server's own data, never overwritten (1 file, 3 B)",
        "  - /infrastructure/repos/  # 2 git clones: vendored repositories (2 files, 18 B)",
        "",
      ].join("\n"),
    );
    const template = read(dir, ".env.example");
    expect(template.split("\n").filter((line) => /^#? ?[A-Z_]+=/.test(line))).toEqual([
      "REGISTRY=ghcr.io/x",
      "IMAGE_TAG=latest",
      "NODE_ENV=production",
      "POSTGRES_PASSWORD=",
      "REDIS_PASSWORD=",
      "BETTER_AUTH_SECRET=",
      "SMTP_HOST=",
      "SMTP_PORT=587",
      "STRAPI_APP_KEYS=",
      "PUBLIC_URL=",
    ]);
    expect(template).toContain(
      "# must be provided: used by services website, cms\nSMTP_HOST=\n" +
        "SMTP_PORT=587\n# generated on the server on first deploy\nSTRAPI_APP_KEYS=\n" +
        "# must be provided: used by service cms (compose: the site's public URL)\nPUBLIC_URL=\n",
    );
    expect(mustProvide(template)).toEqual(["SMTP_HOST", "PUBLIC_URL"]);
    expect(await stillMissing(dir)).toEqual(mustProvide(template));
    expect(io.output()).toContain("give SMTP_HOST, PUBLIC_URL a value: in .env.example, in your shell, or in a git-ignored .env.deploy");
    expect(io.output()).toContain(`deploy-vps ${dir} --dry-run`);
  });

  it("writes nothing when the user says no, and exits 1", async () => {
    const dir = seedLike();
    const io = scripted(false);
    expect(await init(dir, options({ host: "vps" }), io)).toBe(1);
    expect(existsSync(join(dir, "deploy-vps.yml"))).toBe(false);
    expect(existsSync(join(dir, ".env.example"))).toBe(false);
    expect(io.output()).toContain("Nothing written.");
  });

  it("writes nothing with --dry-run and asks nothing", async () => {
    const dir = seedLike();
    const io = scripted(true);
    expect(await init(dir, options({ dryRun: true }), io)).toBe(0);
    expect(io.questions).toEqual([]);
    expect(existsSync(join(dir, "deploy-vps.yml"))).toBe(false);
    expect(existsSync(join(dir, ".env.example"))).toBe(false);
    expect(io.output()).toContain("deploy-vps.yml (new):");
    expect(io.output()).toContain("# host: deploy@203.0.113.7   # required");
  });
});

describe("deploy-vps init never overwrites without asking", () => {
  const mine = "host: old.example.com\nsettle: 60\n";

  it("keeps an existing deploy-vps.yml with --yes, and still writes the template", async () => {
    const dir = seedLike();
    write(dir, "deploy-vps.yml", mine);
    const io = scripted();
    expect(await init(dir, options({ host: "new.example.com", yes: true }), io)).toBe(0);
    expect(io.questions).toEqual([]);
    expect(read(dir, "deploy-vps.yml")).toBe(mine);
    expect(io.output()).toContain("deploy-vps.yml exists: kept (--yes never replaces it");
    expect(existsSync(join(dir, ".env.example"))).toBe(true);
  });

  it("asks separately before replacing deploy-vps.yml, and keeps it on no", async () => {
    const dir = seedLike();
    write(dir, "deploy-vps.yml", mine);
    const io = scripted(true, false);
    expect(await init(dir, options({ host: "new.example.com" }), io)).toBe(0);
    expect(io.questions).toEqual([
      "Write .env.example? [y/N]",
      "deploy-vps.yml already exists. Replace it with the one above? [y/N]",
    ]);
    expect(read(dir, "deploy-vps.yml")).toBe(mine);
    expect(existsSync(join(dir, ".env.example"))).toBe(true);
  });

  it("replaces deploy-vps.yml on an explicit yes", async () => {
    const dir = seedLike();
    write(dir, "deploy-vps.yml", mine);
    write(dir, ".env.example", read(dir, "docker-compose.yml").match(/\$\{(\w+)/g)?.map((m) => `${m.slice(2)}=1`).join("\n") ?? "");
    const io = scripted(true);
    expect(await init(dir, options({ host: "new.example.com" }), io)).toBe(0);
    expect(io.questions).toEqual(["deploy-vps.yml already exists. Replace it with the one above? [y/N]"]);
    expect(read(dir, "deploy-vps.yml")).toContain("host: new.example.com\n");
  });

  it("exits 1 when the only change, replacing deploy-vps.yml, is refused", async () => {
    const dir = seedLike();
    write(dir, "deploy-vps.yml", mine);
    write(dir, ".env.example", read(dir, "docker-compose.yml").match(/\$\{(\w+)/g)?.map((m) => `${m.slice(2)}=1`).join("\n") ?? "");
    const io = scripted(false);
    expect(await init(dir, options({ host: "new.example.com" }), io)).toBe(1);
    expect(read(dir, "deploy-vps.yml")).toBe(mine);
  });

  it("appends to an existing template byte for byte (CRLF, no final newline), keeping its values", async () => {
    const dir = seedLike();
    const before = "# ours\r\nSMTP_HOST=smtp.example.com\r\nPOSTGRES_PASSWORD='kept value'\r\nNODE_ENV=development";
    write(dir, ".env.example", before);
    expect(await init(dir, options({ host: "vps", yes: true }), scripted())).toBe(0);
    const after = read(dir, ".env.example");
    expect(after.startsWith(`${before}\r\n\r\n# Used by docker-compose.yml, added by deploy-vps init\r\n`)).toBe(true);
    const values = new Map(
      parseEnvFile(".env.example", after, true).lines.flatMap((l) => (l.kind === "entry" ? [[l.key, l.value]] : [])),
    );
    expect(values.get("SMTP_HOST")).toBe("smtp.example.com");
    expect(values.get("POSTGRES_PASSWORD")).toBe("kept value");
    expect(values.get("NODE_ENV")).toBe("development");
    expect(after.match(/^SMTP_HOST=/gm)).toHaveLength(1);
    expect(await stillMissing(dir)).toEqual(["PUBLIC_URL"]);
  });

  it("uses the compose files and env template an existing deploy-vps.yml names", async () => {
    const dir = seedLike();
    write(dir, "deploy/prod.yml", "services:\n  web:\n    image: web:${TAG:-1}\n");
    write(dir, "deploy-vps.yml", "files: [deploy/prod.yml]\nenvTemplate: deploy/env.template\n");
    expect(await init(dir, options({ yes: true }), scripted())).toBe(0);
    expect(read(dir, "deploy/env.template")).toContain("# Used by deploy/prod.yml\nTAG=1\n");
    expect(existsSync(join(dir, ".env.example"))).toBe(false);
  });
});

describe("deploy-vps init refuses bad input", () => {
  it("propagates the compose loader's error for a folder without a compose file", async () => {
    const dir = folder("empty");
    await expect(init(dir, options({ yes: true }), scripted())).rejects.toThrow(InputError);
    await expect(init(dir, options({ yes: true }), scripted())).rejects.toThrow(/no compose file in/);
  });

  it("points at a malformed existing template and writes nothing", async () => {
    const dir = seedLike();
    write(dir, ".env.example", "OK=1\nBAD LINE\n");
    await expect(init(dir, options({ yes: true }), scripted())).rejects.toThrow(/^\.env\.example:2:4: /);
    expect(existsSync(join(dir, "deploy-vps.yml"))).toBe(false);
  });

  it("refuses a port that is not a number", async () => {
    await expect(init(seedLike(), options({ port: "ssh", yes: true }), scripted())).rejects.toThrow(
      "--port must be a whole number from 1 to 65535, got 'ssh'.",
    );
  });
});

describe("registerInit", () => {
  it("adds `init [dir]` with its options to a commander program", async () => {
    const dir = seedLike();
    const codes: number[] = [];
    const program = new Command("deploy-vps").exitOverride();
    registerInit(program, (work) => work.then((code) => void codes.push(code)));
    const printed = vi.spyOn(process.stdout, "write").mockImplementation(() => true);
    let shown = "";
    try {
      await program.parseAsync(["init", dir, "-H", "vps", "-u", "deploy", "-p", "2222", "-d", "/srv/x", "--dry-run"], {
        from: "user",
      });
    } finally {
      shown = printed.mock.calls.map(([text]) => String(text)).join("");
      printed.mockRestore();
    }
    expect(codes).toEqual([0]);
    expect(shown).toContain("host: vps\nport: 2222\nuser: deploy\npath: /srv/x\n");
    expect(existsSync(join(dir, "deploy-vps.yml"))).toBe(false);
    const help = program.commands.find((c) => c.name() === "init")?.helpInformation() ?? "";
    for (const flag of ["-H, --host <host>", "-u, --user <user>", "-p, --port <port>", "-d, --path <dir>", "-y, --yes", "--dry-run"])
      expect(help).toContain(flag);
  });

  it("answers no when stdin is not a terminal and --yes is not given, saying to pass --yes", async () => {
    const dir = seedLike();
    const codes: number[] = [];
    const program = new Command("deploy-vps").exitOverride();
    registerInit(program, (work) => work.then((code) => void codes.push(code)));
    const stdout = vi.spyOn(process.stdout, "write").mockImplementation(() => true);
    const stderr = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    const isTTY = process.stdin.isTTY;
    process.stdin.isTTY = false;
    let warned = "";
    try {
      await program.parseAsync(["init", dir, "-H", "vps"], { from: "user" });
    } finally {
      warned = stderr.mock.calls.map(([text]) => String(text)).join("");
      process.stdin.isTTY = isTTY;
      stdout.mockRestore();
      stderr.mockRestore();
    }
    expect(codes).toEqual([1]);
    expect(warned).toBe(
      'deploy-vps: not asked "Write deploy-vps.yml and .env.example?": stdin is not a terminal; pass --yes to write the files.\n',
    );
    expect(existsSync(join(dir, "deploy-vps.yml"))).toBe(false);
  });
});
