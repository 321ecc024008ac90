import { describe, expect, it } from "vitest";
import { loadNginx } from "../../../src/nginx/load.js";
import { isWildcardName, nginxSites, serverNameMatches, type Site } from "../../../src/nginx/sites.js";

const MAIN = "/etc/nginx/nginx.conf";

function sites(main: string, ...others: { path: string; text: string }[]): Site[] {
  return nginxSites(loadNginx([{ path: MAIN, text: main }, ...others], MAIN));
}

const at = (file: string, line: number, col: number): { file: string; line: number; col: number } => ({ file, line, col });

describe("nginxSites", () => {
  it("finds http servers with their names (lower-case), listens and proxy_pass locations, not stream servers", () => {
    const found = sites(
      "stream {\n  server { listen 5432; proxy_pass 127.0.0.1:5433; }\n}\nhttp {\n  include sites-enabled/*;\n}\n",
      {
        path: "/etc/nginx/sites-enabled/app",
        text: [
          "server {",
          "    listen 443 ssl;",
          "    listen [::]:443 ssl;",
          "    server_name App.Example.com www.app.example.com;",
          "    server_name _;",
          "    location / {",
          "        proxy_pass http://127.0.0.1:3000;",
          "    }",
          "    location ~ ^/api {",
          "        if ($request_method = POST) {",
          "            proxy_pass https://localhost/v2/;",
          "        }",
          "        location /api/ws { proxy_pass http://[::1]:8080/ws; }",
          "        limit_except GET { proxy_pass http://unix:/run/app.sock:/write; }",
          "    }",
          "    location /static { root /srv; }",
          "}",
        ].join("\n"),
      },
    );
    const file = "/etc/nginx/sites-enabled/app";
    expect(found).toEqual([
      {
        ...at(file, 1, 1),
        serverNames: ["app.example.com", "www.app.example.com", "_"],
        listens: ["443 ssl", "[::]:443 ssl"],
        direct: false,
        locations: [
          {
            path: "/",
            file,
            line: 6,
            proxyPass: {
              value: "http://127.0.0.1:3000",
              ...at(file, 7, 9),
              targets: [{ address: "127.0.0.1:3000", host: "127.0.0.1", port: 3000, backup: false, ...at(file, 7, 9) }],
              variable: false,
            },
          },
          {
            path: "~ ^/api",
            file,
            line: 9,
            proxyPass: {
              value: "https://localhost/v2/",
              ...at(file, 11, 13),
              targets: [{ address: "localhost", host: "localhost", port: 443, backup: false, ...at(file, 11, 13) }],
              variable: false,
            },
          },
          {
            path: "/api/ws",
            file,
            line: 13,
            proxyPass: {
              value: "http://[::1]:8080/ws",
              ...at(file, 13, 28),
              targets: [{ address: "[::1]:8080", host: "::1", port: 8080, backup: false, ...at(file, 13, 28) }],
              variable: false,
            },
          },
          {
            path: "~ ^/api",
            file,
            line: 9,
            proxyPass: {
              value: "http://unix:/run/app.sock:/write",
              ...at(file, 14, 28),
              targets: [{ address: "unix:/run/app.sock", unix: "/run/app.sock", backup: false, ...at(file, 14, 28) }],
              variable: false,
            },
          },
        ],
      },
    ]);
  });

  it("resolves upstream blocks defined before or after, backup servers and unix sockets included", () => {
    const found = sites(
      [
        "http {",
        "  upstream Before {",
        "    server 10.0.0.1:8001 weight=3 max_fails=2;",
        "    server app.internal backup;",
        "  }",
        "  server { location / { proxy_pass http://before; } }",
        "  server { location / { proxy_pass https://after:9000/x; } }",
        "  server { location / { proxy_pass http://before.example.com; } }",
        "  upstream after {",
        "    server unix:/run/a.sock backup;",
        "  }",
        "}",
      ].join("\n"),
    );
    expect(found.map((site) => site.locations.map((location) => location.proxyPass))).toEqual([
      [
        {
          value: "http://before",
          ...at(MAIN, 6, 25),
          upstream: "before",
          targets: [
            { address: "10.0.0.1:8001", host: "10.0.0.1", port: 8001, backup: false, ...at(MAIN, 3, 5) },
            { address: "app.internal", host: "app.internal", port: 80, backup: true, ...at(MAIN, 4, 5) },
          ],
          variable: false,
        },
      ],
      [
        {
          value: "https://after:9000/x",
          ...at(MAIN, 7, 25),
          upstream: "after",
          targets: [{ address: "unix:/run/a.sock", unix: "/run/a.sock", backup: true, ...at(MAIN, 10, 5) }],
          variable: false,
        },
      ],
      [
        {
          value: "http://before.example.com",
          ...at(MAIN, 8, 25),
          targets: [{ address: "before.example.com", host: "before.example.com", port: 80, backup: false, ...at(MAIN, 8, 25) }],
          variable: false,
        },
      ],
    ]);
  });

  it("marks a value with a variable as unresolvable", () => {
    const [site] = sites("http {\n  server { location / { set $b app; proxy_pass http://$b:3000$request_uri; } }\n}\n");
    expect(site?.locations[0]?.proxyPass).toEqual({ value: "http://$b:3000$request_uri", ...at(MAIN, 2, 37), targets: [], variable: true });
  });

  it.each([
    ["# deploy-vps: direct", true],
    ["#   deploy-vps:   direct   ", true],
    ["# deploy-vps: direct (static files)", true],
    ["# deploy-vps: directly", false],
    ["# not deploy-vps: direct", false],
    ['add_header X "# deploy-vps: direct";', false],
  ])("reads %j in a nested block as direct: %s", (line, direct) => {
    const [site] = sites(`http {\n  server {\n    location / {\n      ${line}\n    }\n  }\n}\n`);
    expect(site?.direct).toBe(direct);
  });

  it("does not take a marker outside the server block", () => {
    const found = sites("http {\n  # deploy-vps: direct\n  server { listen 80; }\n}\n# deploy-vps: direct\n");
    expect(found.map((site) => site.direct)).toEqual([false]);
  });
});

describe("serverNameMatches", () => {
  it.each([
    ["app.example.com", "App.Example.com", true],
    ["app.example.com", "www.app.example.com", false],
    [".example.com", "example.com", true],
    [".example.com", "a.b.example.com", true],
    [".example.com", "badexample.com", false],
    ["*.example.com", "a.example.com", true],
    ["*.example.com", "example.com", false],
    ["*.example.com", "badexample.com", false],
    ["www.example.*", "www.example.org", true],
    ["www.example.*", "www.examples.org", false],
    ["~^(www\\.)?shop\\.example\\.com$", "www.shop.example.com", true],
    ["~^(www\\.)?shop\\.example\\.com$", "shop.example.org", false],
    // PCRE's possessive quantifier: JavaScript cannot read it, so it may match.
    ["~^a++$", "b.example.com", true],
  ])("%s answers %s: %s", (name, host, answers) => {
    expect(serverNameMatches(name, host)).toBe(answers);
  });

  it("knows a wildcard name from a host", () => {
    expect(["*.example.com", ".example.com", "www.example.*"].map(isWildcardName)).toEqual([true, true, true]);
    expect(isWildcardName("app.example.com")).toBe(false);
  });
});
