import { createHash, createHmac } from "node:crypto";

export interface KnownHostEntry {
  marker?: "@revoked" | "@cert-authority";
  patterns: string[];
  keyType: string;
  key: Buffer;
  line: number;
}

/** Parses known_hosts text; lines it does not understand are skipped, as OpenSSH does. */
export function parseKnownHosts(text: string): KnownHostEntry[] {
  const entries: KnownHostEntry[] = [];
  text.split("\n").forEach((raw, index) => {
    const fields = raw.trim().split(/\s+/);
    if (fields[0] === "" || fields[0]?.startsWith("#")) return;
    const marker = fields[0] === "@revoked" || fields[0] === "@cert-authority" ? fields.shift() : undefined;
    const [hosts, keyType, key] = fields;
    if (!hosts || !keyType || !key) return;
    entries.push({
      marker: marker as KnownHostEntry["marker"],
      patterns: hosts.split(","),
      keyType,
      key: Buffer.from(key, "base64"),
      line: index + 1,
    });
  });
  return entries;
}

/** The name OpenSSH looks up (and hashes): lowercased, `host` on port 22, `[host]:port` elsewhere. */
export function knownHostName(host: string, port: number): string {
  const name = host.toLowerCase();
  return port === 22 ? name : `[${name}]:${port}`;
}

function globMatch(pattern: string, name: string): boolean {
  const regex = pattern
    .replace(/[.+^${}()|[\]\\]/g, "\\$&")
    .replace(/\*/g, ".*")
    .replace(/\?/g, ".");
  return new RegExp(`^${regex}$`, "i").test(name);
}

function patternMatches(pattern: string, name: string): boolean {
  if (pattern.startsWith("|1|")) {
    const [, , salt, hash] = pattern.split("|");
    if (!salt || !hash) return false;
    return createHmac("sha1", Buffer.from(salt, "base64")).update(name).digest("base64") === hash;
  }
  return globMatch(pattern, name);
}

function entryMatches(entry: KnownHostEntry, name: string): boolean {
  if (entry.patterns.some((p) => p.startsWith("!") && patternMatches(p.slice(1), name))) return false;
  return entry.patterns.some((p) => !p.startsWith("!") && patternMatches(p, name));
}

/** `SHA256:…` as `ssh-keygen -lf` and OpenSSH's prompts print it. */
export function fingerprint(key: Buffer): string {
  return `SHA256:${createHash("sha256").update(key).digest("base64").replace(/=+$/, "")}`;
}

/** The key type is the first string inside the SSH wire-format key blob. */
export function keyTypeOf(key: Buffer): string {
  const length = key.readUInt32BE(0);
  return key.subarray(4, 4 + length).toString("ascii");
}

export type HostKeyVerdict =
  | { status: "trusted" }
  | { status: "revoked" }
  | { status: "changed"; recorded: string[] }
  | { status: "unknown" };

/** Decides whether the key a server presented is the one known_hosts records for it. */
export function checkHostKey(
  entries: KnownHostEntry[],
  host: string,
  port: number,
  key: Buffer,
): HostKeyVerdict {
  const name = knownHostName(host, port);
  const forHost = entries.filter((e) => e.marker !== "@cert-authority" && entryMatches(e, name));
  if (forHost.some((e) => e.marker === "@revoked" && e.key.equals(key))) return { status: "revoked" };
  const sameType = forHost.filter((e) => !e.marker && e.keyType === keyTypeOf(key));
  if (sameType.some((e) => e.key.equals(key))) return { status: "trusted" };
  if (sameType.length > 0) return { status: "changed", recorded: sameType.map((e) => fingerprint(e.key)) };
  return { status: "unknown" };
}

/** The line `--accept-new-host-key` appends, in OpenSSH's own format. */
export function knownHostsLine(host: string, port: number, key: Buffer): string {
  return `${knownHostName(host, port)} ${keyTypeOf(key)} ${key.toString("base64")}\n`;
}
