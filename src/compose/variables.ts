import { LineCounter, visit } from "yaml";
import { parseComposeDocuments } from "./parse.js";

export interface VariableUse {
  name: string;
  hasDefault: boolean;
  line: number;
}

const NAME = /[A-Za-z_][A-Za-z0-9_]*/y;

/** How a `${NAME…}` treats its variable; "" for a plain `$NAME` or `${NAME}`. */
export type Operator = "" | ":-" | "-" | ":?" | "?" | ":+" | "+";
// Longest first, so ":-" is not read as ":" + "-" (compose's own order).
const OPERATORS: Operator[] = [":-", ":?", ":+", "-", "?", "+"];

export interface Interpolation {
  name: string;
  operator: Operator;
  /** The text after the operator, as written (`${B:-x}` stays `${B:-x}`, `$$` stays `$$`); "" without one. */
  argument: string;
  /** Offset of its `$` in the scanned text. */
  at: number;
}

/**
 * Scans `src` from `start`, nested interpolations included, in order. Returns where it stopped:
 * at an unmatched "}" when `nested` (`closed`), else at the end of `src`.
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
    if (!braced || src[i] === "}") {
      found.push({ name: m[0], operator: "", argument: "", at });
      if (braced) i++;
      continue;
    }
    const operator = OPERATORS.find((o) => src.startsWith(o, i));
    if (!operator) continue; // not a valid interpolation; compose rejects it, we just skip it
    const use: Interpolation = { name: m[0], operator, argument: "", at };
    found.push(use);
    const from = i + operator.length;
    const stop = scan(src, from, true, found);
    // Without a closing "}" the argument runs to the end.
    use.argument = src.slice(from, stop.at);
    i = stop.closed ? stop.at + 1 : stop.at;
  }
  return { at: i, closed: false };
}

/** Every `$NAME` and `${NAME…}` in `src`, nested ones included, in order. */
export function interpolations(src: string): Interpolation[] {
  const found: Interpolation[] = [];
  scan(src, 0, false, found);
  return found;
}

/** "?" demands the variable; "-" and "+" work without it; a plain use needs it. */
function hasDefault(operator: Operator): boolean {
  return operator !== "" && !operator.endsWith("?");
}

/** Every variable interpolation in a compose text. Only YAML values count: compose does not interpolate comments. */
export function variableUses(text: string): VariableUse[] {
  const lc = new LineCounter();
  const uses: VariableUse[] = [];
  // Every document: compose merges them all.
  for (const doc of parseComposeDocuments(text, lc))
    visit(doc, {
      Scalar(key, node) {
        if (key === "key" || typeof node.value !== "string" || !node.range) return;
        // Scan the source, not the value, so offsets map back to lines.
        const [start, end] = node.range;
        for (const f of interpolations(text.slice(start, end)))
          uses.push({ name: f.name, hasDefault: hasDefault(f.operator), line: lc.linePos(start + f.at).line });
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

/** How many characters of `src` an interpolation found there takes, its closing "}" included. */
function spanOf(src: string, use: Interpolation): number {
  if (src[use.at + 1] !== "{") return 1 + use.name.length;
  if (use.operator === "") return 3 + use.name.length;
  const end = use.at + 2 + use.name.length + use.operator.length + use.argument.length;
  return end - use.at + (src[end] === "}" ? 1 : 0);
}

/**
 * Compose's substitution: `$NAME`, `${NAME}` and the `:-`, `-`, `:?`, `?`, `:+`, `+` forms, nested
 * ones included, from `env`; `$$` is a literal `$`. A `?` form whose variable is missing throws.
 */
export function interpolate(src: string, env: Record<string, string | undefined>): string {
  const literal = (text: string) => text.replaceAll("$$", "$");
  let out = "";
  let i = 0;
  for (const use of interpolations(src)) {
    // A nested use is in its parent's argument, which is interpolated on its own below.
    if (use.at < i) continue;
    out += literal(src.slice(i, use.at));
    i = use.at + spanOf(src, use);
    const value = env[use.name];
    const present = use.operator.startsWith(":") ? value !== undefined && value !== "" : value !== undefined;
    const argument = () => interpolate(use.argument, env);
    if (use.operator === "") out += value ?? "";
    else if (use.operator.endsWith("-")) out += present ? value : argument();
    else if (use.operator.endsWith("+")) out += present ? argument() : "";
    else if (present) out += value;
    else throw new Error(`required variable ${use.name} is missing a value${use.argument ? `: ${argument()}` : ""}`);
  }
  return out + literal(src.slice(i));
}
