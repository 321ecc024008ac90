import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  checkHostKey,
  fingerprint,
  keyTypeOf,
  knownHostName,
  knownHostsLine,
  parseKnownHosts,
} from "../../../src/ssh/known-hosts.js";

const dir = mkdtempSync(join(tmpdir(), "deploy-vps-known-hosts-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface TestKey {
  /** "ssh-ed25519 AAAA…" as it appears in known_hosts. */
  text: string;
  type: string;
  blob: Buffer;
  pubFile: string;
}

function makeKey(name: string, type: "ed25519" | "ecdsa"): TestKey {
  const file = join(dir, name);
  execFileSync("ssh-keygen", ["-q", "-t", type, "-N", "", "-C", `${name}@test`, "-f", file]);
  const [keyType, base64] = readFileSync(`${file}.pub`, "utf8").trim().split(" ");
  if (!keyType || !base64) throw new Error(`unexpected public key file for ${name}`);
  return {
    text: `${keyType} ${base64}`,
    type: keyType,
    blob: Buffer.from(base64, "base64"),
    pubFile: `${file}.pub`,
  };
}

const server = makeKey("server", "ed25519");
const other = makeKey("other", "ed25519");
const ecdsa = makeKey("ecdsa", "ecdsa");

/** `SHA256:…` exactly as `ssh-keygen -lf` prints it. */
function keygenFingerprint(pubFile: string): string {
  const out = execFileSync("ssh-keygen", ["-lf", pubFile], { encoding: "utf8" });
  const match = /\s(SHA256:\S+)\s/.exec(out);
  if (!match?.[1]) throw new Error(`unexpected ssh-keygen -lf output: ${out}`);
  return match[1];
}

/** Hashes a known_hosts text with the real `ssh-keygen -H`. */
function hashWithKeygen(name: string, text: string): string {
  const file = join(dir, name);
  writeFileSync(file, text);
  execFileSync("ssh-keygen", ["-H", "-f", file], { stdio: "pipe" });
  return readFileSync(file, "utf8");
}

const check = (text: string, host: string, port: number, key: TestKey) =>
  checkHostKey(parseKnownHosts(text), host, port, key.blob);

describe("fingerprint and keyTypeOf", () => {
  it.each([
    ["ed25519", server],
    ["other ed25519", other],
    ["ecdsa", ecdsa],
  ])("%s: fingerprint equals ssh-keygen -lf", (_, key) => {
    expect(fingerprint(key.blob)).toBe(keygenFingerprint(key.pubFile));
  });

  it("reads the key type from inside the blob", () => {
    expect(keyTypeOf(server.blob)).toBe("ssh-ed25519");
    expect(keyTypeOf(ecdsa.blob)).toBe("ecdsa-sha2-nistp256");
    expect(ecdsa.type).toBe("ecdsa-sha2-nistp256");
  });
});

describe("knownHostName", () => {
  it("uses the bare host on port 22 and [host]:port elsewhere", () => {
    expect(knownHostName("example.com", 22)).toBe("example.com");
    expect(knownHostName("127.0.0.1", 2222)).toBe("[127.0.0.1]:2222");
    expect(knownHostName("example.com", 2200)).toBe("[example.com]:2200");
  });
});

describe("parseKnownHosts", () => {
  it("keeps entries with markers, patterns and line numbers; skips comments, blanks and junk", () => {
    const text = [
      "# a comment",
      "",
      `example.com,10.0.0.1 ${server.text} trailing comment`,
      "junk",
      "only-two fields",
      `@revoked bad.example.com ${other.text}`,
      `@cert-authority *.example.com ${ecdsa.text}`,
      `   # indented comment`,
      `\t[127.0.0.1]:2222 ${server.text}\r`,
      "",
    ].join("\n");
    const entries = parseKnownHosts(text);
    expect(entries).toEqual([
      {
        marker: undefined,
        patterns: ["example.com", "10.0.0.1"],
        keyType: "ssh-ed25519",
        key: server.blob,
        line: 3,
      },
      { marker: "@revoked", patterns: ["bad.example.com"], keyType: "ssh-ed25519", key: other.blob, line: 6 },
      {
        marker: "@cert-authority",
        patterns: ["*.example.com"],
        keyType: "ecdsa-sha2-nistp256",
        key: ecdsa.blob,
        line: 7,
      },
      {
        marker: undefined,
        patterns: ["[127.0.0.1]:2222"],
        keyType: "ssh-ed25519",
        key: server.blob,
        line: 9,
      },
    ]);
  });

  it("gives nothing for an empty or comment-only file", () => {
    expect(parseKnownHosts("")).toEqual([]);
    expect(parseKnownHosts("# nothing\n\n   \n")).toEqual([]);
  });
});

describe("checkHostKey", () => {
  it("trusts a plain host entry with the same key", () => {
    expect(check(`example.com ${server.text}\n`, "example.com", 22, server)).toEqual({ status: "trusted" });
  });

  it("matches host names case-insensitively, as OpenSSH does", () => {
    expect(check(`Example.COM ${server.text}\n`, "example.com", 22, server)).toEqual({ status: "trusted" });
  });

  it("looks up [host]:port for a non-standard port", () => {
    const text = `[127.0.0.1]:2222 ${server.text}\n`;
    expect(check(text, "127.0.0.1", 2222, server)).toEqual({ status: "trusted" });
    expect(check(text, "127.0.0.1", 22, server)).toEqual({ status: "unknown" });
    expect(check(text, "127.0.0.1", 2223, server)).toEqual({ status: "unknown" });
    // A port-22 entry does not vouch for another port.
    expect(check(`127.0.0.1 ${server.text}\n`, "127.0.0.1", 2222, server)).toEqual({ status: "unknown" });
  });

  it("matches any name of a comma list", () => {
    const text = `web,web.example.com,192.0.2.10,[192.0.2.10]:2222 ${server.text}\n`;
    for (const [host, port] of [
      ["web", 22],
      ["web.example.com", 22],
      ["192.0.2.10", 22],
      ["192.0.2.10", 2222],
    ] as const) {
      expect(check(text, host, port, server)).toEqual({ status: "trusted" });
    }
    expect(check(text, "web2", 22, server)).toEqual({ status: "unknown" });
    expect(check(text, "192.0.2.1", 22, server)).toEqual({ status: "unknown" });
  });

  it("matches * and ? wildcards, and dots are literal", () => {
    const text = `*.example.com ${server.text}\nhost?.lan ${server.text}\n`;
    expect(check(text, "a.example.com", 22, server)).toEqual({ status: "trusted" });
    expect(check(text, "deep.sub.example.com", 22, server)).toEqual({ status: "trusted" });
    expect(check(text, "example.com", 22, server)).toEqual({ status: "unknown" });
    expect(check(text, "a.exampleXcom", 22, server)).toEqual({ status: "unknown" });
    expect(check(text, "host1.lan", 22, server)).toEqual({ status: "trusted" });
    expect(check(text, "host12.lan", 22, server)).toEqual({ status: "unknown" });
  });

  it("a negated pattern excludes a host the rest of the line matches", () => {
    const text = `*.example.com,!evil.example.com ${server.text}\n`;
    expect(check(text, "good.example.com", 22, server)).toEqual({ status: "trusted" });
    expect(check(text, "evil.example.com", 22, server)).toEqual({ status: "unknown" });
    // A negation alone matches nothing.
    expect(check(`!evil.example.com ${server.text}\n`, "good.example.com", 22, server)).toEqual({
      status: "unknown",
    });
  });

  it("trusts entries hashed by ssh-keygen -H, for port 22 and for [host]:port", () => {
    const hashed = hashWithKeygen("hashed", `example.com ${server.text}\n[127.0.0.1]:2222 ${server.text}\n`);
    const lines = hashed.trim().split("\n");
    expect(lines).toHaveLength(2);
    for (const line of lines) expect(line).toMatch(/^\|1\|[A-Za-z0-9+/=]+\|[A-Za-z0-9+/=]+ ssh-ed25519 /);
    expect(hashed).not.toContain("example.com");
    expect(check(hashed, "example.com", 22, server)).toEqual({ status: "trusted" });
    expect(check(hashed, "127.0.0.1", 2222, server)).toEqual({ status: "trusted" });
    expect(check(hashed, "example.org", 22, server)).toEqual({ status: "unknown" });
    expect(check(hashed, "127.0.0.1", 22, server)).toEqual({ status: "unknown" });
    expect(check(hashed, "example.com", 22, other)).toEqual({
      status: "changed",
      recorded: [fingerprint(server.blob)],
    });
  });

  it("matches hashed entries case-insensitively too, like plain ones (OpenSSH lowercases the name)", () => {
    const hashed = hashWithKeygen("hashed-case", `example.com ${server.text}\n`);
    expect(check(`example.com ${server.text}\n`, "EXAMPLE.com", 22, server)).toEqual({ status: "trusted" });
    expect(check(hashed, "EXAMPLE.com", 22, server)).toEqual({ status: "trusted" });
  });

  it("a truncated hashed pattern matches nothing", () => {
    expect(check(`|1|onlysalt ${server.text}\n`, "example.com", 22, server)).toEqual({ status: "unknown" });
  });

  it("is unknown when there is no entry for the host", () => {
    expect(check("", "example.com", 22, server)).toEqual({ status: "unknown" });
    expect(check(`other.com ${server.text}\n`, "example.com", 22, server)).toEqual({ status: "unknown" });
  });

  it("is unknown when the host only has a key of another type", () => {
    expect(check(`example.com ${ecdsa.text}\n`, "example.com", 22, server)).toEqual({ status: "unknown" });
    expect(check(`example.com ${server.text}\n`, "example.com", 22, ecdsa)).toEqual({ status: "unknown" });
  });

  it("is changed when the same type has another key, listing the recorded fingerprints", () => {
    const text = [
      `example.com ${other.text}`,
      `example.com ${ecdsa.text}`,
      `*.com ${other.text}`,
      `other.com ${server.text}`,
    ].join("\n");
    const verdict = check(text, "example.com", 22, server);
    expect(verdict).toEqual({
      status: "changed",
      recorded: [keygenFingerprint(other.pubFile), keygenFingerprint(other.pubFile)],
    });
  });

  it("is trusted when one of several same-type entries has the key", () => {
    const text = `example.com ${other.text}\nexample.com ${server.text}\n`;
    expect(check(text, "example.com", 22, server)).toEqual({ status: "trusted" });
  });

  it("is revoked when an @revoked line for the host has the key, even if another line trusts it", () => {
    const text = `example.com ${server.text}\n@revoked example.com ${server.text}\n`;
    expect(check(text, "example.com", 22, server)).toEqual({ status: "revoked" });
    // The revoked key is not the presented one: the plain entry decides.
    const otherRevoked = `example.com ${server.text}\n@revoked example.com ${other.text}\n`;
    expect(check(otherRevoked, "example.com", 22, server)).toEqual({ status: "trusted" });
    // An @revoked line alone does not make a key known, nor a different key "changed".
    expect(check(`@revoked example.com ${other.text}\n`, "example.com", 22, server)).toEqual({
      status: "unknown",
    });
  });

  it("ignores @cert-authority lines", () => {
    expect(check(`@cert-authority example.com ${server.text}\n`, "example.com", 22, server)).toEqual({
      status: "unknown",
    });
  });

  it("survives a realistic file with comments and junk", () => {
    const text = [
      "# known hosts",
      "garbage line",
      `[127.0.0.1]:2222 ${other.text}`,
      "",
      `@revoked old.example.com ${server.text}`,
      `web.example.com,192.0.2.7 ${server.text}`,
      "#example.com ssh-ed25519 AAAA",
    ].join("\n");
    expect(check(text, "192.0.2.7", 22, server)).toEqual({ status: "trusted" });
    expect(check(text, "old.example.com", 22, server)).toEqual({ status: "revoked" });
    expect(check(text, "127.0.0.1", 2222, server)).toEqual({
      status: "changed",
      recorded: [fingerprint(other.blob)],
    });
    expect(check(text, "example.com", 22, server)).toEqual({ status: "unknown" });
  });
});

describe("knownHostsLine", () => {
  it("writes OpenSSH's format for port 22 and other ports", () => {
    const base64 = server.blob.toString("base64");
    expect(knownHostsLine("example.com", 22, server.blob)).toBe(`example.com ssh-ed25519 ${base64}\n`);
    expect(knownHostsLine("127.0.0.1", 2222, server.blob)).toBe(`[127.0.0.1]:2222 ssh-ed25519 ${base64}\n`);
    expect(knownHostsLine("example.com", 22, server.blob)).toBe(`example.com ${server.text}\n`);
  });

  it.each([
    ["example.com", 22],
    ["127.0.0.1", 2222],
  ])("round-trips %s:%s: unknown before, trusted after appending", (host, port) => {
    const before = `# existing\nother.example.com ${other.text}\n`;
    expect(check(before, host, port, server)).toEqual({ status: "unknown" });
    const after = before + knownHostsLine(host, port, server.blob);
    const entries = parseKnownHosts(after);
    expect(entries.at(-1)).toEqual({
      marker: undefined,
      patterns: [knownHostName(host, port)],
      keyType: "ssh-ed25519",
      key: server.blob,
      line: 3,
    });
    expect(checkHostKey(entries, host, port, server.blob)).toEqual({ status: "trusted" });
    expect(checkHostKey(entries, host, port, other.blob)).toEqual({
      status: "changed",
      recorded: [fingerprint(server.blob)],
    });
  });

  it("writes a line ssh-keygen itself can find", () => {
    const file = join(dir, "appended");
    writeFileSync(file, knownHostsLine("127.0.0.1", 2222, server.blob));
    const out = execFileSync("ssh-keygen", ["-F", "[127.0.0.1]:2222", "-f", file], { encoding: "utf8" });
    expect(out).toContain(`[127.0.0.1]:2222 ${server.text}`);
  });
});
