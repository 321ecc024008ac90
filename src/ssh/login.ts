import type { Settings } from "../config/settings.js";
import { InputError } from "../errors.js";
import type { SshTarget } from "./connection.js";
import { askHidden, chooseIdentity } from "./credentials.js";

/**
 * How to log in, decided before any task list draws on the terminal: a key file, the
 * ssh-agent, a password from DEPLOY_PASSWORD, or one asked for on the TTY when nothing else
 * can log in (the seed's VPSes came with a root password).
 */
export async function sshTarget(settings: Settings): Promise<SshTarget> {
  if (!settings.host) throw new InputError("no host: pass --host user@host or set DEPLOY_HOST (or host: in deploy-vps.yml).");
  // IdentitiesOnly in ~/.ssh/config: only the key file, not every key the agent holds.
  const agent = settings.identitiesOnly && settings.identity ? undefined : process.env.SSH_AUTH_SOCK || undefined;
  const identity = await chooseIdentity(settings.identity, agent);
  const password =
    settings.password ??
    (!identity && !agent && process.stdin.isTTY ? await askHidden(`${settings.user}@${settings.host}'s password: `) : undefined);
  return {
    host: settings.host,
    port: settings.port,
    user: settings.user,
    identity,
    agent,
    passphrase: settings.passphrase,
    password,
    knownHosts: settings.knownHosts,
    acceptNewHostKey: settings.acceptNewHostKey,
    timeoutSeconds: settings.timeout,
    verbose: settings.verbose,
    jump: settings.proxyJump ? parseJump(settings.proxyJump, settings.user) : undefined,
  };
}

/** ProxyJump's `[user@]host[:port]` (one hop; the first of a comma-separated chain). */
export function parseJump(spec: string, defaultUser: string): { host: string; port: number; user: string } {
  const first = spec.split(",")[0]?.trim() ?? "";
  const at = first.lastIndexOf("@");
  const user = at >= 0 ? first.slice(0, at) : defaultUser;
  const rest = at >= 0 ? first.slice(at + 1) : first;
  const bracketed = /^\[(.+)\]:(\d+)$/.exec(rest);
  const plain = /^([^:]+)(?::(\d+))?$/.exec(rest);
  const host = bracketed?.[1] ?? plain?.[1];
  const port = Number(bracketed?.[2] ?? plain?.[2] ?? 22);
  if (!host || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new InputError(`ProxyJump '${spec}' in ~/.ssh/config is not [user@]host[:port].`);
  }
  return { host, port, user };
}
