import { createTwoFilesPatch, diffLines, FILE_HEADERS_ONLY, formatPatch, type StructuredPatchHunk } from "diff";
import { type Document, isAlias, isMap, isScalar, type Node, type Pair, Scalar, type YAMLMap } from "yaml";
import { InputError } from "../errors.js";
import { type ComposeFile, parseComposeFile } from "./files.js";
import { parseComposeDocuments } from "./parse.js";

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
  /** The edits made to the original text; none when yaml re-serialised it instead. */
  edits?: Edit[];
}

type Edit = { from: number; to: number; insert: string };

/**
 * For each built service: a plain local image name and `pull_policy: never`, so the server never tries to pull
 * what it builds. yaml's Document finds the nodes; the edits are spliced into the original text, so everything
 * else (comments, key order, quoting, indentation, flow style) stays byte for byte and the diff shows only the change.
 * Each service is edited in the last YAML document that defines it, which compose's merge lets win.
 */
export function rewriteForLocalImages(file: ComposeFile, project: string): ImageRewrite {
  const images: Record<string, string> = {};
  const docs = parseComposeDocuments(file.text);
  const eol = file.text.includes("\r\n") ? "\r\n" : "\n";
  const definitions = lastDefinitions(docs);
  const edits: Edit[] = [];

  for (const service of file.services) {
    if (!service.hasBuild) continue;
    const image = localImageName(project, service.name, service.image);
    images[service.name] = image;
    if (service.image === image && service.pullPolicy === "never") continue;

    const wanted: Record<string, string> = {};
    if (service.image !== image) wanted.image = image;
    if (service.pullPolicy !== "never") wanted.pull_policy = "never";
    const node = definitions.get(service.name);
    if (isAlias(node) && node.range) {
      // `web: *base`: a mapping of its own that merges the anchor leaves the anchor and its other users as they are.
      const [from, to] = node.range;
      const pairs = [`<<: *${node.source}`, ...Object.entries(wanted).map(([k, v]) => `${k}: ${render(v)}`)];
      edits.push({ from, to, insert: `{ ${pairs.join(", ")} }` });
    } else if (isMap(node)) edits.push(...editsFor(file.text, node, wanted, eol));
    else throw new InputError(`${file.path}: service "${service.name}" could not be found to set its image`);
  }

  if (edits.length === 0) return { text: file.text, changed: false, images };
  const text = applyEdits(file.text, edits);
  if (rewroteAsExpected(file, text, images)) return { text, changed: true, images, edits };
  // Some layout the splicing does not handle: let yaml re-serialise instead (may reformat a little).
  const reformatted = docs.map((doc) => reserialised(doc, images)).join("");
  return { text: reformatted, changed: reformatted !== file.text, images };
}

/** Each service's definition node in the last document that has it. */
function lastDefinitions(docs: Document.Parsed[]): Map<string, Node> {
  const found = new Map<string, Node>();
  for (const doc of docs) {
    const services = isMap(doc.contents) ? doc.contents.get("services", true) : undefined;
    if (!isMap(services)) continue;
    for (const pair of services.items)
      if (isScalar(pair.key) && pair.value) found.set(String(pair.key.value), pair.value as Node);
  }
  return found;
}

/** The edits in one pass over the text: sorted by offset, ties kept in the order they were made. */
export function applyEdits(text: string, edits: Edit[]): string {
  const sorted = edits.map((edit, order) => ({ edit, order })).sort((a, b) => a.edit.from - b.edit.from || a.order - b.order);
  const parts: string[] = [];
  let at = 0;
  for (const { edit } of sorted) {
    parts.push(text.slice(at, edit.from), edit.insert);
    at = edit.to;
  }
  parts.push(text.slice(at));
  return parts.join("");
}

function reserialised(doc: Document.Parsed, images: Record<string, string>): string {
  const services = isMap(doc.contents) ? doc.contents.get("services", true) : undefined;
  for (const [name, image] of Object.entries(images)) {
    if (!isMap(services) || !services.has(name)) continue;
    doc.setIn(["services", name, "image"], image);
    doc.setIn(["services", name, "pull_policy"], "never");
  }
  return doc.toString({ lineWidth: 0 });
}

function editsFor(text: string, map: YAMLMap, values: Record<string, string>, eol: string): Edit[] {
  const edits: Edit[] = [];
  const missing: string[] = [];
  for (const [key, value] of Object.entries(values)) {
    const current = map.get(key, true);
    if (isAlias(current) && current.range) {
      // `image: *img`: this service's own value replaces the alias; the anchor keeps serving the others.
      edits.push({ from: current.range[0], to: current.range[1], insert: render(value) });
      continue;
    }
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

const CONTEXT = 3;

/** A unified diff (3 lines of context) between two texts; "" when equal. */
export function unifiedDiff(label: string, before: string, after: string): string {
  if (before === after) return "";
  return createTwoFilesPatch(label, label, before, after, undefined, undefined, {
    context: CONTEXT,
    headerOptions: FILE_HEADERS_ONLY,
  });
}

/**
 * The unified diff of a rewrite. A whole-file line diff costs lines x changes (a rewrite of thousands of
 * services changes thousands of lines); but the edits say where the changes are, and every line between
 * them is the same in both texts. So jsdiff compares each edited stretch of lines alone, and the hunks
 * are cut from that in one pass.
 */
export function rewriteDiff(label: string, before: string, rewrite: ImageRewrite): string {
  if (!rewrite.changed) return "";
  if (!rewrite.edits) return unifiedDiff(label, before, rewrite.text);
  const lines = diffLinesAround(before, rewrite.edits);
  return formatPatch({ oldFileName: label, newFileName: label, oldHeader: undefined, newHeader: undefined, hunks: hunksOf(lines) }, FILE_HEADERS_ONLY);
}

/** One line of a diff: kept, removed or added; with its line break, if it has one. */
type DiffLine = { op: " " | "-" | "+"; text: string };

function diffLinesAround(before: string, edits: Edit[]): DiffLine[] {
  const starts = [0];
  for (let nl = before.indexOf("\n"); nl !== -1 && nl + 1 < before.length; nl = before.indexOf("\n", nl + 1)) starts.push(nl + 1);
  const lineAt = (offset: number) => {
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((starts[mid] ?? 0) <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  };
  const startOf = (line: number) => (line < starts.length ? (starts[line] ?? before.length) : before.length);
  const kept = (from: number, to: number) =>
    Array.from({ length: to - from }, (_, i) => ({ op: " " as const, text: before.slice(startOf(from + i), startOf(from + i + 1)) }));

  // Stretches of whole lines that the edits touch, in order; touching stretches are one.
  const stretches: { first: number; end: number; edits: Edit[] }[] = [];
  for (const edit of [...edits].sort((a, b) => a.from - b.from)) {
    const first = lineAt(edit.from);
    const end = edit.to > edit.from && startOf(lineAt(edit.to)) === edit.to ? lineAt(edit.to) : lineAt(edit.to) + 1;
    const last = stretches.at(-1);
    if (last && first <= last.end) {
      last.end = Math.max(last.end, end);
      last.edits.push(edit);
    } else stretches.push({ first, end, edits: [edit] });
  }
  const lines: DiffLine[] = [];
  let next = 0;
  for (const { first, end, edits: inStretch } of stretches) {
    lines.push(...kept(next, first));
    const offset = startOf(first);
    const old = before.slice(offset, startOf(end));
    const updated = applyEdits(old, inStretch.map((e) => ({ ...e, from: e.from - offset, to: e.to - offset })));
    for (const change of diffLines(old, updated)) {
      const op = change.added ? "+" : change.removed ? "-" : " ";
      for (const text of change.value.split(/(?<=\n)/)) if (text !== "") lines.push({ op, text });
    }
    next = end;
  }
  lines.push(...kept(next, starts.length));
  return lines;
}

/** Hunks with CONTEXT lines each side; changes closer than twice that share one hunk. */
function hunksOf(lines: DiffLine[]): StructuredPatchHunk[] {
  const changed = lines.flatMap((line, i) => (line.op === " " ? [] : [i]));
  // 1-based line numbers in the old and new text at each diff line.
  const oldAt: number[] = [];
  const newAt: number[] = [];
  let oldLine = 1;
  let newLine = 1;
  for (const line of lines) {
    oldAt.push(oldLine);
    newAt.push(newLine);
    if (line.op !== "+") oldLine++;
    if (line.op !== "-") newLine++;
  }
  const hunks: StructuredPatchHunk[] = [];
  for (let c = 0; c < changed.length; ) {
    const firstChange = changed[c] ?? 0;
    let lastChange = firstChange;
    while (c + 1 < changed.length && (changed[c + 1] ?? 0) - lastChange <= 2 * CONTEXT + 1) lastChange = changed[++c] ?? 0;
    c++;
    const from = Math.max(0, firstChange - CONTEXT);
    const slice = lines.slice(from, Math.min(lines.length, lastChange + CONTEXT + 1));
    hunks.push({
      oldStart: oldAt[from] ?? 1,
      newStart: newAt[from] ?? 1,
      oldLines: slice.filter((l) => l.op !== "+").length,
      newLines: slice.filter((l) => l.op !== "-").length,
      lines: slice.flatMap((l) =>
        l.text.endsWith("\n") ? [l.op + l.text.slice(0, -1)] : [l.op + l.text, "\\ No newline at end of file"],
      ),
    });
  }
  return hunks;
}
