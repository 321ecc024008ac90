import { isMap, isScalar, type Node, type Pair, Scalar, type YAMLMap } from "yaml";
import { InputError } from "../errors.js";
import { type ComposeFile, parseComposeFile, parseComposeYaml } from "./files.js";

/** No interpolation and no registry host (docker's rule: a first component with "." or ":", or "localhost"). */
function isPlainImage(image: string): boolean {
  if (image.includes("$")) return false;
  const parts = image.split("/");
  const first = parts[0] ?? "";
  return !(parts.length > 1 && (first.includes(".") || first.includes(":") || first === "localhost"));
}

/** The image name a built service gets on the server, where nothing is ever pulled for it. */
export function localImageName(project: string, service: string, image: string | undefined): string {
  if (image !== undefined && image !== "" && isPlainImage(image)) return image;
  // Image references must be lowercase; service names need not be.
  return `${project}/${service.toLowerCase()}:latest`;
}

export interface ImageRewrite {
  text: string;
  changed: boolean;
  /** Service -> local image, for every built service. */
  images: Record<string, string>;
}

type Edit = { from: number; to: number; insert: string };

/**
 * For each built service: a plain local image name and `pull_policy: never`, so the server never tries to pull
 * what it builds. yaml's Document finds the nodes; the edits are spliced into the original text, so everything
 * else (comments, key order, quoting, indentation, flow style) stays byte for byte and the diff shows only the change.
 */
export function rewriteForLocalImages(file: ComposeFile, project: string): ImageRewrite {
  const images: Record<string, string> = {};
  const doc = parseComposeYaml(file.text);
  const services = doc.get("services", true);
  const eol = file.text.includes("\r\n") ? "\r\n" : "\n";
  const edits: Edit[] = [];

  for (const service of file.services) {
    if (!service.hasBuild) continue;
    const image = localImageName(project, service.name, service.image);
    images[service.name] = image;
    if (service.image === image && service.pullPolicy === "never") continue;

    const node = isMap(services) ? services.get(service.name, true) : undefined;
    if (!isMap(node)) {
      // `web: *base` would change the anchor and every other service that uses it.
      throw new InputError(
        `${file.path}: service "${service.name}" is a YAML alias; give it its own mapping so its image can be set`,
      );
    }
    const wanted: Record<string, string> = {};
    if (service.image !== image) wanted.image = image;
    if (service.pullPolicy !== "never") wanted.pull_policy = "never";
    edits.push(...editsFor(file.text, node, wanted, eol));
  }

  if (edits.length === 0) return { text: file.text, changed: false, images };
  let text = file.text;
  // Back to front so offsets stay valid; at one offset, the later edit goes first so the earlier ends up first.
  for (const e of edits.reverse().sort((a, b) => b.from - a.from))
    text = text.slice(0, e.from) + e.insert + text.slice(e.to);
  if (!rewroteAsExpected(file, text, images)) {
    // Some layout the splicing does not handle: let yaml re-serialise instead (may reformat a little).
    for (const [name, image] of Object.entries(images)) {
      doc.setIn(["services", name, "image"], image);
      doc.setIn(["services", name, "pull_policy"], "never");
    }
    text = doc.toString({ lineWidth: 0 });
  }
  return { text, changed: text !== file.text, images };
}

function editsFor(text: string, map: YAMLMap, values: Record<string, string>, eol: string): Edit[] {
  const edits: Edit[] = [];
  const missing: string[] = [];
  for (const [key, value] of Object.entries(values)) {
    const current = map.get(key, true);
    if (!isScalar(current) || !current.range) {
      missing.push(key);
      continue;
    }
    if (current.value === value) continue;
    const [from, end] = current.range;
    // A block scalar's range takes in its line break; keep that.
    let to = end;
    while (to > from && (text[to - 1] === "\n" || text[to - 1] === "\r")) to--;
    // `image:` with no value: its empty node sits right after the colon.
    const space = text[from - 1] === ":" ? " " : "";
    edits.push({ from, to, insert: space + render(value, current.type) });
  }
  if (missing.length === 0) return edits;

  if (map.flow) {
    const last = map.items.at(-1) as Pair<Node, Node | null>;
    const end = (last.value ?? last.key).range?.[1] ?? 0;
    edits.push({
      from: end,
      to: end,
      insert: missing.map((k) => `, ${k}: ${render(values[k] ?? "")}`).join(""),
    });
    return edits;
  }
  // New keys go on the lines after image (or build, or the last key), at the map's indentation.
  const anchor = (["image", "build"].map((k) => pairOf(map, k)).find((p) => p) ?? map.items.at(-1)) as Pair<
    Node,
    Node | null
  >;
  const keyStart = anchor.key.range?.[0] ?? 0;
  const indent = " ".repeat(keyStart - text.lastIndexOf("\n", keyStart - 1) - 1);
  const lines = missing.map((k) => `${indent}${k}: ${render(values[k] ?? "")}`);
  const valueEnd = (anchor.value ?? anchor.key).range?.[1] ?? keyStart;
  if (text[valueEnd - 1] === "\n") {
    edits.push({ from: valueEnd, to: valueEnd, insert: lines.map((l) => l + eol).join("") });
  } else {
    const nl = text.indexOf("\n", valueEnd);
    const at = nl === -1 ? text.length : nl + 1;
    const insert = nl === -1 ? lines.map((l) => eol + l).join("") : lines.map((l) => l + eol).join("");
    edits.push({ from: at, to: at, insert });
  }
  return edits;
}

function pairOf(map: YAMLMap, key: string) {
  return map.items.find((p) => isScalar(p.key) && p.key.value === key);
}

/** Keeps the scalar's quoting style; plain only when the value cannot be misread. */
function render(value: string, type?: Scalar.Type): string {
  if (type === Scalar.QUOTE_SINGLE) return `'${value.replaceAll("'", "''")}'`;
  if (type === Scalar.QUOTE_DOUBLE || !/^[A-Za-z0-9_][A-Za-z0-9_./:@-]*$/.test(value))
    return JSON.stringify(value);
  return value;
}

function rewroteAsExpected(file: ComposeFile, text: string, images: Record<string, string>): boolean {
  try {
    const services = parseComposeFile(file.path, text, { partial: true }).services;
    if (services.length !== file.services.length) return false;
    return services.every((s) =>
      s.name in images ? s.image === images[s.name] && s.pullPolicy === "never" : true,
    );
  } catch {
    return false;
  }
}

/** A small unified diff (3 lines of context) between two texts; "" when equal. */
export function unifiedDiff(label: string, before: string, after: string): string {
  if (before === after) return "";
  const a = splitLines(before);
  const b = splitLines(after);

  // Line LCS: compose files are small. lcs[i][j] = LCS length of a[i..] and b[j..].
  const lcs = Array.from({ length: a.length + 1 }, () => new Array<number>(b.length + 1).fill(0));
  const at = (i: number, j: number) => lcs[i]?.[j] ?? 0;
  for (let i = a.length - 1; i >= 0; i--) {
    for (let j = b.length - 1; j >= 0; j--) {
      (lcs[i] as number[])[j] = a[i] === b[j] ? at(i + 1, j + 1) + 1 : Math.max(at(i + 1, j), at(i, j + 1));
    }
  }
  // Each op with the 0-based a and b line numbers it starts at.
  const ops: { kind: " " | "-" | "+"; line: string; ai: number; bi: number }[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    const pos = { ai: i, bi: j };
    if (i < a.length && j < b.length && a[i] === b[j]) {
      ops.push({ kind: " ", line: a[i] ?? "", ...pos });
      i++;
      j++;
    } else if (i < a.length && (j >= b.length || at(i + 1, j) >= at(i, j + 1))) {
      ops.push({ kind: "-", line: a[i++] ?? "", ...pos });
    } else {
      ops.push({ kind: "+", line: b[j++] ?? "", ...pos });
    }
  }

  const out = [`--- ${label}`, `+++ ${label}`];
  const changed = ops.flatMap((o, k) => (o.kind === " " ? [] : [k]));
  let h = 0;
  while (h < changed.length) {
    // A hunk spans changes less than 2*3 unchanged lines apart, plus 3 lines of context each side.
    let last = changed[h] ?? 0;
    const first = last;
    while (h + 1 < changed.length && (changed[h + 1] ?? 0) - last <= 7) last = changed[++h] ?? 0;
    h++;
    const hunk = ops.slice(Math.max(0, first - 3), Math.min(ops.length, last + 4));
    const head = hunk[0] ?? { ai: 0, bi: 0 };
    const aLen = hunk.filter((o) => o.kind !== "+").length;
    const bLen = hunk.filter((o) => o.kind !== "-").length;
    // An empty side is numbered by the line before it (GNU diff does the same).
    out.push(`@@ -${head.ai + (aLen ? 1 : 0)},${aLen} +${head.bi + (bLen ? 1 : 0)},${bLen} @@`);
    for (const o of hunk) out.push(o.kind + o.line);
  }
  return `${out.join("\n")}\n`;
}

function splitLines(text: string): string[] {
  const lines = text.split("\n");
  if (lines.at(-1) === "") lines.pop();
  return lines;
}
