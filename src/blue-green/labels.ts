import { isMap, isScalar, isSeq, type Node, type Pair } from "yaml";
import type { Position } from "../compose/files.js";
import type { ComposeModel } from "../compose/model.js";
import { parseCompose } from "../compose/parse.js";
import { atPosition, InputError } from "../errors.js";
import { parseDuration } from "../proxy/durations.js";
import { DEFAULT_START_TIMEOUT_MS, PROXY_LABELS } from "../proxy/labels.js";
import type { BlueGreenService } from "./plan.js";

/** The one value of `deploy-vps.proxy.deploy` deploy-vps knows. */
export const BLUE_GREEN = "blue-green";
export const DEFAULT_DRAIN_SECONDS = 30;

/** A blue-green service as its labels ask, before the server tells the compose project's name. */
export interface BlueGreenWish {
  service: string;
  drainSeconds: number;
  readySeconds: number;
  /** The project routes several services: the proxy names each route `project/service`. */
  sharesProject: boolean;
}

/** Where something is written: `file:line:col`. */
interface Written {
  file: string;
  at: Position;
}

interface LabelValue extends Written {
  value: string;
}

/** What the compose files say of one service that the proxy path cares about, merged as compose merges. */
interface ServiceFacts {
  labels: Map<string, LabelValue>;
  ports?: Written;
  containerName?: Written;
}

const where = (written: Written, message: string) => new InputError(atPosition(written.file, written.at.line, written.at.col, message));

/**
 * Pure: the services the compose files deploy blue-green (`deploy-vps.proxy.deploy: blue-green`),
 * or an InputError naming `file:line:col` for what the proxy path cannot do. How long a new
 * container has to become ready is the route's own start timeout (`deploy-vps.proxy.start-timeout`,
 * the proxy's 5 min by default): the time the proxy already gives that service to start.
 */
export function blueGreenWishes(model: ComposeModel): BlueGreenWish[] {
  const facts = serviceFacts(model);
  const routed = model.services.filter((s) => {
    const labels = facts.get(s.name)?.labels;
    return labels?.has(PROXY_LABELS.host) || labels?.has(PROXY_LABELS.port);
  });
  const wishes: BlueGreenWish[] = [];
  for (const { name } of model.services) {
    const service = facts.get(name);
    const deploy = service?.labels.get(PROXY_LABELS.deploy);
    if (!service || !deploy) continue;
    const label = (key: string) => `label ${key} on service "${name}"`;
    if (deploy.value.trim() !== BLUE_GREEN)
      throw where(deploy, `${label(PROXY_LABELS.deploy)}: '${deploy.value}' is not a deploy mode deploy-vps knows (${BLUE_GREEN})`);
    const hold = (written: Written | undefined, key: string, what: string) => {
      if (written)
        throw where(
          written,
          `service "${name}" is deployed ${BLUE_GREEN} (${PROXY_LABELS.deploy}), so it cannot have \`${key}:\`: its new container starts beside the old one, and two containers cannot hold one ${what}. The proxy reaches it on its network; remove \`${key}:\`, or use the primary/standby layout (\`blueGreen:\` in deploy-vps.yml, README "Zero-downtime deploys").`,
        );
    };
    hold(service.ports, "ports", "host port");
    hold(service.containerName, "container_name", "name");
    if (!routed.some((s) => s.name === name))
      throw where(
        deploy,
        `service "${name}" is deployed ${BLUE_GREEN} but the proxy does not route it: the switch goes through the proxy's route, so add ${PROXY_LABELS.host} and ${PROXY_LABELS.port}.`,
      );
    const seconds = (key: string, fallbackMs: number) => {
      const written = service.labels.get(key);
      if (!written) return Math.ceil(fallbackMs / 1000);
      const ms = parseDuration(written.value);
      if (ms === undefined) throw where(written, `${label(key)}: '${written.value}' is not a duration (e.g. 30, 30s, 2m)`);
      return Math.ceil(ms / 1000);
    };
    const readySeconds = seconds(PROXY_LABELS.startTimeout, DEFAULT_START_TIMEOUT_MS);
    if (readySeconds === 0) throw where(service.labels.get(PROXY_LABELS.startTimeout) ?? deploy, `${label(PROXY_LABELS.startTimeout)} must be above 0`);
    wishes.push({
      service: name,
      drainSeconds: seconds(PROXY_LABELS.drain, DEFAULT_DRAIN_SECONDS * 1000),
      readySeconds,
      sharesProject: routed.length > 1,
    });
  }
  return wishes;
}

/** The proxy-path services of a deploy to the compose project `project` (the unit: the route's name). */
export function blueGreenServices(wishes: readonly BlueGreenWish[], project: string): BlueGreenService[] {
  return wishes.map(({ service, drainSeconds, readySeconds, sharesProject }) => ({
    service,
    unit: sharesProject ? `${project}/${service}` : project,
    drainSeconds,
    readySeconds,
  }));
}

/**
 * Labels, `ports:` and `container_name:` of every service, with where each is written. Files
 * that the project's files include or extend from come first, so that the project's own files
 * override them, later ones over earlier ones, as compose merges them.
 */
function serviceFacts(model: ComposeModel): Map<string, ServiceFacts> {
  const own = new Set(model.files.map((f) => f.path));
  const ordered = [...model.sources.filter((f) => !own.has(f.path)), ...model.files];
  const facts = new Map<string, ServiceFacts>();
  for (const source of ordered) {
    const { lineCounter, documents } = parseCompose(source.path, source.text);
    const written = (node: Node | null | undefined): Written => ({ file: source.path, at: lineCounter.linePos(node?.range?.[0] ?? 0) });
    for (const { doc } of documents) {
      const services = isMap(doc.contents) ? doc.contents.get("services", true) : undefined;
      if (!isMap(services)) continue;
      for (const pair of services.items) {
        if (!isScalar(pair.key) || !isMap(pair.value)) continue;
        const name = String(pair.key.value);
        const service = facts.get(name) ?? { labels: new Map<string, LabelValue>() };
        facts.set(name, service);
        for (const item of pair.value.items as Pair<unknown, unknown>[]) {
          const key = isScalar(item.key) ? String(item.key.value) : "";
          const value = item.value as Node | null;
          if (key === "labels") readLabels(value, service.labels, written);
          // Compose appends the ports of every file: any file's are the service's.
          if (key === "ports" && isSeq(value) && value.items.length > 0) service.ports ??= written(item.key as Node);
          if (key === "container_name" && isScalar(value) && value.value !== null) service.containerName = written(item.key as Node);
        }
      }
    }
  }
  return facts;
}

/** `labels:` as a mapping or as a list of `key=value`, each label at its key (or its item). */
function readLabels(node: Node | null, into: Map<string, LabelValue>, written: (node: Node | null | undefined) => Written): void {
  if (isMap(node)) {
    for (const item of node.items as Pair<unknown, unknown>[]) {
      if (!isScalar(item.key)) continue;
      const value = isScalar(item.value) && item.value.value !== null ? String(item.value.value) : "";
      into.set(String(item.key.value), { value, ...written(item.key) });
    }
  } else if (isSeq(node)) {
    for (const item of node.items) {
      if (!isScalar(item)) continue;
      const text = String(item.value);
      const eq = text.indexOf("=");
      into.set(eq === -1 ? text : text.slice(0, eq), { value: eq === -1 ? "" : text.slice(eq + 1), ...written(item) });
    }
  }
}
