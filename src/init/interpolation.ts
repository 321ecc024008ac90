import { isMap, isPair, isScalar, parseDocument, visit } from "yaml";
import { type Interpolation, interpolations } from "../compose/variables.js";

export interface ComposeVariable extends Interpolation {
  /** The service whose definition holds it; undefined at the top level or in `x-` blocks. */
  service?: string;
}

/**
 * Every interpolation in a compose text's values (not keys, not comments), with what
 * `variableUses` does not say: its operator, its argument and the service it is in. Pure.
 */
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
