import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { InputError } from "../../../src/errors.js";
import { type Directive, NginxSyntaxError, parseNginx, splitDump } from "../../../src/nginx/parse.js";

const parse = (text: string): Directive[] => parseNginx({ path: "/etc/nginx/x.conf", text });

/** What a directive says, without where. */
interface Written {
  name: string;
  args: string[];
  block?: Written[];
}

/** name and args only, blocks nested, to compare structure. */
function shape(directives: Written[]): unknown[] {
  return directives.map((directive) => (directive.block ? [directive.name, directive.args, shape(directive.block)] : [directive.name, directive.args]));
}

function syntaxError(text: string): string {
  try {
    parse(text);
  } catch (error) {
    expect(error).toBeInstanceOf(NginxSyntaxError);
    expect(error).toBeInstanceOf(InputError);
    return (error as Error).message;
  }
  throw new Error("parsed without an error");
}

describe("parseNginx", () => {
  it("reads directives, blocks and their positions", () => {
    const directives = parse("user www-data;\nhttp {\n    server {\n\tlisten 80;\n    }\n}\n");
    expect(shape(directives)).toEqual([
      ["user", ["www-data"]],
      ["http", [], [["server", [], [["listen", ["80"]]]]]],
    ]);
    const [user, http] = directives;
    expect(user).toMatchObject({ file: "/etc/nginx/x.conf", line: 1, col: 1, end: { line: 1, col: 15 } });
    expect(http).toMatchObject({ line: 2, col: 1, end: { line: 6, col: 2 } });
    const server = http?.block?.[0];
    expect(server).toMatchObject({ line: 3, col: 5, end: { line: 5, col: 6 } });
    expect(server?.block?.[0]).toMatchObject({ name: "listen", line: 4, col: 2, end: { line: 4, col: 12 } });
  });

  it("keeps comments as '#' directives, in order, with their text after the '#'", () => {
    const directives = parse("# top\nserver { # deploy-vps: direct\n  listen 80; #trailing\r\n}\n");
    expect(shape(directives)).toEqual([
      ["#", [" top"]],
      ["server", [], [["#", [" deploy-vps: direct"]], ["listen", ["80"]], ["#", ["trailing"]]]],
    ]);
    expect(directives[1]?.block?.[0]).toMatchObject({ line: 2, col: 10 });
  });

  it("reads '#' as a comment only at the start of a word", () => {
    expect(shape(parse("add_header X-A a#b;\nreturn 200 x;#c\n"))).toEqual([
      ["add_header", ["X-A", "a#b"]],
      ["return", ["200", "x"]],
      ["#", ["c"]],
    ]);
  });

  it("unquotes single and double quotes with nginx's escapes; quotes may hold spaces, ';', '{', '#'", () => {
    const directives = parse(
      `add_header X-Say "hello; {world} # not a comment";\nadd_header X-Q 'it\\'s "here"';\nreturn 200 "tab\\tnew\\nline \\x";\nset $a "";\n`,
    );
    expect(shape(directives)).toEqual([
      ["add_header", ["X-Say", "hello; {world} # not a comment"]],
      ["add_header", ["X-Q", `it's "here"`]],
      ["return", ["200", "tab\tnew\nline \\x"]],
      ["set", ["$a", ""]],
    ]);
  });

  it("reads ${var} inside a word, and '}' inside a word as part of it", () => {
    expect(shape(parse("set $x ${host}_${uri}/a};\nlocation /x{return 204;}\n"))).toEqual([
      ["set", ["$x", "${host}_${uri}/a}"]],
      ["location", ["/x"], [["return", ["204"]]]],
    ]);
  });

  it("reads a directive over several lines, and '{' on the next line", () => {
    const directives = parse("server\n{\n  server_name\n     a.example.com\n     b.example.com\n  ;\n}\n");
    expect(shape(directives)).toEqual([["server", [], [["server_name", ["a.example.com", "b.example.com"]]]]]);
    expect(directives[0]?.block?.[0]).toMatchObject({ line: 3, col: 3, end: { line: 6, col: 4 } });
  });

  it("reads `if` conditions with a quoted word before ')'", () => {
    expect(shape(parse('if ($http_x = "a b") { return 403; }\n'))).toEqual([["if", ["($http_x", "=", "a b", ")"], [["return", ["403"]]]]]);
  });

  it("keeps a *_by_lua_block body as one raw argument, braces in Lua strings and comments included", () => {
    const lua = `\n    local t = { a = "}" , b = '{' }\n    -- a comment with }\n    ngx.say([[ } ]], [==[ ]] } ]==])\n    --[[ long } comment ]]\n`;
    const directives = parse(`location / {\n  content_by_lua_block {${lua}}\n  set_by_lua_block $v { return "}" }\n  add_header X a;\n}\n`);
    expect(shape(directives)).toEqual([
      [
        "location",
        ["/"],
        [
          ["content_by_lua_block", [lua]],
          ["set_by_lua_block", ["$v", ' return "}" ']],
          ["add_header", ["X", "a"]],
        ],
      ],
    ]);
    const block = directives[0]?.block ?? [];
    expect(block[0]).toMatchObject({ line: 2, col: 3, end: { line: 7, col: 2 } });
    expect(block[2]).toMatchObject({ line: 9, col: 3 });
  });

  it("reads CRLF files and tabs, counting lines and columns as nginx's editor does", () => {
    const directives = parse("http {\r\n\tserver {\r\n\t\tlisten\t443 ssl;\r\n\t}\r\n}\r\n");
    const listen = directives[0]?.block?.[0]?.block?.[0];
    expect(listen).toMatchObject({ name: "listen", args: ["443", "ssl"], line: 3, col: 3, end: { line: 3, col: 18 } });
  });

  it.each([
    ["server {\n  listen 80;\n}\n}\n", '/etc/nginx/x.conf:4:1: unexpected "}"'],
    ["http {\n  server {\n    listen 80;\n  }\n", '/etc/nginx/x.conf:5:1: unexpected end of file, expecting "}" to close "http" at line 1'],
    ['add_header X "abc;\n', "/etc/nginx/x.conf:1:14: unterminated quoted string (\" never closed)"],
    ["location / {\n  proxy_pass http://a\n}\n", '/etc/nginx/x.conf:2:22: directive "proxy_pass" has no ";" before "}"'],
    ["user www\n", '/etc/nginx/x.conf:1:9: directive "user" has no ";" before the end of the file'],
    ['add_header X "a"b;\n', '/etc/nginx/x.conf:1:17: unexpected "b" after a quoted string'],
    ["server {\n  ;\n}\n", '/etc/nginx/x.conf:2:3: unexpected ";"'],
    ["{ listen 80; }\n", '/etc/nginx/x.conf:1:1: unexpected "{"'],
    ["content_by_lua_block {\n  ngx.say('x')\n", "/etc/nginx/x.conf:3:1: unexpected end of file in the Lua block opened at line 1"],
    ["content_by_lua_block {\n  ngx.say('x)\n}\n", "/etc/nginx/x.conf:2:11: unterminated Lua string"],
  ])("points at the error in %j", (text, message) => {
    expect(syntaxError(text)).toBe(message);
  });

  it("throws nothing but NginxSyntaxError, whatever the input", () => {
    const alphabet = fc.constantFrom(..."ab;{}#\"'\\$ \t\r\n_by_lua_block[]=-".split(""), "content_by_lua_block", "server", "listen");
    fc.assert(
      fc.property(fc.array(alphabet, { maxLength: 60 }), (parts) => {
        try {
          parse(parts.join(""));
        } catch (error) {
          if (!(error instanceof NginxSyntaxError)) throw error;
        }
      }),
      { numRuns: 2000 },
    );
  });
});

/** Prints directives back as nginx text, every word quoted. */
function print(directives: Written[]): string {
  const quote = (word: string): string => `"${word.replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`;
  return directives
    .map((directive) => {
      if (directive.name === "#") return `#${directive.args[0] ?? ""}\n`;
      const words = [directive.name, ...directive.args].map(quote).join(" ");
      return directive.block ? `${words} {\n${print(directive.block)}}\n` : `${words};\n`;
    })
    .join("");
}

describe("parse(print(directives))", () => {
  const word = fc.string({ maxLength: 8 }).filter((text) => !text.includes("\r"));
  const comment = fc.string({ maxLength: 10 }).filter((text) => !/[\r\n]/.test(text));
  const directive: fc.Memo<Written> = fc.memo((depth) =>
    fc.oneof(
      fc.record({ name: fc.constant("#"), args: comment.map((text) => [text]) }),
      fc.record({ name: word.filter((name) => name !== "" && name !== "#" && !name.endsWith("_by_lua_block")), args: fc.array(word, { maxLength: 3 }) }),
      depth > 1
        ? fc.record({ name: fc.constantFrom("server", "location", "http"), args: fc.array(word, { maxLength: 2 }), block: fc.array(directive(depth - 1), { maxLength: 3 }) })
        : fc.record({ name: fc.constant("listen"), args: fc.array(word, { maxLength: 2 }) }),
    ),
  );

  it("gives back the same names, args and nesting", () => {
    fc.assert(
      fc.property(fc.array(directive(3), { maxLength: 4 }), (directives) => {
        expect(shape(parse(print(directives)))).toEqual(shape(directives));
      }),
      { numRuns: 500 },
    );
  });
});

describe("splitDump", () => {
  it("splits nginx -T output at its headers, ignoring nginx's own lines before the first", () => {
    const dump = [
      "nginx: the configuration file /etc/nginx/nginx.conf syntax is ok",
      "nginx: configuration file /etc/nginx/nginx.conf test is successful",
      "# configuration file /etc/nginx/nginx.conf:",
      "http {",
      "    include /etc/nginx/conf.d/*.conf;",
      "}",
      "",
      "# configuration file /etc/nginx/conf.d/a.conf:",
      "server { listen 80; }",
      "# configuration file /etc/nginx/conf.d/b.conf:",
      "",
      "",
      "",
    ].join("\n");
    expect(splitDump(dump)).toEqual([
      { path: "/etc/nginx/nginx.conf", text: "http {\n    include /etc/nginx/conf.d/*.conf;\n}\n" },
      { path: "/etc/nginx/conf.d/a.conf", text: "server { listen 80; }" },
      { path: "/etc/nginx/conf.d/b.conf", text: "\n" },
    ]);
  });

  it("keeps a file's own CRLF lines, and reads a dump whose every line ends in CRLF", () => {
    expect(splitDump("# configuration file /a.conf:\nuser x;\r\n\n")).toEqual([{ path: "/a.conf", text: "user x;\r\n" }]);
    expect(splitDump("# configuration file /a.conf:\r\nuser x;\r\n\r\n# configuration file /b.conf:\r\nuser y;\r\n")).toEqual([
      { path: "/a.conf", text: "user x;\r\n" },
      { path: "/b.conf", text: "user y;" },
    ]);
  });

  it("reads a dump cut short of its last line feed", () => {
    expect(splitDump("# configuration file /a.conf:\nuser x;")).toEqual([{ path: "/a.conf", text: "user x;" }]);
    expect(splitDump("")).toEqual([]);
  });

  it("gives each file's text so that parse positions are the file's own", () => {
    const [file] = splitDump("nginx: ok\n# configuration file /a.conf:\n\n\nserver {}\n\n");
    expect(parseNginx(file ?? { path: "", text: "" })[0]).toMatchObject({ name: "server", line: 3, col: 1 });
  });
});
