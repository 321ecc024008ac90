import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";
import { type Document, isAlias, isMap, isScalar, isSeq, type LineCounter, type Node, type Pair } from "yaml";
// The Compose Specification's JSON schema, verbatim from github.com/compose-spec/compose-spec
// (schema/compose-spec.json, 2025-10-28), Apache License 2.0.
import composeSpec from "./compose-spec.json" with { type: "json" };
import type { ComposeDocument, ParsedCompose } from "./parse.js";

export interface ComposeProblem {
  line: number;
  col: number;
  message: string;
}

export interface ValidateOptions {
  /**
   * The file is merged onto earlier ones (a second -f file): compose checks required keys only on the
   * merged model, so they may come from another file.
   */
  override?: boolean;
}

/** `${VAR}`, `$VAR`, not `$$` (a literal `$`): compose fills these in on the server, before its own checks. */
const INTERPOLATED = "(?:^|[^$])(?:\\$\\$)*\\$[{A-Za-z_]";
const interpolatedString = { type: "string", pattern: INTERPOLATED };
const interpolated = new RegExp(INTERPOLATED);

type Schema = { [key: string]: unknown };
const isObject = (value: unknown): value is Schema =>
  value !== null && typeof value === "object" && !Array.isArray(value);

/** Could this schema refuse a string that compose will only know after interpolation? */
function refusesSomeString(schema: Schema): boolean {
  const types = schema.type === undefined ? [] : [schema.type].flat();
  const scalar = types.some((t) => ["string", "number", "integer", "boolean"].includes(String(t)));
  if (types.includes("string")) return "pattern" in schema || "enum" in schema || "const" in schema;
  return scalar || (types.length === 0 && ("enum" in schema || "const" in schema));
}

/**
 * The schema judges the file as compose sees it after interpolation: wherever a scalar's type, pattern
 * or enum would refuse a string, a string with `${VAR}` in it is accepted too (its value is the server's).
 */
function interpolationAware(schema: unknown, override: boolean): unknown {
  if (Array.isArray(schema)) return schema.map((item) => interpolationAware(item, override));
  if (!isObject(schema)) return schema;
  const copy = Object.fromEntries(
    Object.entries(schema)
      // Required keys of an override may come from the file it is merged onto.
      .filter(([key, value]) => !(override && key === "required" && Array.isArray(value)))
      .map(([key, value]) => [
        key,
        // Maps of names to schemas: their keys are names, not schemas.
        ["properties", "patternProperties", "definitions"].includes(key) && isObject(value)
          ? Object.fromEntries(Object.entries(value).map(([name, sub]) => [name, interpolationAware(sub, override)]))
          : interpolationAware(value, override),
      ]),
  );
  return refusesSomeString(schema) ? { anyOf: [copy, interpolatedString] } : copy;
}

const compiled = new Map<boolean, ValidateFunction>();
function specValidator(override: boolean): ValidateFunction {
  const known = compiled.get(override);
  if (known) return known;
  // Compiling is most of the cost of a check: shared definitions stay functions, the code unoptimised.
  const validate = new Ajv({
    allErrors: true,
    verbose: true,
    strict: false,
    validateSchema: false,
    inlineRefs: false,
    code: { optimize: false },
  }).compile(interpolationAware(composeSpec, override) as Schema);
  compiled.set(override, validate);
  return validate;
}

/** The schema's and the image references' verdict on each document (the first document alone is not an override). */
export function parsedProblems(parsed: ParsedCompose, options: ValidateOptions = {}): ComposeProblem[] {
  return parsed.documents.flatMap((document, index) => {
    const override = options.override === true || index > 0;
    const schema = schemaProblem(document, parsed.lineCounter, override);
    return schema ? [schema] : imageProblems(document, parsed.lineCounter);
  });
}

type Located = { node: Node | undefined; key: Node | undefined; reset: boolean };

/** The node a JSON pointer names, looking through aliases and merge keys, and whether a `!reset` tag is on the way. */
function locate(doc: Document.Parsed, segments: string[]): Located {
  let node: Node | undefined = doc.contents ?? undefined;
  let key: Node | undefined;
  let reset = false;
  for (const segment of segments) {
    if (isAlias(node)) node = node.resolve(doc);
    reset ||= node?.tag === "!reset";
    if (isSeq(node)) {
      key = undefined;
      node = node.items[Number(segment)] as Node | undefined;
    } else if (isMap(node)) {
      const pair = pairIn(doc, node.items as Pair<Node, Node>[], segment);
      key = pair?.key ?? undefined;
      node = pair ? (pair.value ?? pair.key) : node;
      if (!pair) break;
    } else break;
  }
  reset ||= node?.tag === "!reset";
  return { node, key, reset };
}

/** A map's own pair for KEY, else the one a merge key (`<<: *defaults`) brings in. */
function pairIn(doc: Document.Parsed, items: Pair<Node, Node>[], key: string): Pair<Node, Node> | undefined {
  const own = items.find((p) => isScalar(p.key) && String(p.key.value) === key);
  if (own) return own;
  // yaml gives a merge key a symbol for its value; its source is still `<<`.
  for (const merge of items.filter((p) => isScalar(p.key) && p.key.source === "<<")) {
    const sources = isSeq(merge.value) ? (merge.value.items as Node[]) : [merge.value];
    for (const source of sources) {
      const map = isAlias(source) ? source.resolve(doc) : source;
      const found = isMap(map) ? pairIn(doc, map.items as Pair<Node, Node>[], key) : undefined;
      if (found) return found;
    }
  }
  return undefined;
}

const KEYWORDS_THAT_ONLY_SUM_UP = new Set(["oneOf", "anyOf", "allOf", "if", "not"]);

/** Like compose: the error deepest in the file wins; an unknown key beats a wrong type at the same depth. */
const specificity = (e: ErrorObject) =>
  e.instancePath.split("/").length + (e.keyword === "additionalProperties" ? 1 : 0);

function schemaProblem(document: ComposeDocument, lines: LineCounter, override: boolean): ComposeProblem | undefined {
  const validate = specValidator(override);
  if (validate(document.value)) return undefined;
  const candidates = (validate.errors ?? [])
    .filter((e) => !KEYWORDS_THAT_ONLY_SUM_UP.has(e.keyword) && e.parentSchema !== interpolatedString)
    .sort((a, b) => specificity(b) - specificity(a));
  for (const error of candidates) {
    const segments = error.instancePath
      .split("/")
      .slice(1)
      .map((s) => s.replaceAll("~1", "/").replaceAll("~0", "~"));
    const extra = error.keyword === "additionalProperties" ? String(error.params.additionalProperty) : undefined;
    const at = locate(document.doc, extra === undefined ? segments : [...segments, extra]);
    // `!reset` empties a value on merge: compose checks what is left, not the tagged node.
    if (at.reset) continue;
    const node = extra === undefined ? at.node : (at.key ?? at.node);
    const { line, col } = lines.linePos(node?.range?.[0] ?? 0);
    return { line, col, message: describe(error, segments, extra) };
  }
  return undefined;
}

const TYPE_NAMES: Record<string, string> = { object: "a mapping", array: "a list", null: "empty" };
const typeName = (t: string) => TYPE_NAMES[t] ?? `a ${t}`;

function describe(error: ErrorObject, segments: string[], extra: string | undefined): string {
  const where = segments.length > 0 ? segments.join(".") : "the top level";
  const schema = isObject(error.parentSchema) ? error.parentSchema : {};
  switch (error.keyword) {
    case "additionalProperties": {
      const names = Object.keys(isObject(schema.patternProperties) ? schema.patternProperties : {}).filter(
        (p) => p !== "^x-",
      );
      return names.length > 0
        ? `${where}: "${extra}" is not a valid name (it must match ${names.join(" or ")})`
        : `${where}: unknown key "${extra}"`;
    }
    case "type":
      return `${where} must be ${[schema.type].flat().map(String).map(typeName).join(" or ")}`;
    case "enum":
      return `${where} must be one of ${(schema.enum as unknown[]).map((v) => JSON.stringify(v)).join(", ")}`;
    case "required":
      return `${where} lacks the required key "${String(error.params.missingProperty)}"`;
    default:
      return `${where} ${error.message ?? "is not valid"}`;
  }
}

// The image reference grammar of github.com/distribution/reference (regexp.go), which docker and compose
// use: compose's schema only asks for a string, and a bad one fails on the server at build or pull.
const alphanumeric = "[a-z0-9]+";
const separator = "(?:[._]|__|[-]+)";
const pathComponent = `${alphanumeric}(?:${separator}${alphanumeric})*`;
const domainComponent = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
const domain = `(?:${domainComponent}(?:\\.${domainComponent})*|\\[[a-fA-F0-9:]+\\])(?::[0-9]+)?`;
const name = `(?:${domain}/)?${pathComponent}(?:/${pathComponent})*`;
const tag = "[\\w][\\w.-]{0,127}";
const digest = "[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}";
const REFERENCE = new RegExp(`^(${name})(?::${tag})?(?:@${digest})?$`);
const NAME_MAX = 255;

/** Why docker would refuse this image reference, or undefined when it is fine (or only known on the server). */
export function imageReferenceProblem(image: string): string | undefined {
  // An empty image is compose's "no image" (it names the built one itself).
  if (image === "" || interpolated.test(image)) return undefined;
  const match = REFERENCE.exec(image);
  if (!match) {
    const lower = REFERENCE.exec(image.toLowerCase());
    return lower ? "repository names must be lowercase" : "invalid reference format";
  }
  if ((match[1] ?? "").length > NAME_MAX) return `the repository name is longer than ${NAME_MAX} characters`;
  return undefined;
}

function imageProblems(document: ComposeDocument, lines: LineCounter): ComposeProblem[] {
  const services = isObject(document.value) ? document.value.services : undefined;
  if (!isObject(services)) return [];
  return Object.entries(services).flatMap(([service, definition]) => {
    const image = isObject(definition) ? definition.image : undefined;
    const problem = typeof image === "string" ? imageReferenceProblem(image) : undefined;
    if (problem === undefined) return [];
    const { node } = locate(document.doc, ["services", service, "image"]);
    const { line, col } = lines.linePos(node?.range?.[0] ?? 0);
    return [{ line, col, message: `service "${service}": image ${JSON.stringify(image)}: ${problem}` }];
  });
}
