/**
 * Remote commands are built from values, never by pasting strings: every interpolated value
 * goes through `quote`, so spaces, quotes, `$`, backticks, `;`, newlines and a leading `-`
 * reach the server as data.
 */

/** A fragment of shell code that is trusted as is (built by `sh` or a literal of ours). */
export class Shell {
  constructor(readonly code: string) {}
  toString(): string {
    return this.code;
  }
}

/** POSIX single-quoting: the only character that needs care inside '' is ' itself. */
export function quote(value: string): string {
  if (value === "") return "''";
  if (/^[A-Za-z0-9_/.,:=+@%-]+$/.test(value) && !value.startsWith("-")) return value;
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

type Arg = string | number | Shell | readonly (string | Shell)[];

function render(value: Arg): string {
  if (value instanceof Shell) return value.code;
  if (typeof value === "number") return String(value);
  if (typeof value === "string") return quote(value);
  return value.map(render).join(" ");
}

/** Tagged template: `sh\`cd ${dir} && rm -f -- ${files}\`` quotes every interpolated value. */
export function sh(strings: TemplateStringsArray, ...values: Arg[]): Shell {
  let code = strings[0] ?? "";
  values.forEach((value, i) => {
    code += render(value) + (strings[i + 1] ?? "");
  });
  return new Shell(code);
}

/** Joins script lines into one script. */
export function script(...lines: Shell[]): Shell {
  return new Shell(lines.map((l) => l.code).join("\n"));
}

/**
 * A path as the user typed it for the server: `~` and `~/x` are relative to the remote
 * $HOME, which only the remote shell knows, so that part stays unquoted.
 */
export function remotePath(path: string): Shell {
  if (path === "~") return new Shell(`"$HOME"`);
  if (path.startsWith("~/")) return new Shell(`"$HOME"/${quote(path.slice(2))}`);
  if (path.startsWith("/")) return new Shell(quote(path));
  return new Shell(`"$HOME"/${quote(path)}`);
}

/** The command line that runs a POSIX sh script whatever the user's login shell is. */
export function shCommand(body: Shell): string {
  return `sh -c ${quote(body.code)}`;
}
