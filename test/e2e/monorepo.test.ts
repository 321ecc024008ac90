import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { onServer, removeStack, runCli, tempDir, uniqueName } from "./harness.js";

const name = uniqueName("e2e-mono");
const app = `apps/${name}`;

function write(root: string, path: string, content: string | Buffer): void {
  mkdirSync(dirname(join(root, path)), { recursive: true });
  writeFileSync(join(root, path), content);
}

/** A monorepo laid out like the seed's: heavy folders, registry-prefixed images, 28-style secrets. */
function seedLikeMonorepo(): string {
  const root = join(tempDir("monorepo"), name);
  const built = (service: string) => `
  ${service}:
    build: ./apps/${service}
    image: \${REGISTRY:-ghcr.io/alecia}/alecia-${service}:\${IMAGE_TAG:-latest}
    restart: unless-stopped
    init: true
    environment:
      DATABASE_URL: postgres://app:\${POSTGRES_PASSWORD}@postgres:5432/app
      BETTER_AUTH_SECRET: \${BETTER_AUTH_SECRET}
      REDIS_PASSWORD: \${REDIS_PASSWORD}`;
  write(
    root,
    "docker-compose.yml",
    `services:${built("website")}${built("cms")}
  postgres:
    image: local/busybox:latest
    init: true
    command: ["sh", "-c", "test -n \\"$$POSTGRES_PASSWORD\\" && exec sleep 2147483647"]
    environment:
      POSTGRES_PASSWORD: \${POSTGRES_PASSWORD}
    volumes: ["./data/postgres:/var/lib/postgresql/data"]
`,
  );
  for (const service of ["website", "cms"]) {
    write(
      root,
      `apps/${service}/Dockerfile`,
      'FROM local/busybox:latest\nCOPY src /src\nCMD ["sh", "-c", "test -n \\"$BETTER_AUTH_SECRET\\" && exec sleep 2147483647"]\n',
    );
    for (let i = 0; i < 200; i++)
      write(root, `apps/${service}/src/page-${i}.ts`, `export const page${i} = ${i};\n`);
    write(root, `apps/${service}/node_modules/react/index.js`, "module.exports = {};\n");
    write(root, `apps/${service}/.env.local`, "LOCAL_DEV_TOKEN=local-dev-token-value\n");
  }
  write(
    root,
    ".env.example",
    [
      "# Infrastructure",
      "POSTGRES_PASSWORD=",
      "REDIS_PASSWORD=",
      "MINIO_ROOT_PASSWORD=",
      "# Auth",
      "BETTER_AUTH_SECRET=",
      "TOKEN_ENCRYPTION_KEY=",
      "STRAPI_APP_KEYS=",
      "STRAPI_API_TOKEN_SALT=",
      "NODE_ENV=production",
      "",
    ].join("\n"),
  );
  write(root, ".env", "POSTGRES_PASSWORD=my-local-dev-password\n");
  write(root, ".deployignore", "# FOSS repos vendored for reference\ninfrastructure/repos/\n");
  // 200 MB of node_modules (sparse: cheap to make, expensive to ship), plus build caches and git.
  mkdirSync(join(root, "node_modules/.pnpm"), { recursive: true });
  execFileSync("truncate", ["-s", "200M", join(root, "node_modules/.pnpm/big.bin")]);
  for (let i = 0; i < 500; i++) write(root, `node_modules/pkg-${i}/index.js`, "module.exports = 1;\n");
  execFileSync("truncate", ["-s", "50M", join(root, "apps/website/.next-cache.bin")]);
  write(root, "apps/website/.next/cache/webpack.pack", Buffer.alloc(1024 * 1024));
  write(root, "infrastructure/repos/strapi/README.md", "vendored\n");
  write(root, "dist/bundle.js", "built\n");
  write(root, ".turbo/cache.json", "{}\n");
  execFileSync("git", ["init", "-q"], { cwd: root });
  return root;
}

describe("a monorepo laid out like the seed's", () => {
  afterAll(() => removeStack(name, app));

  it("deploys with no manual step, ships none of the heavy paths and prints no secret", async () => {
    const root = seedLikeMonorepo();
    const run = await runCli([root, "--path", `~/${app}`, "--json", "--exclude", "*.bin"]);
    expect(run.stderr).not.toContain("    at ");
    expect(run.code).toBe(0);
    const summary = JSON.parse(run.stdout);
    expect(summary.images).toEqual({ website: `${name}/website:latest`, cms: `${name}/cms:latest` });
    expect(summary.secrets.generated).toEqual([
      "POSTGRES_PASSWORD",
      "REDIS_PASSWORD",
      "MINIO_ROOT_PASSWORD",
      "BETTER_AUTH_SECRET",
      "TOKEN_ENCRYPTION_KEY",
      "STRAPI_APP_KEYS",
      "STRAPI_API_TOKEN_SALT",
    ]);
    // 400 pages, 2 Dockerfiles, docker-compose.yml, .env.example, .deployignore
    expect(summary.files.shipped.count).toBe(405);
    expect(summary.files.skipped.folders).toEqual(
      expect.arrayContaining([
        ".git",
        "node_modules",
        "apps/website/.next",
        "dist",
        ".turbo",
        "infrastructure/repos",
      ]),
    );
    expect(summary.uploadedBytes).toBeLessThan(100_000);
    expect(summary.services.filter((s: { flagged: boolean }) => s.flagged)).toEqual([]);

    const shipped = onServer(`cd apps/.deploy-vps/${name}/releases/${summary.release} && find . | sort`);
    for (const heavy of [
      "node_modules",
      ".next",
      ".git",
      "/dist",
      ".turbo",
      "infrastructure",
      ".env.local",
      "next-cache.bin",
    ]) {
      expect(shipped).not.toContain(heavy);
    }
    expect(shipped).toContain("./.env.example");
    expect(onServer(`grep -c my-local-dev-password ${app}/.env || true`).trim()).toBe("0");

    const values = onServer(`cat ${app}/.env`)
      .split("\n")
      .map((line) => line.split("=")[1] ?? "")
      .filter((value) => value.length >= 32);
    expect(values).toHaveLength(7);
    for (const value of values) expect(run.stdout + run.stderr).not.toContain(value);
  });
});
