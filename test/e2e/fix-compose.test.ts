/**
 * fix-compose on a server and locally: the new file goes on stdin (never on a command line),
 * the server's .env is read like a deploy reads it (never traced, its values hidden), --verbose
 * traces the remote commands, and a compose.yaml that is a symbolic link stays one.
 */
import { lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { onServer, removeStack, runCli, shq, uniqueName } from "./harness.js";

const compose = (secret: string) =>
  [
    "services:",
    `  # the old password was ${secret}`,
    "  web:",
    "    build: ./web",
    "    image: ghcr.io/acme/web:1.4.2",
    "    environment:",
    "      SMTP_PASSWORD: ${SMTP_PASSWORD}",
    "      MAIL_FROM: ${MAIL_FROM}",
    "",
  ].join("\n");

const name = uniqueName("e2e-fixc");
const app = `apps/${name}`;
const local = mkdtempSync(join(tmpdir(), "deploy-vps-e2e-fixc-"));
afterAll(() => {
  removeStack(name, app);
  rmSync(local, { recursive: true, force: true });
});

describe("fix-compose", () => {
  it("on the server: writes through a linked compose.yaml from stdin, traces with --verbose, shows no .env value", async () => {
    const secret = "9c2f7e1a5b3d8c0e4f6a2b9d7c1e3f5a";
    onServer(
      `mkdir -p ${app}/deploy && printf '%s' ${shq(compose(secret))} > ${app}/deploy/compose.prod.yaml && ` +
        `ln -s deploy/compose.prod.yaml ${app}/compose.yaml && ` +
        `printf 'SMTP_PASSWORD=%s\\nMAIL_FROM=your@email.com\\n' ${secret} > ${app}/.env`,
    );
    const run = await runCli(["fix-compose", "--path", `~/${app}`, "--verbose"]);
    expect(run.code).toBe(2);
    expect(run.stdout).toContain(`+    image: ${name}/web:latest`);
    expect(run.stdout).toContain("Placeholder values in .env: MAIL_FROM");
    expect(run.stdout).toContain("# the old password was [redacted]");
    expect(run.stdout + run.stderr).not.toContain(secret);
    // The remote commands are traced; the new file is not among them: it went on stdin.
    expect(run.stderr).toContain('  │ $ cat > "$input"');
    const after = onServer(`cat ${app}/deploy/compose.prod.yaml`);
    expect(after).toContain(`    image: ${name}/web:latest\n    pull_policy: never\n`);
    expect(run.stderr).not.toContain(Buffer.from(after).toString("base64").slice(0, 24));
    expect(onServer(`test -L ${app}/compose.yaml && readlink ${app}/compose.yaml`).trim()).toBe("deploy/compose.prod.yaml");
    expect(onServer(`cat ${app}/compose.yaml.*.bak`)).toBe(compose(secret));
  });

  it("--local: writes through a linked compose.yaml to its target, the link kept", async () => {
    const dir = join(local, name);
    mkdirSync(join(dir, "deploy"), { recursive: true });
    writeFileSync(join(dir, "deploy/compose.prod.yaml"), compose("not-a-secret-here"));
    symlinkSync("deploy/compose.prod.yaml", join(dir, "compose.yaml"));
    writeFileSync(join(dir, ".env"), "SMTP_PASSWORD=x9\nMAIL_FROM=ops@acme.io\n");
    const run = await runCli(["fix-compose", dir, "--local"]);
    expect(run.code).toBe(0);
    expect(lstatSync(join(dir, "compose.yaml")).isSymbolicLink()).toBe(true);
    expect(readFileSync(join(dir, "deploy/compose.prod.yaml"), "utf8")).toContain(`    image: ${name}/web:latest\n    pull_policy: never\n`);
    const backups = readdirSync(dir).filter((file) => file.endsWith(".bak"));
    expect(backups).toHaveLength(1);
    expect(readFileSync(join(dir, backups[0] ?? ""), "utf8")).toBe(compose("not-a-secret-here"));
  });
});
