import { isMap, isScalar, isSeq, type Node } from "yaml";
import { type ComposeInvocation, composeScriptEnv } from "../compose/commands.js";
import type { ComposeEnv, ComposeModel } from "../compose/model.js";
import { parseCompose } from "../compose/parse.js";
import { interpolate } from "../compose/variables.js";
import type { BlueGreenSettings } from "../config/settings.js";
import { InputError } from "../errors.js";
import { remoteScript } from "../remote/script.js";
import type { Shell } from "../ssh/quote.js";
import type { StandbyLayout } from "./plan.js";

/** What deploy-vps reads of a service for the primary/standby layout, merged over the project's files. */
interface ServiceFacts {
  /** `ports:` entries as written (interpolated), with where each was written. */
  ports: { value: unknown; at: string }[];
  /** `environment:` entries, later files winning; `undefined`: the entry takes the shell's value. */
  environment: Map<string, { value: string | undefined; at: string }>;
  profiles: boolean;
  /** Where the service is defined (the first file that does). */
  at?: string;
}

/** Compose's true values for a boolean variable, as the seed's `env.bool` reads them. */
const ON = /^(true|1|yes|on)$/i;

/**
 * The seed's layout from `blueGreen:` and the compose model, or an InputError (exit 2) naming
 * where the problem is written, before anything on the server changes.
 *
 * The cron rule: the tool must never leave two containers running with the cron variable on, and
 * the seed's application reads an unset variable as on (`env.bool('CRON_ENABLED', true)`). So the
 * standby must not turn it on, and if the standby leaves it unset the primary must turn it off
 * explicitly (crons then run nowhere, which is the user's choice). `env_file:` is not read here:
 * the deploy checks the created standby container's whole environment again on the server
 * (standby.sh), which does see it.
 */
export function standbyLayout(settings: BlueGreenSettings, model: ComposeModel, project: string, env: ComposeEnv): StandbyLayout {
  const { primary, standby, at } = settings;
  const named = new Set(model.services.map((service) => service.name));
  for (const role of ["primary", "standby"] as const) {
    if (!named.has(settings[role]))
      throw new InputError(
        `${at[role]}: blueGreen ${role} '${settings[role]}' is not a service of the compose files (${[...named].join(", ")}).`,
      );
  }
  if (primary === standby)
    throw new InputError(`${at.standby}: blueGreen standby must be another service than the primary '${primary}'.`);

  const facts = serviceFacts(model, [...named], env);
  const primaryFacts = facts.get(primary) as ServiceFacts;
  const standbyFacts = facts.get(standby) as ServiceFacts;
  checkCronRule(settings, primaryFacts, standbyFacts);

  const ports = (name: string, own: ServiceFacts) => {
    const port = firstTcpPort(own.ports, env);
    if (port.published === 0)
      throw new InputError(
        `${at.health}: the health URL uses {port}, but service '${name}' publishes no port` +
          ` (${own.at ?? "its definition"}): add one under \`ports:\`, as the seed's layout does.`,
      );
    return port;
  };
  const primaryPorts = ports(primary, primaryFacts);
  const standbyPorts = ports(standby, standbyFacts);
  return {
    primary,
    standby,
    primaryPort: primaryPorts.published,
    standbyPort: standbyPorts.published,
    primaryContainerPort: primaryPorts.target,
    standbyContainerPort: standbyPorts.target,
    others: model.services
      .map((service) => service.name)
      .filter((name) => name !== primary && name !== standby && !facts.get(name)?.profiles),
    health: settings.health,
    intervalSeconds: settings.intervalSeconds,
    timeoutSeconds: settings.timeoutSeconds,
    drainSeconds: settings.drainSeconds,
    cronVariable: settings.cronVariable,
    unit: settings.unit ?? project,
  };
}

function checkCronRule(settings: BlueGreenSettings, primary: ServiceFacts, standby: ServiceFacts): void {
  const variable = settings.cronVariable;
  const standbyEntry = standby.environment.get(variable);
  const primaryEntry = primary.environment.get(variable);
  if (standbyEntry !== undefined && ON.test(standbyEntry.value ?? "")) {
    throw new InputError(
      `${standbyEntry.at}: ${settings.standby}'s ${variable} turns its crons on; only the primary` +
        ` (${settings.primary}) may run them, or both would while the standby serves: set it to false.`,
    );
  }
  const primaryOff = primaryEntry !== undefined && primaryEntry.value !== undefined && !ON.test(primaryEntry.value);
  if (standbyEntry === undefined && !primaryOff) {
    throw new InputError(
      `${standby.at ?? settings.at.standby}: ${settings.standby} does not set ${variable}, which applications read as on` +
        ` when unset, so both services could run the crons while the standby serves: add \`${variable}: "false"\` to its environment.`,
    );
  }
}

/** The first TCP port a service publishes (`published` 0: none), and the container port behind it. */
function firstTcpPort(entries: ServiceFacts["ports"], env: ComposeEnv): { published: number; target: number } {
  let target = 0;
  for (const { value, at } of entries) {
    const port = portEntry(value, env, at);
    if (port === undefined) continue;
    if (port.published !== 0) return port;
    if (target === 0) target = port.target;
  }
  return { published: 0, target };
}

/** One `ports:` entry, short (`[ip:]host:container[/tcp]`) or long syntax; undefined for UDP or a range. */
function portEntry(value: unknown, env: ComposeEnv, at: string): { published: number; target: number } | undefined {
  const number = (text: unknown) => {
    const raw = typeof text === "string" ? substituted(text, env, at) : String(text ?? "");
    return /^\d+$/.test(raw) ? Number(raw) : undefined;
  };
  if (typeof value === "object" && value !== null) {
    const long = value as { target?: unknown; published?: unknown; protocol?: unknown };
    if (long.protocol !== undefined && long.protocol !== "tcp") return undefined;
    const target = number(long.target);
    return target === undefined ? undefined : { target, published: number(long.published) ?? 0 };
  }
  const text = typeof value === "string" ? substituted(value, env, at) : String(value);
  const [spec = "", protocol = "tcp"] = text.split("/");
  if (protocol !== "tcp") return undefined;
  // The host IP may be IPv6 in brackets: the ports are the last two colon-separated parts.
  const parts = spec.replace(/^\[[^\]]*\]:/, "").split(":");
  const target = number(parts.at(-1));
  if (target === undefined) return undefined;
  return { target, published: parts.length > 1 ? (number(parts.at(-2)) ?? 0) : 0 };
}

function substituted(text: string, env: ComposeEnv, at: string): string {
  try {
    return interpolate(text, env);
  } catch (error) {
    throw new InputError(`${at}: ${(error as Error).message}`);
  }
}

/**
 * The `ports:`, `environment:` and `profiles:` of the named services, merged over the project's
 * compose files as compose does (ports added up, environment keys overridden). Files a service is
 * included or extended from are read only when no project file defines it.
 */
function serviceFacts(model: ComposeModel, names: string[], env: ComposeEnv): Map<string, ServiceFacts> {
  const facts = new Map<string, ServiceFacts>(
    names.map((name) => [name, { ports: [], environment: new Map(), profiles: false }]),
  );
  const read = (files: ComposeModel["files"], name: string) => {
    const own = facts.get(name) as ServiceFacts;
    for (const file of files) {
      const parsed = parseCompose(file.path, file.text);
      const where = (node: Node | undefined | null, fallback = "") => {
        if (!node?.range) return fallback;
        const { line, col } = parsed.lineCounter.linePos(node.range[0]);
        return `${file.path}:${line}:${col}`;
      };
      for (const { doc, value } of parsed.documents) {
        const definition = (value as { services?: Record<string, unknown> } | null)?.services?.[name];
        if (typeof definition !== "object" || definition === null) continue;
        const service = definition as { ports?: unknown; environment?: unknown; profiles?: unknown };
        const services = doc.get("services", true);
        own.at ??= where(isMap(services) ? (services.items.find((pair) => isScalar(pair.key) && pair.key.value === name)?.key as Node) : undefined);
        if (service.profiles !== undefined) own.profiles = Array.isArray(service.profiles) && service.profiles.length > 0;
        const portsNode = doc.getIn(["services", name, "ports"], true) as Node | undefined;
        if (Array.isArray(service.ports)) {
          service.ports.forEach((entry, index) => {
            const item = isSeq(portsNode) ? (portsNode.items[index] as Node | undefined) : undefined;
            own.ports.push({ value: entry, at: where(item, where(portsNode, own.at)) });
          });
        }
        const envNode = doc.getIn(["services", name, "environment"], true) as Node | undefined;
        const entryAt = (key: string, index: number) => {
          if (isSeq(envNode)) return where(envNode.items[index] as Node | undefined, where(envNode, own.at));
          if (isMap(envNode)) return where(envNode.get(key, true) as Node | undefined, where(envNode, own.at));
          return where(envNode, own.at);
        };
        environmentEntries(service.environment).forEach(([key, raw], index) => {
          const at = entryAt(key, index);
          own.environment.set(key, { value: raw === undefined ? env[key] : substituted(raw, env, at), at });
        });
      }
    }
  };
  for (const name of names) {
    read(model.files, name);
    if ((facts.get(name) as ServiceFacts).at === undefined) read(model.sources, name);
  }
  return facts;
}

/** `environment:` as a list (`KEY=value`, `KEY`) or a map; undefined value: taken from the shell. */
function environmentEntries(environment: unknown): [string, string | undefined][] {
  if (Array.isArray(environment)) {
    return environment.map((entry) => {
      const text = String(entry);
      const equals = text.indexOf("=");
      return equals === -1 ? [text, undefined] : [text.slice(0, equals), text.slice(equals + 1)];
    });
  }
  if (typeof environment === "object" && environment !== null) {
    return Object.entries(environment).map(([key, value]) => [key, value === null ? undefined : String(value)]);
  }
  return [];
}

/**
 * Runs the seed's steps on the server (standby.sh): build, start the standby with the new image,
 * wait for it, take the primary out of traffic, recreate it, wait for it, traffic back, then the
 * other services. Exits 3 when a new container never becomes healthy (see the script).
 */
export function standbyStartScript(app: string, compose: ComposeInvocation, build: boolean, layout: StandbyLayout): Shell {
  return remoteScript("standby", {
    env: {
      ...composeScriptEnv(app, compose, build),
      PRIMARY: layout.primary,
      STANDBY: layout.standby,
      PRIMARY_PORT: layout.primaryPort,
      STANDBY_PORT: layout.standbyPort,
      PRIMARY_CONTAINER_PORT: layout.primaryContainerPort,
      STANDBY_CONTAINER_PORT: layout.standbyContainerPort,
      OTHERS: layout.others.join(" "),
      HEALTH: layout.health,
      INTERVAL: layout.intervalSeconds,
      TIMEOUT: layout.timeoutSeconds,
      DRAIN: layout.drainSeconds,
      CRON: layout.cronVariable,
      UNIT: layout.unit,
    },
    args: compose.files,
  });
}
