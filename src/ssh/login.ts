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
  const agent = process.env.SSH_AUTH_SOCK || undefined;
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
  };
}
