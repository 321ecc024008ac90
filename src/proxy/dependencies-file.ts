/**
 * The seed's dependencies.json (or the same in YAML), as its users wrote it: per unit, the
 * containers to start in `startOrder`, side by side within a `parallelGroup`, each with its
 * `healthCheck`. Read here into the same DependencyFacts the labels give, by container name.
 */
import { isMap, isSeq, type LineCounter, type Node } from "yaml";
import { atPosition, InputError } from "../errors.js";
import { NodeReader, readDocument, shown, start } from "./config-file.js";
import { quoteValue } from "./labels.js";
import type { CheckProbe, DependencyFacts, Need, ReadinessCheck } from "./model.js";
import { DEFAULT_CHECK_INTERVAL_MS, DEFAULT_CHECK_TIMEOUT_MS, defaultRetries } from "./requirements.js";

/** One of a unit's `dependencies`, checked. */
export interface DependencyEntry {
  container: string;
  need: Need;
  startOrder: number;
  /** 0 when not given. */
  parallelGroup: number;
  check?: ReadinessCheck;
  /** `FILE:LINE:COL` of the entry, for messages. */
  source: string;
}

/** One KEY of `services`: a unit, the route named KEY or whose routed container is `main`. */
export interface DependencyUnit {
  key: string;
  /** The seed's `name`: the unit's main container (KEY when not given). */
  main: string;
  entries: DependencyEntry[];
}

export interface DependenciesFile {
  file: string;
  units: DependencyUnit[];
}

/** `FILE:LINE:COL: what is wrong`, pointing at the value at fault. */
export class DependenciesFileError extends InputError {
  constructor(file: string, line: number, col: number, problem: string) {
    super(atPosition(file, line, col, problem));
  }
}

/** Names Docker gives containers. */
const CONTAINER_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
const NEEDS: readonly Need[] = ["required", "optional"];

/** Pure: the file's text as units, or a DependenciesFileError at the first thing wrong. */
export function parseDependenciesFile(text: string, file: string): DependenciesFile {
  const { root, fail, lineCounter } = readDocument(text, file, DependenciesFileError);
  if (root === undefined) return { file, units: [] };
  if (!isMap(root)) return fail(start(root), 'expected a mapping with a "services" mapping');
  const reader = new DependencyReader(fail, lineCounter, file);
  const services = reader.optional(root, "services", (node) => node);
  if (services === undefined) return { file, units: [] };
  if (!isMap(services)) return fail(start(services), '"services" must be a mapping of units by name (e.g. "clemence": { ... })');
  return { file, units: services.items.map((pair) => reader.unit(pair.key, pair.value)) };
}

class DependencyReader extends NodeReader {
  constructor(
    fail: (offset: number, problem: string) => never,
    lineCounter: LineCounter,
    private readonly file: string,
  ) {
    super(fail, lineCounter);
  }

  unit(keyNode: unknown, value: unknown): DependencyUnit {
    const key = this.text(keyNode, "a unit's key");
    if (!isMap(value)) return this.fail(start(value ?? keyNode), `unit ${quoteValue(key)} must be a mapping (name, dependencies, ...)`);
    const main = this.optional(value, "name", (node) => this.containerName(node, "name")) ?? key;
    const list = this.optional(value, "dependencies", (node) => node);
    if (list !== undefined && !isSeq(list)) return this.fail(start(list), "dependencies must be a list");
    const entries: DependencyEntry[] = [];
    for (const item of isSeq(list) ? list.items : []) entries.push(this.entry(item, entries));
    return { key, main, entries };
  }

  private entry(item: unknown, earlier: readonly DependencyEntry[]): DependencyEntry {
    if (!isMap(item)) return this.fail(start(item), "each dependency must be a mapping (container, type, startOrder, ...)");
    const { line, col } = this.lineCounter.linePos(start(item));
    const owner = "this dependency";
    const container = this.required(
      item,
      "container",
      (node) => {
        const name = this.containerName(node, "container");
        const first = earlier.find((entry) => entry.container === name);
        if (first) this.fail(start(node), `a second entry for ${quoteValue(name)} in this unit (the first is at ${first.source})`);
        return name;
      },
      owner,
    );
    const need =
      this.optional(item, "type", (node) => {
        const type = this.text(node, "type").toLowerCase();
        return NEEDS.find((need) => need === type) ?? this.fail(start(node), `type ${shown(node)} is not required or optional`);
      }) ?? "required";
    const startOrder = this.required(item, "startOrder", (node) => this.order(node, "startOrder"), owner);
    const parallelGroup = this.optional(item, "parallelGroup", (node) => this.order(node, "parallelGroup")) ?? 0;
    const check = this.optional(item, "healthCheck", (node) => this.healthCheck(node, container));
    return { container, need, startOrder, parallelGroup, ...(check === undefined ? {} : { check }), source: `${this.file}:${line}:${col}` };
  }

  private containerName(node: Node, key: string): string {
    const name = this.text(node, key);
    if (!CONTAINER_NAME.test(name)) this.fail(start(node), `${key} ${quoteValue(name)} is not a container name (letters, digits, '.', '_', '-')`);
    return name;
  }

  private order(node: Node, key: string): number {
    return this.whole(node, 0, Number.MAX_SAFE_INTEGER) ?? this.fail(start(node), `${key} ${shown(node)} is not a whole number (0 or more)`);
  }

  private healthCheck(node: Node, container: string): ReadinessCheck {
    if (!isMap(node)) return this.fail(start(node), "healthCheck must be a mapping (command, interval, timeout, retries)");
    const probes = [
      this.optional(node, "command", (command) => this.command(command, container)),
      this.optional(node, "http", (http) => this.http(http)),
      this.optional(node, "tcp", (tcp): CheckProbe => ({ kind: "tcp", port: this.port(tcp, "tcp") })),
    ].filter((probe) => probe !== undefined);
    const [probe] = probes;
    if (probe === undefined || probes.length > 1) return this.fail(start(node), "healthCheck needs one of command, http or tcp");
    const ms = (key: string, fallback: number) =>
      this.optional(node, key, (value) => this.milliseconds(value, key)) ?? fallback;
    const intervalMs = ms("interval", DEFAULT_CHECK_INTERVAL_MS);
    const timeoutMs = ms("timeout", DEFAULT_CHECK_TIMEOUT_MS);
    const retries =
      this.optional(node, "retries", (value) => this.whole(value, 1, Number.MAX_SAFE_INTEGER) ?? this.fail(start(value), `retries ${shown(value)} is not a whole number of tries, 1 or more`)) ??
      defaultRetries(intervalMs, timeoutMs);
    return { probe, intervalMs, timeoutMs, retries };
  }

  private milliseconds(node: Node, key: string): number {
    return this.whole(node, 1, Number.MAX_SAFE_INTEGER) ?? this.fail(start(node), `${key} ${shown(node)} is not a number of milliseconds above 0`);
  }

  private http(node: Node): CheckProbe {
    if (!isMap(node)) return this.fail(start(node), "http must be a mapping (port, path)");
    const port = this.required(node, "port", (value) => this.port(value), "http");
    const path = this.optional(node, "path", (value) => this.text(value, "path")) ?? "/";
    if (!path.startsWith("/")) this.fail(start(node.get("path", true)), `path ${quoteValue(path)} must start with /`);
    return { kind: "http", port, path };
  }

  /** The command to run inside `container`: the seed's `docker exec CONTAINER` prefix removed. */
  private command(node: Node, container: string): CheckProbe {
    const inside = insideCommand(this.text(node, "command"), container);
    return typeof inside === "string" ? { kind: "command", command: inside } : this.fail(start(node), `command: ${inside.problem}`);
  }
}

/** `docker exec` flags that change nothing for a probe (the others would change how it runs). */
const HARMLESS_EXEC_FLAGS = /^(-i|-t|-it|-ti|--interactive|--tty)$/;

/**
 * `docker exec [-it] CONTAINER cmd…` -> `cmd…`, run inside the container by `sh -c` (its `$VARS`
 * are the container's own); a command without the prefix already runs there. The daemon never
 * runs a host command, so `docker` anything else, or another container, is refused.
 */
export function insideCommand(command: string, container: string): string | { problem: string } {
  const prefix = /^docker\s+exec(?=\s|$)/.exec(command);
  if (!prefix) {
    return /^docker(\s|$)/.test(command)
      ? { problem: `only docker exec ${container} COMMAND is accepted (the command runs inside the container, never on the host)` }
      : command;
  }
  let rest = command.slice(prefix[0].length);
  for (;;) {
    const word = /^\s+(\S+)/.exec(rest);
    if (!word?.[1]) return { problem: `docker exec names no container (write docker exec ${container} COMMAND)` };
    rest = rest.slice(word[0].length);
    const name = word[1];
    if (name.startsWith("-")) {
      if (!HARMLESS_EXEC_FLAGS.test(name))
        return { problem: `docker exec's ${name} is not kept (the command runs as the container's user, in its environment): remove it` };
      continue;
    }
    if (name !== container) return { problem: `docker exec runs in ${quoteValue(name)}, not in this entry's container ${container}` };
    const inside = rest.trim();
    return inside === "" ? { problem: `docker exec ${container} has no command after the container` } : inside;
  }
}

/** What a unit's wake includes beyond what its main container needs. */
export interface UnitMembers {
  main: string;
  /** Every other container of its entries, in the file's order (those after main are woken only so). */
  containers: string[];
  /** Those of `containers` whose type is optional: their failure does not fail the wake. */
  optional: string[];
}

/**
 * The file as the graph takes it: each entry needs every entry of the group just before its own
 * (groups by startOrder, then parallelGroup), until ready when that one has a healthCheck, else
 * started, required or optional as that one's type says. A container in several units gathers
 * every unit's requirements, and the first check given for it.
 */
export function fileDependencies(doc: DependenciesFile): {
  byContainer: Map<string, DependencyFacts>;
  members: Map<string, UnitMembers>;
} {
  const byContainer = new Map<string, DependencyFacts>();
  const factsOf = (container: string): DependencyFacts => {
    const facts = byContainer.get(container) ?? { requirements: [] };
    byContainer.set(container, facts);
    return facts;
  };
  const members = new Map<string, UnitMembers>();
  for (const unit of doc.units) {
    const groups = groupsInOrder(unit.entries);
    groups.forEach((group, index) => {
      const before = groups[index - 1] ?? [];
      for (const entry of group) {
        const facts = factsOf(entry.container);
        if (entry.check !== undefined) facts.check ??= entry.check;
        for (const needed of before) {
          facts.requirements.push({
            target: { container: needed.container },
            until: needed.check === undefined ? "started" : "ready",
            need: needed.need,
            source: entry.source,
          });
        }
      }
    });
    const others = unit.entries.filter((entry) => entry.container !== unit.main);
    members.set(unit.key, {
      main: unit.main,
      containers: others.map((entry) => entry.container),
      optional: others.filter((entry) => entry.need === "optional").map((entry) => entry.container),
    });
  }
  return { byContainer, members };
}

/** Entries side by side in one group, groups in start order. */
function groupsInOrder(entries: readonly DependencyEntry[]): DependencyEntry[][] {
  const sorted = [...entries].sort((a, b) => a.startOrder - b.startOrder || a.parallelGroup - b.parallelGroup);
  const groups: DependencyEntry[][] = [];
  for (const entry of sorted) {
    const last = groups.at(-1)?.[0];
    if (last && last.startOrder === entry.startOrder && last.parallelGroup === entry.parallelGroup) groups.at(-1)?.push(entry);
    else groups.push([entry]);
  }
  return groups;
}
