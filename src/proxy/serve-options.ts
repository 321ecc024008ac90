/**
 * The daemon's options, as `deploy-vps proxy serve` and the bundled daemon file take them: apart
 * from serve.ts so that the CLI reads them without loading the daemon.
 */
import { homedir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { InputError } from "../errors.js";
import { STATE_FOLDER } from "./status.js";

export interface Address {
  host: string;
  port: number;
}

export interface ServeOptions {
  /** Proxied traffic. */
  listen: Address;
  /** /metrics and /api/services. */
  admin: Address;
  /** State folder; the control socket is in it. */
  state: string;
  /** The config file (config.json or .yml), if any. */
  config?: string;
  /** The seed's dependencies file (dependencies.json or .yml), if any: wake chains for unlabelled stacks. */
  dependencies?: string;
  dockerSocket: string;
}

export const DEFAULT_LISTEN = "127.0.0.1:8890";
export const DEFAULT_ADMIN = "127.0.0.1:8891";
export const DEFAULT_DOCKER_SOCKET = "/var/run/docker.sock";

/** `127.0.0.1:8890`, `[::1]:8890`: an address to bind, checked. */
export function parseAddress(option: string, value: string): Address {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/.exec(value);
  const port = Number(match?.[3]);
  if (!match || port < 1 || port > 65535) throw new InputError(`${option} takes HOST:PORT (e.g. ${DEFAULT_LISTEN}), got '${value}'.`);
  return { host: match[1] ?? match[2] ?? "", port };
}

export function formatAddress(address: Address): string {
  return address.host.includes(":") ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}

/** The daemon's options as flags give them (commander's or argv's), checked; defaults filled. */
export interface ServeFlags {
  listen?: string;
  admin?: string;
  state?: string;
  config?: string;
  dependencies?: string;
  dockerSocket?: string;
}

export function serveOptions(flags: ServeFlags, home = homedir()): ServeOptions {
  return {
    listen: parseAddress("--listen", flags.listen ?? DEFAULT_LISTEN),
    admin: parseAddress("--admin", flags.admin ?? DEFAULT_ADMIN),
    state: flags.state ?? join(home, STATE_FOLDER),
    config: flags.config,
    ...(flags.dependencies === undefined ? {} : { dependencies: flags.dependencies }),
    dockerSocket: flags.dockerSocket ?? DEFAULT_DOCKER_SOCKET,
  };
}

/** The daemon file's argv: the same options as `deploy-vps proxy serve`. */
export function parseServeArgs(argv: string[]): ServeOptions {
  let values: ServeFlags & { "docker-socket"?: string };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        listen: { type: "string" },
        admin: { type: "string" },
        state: { type: "string" },
        config: { type: "string" },
        dependencies: { type: "string" },
        "docker-socket": { type: "string" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new InputError(error instanceof Error ? error.message : String(error));
  }
  return serveOptions({ ...values, dockerSocket: values["docker-socket"] });
}

