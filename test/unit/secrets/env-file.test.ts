import { parse as dotenvParse } from "dotenv";
import { describe, expect, it } from "vitest";
import { InputError } from "../../../src/errors.js";
import { formatEntry, isSecretLike, parseEnvFile } from "../../../src/secrets/env-file.js";
import { envValues } from "./values.js";

const values = (text: string) => Object.fromEntries(envValues(parseEnvFile(".env.example", text, true)));

/** The InputError message thrown by a strict parse, or undefined. */
function strictError(text: string): string | undefined {
  try {
    parseEnvFile(".env.example", text, true);
  } catch (e) {
    expect(e).toBeInstanceOf(InputError);
    return (e as InputError).message;
  }
  return undefined;
}

describe("parseEnvFile", () => {
  it("reads plain, export-prefixed and spaced entries", () => {
    expect(values("A=1\nexport B=two\n  C = three  \nD=\nE.f-g=x\n")).toEqual({
      A: "1",
      B: "two",
      C: "three",
      D: "",
      "E.f-g": "x",
    });
  });

  it("strips trailing comments from unquoted values only after whitespace", () => {
    expect(values("A=abc # note\nB=abc#def\nC= # only a comment\nD=a b  c\t# x\n")).toEqual({
      A: "abc",
      B: "abc#def",
      C: "",
      D: "a b  c",
    });
  });

  it("reads single quotes literally and decodes double-quote escapes", () => {
    const text = [
      `A='it is $HOME # not a comment'`,
      `B='back\\slash\\n'`,
      `C="line1\\nline2 \\"q\\" back\\\\ \\$x"`,
      `D="  padded  " # comment`,
      `E=''`,
      `F="a\\qb"`,
    ].join("\n");
    expect(values(text)).toEqual({
      A: "it is $HOME # not a comment",
      B: "back\\slash\\n",
      C: 'line1\nline2 "q" back\\ $x',
      D: "  padded  ",
      E: "",
      F: "a\\qb",
    });
  });

  it("reads multi-line quoted values and keeps their raw text", () => {
    const text = 'KEY="-----BEGIN-----\nabc\n-----END-----"\nNEXT=1\n';
    const file = parseEnvFile("x", text, true);
    expect(file.lines).toEqual([
      {
        kind: "entry",
        raw: 'KEY="-----BEGIN-----\nabc\n-----END-----"',
        line: 1,
        key: "KEY",
        value: "-----BEGIN-----\nabc\n-----END-----",
        markedSecret: false,
      },
      { kind: "entry", raw: "NEXT=1", line: 4, key: "NEXT", value: "1", markedSecret: false },
    ]);
  });

  it("keeps blank and comment lines with their line numbers", () => {
    const file = parseEnvFile("x", "# head\n\n  \nA=1\n", true);
    expect(file.lines.map((l) => [l.kind, l.line, l.raw])).toEqual([
      ["comment", 1, "# head"],
      ["blank", 2, ""],
      ["blank", 3, "  "],
      ["entry", 4, "A=1"],
    ]);
  });

  it("reads CRLF files", () => {
    expect(values("A=1\r\nB='x y'\r\n")).toEqual({ A: "1", B: "x y" });
  });

  it("marks @secret from the line's own comment or the comment line right above", () => {
    const text = [
      "API=  # @secret",
      "# @secret: the signing key",
      "SIGNING=",
      "# @secret",
      "",
      "NOT_ADJACENT=",
      'QUOTED="" # @secret',
      "PLAIN= # just a note",
    ].join("\n");
    const marked = parseEnvFile("x", text, true).lines.flatMap((l) =>
      l.kind === "entry" ? [[l.key, l.markedSecret]] : [],
    );
    expect(marked).toEqual([
      ["API", true],
      ["SIGNING", true],
      ["NOT_ADJACENT", false],
      ["QUOTED", true],
      ["PLAIN", false],
    ]);
  });

  it("last duplicate wins in envValues", () => {
    expect(values("A=1\nA=2\n")).toEqual({ A: "2" });
  });
});

describe("parseEnvFile strict errors", () => {
  it.each([
    ["missing =", "A=1\nhunter2secret\n", ".env.example:2:14: missing"],
    ["missing = after a key and a space", "MY_KEY topsecretvalue\n", ".env.example:1:7: missing"],
    ["key starting with a digit", "1KEY=topsecretvalue\n", ".env.example:1:1: invalid variable name"],
    ["bad char in key", "export MY$KEY=topsecretvalue\n", ".env.example:1:10: invalid variable name"],
    ["space inside key", "MY KEY=topsecretvalue\n", ".env.example:1:3: invalid variable name"],
    ["empty key", "  =topsecretvalue\n", ".env.example:1:3: invalid variable name"],
    ["unterminated double", 'A=1\nB= "topsecretvalue\nC=2\n', ".env.example:2:4: unterminated double-quoted"],
    ["unterminated single", "B='topsecretvalue\n", ".env.example:1:3: unterminated single-quoted"],
    [
      "junk after quote",
      "B='topsecret'value\n",
      ".env.example:1:14: unexpected text after the closing quote",
    ],
    [
      "junk after multi-line",
      'A=1\nB="top\nsecret" value\n',
      ".env.example:3:9: unexpected text after the closing quote",
    ],
  ])("%s", (_name, text, prefix) => {
    const message = strictError(text);
    expect(message?.startsWith(prefix), message).toBe(true);
    expect(message).toContain("a valid line looks like KEY=value");
    expect(message).not.toMatch(/hunter|secret/i);
  });

  it("lenient mode keeps malformed lines verbatim as comments", () => {
    const text = 'GOOD=1\nhunter2\nB="x" junk\n1BAD=2\nC="never closed\nLAST=ok\n';
    const file = parseEnvFile("server .env", text, false);
    expect(file.lines.map((l) => [l.kind, l.line, l.raw])).toEqual([
      ["entry", 1, "GOOD=1"],
      ["comment", 2, "hunter2"],
      ["comment", 3, 'B="x" junk'],
      ["comment", 4, "1BAD=2"],
      ["comment", 5, 'C="never closed'],
      ["entry", 6, "LAST=ok"],
    ]);
    expect(Object.fromEntries(envValues(file))).toEqual({ GOOD: "1", LAST: "ok" });
  });
});

describe("isSecretLike", () => {
  it.each([
    ["POSTGRES_PASSWORD", true],
    ["db_password", true],
    ["SECRET_KEY_BASE", true],
    ["GITHUB_TOKEN", true],
    ["AUTH_SALT", true],
    ["API_KEY", true],
    ["ENCRYPTION_KEYS", true],
    ["key", true],
    ["KEYCLOAK_URL", false],
    ["MONKEY", false],
    ["API_KEY_ID", false],
    ["POSTGRES_USER", false],
  ])("%s -> %s", (key, expected) => {
    expect(isSecretLike(key)).toBe(expected);
  });
});

describe("formatEntry", () => {
  it.each([
    ["", "K="],
    ["abc-1.2_3/x:y@z%+,", "K=abc-1.2_3/x:y@z%+,"],
    ["has space", "K='has space'"],
    ["a#b", "K='a#b'"],
    [`$HOME and \${X}`, `K='$HOME and \${X}'`],
    ["a=b", "K='a=b'"],
    ['say "hi"', `K='say "hi"'`],
    ["it's", `K="it's"`],
    ["it's $5", `K="it's \\$5"`],
    ["line1\nline2", 'K="line1\\nline2"'],
    ["ends with \\", 'K="ends with \\\\"'],
    ["back\\slash 'q' \"dq\" \r", 'K="back\\\\slash \'q\' \\"dq\\" \\r"'],
    ["  padded  ", "K='  padded  '"],
  ])("formats %j", (value, line) => {
    expect(formatEntry("K", value)).toBe(line);
    // Our parser (compose's reading) gives the value back exactly.
    expect(envValues(parseEnvFile("x", `${line}\nNEXT=1\n`, true))).toEqual(
      new Map([
        ["K", value],
        ["NEXT", "1"],
      ]),
    );
  });

  it.each(["", "has space", "a#b", "$HOME", "a=b", 'say "hi"', "it's", "line1\nline2", "  padded  "])(
    "dotenv reads %j back too",
    (value) => {
      expect(dotenvParse(`${formatEntry("K", value)}\n`)).toEqual({ K: value });
    },
  );
});
