import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadSettings } from "../../../src/config/settings.js";
import { parseJump } from "../../../src/ssh/login.js";
import { readSshConfig, resolveAlias } from "../../../src/ssh/ssh-config.js";

const CONFIG = `
Host prod
  HostName 203.0.113.7
  User deploy
  Port 2202
  IdentityFile ~/.ssh/prod_ed25519
  IdentityFile ~/.ssh/id_ed25519
  IdentitiesOnly yes
  ProxyJump bastion@jump.example.com:2222

Host *.internal
  User ops

Host *
  User fallback
  Port 22
`;

describe("resolveAlias", () => {
  it("applies the first value of each parameter, as ssh_config(5) says, with ~ expanded", () => {
    expect(resolveAlias(CONFIG, "prod")).toEqual({
      hostName: "203.0.113.7",
      user: "deploy",
      port: 2202,
      identityFiles: [join(homedir(), ".ssh/prod_ed25519"), join(homedir(), ".ssh/id_ed25519")],
      identitiesOnly: true,
      proxyJump: "bastion@jump.example.com:2222",
    });
    expect(resolveAlias(CONFIG, "db.internal")).toMatchObject({ hostName: undefined, user: "ops", port: 22, proxyJump: undefined });
    expect(resolveAlias(CONFIG, "elsewhere").user).toBe("fallback");
    expect(resolveAlias("", "prod")).toEqual({ identityFiles: [], identitiesOnly: false, hostName: undefined, user: undefined, port: undefined, proxyJump: undefined });
  });
});

describe("readSshConfig", () => {
  it("follows Include, globs included, relative to the including folder's ~/.ssh or absolute", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sshcfg-"));
    mkdirSync(join(dir, "config.d"));
    writeFileSync(join(dir, "config.d", "10-prod"), "Host prod\n  HostName 198.51.100.1\n");
    writeFileSync(join(dir, "config.d", "20-staging"), "Host staging\n  HostName 198.51.100.2\n");
    writeFileSync(join(dir, "config"), `Include ${dir}/config.d/*\nHost *\n  User me\n`);
    const text = await readSshConfig(join(dir, "config"));
    expect(resolveAlias(text, "prod").hostName).toBe("198.51.100.1");
    expect(resolveAlias(text, "staging")).toMatchObject({ hostName: "198.51.100.2", user: "me" });
    expect(await readSshConfig(join(dir, "absent"))).toBe("");
  });
});

describe("parseJump", () => {
  it("reads [user@]host[:port], the first hop of a chain", () => {
    expect(parseJump("bastion@jump.example.com:2222", "me")).toEqual({ host: "jump.example.com", port: 2222, user: "bastion" });
    expect(parseJump("jump", "me")).toEqual({ host: "jump", port: 22, user: "me" });
    expect(parseJump("a@[::1]:2200,b@c", "me")).toEqual({ host: "::1", port: 2200, user: "a" });
    expect(() => parseJump("x:99999", "me")).toThrow("ProxyJump 'x:99999' in ~/.ssh/config is not [user@]host[:port].");
  });
});

describe("settings with an ssh config alias", () => {
  it("uses HostName, User, Port and the first existing IdentityFile, below flags and DEPLOY_* variables", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sshcfg-settings-"));
    writeFileSync(join(dir, "key"), "not really a key\n");
    writeFileSync(join(dir, "config"), `Host vps\n  HostName 203.0.113.9\n  User deploy\n  Port 2200\n  IdentityFile ${dir}/missing\n  IdentityFile ${dir}/key\n`);
    const env = { DEPLOY_SSH_CONFIG: join(dir, "config") };
    const settings = await loadSettings(dir, { host: "vps" }, env);
    expect([settings.host, settings.user, settings.port, settings.identity]).toEqual(["203.0.113.9", "deploy", 2200, join(dir, "key")]);
    const flagged = await loadSettings(dir, { host: "vps", user: "root", port: "22" }, { ...env, DEPLOY_SSH_KEY: join(dir, "other") });
    expect([flagged.host, flagged.user, flagged.port, flagged.identity]).toEqual(["203.0.113.9", "root", 22, join(dir, "other")]);
  });
});
