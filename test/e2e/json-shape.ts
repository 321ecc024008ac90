/**
 * A --json document checked against docs/json.md: the real output has exactly the fields of the
 * example under the command's heading, nested the same way (maps aside).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { expect } from "vitest";
import { ROOT } from "./harness.js";

const MAPS = new Set(["images", "timings", "logs"]);

/** The document's field tree: keys and kinds, arrays by their first element, maps as "map". */
function shape(value: unknown, key = ""): unknown {
  if (MAPS.has(key)) return "map";
  if (Array.isArray(value)) return value.length ? [shape(value[0])] : [];
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, shape(v, k)]).sort(([a], [b]) => String(a).localeCompare(String(b))));
  }
  return "value";
}

function documented(heading: string): unknown {
  const doc = readFileSync(join(ROOT, "docs/json.md"), "utf8");
  const section = doc.split(/^## /m).find((part) => part.startsWith(`${heading}\n`));
  const example = section?.match(/```json\n([\s\S]*?)```/)?.[1];
  if (!example) throw new Error(`docs/json.md has no example under "## ${heading}"`);
  return JSON.parse(example);
}

/** Same fields: documented ones that hold null or [] may be filled, and vice versa. */
export function expectShape(actual: unknown, heading: string): void {
  const loose = (s: unknown): unknown =>
    Array.isArray(s) ? (s.length ? [loose(s[0])] : "list") : s !== null && typeof s === "object" ? Object.fromEntries(Object.entries(s).map(([k, v]) => [k, loose(v)])) : "value";
  const actualShape = loose(shape(actual));
  const docShape = loose(shape(documented(heading)));
  const keys = (s: unknown, prefix = ""): string[] =>
    s !== null && typeof s === "object" && !Array.isArray(s)
      ? Object.entries(s).flatMap(([k, v]) => [`${prefix}${k}`, ...keys(v, `${prefix}${k}.`)])
      : Array.isArray(s)
        ? keys(s[0], `${prefix}[].`)
        : [];
  const actualKeys = keys(actualShape);
  // A field that is null here (git outside a git work tree) need not have its documented fields.
  const leaves = actualKeys.filter((k) => !actualKeys.some((other) => other.startsWith(`${k}.`)));
  const docKeys = keys(docShape).filter((k) => !leaves.some((leaf) => k.startsWith(`${leaf}.`)));
  expect(actualKeys.sort()).toEqual(docKeys.sort());
}

