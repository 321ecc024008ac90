import { atPosition, InputError } from "../errors.js";

export type EnvLine =
  | { kind: "blank"; raw: string; line: number }
  | { kind: "comment"; raw: string; line: number }
  | { kind: "entry"; raw: string; line: number; key: string; value: string; markedSecret: boolean };

export interface EnvFile {
  path: string;
  lines: EnvLine[];
}

const KEY = /^[A-Za-z_][A-Za-z0-9_.-]*$/;
const KEY_CHAR = /[A-Za-z0-9_.-]/;
const SAFE = /^[A-Za-z0-9_./:@%+,-]*$/;
const VALID = `a valid line looks like KEY=value, KEY="some value" or export KEY='value' # comment`;
// Escapes docker compose honours in double-quoted values; any other `\x` is kept as written.
const ESCAPES = new Map([
  ["n", "\n"],
  ["r", "\r"],
  ["t", "\t"],
  ['"', '"'],
  ["\\", "\\"],
  ["$", "$"],
]);

type Parsed =
  | { ok: true; key: string; value: string; comment: string; end: number }
  | { ok: false; line: number; col: number; message: string; end: number };

/** Parse the statement starting at lines[i]; `end` is the index of its last line. Messages never quote the text. */
function parseEntry(lines: string[], i: number): Parsed {
  const text = lines[i] ?? "";
  const fail = (col: number, message: string, line = i): Parsed => ({
    ok: false,
    line,
    col,
    message: `${message}; ${VALID}`,
    end: line,
  });
  const start = /^\s*(?:export\s+)?/.exec(text)?.[0].length ?? 0;
  const eq = text.indexOf("=", start);
  if (eq < 0) {
    let col = start;
    while (col < text.length && KEY_CHAR.test(text.charAt(col))) col++;
    return fail(col + 1, `missing "=" after the variable name`);
  }
  const key = text.slice(start, eq).trimEnd();
  if (!KEY.test(key)) {
    const bad = /^[A-Za-z_]/.test(key) ? key.search(/[^A-Za-z0-9_.-]/) : 0;
    return fail(
      start + bad + 1,
      `invalid variable name (letters, digits, "_", "." and "-", not starting with a digit or "-")`,
    );
  }

  let v = eq + 1;
  while (text[v] === " " || text[v] === "\t") v++;
  const quote = text[v];
  if (quote !== '"' && quote !== "'") {
    // Like compose, `#` starts a comment only after whitespace: `KEY=a#b` is the value "a#b".
    const rest = text.slice(eq + 1);
    const hash = rest.search(/\s#/);
    const value = (hash < 0 ? rest : rest.slice(0, hash)).trim();
    return { ok: true, key, value, comment: hash < 0 ? "" : rest.slice(hash + 1), end: i };
  }

  let value = "";
  let j = i;
  let line = text;
  let k = v + 1;
  for (;;) {
    if (k >= line.length) {
      if (j + 1 >= lines.length) {
        return fail(
          v + 1,
          `unterminated ${quote === '"' ? "double" : "single"}-quoted value (no closing ${quote})`,
        );
      }
      j++;
      line = lines[j] ?? "";
      k = 0;
      value += "\n";
      continue;
    }
    const c = line.charAt(k);
    if (c === quote) break;
    if (c === "\\" && k + 1 < line.length) {
      const n = line.charAt(k + 1);
      // Single quotes are literal except `\'`, as compose reads them.
      value += quote === "'" ? (n === "'" ? n : c + n) : (ESCAPES.get(n) ?? c + n);
      k += 2;
      continue;
    }
    value += c;
    k++;
  }
  const after = line.slice(k + 1);
  const junk = after.search(/\S/);
  if (junk >= 0 && after[junk] !== "#") {
    return fail(k + junk + 2, "unexpected text after the closing quote (only a # comment may follow)", j);
  }
  return { ok: true, key, value, comment: junk < 0 ? "" : after.slice(junk), end: j };
}

/**
 * Parse a dotenv-style file the way docker compose reads --env-file: `KEY=value`, optional `export `,
 * unquoted (trailing ` # comment` stripped, trimmed), 'single' (literal), "double" (escapes), multi-line quotes.
 * strict (the template): a malformed line throws InputError at its line:col. Lenient (the server's file):
 * malformed lines are kept verbatim as comments. `@secret` in an entry's trailing comment or the comment
 * line right above marks it secret.
 */
export function parseEnvFile(path: string, text: string, strict: boolean): EnvFile {
  // CRLF files are read as LF; the raw lines keep everything but the line terminator.
  const lines = text.split("\n").map((l) => (l.endsWith("\r") ? l.slice(0, -1) : l));
  if (lines.at(-1) === "") lines.pop();
  const out: EnvLine[] = [];
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i] ?? "";
    const line = i + 1;
    if (raw.trim() === "") {
      out.push({ kind: "blank", raw, line });
      continue;
    }
    if (raw.trimStart().startsWith("#")) {
      out.push({ kind: "comment", raw, line });
      continue;
    }
    const p = parseEntry(lines, i);
    if (!p.ok) {
      if (strict) throw new InputError(atPosition(path, p.line + 1, p.col, p.message));
      // Lenient: keep the text verbatim so rewriting the server's file never loses it.
      for (const [n, r] of lines.slice(i, p.end + 1).entries()) {
        out.push({ kind: "comment", raw: r, line: line + n });
      }
      i = p.end;
      continue;
    }
    const prev = out.at(-1);
    const markedSecret =
      p.comment.includes("@secret") || (prev?.kind === "comment" && prev.raw.includes("@secret"));
    const entryRaw = lines.slice(i, p.end + 1).join("\n");
    out.push({ kind: "entry", raw: entryRaw, line, key: p.key, value: p.value, markedSecret });
    i = p.end;
  }
  return { path, lines: out };
}

/** *PASSWORD*, *SECRET*, *TOKEN*, *SALT*, ends with _KEY or _KEYS, or exactly KEY (case-insensitive). */
export function isSecretLike(key: string): boolean {
  const k = key.toUpperCase();
  return /PASSWORD|SECRET|TOKEN|SALT/.test(k) || /_KEYS?$/.test(k) || k === "KEY";
}

/** Serialise one entry so that compose (and dotenv, for all but exotic values) reads back exactly `value`. */
export function formatEntry(key: string, value: string): string {
  if (SAFE.test(value)) return `${key}=${value}`;
  // Single quotes stop compose interpolating `$`; they only fail on `'`, newlines and a trailing `\` (read as `\'`).
  if (!/['\n\r]|\\$/.test(value)) return `${key}='${value}'`;
  const escaped = value.replace(/[\\"$\n\r]/g, (c) => (c === "\n" ? "\\n" : c === "\r" ? "\\r" : `\\${c}`));
  return `${key}="${escaped}"`;
}
