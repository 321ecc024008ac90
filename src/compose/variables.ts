import { LineCounter, parseDocument, visit } from "yaml";

export interface VariableUse {
  name: string;
  hasDefault: boolean;
  line: number;
}

const NAME = /[A-Za-z_][A-Za-z0-9_]*/y;
// Longest first, so ":-" is not read as ":" + "-".
const OPERATORS = [":-", ":?", ":+", "-", "?", "+"];

/**
 * Scans `src` from `start` for interpolations, stopping at an unmatched "}" when `nested`.
 * Returns the index after the stop.
 */
function scan(
  src: string,
  start: number,
  nested: boolean,
  found: { name: string; hasDefault: boolean; at: number }[],
) {
  let i = start;
  while (i < src.length) {
    const ch = src[i];
    if (nested && ch === "}") return i + 1;
    if (ch !== "$") {
      i++;
      continue;
    }
    const next = src[i + 1];
    if (next === "$") {
      i += 2; // "$$" is a literal dollar
      continue;
    }
    const braced = next === "{";
    NAME.lastIndex = i + (braced ? 2 : 1);
    const m = NAME.exec(src);
    if (!m) {
      i++;
      continue;
    }
    const at = i;
    i = NAME.lastIndex;
    if (!braced) {
      found.push({ name: m[0], hasDefault: false, at });
      continue;
    }
    if (src[i] === "}") {
      found.push({ name: m[0], hasDefault: false, at });
      i++;
      continue;
    }
    const op = OPERATORS.find((o) => src.startsWith(o, i));
    if (!op) continue; // not a valid interpolation; compose rejects it, we just skip it
    // "?" demands the variable; "-" and "+" work without it.
    found.push({ name: m[0], hasDefault: !op.endsWith("?"), at });
    i = scan(src, i + op.length, true, found);
  }
  return i;
}

/** Every variable interpolation in a compose text. Only YAML values count: compose does not interpolate comments. */
export function variableUses(text: string): VariableUse[] {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc });
  const uses: VariableUse[] = [];
  visit(doc, {
    Scalar(key, node) {
      if (key === "key" || typeof node.value !== "string" || !node.range) return;
      // Scan the source, not the value, so offsets map back to lines.
      const [start, end] = node.range;
      const found: { name: string; hasDefault: boolean; at: number }[] = [];
      scan(text.slice(start, end), 0, false, found);
      for (const f of found)
        uses.push({ name: f.name, hasDefault: f.hasDefault, line: lc.linePos(start + f.at).line });
    },
  });
  return uses;
}

/** Names used without a default in any of the texts, unique, in first-seen order. */
export function requiredVariables(texts: string[]): string[] {
  const required = new Set<string>();
  for (const text of texts) {
    for (const use of variableUses(text)) if (!use.hasDefault) required.add(use.name);
  }
  return [...required];
}
