import { atPosition, InputError } from "../errors.js";

export interface NginxFile {
  path: string;
  text: string;
}

export interface Position {
  line: number;
  col: number;
}

export interface Directive {
  /** "server", "proxy_pass", or "#" for a comment (args[0] is its text after the '#'). */
  name: string;
  /** Unquoted and unescaped as nginx sees them; a `*_by_lua_block`'s Lua body is its last arg. */
  args: string[];
  file: string;
  /** 1-based, where the name starts; a column counts UTF-16 code units (a tab is one). */
  line: number;
  col: number;
  /** Just after the ';', the closing '}', or a comment's last character. */
  end?: Position;
  block?: Directive[];
}

export class NginxSyntaxError extends InputError {
  constructor(file: string, at: Position, message: string) {
    super(atPosition(file, at.line, at.col, message));
  }
}

/** The header `nginx -T` writes before each file it read. */
const DUMP_HEADER = /^# configuration file (.+):(\r?)$/;

/**
 * `nginx -T` stdout split into the files it read. nginx writes each file's text as read, then a
 * line feed (so a file that ends in one is followed by an empty line); lines before the first
 * header (nginx's own "syntax is ok" lines, when stderr was merged) belong to no file.
 */
export function splitDump(dump: string): NginxFile[] {
  const files: { path: string; lines: string[]; crlf: boolean }[] = [];
  const lines = dump.split("\n");
  if (lines.at(-1) === "") lines.pop();
  for (const line of lines) {
    const header = DUMP_HEADER.exec(line);
    if (header) files.push({ path: header[1] ?? "", lines: [], crlf: header[2] === "\r" });
    else files.at(-1)?.lines.push(line);
  }
  return files.map(({ path, lines: read, crlf }) => {
    const text = read.join("\n");
    // In a dump whose every line ends in CRLF, the line end nginx added is "\r\n".
    return { path, text: crlf && text.endsWith("\r") ? text.slice(0, -1) : text };
  });
}

interface Span {
  start: number;
  end: number;
  line: number;
  col: number;
}

type Token =
  | (Span & { kind: "word"; value: string })
  | (Span & { kind: "comment"; value: string })
  | (Span & { kind: ";" | "{" | "}" | "eof" });

const SPACE = new Set([" ", "\t", "\r", "\n"]);
/** What a backslash means in a word, as ngx_conf_read_token unescapes; any other pair is kept. */
const ESCAPES: Record<string, string> = { '"': '"', "'": "'", "\\": "\\", t: "\t", r: "\r", n: "\n" };

/** nginx's tokenizer (ngx_conf_read_token), keeping each token's offsets, line and column. */
export class NginxLexer {
  private pos: number;
  private line: number;
  private col: number;

  constructor(
    private readonly file: string,
    private readonly text: string,
    from: { offset: number; line: number; col: number } = { offset: 0, line: 1, col: 1 },
  ) {
    this.pos = from.offset;
    this.line = from.line;
    this.col = from.col;
  }

  get position(): Position {
    return { line: this.line, col: this.col };
  }

  error(at: Position, message: string): NginxSyntaxError {
    return new NginxSyntaxError(this.file, at, message);
  }

  next(): Token {
    while (this.pos < this.text.length && SPACE.has(this.peek())) this.advance();
    const start = { start: this.pos, line: this.line, col: this.col };
    if (this.pos >= this.text.length) return { kind: "eof", ...start, end: this.pos };
    const ch = this.peek();
    if (ch === ";" || ch === "{" || ch === "}") {
      this.advance();
      return { kind: ch, ...start, end: this.pos };
    }
    if (ch === "#") {
      this.advance();
      let value = "";
      while (this.pos < this.text.length && this.peek() !== "\n") value += this.advance();
      return { kind: "comment", ...start, end: this.pos, value: value.replace(/\r$/, "") };
    }
    if (ch === '"' || ch === "'") return { kind: "word", ...start, ...this.quoted(ch) };
    return { kind: "word", ...start, ...this.bare() };
  }

  private quoted(quote: string): { value: string; end: number } {
    const opening = this.position;
    this.advance();
    let value = "";
    for (;;) {
      if (this.pos >= this.text.length) throw this.error(opening, `unterminated quoted string (${quote} never closed)`);
      const ch = this.advance();
      if (ch === quote) break;
      value += ch === "\\" ? this.escaped() : ch;
    }
    const end = this.pos;
    // nginx wants a separator right after the closing quote (or the ')' of an `if`).
    if (this.pos < this.text.length && !SPACE.has(this.peek()) && !";{)".includes(this.peek()))
      throw this.error(this.position, `unexpected "${this.peek()}" after a quoted string`);
    return { value, end };
  }

  private bare(): { value: string; end: number } {
    let value = "";
    while (this.pos < this.text.length) {
      const ch = this.peek();
      if (SPACE.has(ch) || ch === ";") break;
      // `${name}` is a variable; any other '{' ends the word. '}' inside a word is part of it.
      if (ch === "{" && !value.endsWith("$")) break;
      this.advance();
      value += ch === "\\" ? this.escaped() : ch;
    }
    return { value, end: this.pos };
  }

  private escaped(): string {
    if (this.pos >= this.text.length) return "\\";
    const meaning = ESCAPES[this.peek()];
    if (meaning === undefined) return "\\";
    this.advance();
    return meaning;
  }

  /** The raw Lua of a `*_by_lua_block` after its '{', up to the matching '}' (consumed). */
  luaBody(opening: Position): { value: string; end: number } {
    const start = this.pos;
    let depth = 1;
    while (this.pos < this.text.length) {
      const ch = this.peek();
      if (ch === "{") depth += 1;
      else if (ch === "}" && --depth === 0) {
        const value = this.text.slice(start, this.pos);
        this.advance();
        return { value, end: this.pos };
      } else if (ch === '"' || ch === "'") {
        this.skipLuaString(ch);
        continue;
      } else if (this.text.startsWith("--", this.pos)) {
        this.advance(2);
        if (this.longBracket() === undefined) while (this.pos < this.text.length && this.peek() !== "\n") this.advance();
        continue;
      } else if (ch === "[" && this.longBracket() !== undefined) continue;
      this.advance();
    }
    throw this.error(this.position, `unexpected end of file in the Lua block opened at line ${opening.line}`);
  }

  private skipLuaString(quote: string): void {
    const opening = this.position;
    this.advance();
    while (this.pos < this.text.length) {
      const ch = this.advance();
      if (ch === "\\") this.advance();
      else if (ch === quote) return;
    }
    throw this.error(opening, "unterminated Lua string");
  }

  /** Skips a Lua long bracket (`[[...]]`, `[==[...]==]`) if one starts here; undefined if none does. */
  private longBracket(): true | undefined {
    const open = /^\[(=*)\[/.exec(this.text.slice(this.pos, this.pos + 64));
    if (!open) return undefined;
    const opening = this.position;
    const close = this.text.indexOf(`]${open[1] ?? ""}]`, this.pos + open[0].length);
    if (close < 0) throw this.error(opening, "unterminated Lua long string");
    this.advance(close + open[0].length - this.pos);
    return true;
  }

  private peek(): string {
    return this.text.charAt(this.pos);
  }

  private advance(count = 1): string {
    const taken = this.text.slice(this.pos, this.pos + count);
    for (let index = 0; index < taken.length; index += 1) {
      if (taken.charCodeAt(index) === 10) {
        this.line += 1;
        this.col = 1;
      } else this.col += 1;
    }
    this.pos += taken.length;
    return taken;
  }
}

interface Frame {
  directives: Directive[];
  opener?: Directive;
}

/** The file's directives as nginx reads them, comments kept as "#" directives. */
export function parseNginx(file: NginxFile): Directive[] {
  const lexer = new NginxLexer(file.path, file.text);
  let frame: Frame = { directives: [] };
  const parents: Frame[] = [];
  let words: { value: string; line: number; col: number }[] = [];
  let lastWordEnd: Position = { line: 1, col: 1 };
  const noSemicolon = (name: string, before: string): NginxSyntaxError =>
    lexer.error(lastWordEnd, `directive "${name}" has no ";" before ${before}`);

  for (;;) {
    const token = lexer.next();
    const [name, ...args] = words;
    if (token.kind === "word") {
      words.push(token);
      lastWordEnd = lexer.position;
    } else if (token.kind === "comment") {
      frame.directives.push({ name: "#", args: [token.value], file: file.path, line: token.line, col: token.col, end: lexer.position });
    } else if (token.kind === ";" || token.kind === "{") {
      if (!name) throw lexer.error(token, `unexpected "${token.kind}"`);
      const made: Directive = { name: name.value, args: args.map((word) => word.value), file: file.path, line: name.line, col: name.col };
      frame.directives.push(made);
      words = [];
      if (token.kind === "{" && !made.name.endsWith("_by_lua_block")) {
        made.block = [];
        parents.push(frame);
        frame = { directives: made.block, opener: made };
        continue;
      }
      if (token.kind === "{") made.args.push(lexer.luaBody(token).value);
      made.end = lexer.position;
    } else if (token.kind === "}") {
      if (name) throw noSemicolon(name.value, '"}"');
      const parent = parents.pop();
      if (!parent || !frame.opener) throw lexer.error(token, 'unexpected "}"');
      frame.opener.end = lexer.position;
      frame = parent;
    } else {
      if (name) throw noSemicolon(name.value, "the end of the file");
      if (frame.opener)
        throw lexer.error(token, `unexpected end of file, expecting "}" to close "${frame.opener.name}" at line ${frame.opener.line}`);
      return frame.directives;
    }
  }
}
