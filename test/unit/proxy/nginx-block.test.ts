import { describe, expect, it } from "vitest";
import { InputError } from "../../../src/errors.js";
import { checkHostName, checkListen, nginxBlock } from "../../../src/proxy/nginx-block.js";

describe("checkHostName", () => {
  it("takes host names, lower-cased, and one leading wildcard label", () => {
    expect(["docs.example.com", "Shop.Example.COM", "localhost", "a-b.c1.io", "*.example.com"].map(checkHostName)).toEqual([
      "docs.example.com",
      "shop.example.com",
      "localhost",
      "a-b.c1.io",
      "*.example.com",
    ]);
  });

  it("refuses what nginx would read as something else, in one line", () => {
    for (const bad of ["bad_host!", "a b", "-a.com", "a-.com", "a..com", "*", "a.*.com", "x;y", "", `${"a".repeat(64)}.com`]) {
      expect(() => checkHostName(bad), bad).toThrow(InputError);
    }
    expect(() => checkHostName("bad_host!")).toThrow("'bad_host!' is not a host name (letters, digits, '-' and '.', or *.example.com).");
  });
});

describe("checkListen", () => {
  it("takes a port or ADDRESS:PORT", () => {
    expect(["80", "127.0.0.1:8080", "[::1]:443"].map(checkListen)).toEqual(["80", "127.0.0.1:8080", "[::1]:443"]);
    for (const bad of ["0", "70000", "http", "80;", "1.2.3.4:"]) expect(() => checkListen(bad), bad).toThrow(InputError);
  });
});

describe("nginxBlock", () => {
  const block = nginxBlock(["docs.example.com", "*.docs.example.com"], "80", { host: "127.0.0.1", port: 8890 });
  const directives = block.split("\n").map((line) => line.trim());

  it("sends every host to the proxy", () => {
    expect(directives).toContain("listen 80;");
    expect(directives).toContain("server_name docs.example.com *.docs.example.com;");
    expect(directives).toContain("proxy_pass http://127.0.0.1:8890;");
  });

  it("passes the client's address and scheme, and the Host, as nginx's own proxies do", () => {
    for (const line of [
      "proxy_set_header Host $host;",
      "proxy_set_header X-Real-IP $remote_addr;",
      "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
      "proxy_set_header X-Forwarded-Proto $scheme;",
    ])
      expect(directives).toContain(line);
  });

  it("lets websockets and streams through: HTTP/1.1, Upgrade and Connection as sent, no buffering, long reads", () => {
    for (const line of [
      "proxy_http_version 1.1;",
      "proxy_set_header Upgrade $http_upgrade;",
      "proxy_set_header Connection $http_connection;",
      "proxy_buffering off;",
      "proxy_request_buffering off;",
      "proxy_read_timeout 1h;",
      "proxy_connect_timeout 5s;",
    ])
      expect(directives).toContain(line);
  });

  it("writes an IPv6 proxy address in brackets", () => {
    expect(nginxBlock(["a.com"], "8080", { host: "::1", port: 9000 })).toContain("proxy_pass http://[::1]:9000;");
  });
});
