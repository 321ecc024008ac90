import { isMap, isPair, isScalar, parseDocument, visit } from "yaml";

/**
 * What `variableUses` (src/compose/variables.ts) does not say: the operator of each `${…}`, its
 * argument (the default, the error message or the alternative) and the service it is in. Pure.
 */
export type Operator = "" | ":-" | "-" | ":?" | "?" | ":+" | "+";

export interface Interpolation {
  name: string;
  operator: Operator;
  /** The text after the operator, as written (`${B:-x}` stays `${B:-x}`, `$$` stays `$$`); "" without one. */
  argument: string;
}

export interface ComposeVariable extends Interpolation {
  /** The service whose definition holds it; undefined at the top level or in `x-` blocks. */
  service?: string;
}

const NAME = /[A-Za-z_][A-Za-z0-9_]*/y;
// Longest first, so ":-" is not read as ":" + "-" (the same order as compose and variables.ts).
const OPERATORS: Operator[] = [":-", ":?", ":+", "-", "?", "+"];

/**
 * Scans like variables.ts. Returns where it stopped: at an unmatched "}" when nested (`closed`),
 * else at the end of `src`.
 */
function scan(src: string, start: number, nested: boolean, found: Interpolation[]): { at: number; closed: boolean } {
  let i = start;
  while (i < src.length) {
    const ch = src[i];
    if (nested && ch === "}") return { at: i, closed: true };
    if (ch !== "$") {
      i++;
      continue;
    }
    const next = src[i + 1];
    if (next === "$") {
      i += 2;
      continue;
    }
    const braced = next === "{";
    NAME.lastIndex = i + (braced ? 2 : 1);
    const m = NAME.exec(src);
    if (!m) {
      i++;
      continue;
    }
    i = NAME.lastIndex;
    if (!braced || src[i] === "}") {
      found.push({ name: m[0], operator: "", argument: "" });
      if (braced) i++;
      continue;
    }
    const operator = OPERATORS.find((o) => src.startsWith(o, i));
    if (!operator) continue;
    const use: Interpolation = { name: m[0], operator, argument: "" };
    found.push(use);
    const from = i + operator.length;
    const stop = scan(src, from, true, found);
    // Without a closing "}" the argument runs to the end, as the scan did.
    use.argument = src.slice(from, stop.at);
    i = stop.closed ? stop.at + 1 : stop.at;
  }
  return { at: i, closed: false };
}

/** Every `$NAME` and `${NAME…}` in one (already YAML-parsed) value, nested ones included, in order. */
export function interpolations(value: string): Interpolation[] {
  const found: Interpolation[] = [];
  scan(value, 0, false, found);
  return found;
}

/** Every interpolation in a compose text's values (not keys, not comments), with its service. */
export function composeVariables(text: string): ComposeVariable[] {
  const doc = parseDocument(text);
  const uses: ComposeVariable[] = [];
  visit(doc, {
    Scalar(key, node, path) {
      if (key === "key" || typeof node.value !== "string") return;
      // path: Document, root map, Pair(services), services map, Pair(<service>), …
      const section = path[2];
      const entry = path[4];
      const inServices =
        isMap(path[1]) && isPair(section) && isScalar(section.key) && section.key.value === "services";
      const service =
        inServices && isPair(entry) && isScalar(entry.key) ? String(entry.key.value) : undefined;
      for (const use of interpolations(node.value)) uses.push(service === undefined ? use : { ...use, service });
    },
  });
  return uses;
}
