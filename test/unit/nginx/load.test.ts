import { describe, expect, it } from "vitest";
import { loadNginx } from "../../../src/nginx/load.js";
import { type Directive, NginxSyntaxError } from "../../../src/nginx/parse.js";

/** Each directive as "name args@file:line", blocks flattened in order. */
function where(directives: Directive[]): string[] {
  return directives.flatMap((directive) => [
    `${[directive.name, ...directive.args].join(" ")}@${directive.file}:${directive.line}`,
    ...where(directive.block ?? []),
  ]);
}

const MAIN = "/etc/nginx/nginx.conf";

describe("loadNginx", () => {
  it("replaces each include where it stands, with the included file's own positions", () => {
    const loaded = loadNginx(
      [
        { path: MAIN, text: "user www;\nhttp {\n  include mime.types;\n  include /etc/nginx/sites-enabled/app;\n  gzip on;\n}\n" },
        { path: "/etc/nginx/mime.types", text: "types { text/html html; }\n" },
        { path: "/etc/nginx/sites-enabled/app", text: "\nserver {\n  include snippets/ssl.conf;\n}\n" },
        { path: "/etc/nginx/snippets/ssl.conf", text: "listen 443 ssl;\n" },
        { path: "/etc/nginx/unused.conf", text: "this is never read because nothing includes it {" },
      ],
      MAIN,
    );
    expect(where(loaded.root)).toEqual([
      `user www@${MAIN}:1`,
      `http@${MAIN}:2`,
      "types@/etc/nginx/mime.types:1",
      "text/html html@/etc/nginx/mime.types:1",
      "server@/etc/nginx/sites-enabled/app:2",
      "listen 443 ssl@/etc/nginx/snippets/ssl.conf:1",
      `gzip on@${MAIN}:5`,
    ]);
    expect(loaded.files).toEqual([MAIN, "/etc/nginx/mime.types", "/etc/nginx/sites-enabled/app", "/etc/nginx/snippets/ssl.conf"]);
    expect(loaded.missing).toEqual([]);
  });

  it("includes a glob's matches in byte order, `*` not matching dot-files or '/', `?` and `[...]` as glob(3)", () => {
    const site = (name: string): { path: string; text: string } => ({ path: `/etc/nginx/conf.d/${name}`, text: `# ${name}\n` });
    const loaded = loadNginx(
      [
        { path: MAIN, text: "include conf.d/*.conf;\ninclude conf.d/?.site;\ninclude conf.d/[bc]*.x;\n" },
        site("b.conf"),
        site("B.conf"),
        site("a.conf"),
        site("a-2.conf"),
        site(".hidden.conf"),
        site("sub/c.conf"),
        site("1.site"),
        site("12.site"),
        site("b.x"),
        site("c1.x"),
        site("d.x"),
      ],
      MAIN,
    );
    expect(loaded.root.map((directive) => directive.args[0])).toEqual([
      " B.conf",
      " a-2.conf",
      " a.conf",
      " b.conf",
      " 1.site",
      " b.x",
      " c1.x",
    ]);
    expect(loaded.missing).toEqual([]);
  });

  it("reports a plain include with no such file as missing, and a glob with no match as nothing", () => {
    const loaded = loadNginx([{ path: MAIN, text: "http {\n  include sites-enabled/*;\n  include /etc/nginx/proxy_params;\n}\n" }], MAIN);
    expect(loaded.root).toMatchObject([{ name: "http", block: [] }]);
    expect(loaded.missing).toEqual([{ include: "/etc/nginx/proxy_params", file: MAIN, line: 3 }]);
  });

  it("reads a file included twice twice, but lists it once", () => {
    const loaded = loadNginx(
      [
        { path: MAIN, text: "server { include p; }\nserver { include p; }\n" },
        { path: "/etc/nginx/p", text: "proxy_set_header Host $host;\n" },
      ],
      MAIN,
    );
    expect(where(loaded.root)).toEqual([
      `server@${MAIN}:1`,
      "proxy_set_header Host $host@/etc/nginx/p:1",
      `server@${MAIN}:2`,
      "proxy_set_header Host $host@/etc/nginx/p:1",
    ]);
    expect(loaded.files).toEqual([MAIN, "/etc/nginx/p"]);
  });

  it("stops an include cycle with a syntax error at the include that closes it", () => {
    const files = [
      { path: MAIN, text: "include a.conf;\n" },
      { path: "/etc/nginx/a.conf", text: "\ninclude /etc/nginx/b*.conf;\n" },
      { path: "/etc/nginx/b.conf", text: "\n\n  include a.conf;\n" },
    ];
    expect(() => loadNginx(files, MAIN)).toThrow(NginxSyntaxError);
    expect(() => loadNginx(files, MAIN)).toThrow(
      "/etc/nginx/b.conf:3:3: include cycle: /etc/nginx/a.conf is already being read (/etc/nginx/nginx.conf -> /etc/nginx/a.conf -> /etc/nginx/b.conf -> /etc/nginx/a.conf)",
    );
    expect(() => loadNginx([{ path: MAIN, text: "include nginx.conf;\n" }], MAIN)).toThrow("include cycle");
  });

  it("throws the syntax error of an included file, at its own position", () => {
    expect(() => loadNginx([{ path: MAIN, text: "include x.conf;\n" }, { path: "/etc/nginx/x.conf", text: "server {\n" }], MAIN)).toThrow(
      '/etc/nginx/x.conf:2:1: unexpected end of file, expecting "}" to close "server" at line 1',
    );
  });

  it("says so when the main file is not among the files", () => {
    expect(() => loadNginx([], MAIN)).toThrow(`${MAIN}: not among the nginx files read.`);
  });
});
