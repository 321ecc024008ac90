import { atPosition, InputError } from "../errors.js";
import { PROXY_LOCATION_DIRECTIVES } from "../proxy/nginx-block.js";
import { splitProxyUrl } from "./address.js";
import type { LoadedNginx } from "./load.js";
import { type Directive, NginxLexer, parseNginx, type Position } from "./parse.js";

interface Edit {
  start: number;
  end: number;
  text: string;
}

/**
 * The file's new text with each proxy_pass at PASSES (where its name starts) sending to PROXY
 * (host:port, plain http: the proxy listens on loopback), its URI part kept, and its location
 * given what PROXY_LOCATION_DIRECTIVES lists and it does not set itself. Every other byte is kept.
 * What the location sets and inherits is read from LOADED when given (the file as nginx loads
 * it: a location's `include proxy_params;`, headers set at `http` level in nginx.conf), else
 * from this file alone.
 */
export function routeThroughProxy(text: string, file: string, passes: Position[], proxy: string, loaded?: LoadedNginx): string {
  const root = parseNginx({ path: file, text });
  const lineStarts = [0, ...[...text.matchAll(/\n/g)].map((match) => match.index + 1)];
  const offsetOf = (at: Position): number => (lineStarts[at.line - 1] ?? text.length) + at.col - 1;
  const edits: Edit[] = [];
  const done = new Set<Directive>();
  const given = new Set<Directive>();
  for (const at of passes) {
    const path = pathTo(root, file, at);
    const pass = path.at(-1);
    if (!pass || pass.name !== "proxy_pass") throw new InputError(atPosition(file, at.line, at.col, "no proxy_pass directive starts here."));
    if (done.has(pass)) continue;
    done.add(pass);
    edits.push(newAddress(text, file, pass, offsetOf(pass), proxy));
    const { location, anchor } = locationOf(path);
    if (!location || !anchor) throw new InputError(atPosition(file, at.line, at.col, "this proxy_pass is outside any block."));
    if (given.has(location)) continue;
    given.add(location);
    const asLoaded = loaded ? pathTo(loaded.root, file, at) : [];
    const lines = missingLines(locationOf(asLoaded.length > 0 ? asLoaded : path));
    if (lines.length > 0) edits.push(insertAfter(text, offsetOf(anchor), offsetOf(anchor.end ?? anchor), lines));
  }
  return edits
    .sort((a, b) => b.start - a.start)
    .reduce((edited, edit) => edited.slice(0, edit.start) + edit.text + edited.slice(edit.end), text);
}

/** The directives from the top down to the one of FILE whose name starts AT; empty if none does. */
function pathTo(directives: Directive[], file: string, at: Position): Directive[] {
  for (const directive of directives) {
    if (directive.file === file && directive.line === at.line && directive.col === at.col) return [directive];
    const below = directive.block ? pathTo(directive.block, file, at) : [];
    if (below.length > 0) return [directive, ...below];
  }
  return [];
}

interface Placed {
  /** The innermost location above the proxy_pass (an `if` or `limit_except` takes no proxy_set_header). */
  location?: Directive;
  /** The location's child that holds the proxy_pass, or is it. */
  anchor?: Directive;
  /** The levels above the location, innermost first. */
  enclosing: Directive[];
}

function locationOf(path: Directive[]): Placed {
  const inLocation = path.map((directive) => directive.name).lastIndexOf("location");
  const target = inLocation >= 0 ? inLocation : path.length - 2;
  return { location: path[target], anchor: path[target + 1], enclosing: path.slice(0, Math.max(target, 0)).reverse() };
}

function newAddress(text: string, file: string, pass: Directive, offset: number, proxy: string): Edit {
  const lexer = new NginxLexer(file, text, { offset, line: pass.line, col: pass.col });
  lexer.next();
  let value = lexer.next();
  while (value.kind === "comment") value = lexer.next();
  const url = value.kind === "word" ? splitProxyUrl(value.value) : undefined;
  if (value.kind !== "word" || !url?.scheme)
    throw new InputError(atPosition(file, pass.line, pass.col, `proxy_pass ${pass.args[0] ?? ""} has no http:// address to replace.`));
  return { start: value.start, end: value.end, text: requote(text.slice(value.start, value.end), `http://${proxy}${url.uri}`) };
}

/** VALUE written as RAW was: in the same quotes, or quoted only if nginx needs it. */
function requote(raw: string, value: string): string {
  const quote = raw.startsWith('"') || raw.startsWith("'") ? raw.charAt(0) : value === "" || /[\s;{}#"'\\]/.test(value) ? '"' : "";
  return quote === "" ? value : `${quote}${value.replaceAll("\\", "\\\\").replaceAll(quote, `\\${quote}`)}${quote}`;
}

/**
 * What the location needs from PROXY_LOCATION_DIRECTIVES, as source lines. A location with no
 * proxy_set_header of its own inherits all of the nearest enclosing level's, and none once it
 * has one: so those are repeated first, or adding ours would drop them.
 */
function missingLines({ location, enclosing }: Placed): string[] {
  const own = location?.block ?? [];
  const headersOf = (directives: Directive[]): Directive[] => directives.filter((directive) => directive.name === "proxy_set_header");
  const inherited = headersOf(own).length > 0 ? [] : (enclosing.map((level) => headersOf(level.block ?? [])).find((headers) => headers.length > 0) ?? []);
  const host = [...headersOf(own), ...inherited].find((directive) => directive.args[0]?.toLowerCase() === "host");
  if (host !== undefined && !["$host", "$http_host"].includes(host.args[1] ?? ""))
    throw new InputError(atPosition(host.file, host.line, host.col, `proxy_set_header Host ${host.args[1] ?? ""}: the proxy routes by the client's Host, so this location is not sent through it as it is; set it to $host by hand`));
  const headers = new Set([...headersOf(own), ...inherited].map((directive) => (directive.args[0] ?? "").toLowerCase()));
  const names = new Set(own.map((directive) => directive.name));
  const lines = inherited.map((directive) => `${[directive.name, ...directive.args].map((word) => requote("", word)).join(" ")};`);
  for (const words of PROXY_LOCATION_DIRECTIVES) {
    const [name = "", header = ""] = words;
    const set = name === "proxy_set_header" ? headers.has(header.toLowerCase()) : names.has(name);
    if (!set) lines.push(`${words.join(" ")};`);
  }
  return lines;
}

/**
 * LINES after the directive from START to END, indented as its line is: on the next lines when
 * only blanks or a comment follow it, else right after it (a one-line `location / { ... }`).
 */
function insertAfter(text: string, start: number, end: number, lines: string[]): Edit {
  const lineStart = text.lastIndexOf("\n", start - 1) + 1;
  const indent = /^[ \t]*/.exec(text.slice(lineStart, start))?.[0] ?? "";
  const newline = text.indexOf("\n", end);
  const lineEnd = newline < 0 ? text.length : newline;
  const eol = text.charAt(lineEnd - 1) === "\r" ? "\r\n" : "\n";
  if (newline >= 0 && /^[ \t]*(#.*)?\r?$/.test(text.slice(end, lineEnd)))
    return { start: newline + 1, end: newline + 1, text: lines.map((line) => `${indent}${line}${eol}`).join("") };
  return { start: end, end, text: lines.map((line) => `${eol}${indent}${line}`).join("") };
}
