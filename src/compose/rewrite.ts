import { createTwoFilesPatch, FILE_HEADERS_ONLY } from "diff";
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
  let text = applyEdits(file.text, edits);
  if (!rewroteAsExpected(file, text, images)) {
    // Some layout the splicing does not handle: let yaml re-serialise instead (may reformat a little).
    text = docs.map((doc) => reserialised(doc, images)).join("");
  }
  return { text, changed: text !== file.text, images };
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

/** A unified diff (3 lines of context) between two texts; "" when equal. */
export function unifiedDiff(label: string, before: string, after: string): string {
  if (before === after) return "";
  return createTwoFilesPatch(label, label, before, after, undefined, undefined, {
    context: 3,
    headerOptions: FILE_HEADERS_ONLY,
  });
}
