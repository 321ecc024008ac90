import { type Document, isScalar, LineCounter, type Node, parseAllDocuments, visit } from "yaml";
import { atPosition, InputError } from "../errors.js";

/** Far above any real compose file (the largest public ones are tens of kilobytes); a bigger one is refused unread. */
export const MAX_COMPOSE_BYTES = 4 * 1024 * 1024;
/**
 * Alias expansions yaml may make while reading values: hundreds of services may share `<<: *defaults`,
 * but an "alias bomb" (aliases of aliases of aliases) expands to far more.
 */
export const MAX_ALIAS_EXPANSIONS = 10_000;

/**
 * Compose files use YAML 1.1 merge keys (`<<: *defaults`); the same options everywhere keep ranges consistent.
 * yaml's own duplicate-key check compares each key with every earlier one; duplicateKey does it in one pass.
 */
export const YAML_OPTIONS = { merge: true, prettyErrors: false, uniqueKeys: false } as const;

/** One YAML document of a compose file, with its plain value (aliases and merge keys resolved). */
export interface ComposeDocument {
  doc: Document.Parsed;
  value: unknown;
}

export interface ParsedCompose {
  path: string;
  text: string;
  lineCounter: LineCounter;
  /** Compose v2 merges the documents of one file in order, as it merges -f files. */
  documents: ComposeDocument[];
}

/** Every YAML document of a compose text, unchecked: for callers that only look (a bad text gives none). */
export function parseComposeDocuments(text: string, lineCounter?: LineCounter): Document.Parsed[] {
  const docs = parseAllDocuments(text, { ...YAML_OPTIONS, lineCounter });
  return Array.isArray(docs) ? docs : [];
}

/** YAML's printable set: compose (go-yaml) refuses any other character, NUL included. */
const UNPRINTABLE = /[^\t\n\r\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\u{10000}-\u{10ffff}]/u;

/**
 * Pure: a compose text's YAML documents, or an InputError naming `path:line:col` for what compose would refuse
 * before it looks at the content: an oversized text, a character YAML forbids, a syntax error, an empty
 * document beside others, an alias bomb.
 */
export function parseCompose(path: string, text: string): ParsedCompose {
  const size = Buffer.byteLength(text);
  if (size > MAX_COMPOSE_BYTES) throw new ComposeInputError(path, 1, 1, tooBig(size));
  const lineCounter = new LineCounter();
  const fail = (offset: number, message: string): never => {
    const { line, col } = lineCounter.linePos(offset);
    throw new ComposeInputError(path, line, col, message);
  };
  const bad = UNPRINTABLE.exec(text);
  if (bad) {
    // The line counter is filled by the parser; count up to the character by hand.
    const before = text.slice(0, bad.index);
    const line = before.split("\n").length;
    const col = bad.index - before.lastIndexOf("\n");
    const code = (bad[0].codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, "0");
    throw new ComposeInputError(path, line, col, `character U+${code} is not allowed in YAML`);
  }
  const docs = parseComposeDocuments(text, lineCounter);
  for (const doc of docs) {
    const syntax = doc.errors[0];
    if (syntax) fail(syntax.pos[0], syntax.message);
    const duplicate = duplicateKey(doc);
    if (duplicate) fail(duplicate.range?.[0] ?? 0, "Map keys must be unique");
  }
  const documents = docs.map((doc) => {
    if (docs.length > 1 && (doc.contents === null || (isScalar(doc.contents) && doc.contents.value === null)))
      fail(doc.range[0], "an empty YAML document: each document of a compose file must be a mapping");
    try {
      return { doc, value: doc.toJS({ maxAliasCount: MAX_ALIAS_EXPANSIONS }) as unknown };
    } catch (error) {
      // yaml's resource-exhaustion guard; any other failure is a bug and goes on as one.
      if (error instanceof ReferenceError && error.message.startsWith("Excessive alias count"))
        fail(0, `YAML aliases expand to more than ${MAX_ALIAS_EXPANSIONS} copies (an alias bomb?); refused`);
      throw error;
    }
  });
  return { path, text, lineCounter, documents };
}

/** The first key that repeats an earlier key of its mapping (merge keys aside, which may repeat). */
function duplicateKey(doc: Document.Parsed): Node | undefined {
  let found: Node | undefined;
  visit(doc, {
    Map(_, map) {
      const seen = new Set<string>();
      for (const { key } of map.items) {
        if (!isScalar(key) || key.source === "<<") continue;
        const id = `${typeof key.value}:${String(key.value)}`;
        if (seen.has(id)) {
          found = key;
          return visit.BREAK;
        }
        seen.add(id);
      }
      return undefined;
    },
  });
  return found;
}

export function tooBig(size: number): string {
  return `${size} bytes, over the limit of ${MAX_COMPOSE_BYTES} (${MAX_COMPOSE_BYTES / 1024 / 1024} MB) for a compose file`;
}

/** A compose file refused: `path:line:col: problem`, with the parts kept for callers that collect problems. */
export class ComposeInputError extends InputError {
  constructor(
    readonly path: string,
    readonly line: number,
    readonly col: number,
    readonly problem: string,
  ) {
    super(atPosition(path, line, col, problem));
  }
}

/** Pure: a compose file's bytes as text; invalid UTF-8 is refused at the line and column of its first bad byte. */
export function decodeComposeText(path: string, bytes: Buffer): string {
  const text = bytes.toString("utf8");
  const roundTrip = Buffer.from(text, "utf8");
  if (roundTrip.equals(bytes)) return text;
  // Up to the first bad byte, the text re-encodes to the same bytes.
  let bad = 0;
  while (bad < bytes.length && bytes[bad] === roundTrip[bad]) bad++;
  const lineStart = bytes.lastIndexOf(0x0a, bad - 1) + 1;
  const line = bytes.subarray(0, lineStart).filter((b) => b === 0x0a).length + 1;
  const col = bytes.subarray(lineStart, bad).toString("utf8").length + 1;
  throw new ComposeInputError(path, line, col, "not valid UTF-8 (compose files must be UTF-8)");
}
