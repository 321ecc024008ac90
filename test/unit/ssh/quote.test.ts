import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { quote, remotePath, Shell, script, sh, shCommand } from "../../../src/ssh/quote.js";

/** Runs a script in the local POSIX sh (no SSH involved) and returns its stdout. */
function runSh(code: string, env: NodeJS.ProcessEnv = process.env): string {
  return execFileSync("/bin/sh", ["-c", code], { encoding: "utf8", env });
}

const home = mkdtempSync(join(tmpdir(), "deploy-vps-quote-"));
const canary = join(home, "pwned");
afterAll(() => rmSync(home, { recursive: true, force: true }));

const NASTY = [
  "plain",
  "two words",
  "  leading and trailing  ",
  "it's",
  "'",
  "''",
  "'''",
  'say "hi"',
  '"',
  "$HOME",
  "${HOME}",
  "$(touch /tmp/x)",
  `$(touch ${canary})`,
  `\`touch ${canary}\``,
  "a;b",
  "; rm -rf /",
  "a && b || c",
  "a|b",
  "a > b < c",
  "a & b",
  "line1\nline2",
  "trailing newline\n",
  "tab\there",
  "-n",
  "-e",
  "--help",
  "-",
  "",
  " ",
  "*",
  "?",
  "[a-z]",
  "~",
  "~/x",
  "a=b",
  "#comment",
  "\\",
  "back\\slash\\n",
  "!bang",
  "{a,b}",
  "(sub)",
  "héllo wörld ✓ 日本語",
  "emoji 🚀",
  "%s %d %%",
  'it\'s $(touch /tmp/pwned) "x"',
];

describe("quote", () => {
  it.each(NASTY.map((s) => [JSON.stringify(s), s]))("sh reads %s back unchanged", (_, s) => {
    expect(runSh(`printf %s ${quote(s)}`)).toBe(s);
    // As one word among others: nothing splits or merges.
    expect(runSh(`printf '<%s>' a ${quote(s)} z`)).toBe(`<a><${s}><z>`);
  });

  it("never runs what the values contain", () => {
    for (const s of NASTY) runSh(`printf %s ${quote(s)} >/dev/null`);
    expect(existsSync(canary)).toBe(false);
  });

  it("leaves safe words bare and single-quotes everything else", () => {
    expect(quote("abc/DEF_1.2,x:y=z+w@h%-")).toBe("abc/DEF_1.2,x:y=z+w@h%-");
    expect(quote("")).toBe("''");
    expect(quote("-rf")).toBe("'-rf'");
    expect(quote("a b")).toBe("'a b'");
    expect(quote("it's")).toBe("'it'\\''s'");
    expect(quote("~")).toBe("'~'");
    expect(quote("$x")).toBe("'$x'");
  });
});

describe("sh", () => {
  it("quotes strings, splits arrays into words, inserts Shell raw and numbers as is", () => {
    const cmd = sh`printf '<%s>' ${"a b"} ${["x y", "it's", new Shell("$((1+2))")]} ${7} ${new Shell('"$V"')}`;
    expect(cmd).toBeInstanceOf(Shell);
    expect(cmd.code).toBe(`printf '<%s>' 'a b' 'x y' 'it'\\''s' $((1+2)) 7 "$V"`);
    expect(runSh(cmd.code, { ...process.env, V: "from env" })).toBe("<a b><x y><it's><3><7><from env>");
  });

  it("keeps an empty array as no word and an empty string as one empty word", () => {
    expect(sh`printf '<%s>' a ${[]} z`.code).toBe("printf '<%s>' a  z");
    expect(runSh(sh`printf '<%s>' a ${[]} z`.code)).toBe("<a><z>");
    expect(runSh(sh`printf '<%s>' a ${""} z`.code)).toBe("<a><><z>");
  });

  it("nests: a Shell built by sh is inserted as code", () => {
    const inner = sh`printf '[%s]' ${"$(touch x)"}`;
    const outer = sh`${inner}; printf '[%s]' ${"b c"}`;
    expect(outer.code).toBe("printf '[%s]' '$(touch x)'; printf '[%s]' 'b c'");
    expect(runSh(outer.code)).toBe("[$(touch x)][b c]");
  });

  it("toString gives the code", () => {
    expect(String(sh`echo ${"a b"}`)).toBe("echo 'a b'");
  });

  it("script joins lines with newlines", () => {
    const s = script(sh`printf '%s,' ${"one"}`, sh`printf '%s,' ${"t w o"}`, new Shell("printf end"));
    expect(s.code).toBe("printf '%s,' one\nprintf '%s,' 't w o'\nprintf end");
    expect(runSh(s.code)).toBe("one,t w o,end");
  });
});

describe("remotePath", () => {
  const env = { ...process.env, HOME: home };
  const expand = (path: string) => runSh(sh`printf %s ${remotePath(path)}`.code, env);

  it.each([
    ["~", home],
    ["~/", `${home}/`],
    ["~/apps/web", `${home}/apps/web`],
    ["~/x y", `${home}/x y`],
    [`~/it's $(touch ${canary})`, `${home}/it's $(touch ${canary})`],
    ["/abs", "/abs"],
    ["/srv/my app", "/srv/my app"],
    ["/srv/$HOME", "/srv/$HOME"],
    ["relative", `${home}/relative`],
    ["apps/my app", `${home}/apps/my app`],
  ])("%s expands to the right path", (path, expected) => {
    expect(expand(path)).toBe(expected);
  });

  it("keeps $HOME quoted so a home with spaces stays one word", () => {
    const spaced = join(home, "a home");
    const out = runSh(sh`printf '<%s>' ${remotePath("~/x y")}`.code, { ...process.env, HOME: spaced });
    expect(out).toBe(`<${spaced}/x y>`);
  });

  it("never runs what the path contains", () => {
    expand(`~/$(touch ${canary})`);
    expand(`/tmp/\`touch ${canary}\``);
    expand(`rel; touch ${canary}`);
    expect(existsSync(canary)).toBe(false);
  });
});

describe("shCommand", () => {
  it("wraps the body in sh -c so that sh runs it exactly", () => {
    const body = script(
      sh`printf '<%s>' ${["a b", "it's", '"q"', "$(touch x)", "`y`"]}`,
      new Shell("x='single'\"double\"; printf '<%s>' \"$x\" $((2*3))"),
    );
    const command = shCommand(body);
    expect(command).toBe(`sh -c ${quote(body.code)}`);
    expect(command.startsWith("sh -c '")).toBe(true);
    expect(runSh(command)).toBe(`<a b><it's><"q"><$(touch x)><\`y\`><singledouble><6>`);
  });

  it("passes a multi-line body with an exit code through", () => {
    const command = shCommand(new Shell("printf one\nprintf ' two'\nexit 3"));
    let status = 0;
    let stdout = "";
    try {
      runSh(command);
    } catch (e) {
      const error = e as { status: number; stdout: string };
      status = error.status;
      stdout = error.stdout;
    }
    expect(status).toBe(3);
    expect(stdout).toBe("one two");
  });
});
