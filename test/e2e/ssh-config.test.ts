import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { onServer, runCli, tempDir, testHost, uniqueName } from "./harness.js";

describe("~/.ssh/config", () => {
  it("an alias gives HostName, User, Port and IdentityFile; ProxyJump goes through a jump host (here the same sshd)", async () => {
    const host = testHost();
    const dir = tempDir("ssh-config");
    const folder = uniqueName("e2e-alias");
    onServer(`mkdir -p apps/${folder}`);
    writeFileSync(join(dir, "project.txt"), "no compose file needed for releases\n");
    const config = join(dir, "ssh_config");
    writeFileSync(
      config,
      [
        "Host vps",
        `  HostName ${host.DEPLOY_HOST}`,
        `  Port ${host.DEPLOY_PORT}`,
        `  User ${host.DEPLOY_USER}`,
        `  IdentityFile ${host.DEPLOY_SSH_KEY}`,
        "Host via-jump",
        `  HostName ${host.DEPLOY_HOST}`,
        `  Port ${host.DEPLOY_PORT}`,
        `  User ${host.DEPLOY_USER}`,
        `  IdentityFile ${host.DEPLOY_SSH_KEY}`,
        `  ProxyJump ${host.DEPLOY_USER}@${host.DEPLOY_HOST}:${host.DEPLOY_PORT}`,
        "Host dead-jump",
        `  HostName ${host.DEPLOY_HOST}`,
        `  Port ${host.DEPLOY_PORT}`,
        `  IdentityFile ${host.DEPLOY_SSH_KEY}`,
        "  ProxyJump deploy@127.0.0.1:1",
        "",
      ].join("\n"),
    );
    // Only the alias and the ssh config: no DEPLOY_HOST, DEPLOY_PORT, DEPLOY_USER or DEPLOY_SSH_KEY.
    const env = { DEPLOY_SSH_CONFIG: config, DEPLOY_HOST: undefined, DEPLOY_PORT: undefined, DEPLOY_USER: undefined, DEPLOY_SSH_KEY: undefined, SSH_AUTH_SOCK: undefined };
    try {
      const direct = await runCli(["releases", dir, "--host", "vps", "--path", `~/apps/${folder}`, "--json"], env);
      expect(direct.stderr).toBe("");
      expect(direct.code).toBe(0);
      expect(JSON.parse(direct.stdout)).toMatchObject({ host: host.DEPLOY_HOST, path: `/home/deploy/apps/${folder}`, releases: [] });
      const jumped = await runCli(["releases", dir, "--host", "via-jump", "--path", `~/apps/${folder}`, "--json"], env);
      expect(jumped.code).toBe(0);
      expect(JSON.parse(jumped.stdout).path).toBe(`/home/deploy/apps/${folder}`);
      // Proof that the jump is taken: through a jump host that refuses, the same target fails.
      const refused = await runCli(["releases", dir, "--host", "dead-jump", "--path", `~/apps/${folder}`], env);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain("connection refused by 127.0.0.1:1");
    } finally {
      onServer(`rm -rf apps/${folder}`);
    }
  });
});
