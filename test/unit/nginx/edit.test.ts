import { describe, expect, it } from "vitest";
import { routeThroughProxy } from "../../../src/nginx/edit.js";
import { loadNginx } from "../../../src/nginx/load.js";
import { type Directive, parseNginx } from "../../../src/nginx/parse.js";
import { PROXY_LOCATION_DIRECTIVES } from "../../../src/proxy/nginx-block.js";

const FILE = "/etc/nginx/sites-available/shop";
const PROXY = "127.0.0.1:8890";

/** TEXT routed through the proxy at each [line, col]. */
function route(text: string, ...passes: [number, number][]): string {
  return routeThroughProxy(text, FILE, passes.map(([line, col]) => ({ line, col })), PROXY);
}

/** Every line PROXY_LOCATION_DIRECTIVES adds, indented. */
function added(indent: string, skip: string[] = []): string {
  const key = (words: readonly string[]): string => (words[0] === "proxy_set_header" ? words.slice(0, 2) : words.slice(0, 1)).join(" ");
  return PROXY_LOCATION_DIRECTIVES.filter((words) => !skip.includes(key(words)))
    .map((words) => `${indent}${words.join(" ")};\n`)
    .join("");
}

function passesIn(directives: Directive[]): Directive[] {
  return directives.flatMap((directive) => [...(directive.name === "proxy_pass" ? [directive] : []), ...passesIn(directive.block ?? [])]);
}

/** What the edit must keep as it is, around what it changes. */
const SHOP_HEAD = `# Managed by hand since 2021.
upstream shop_backend {
    server 127.0.0.1:3000;
    server 127.0.0.1:3001 backup;
}

server {
    listen 443 ssl http2;
    server_name shop.example.com;
    proxy_set_header X-Request-Id $request_id;

    location / {
`;
const SHOP_TAIL = `
    location /static/ {
        root /srv/shop;
    }
}
`;
const SHOP = `${SHOP_HEAD}        proxy_pass http://shop_backend; # the app
    }

\tlocation /api/ {
\t\tproxy_pass   https://localhost:4000/v1/;
\t\tproxy_set_header Host $host;
\t\tproxy_read_timeout 30s;
\t}
${SHOP_TAIL}`;

describe("routeThroughProxy", () => {
  it("changes only the proxy_pass addresses and adds the location's missing lines, every other byte kept", () => {
    const passes = passesIn(parseNginx({ path: FILE, text: SHOP }));
    const edited = routeThroughProxy(SHOP, FILE, passes, PROXY);
    expect(edited).toBe(`${SHOP_HEAD}        proxy_pass http://127.0.0.1:8890; # the app
        proxy_set_header X-Request-Id $request_id;
${added("        ")}    }

\tlocation /api/ {
\t\tproxy_pass   http://127.0.0.1:8890/v1/;
${added("\t\t", ["proxy_set_header Host", "proxy_read_timeout"])}\t\tproxy_set_header Host $host;
\t\tproxy_read_timeout 30s;
\t}
${SHOP_TAIL}`);
    const reparsed = passesIn(parseNginx({ path: FILE, text: edited }));
    expect(reparsed.map((pass) => pass.args)).toEqual([["http://127.0.0.1:8890"], ["http://127.0.0.1:8890/v1/"]]);
  });

  it("edits only the proxy_pass it is given, and is idempotent on its own output for the lines it adds", () => {
    const [first] = passesIn(parseNginx({ path: FILE, text: SHOP }));
    const once = routeThroughProxy(SHOP, FILE, first ? [first] : [], PROXY);
    expect(once).toContain("proxy_pass   https://localhost:4000/v1/;");
    const [again] = passesIn(parseNginx({ path: FILE, text: once }));
    expect(routeThroughProxy(once, FILE, again ? [again] : [], PROXY)).toBe(once);
  });

  it("repeats the headers a location inherits only when it has none of its own", () => {
    const text = "http {\n  proxy_set_header Host $http_host;\n  proxy_set_header Accept-Encoding '';\n  server {\n    location / {\n      proxy_pass http://app:80;\n    }\n  }\n}\n";
    expect(route(text, [6, 7])).toBe(
      `http {\n  proxy_set_header Host $http_host;\n  proxy_set_header Accept-Encoding '';\n  server {\n    location / {\n      proxy_pass http://127.0.0.1:8890;\n      proxy_set_header Host $http_host;\n      proxy_set_header Accept-Encoding "";\n${added("      ", ["proxy_set_header Host"])}    }\n  }\n}\n`,
    );
  });

  it("takes the headers of the nearest level that sets any: an enclosing location before the server", () => {
    const text = [
      "server {",
      "  proxy_set_header X-Server 1;",
      "  location /a/ {",
      '    proxy_set_header X-Outer "a b";',
      "    location /a/b/ {",
      "      proxy_pass http://app;",
      "    }",
      "  }",
      "}",
      "",
    ].join("\n");
    const edited = route(text, [6, 7]);
    expect(edited).toContain('      proxy_pass http://127.0.0.1:8890;\n      proxy_set_header X-Outer "a b";\n      proxy_http_version 1.1;\n');
    expect(edited).not.toContain("      proxy_set_header X-Server 1;");
  });

  it("puts the lines in the location, not in the if block holding the proxy_pass, and keeps a one-line location valid", () => {
    const text = "server {\n  location / {\n    if ($x) {\n      proxy_pass http://a;\n    }\n  }\n  location /b { proxy_pass http://b/x; }\n}\n";
    const edited = route(text, [4, 7], [7, 17]);
    const oneLine = PROXY_LOCATION_DIRECTIVES.map((words) => `\n  ${words.join(" ")};`).join("");
    expect(edited).toBe(
      `server {\n  location / {\n    if ($x) {\n      proxy_pass http://127.0.0.1:8890;\n    }\n${added("    ")}  }\n  location /b { proxy_pass http://127.0.0.1:8890/x;${oneLine} }\n}\n`,
    );
    expect(parseNginx({ path: FILE, text: edited })[0]?.block?.[1]?.block?.map((directive) => directive.name)).toEqual([
      "proxy_pass",
      ...PROXY_LOCATION_DIRECTIVES.map(([name = ""]) => name),
    ]);
  });

  it("adds the lines once for two proxy_pass in the same location", () => {
    const text = "location / {\n  if ($a) { proxy_pass http://a; }\n  proxy_pass http://b;\n}\n";
    const edited = route(text, [2, 13], [3, 3], [3, 3]);
    expect(edited).toBe(`location / {\n  if ($a) { proxy_pass http://127.0.0.1:8890; }\n${added("  ")}  proxy_pass http://127.0.0.1:8890;\n}\n`);
  });

  it("keeps CRLF line ends, quotes, a unix socket's URI and the file's end without a line feed", () => {
    const text = "location / {\r\n  proxy_pass 'https://unix:/run/a.sock:/p q';\r\n}";
    expect(route(text, [2, 3])).toBe(
      `location / {\r\n  proxy_pass 'http://127.0.0.1:8890/p q';\r\n${added("  ").replaceAll("\n", "\r\n")}}`,
    );
    const last = "location / { proxy_set_header Host $host; proxy_http_version 1.1; proxy_buffering off; proxy_request_buffering off;\nproxy_pass http://a; }";
    expect(route(last, [2, 1])).toContain("proxy_pass http://127.0.0.1:8890;\nproxy_set_header X-Real-IP $remote_addr;");
    const atEnd = "location /\n{ proxy_set_header Host $host;\nproxy_pass http://a;";
    expect(() => route(atEnd, [3, 1])).toThrow(`${FILE}:3:21: unexpected end of file`);
  });

  it("reads what the location sets and inherits from the configuration as loaded, when given", () => {
    const site = "server {\n  location / {\n    proxy_pass http://127.0.0.1:3000;\n    include proxy_params;\n  }\n  location /b/ {\n    proxy_pass http://127.0.0.1:3001;\n  }\n}\n";
    const loaded = loadNginx(
      [
        { path: "/etc/nginx/nginx.conf", text: 'http {\n  proxy_set_header X-Site "${host} site";\n  include sites-enabled/*;\n}\n' },
        { path: "/etc/nginx/sites-enabled/shop", text: site },
        {
          path: "/etc/nginx/proxy_params",
          text: "proxy_set_header Host $http_host;\nproxy_set_header X-Real-IP $remote_addr;\nproxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\nproxy_set_header X-Forwarded-Proto $scheme;\n",
        },
      ],
      "/etc/nginx/nginx.conf",
    );
    const fromProxyParams = ["proxy_set_header Host", "proxy_set_header X-Real-IP", "proxy_set_header X-Forwarded-For", "proxy_set_header X-Forwarded-Proto"];
    const shop = "/etc/nginx/sites-enabled/shop";
    // From the file alone, proxy_params is unknown: its Host would be set twice.
    expect(routeThroughProxy(site, shop, [{ line: 3, col: 5 }], PROXY)).toContain("proxy_set_header Host $host;");
    expect(routeThroughProxy(site, shop, [{ line: 3, col: 5 }, { line: 7, col: 5 }], PROXY, loaded)).toBe(
      `server {\n  location / {\n    proxy_pass http://127.0.0.1:8890;\n${added("    ", fromProxyParams)}    include proxy_params;\n  }\n  location /b/ {\n    proxy_pass http://127.0.0.1:8890;\n    proxy_set_header X-Site "\${host} site";\n${added("    ")}  }\n}\n`,
    );
  });

  it("refuses a proxy_pass outside any block", () => {
    expect(() => route("proxy_pass http://a;\n", [1, 1])).toThrow(`${FILE}:1:1: this proxy_pass is outside any block.`);
  });

  it("says where when a position is not a proxy_pass or has no address to replace", () => {
    expect(() => route(SHOP, [13, 1])).toThrow(`${FILE}:13:1: no proxy_pass directive starts here.`);
    expect(() => route(SHOP, [8, 5])).toThrow(`${FILE}:8:5: no proxy_pass directive starts here.`);
    expect(() => route("location / { proxy_pass $target; }", [1, 14])).toThrow(
      `${FILE}:1:14: proxy_pass $target has no http:// address to replace.`,
    );
  });
});
