import { describe, expect, it } from "vitest";
import { InputError } from "../../../src/errors.js";
import { parseAddress, parseServeArgs } from "../../../src/proxy/serve-options.js";

describe("parseServeArgs (the daemon file's argv and `proxy serve`)", () => {
  it("fills the contract's defaults", () => {
    const options = parseServeArgs([]);
    expect(options.listen).toEqual({ host: "127.0.0.1", port: 8890 });
    expect(options.admin).toEqual({ host: "127.0.0.1", port: 8891 });
    expect(options.state).toMatch(/\/\.local\/state\/deploy-vps-proxy$/);
    expect(options.config).toBeUndefined();
    expect(options.dependencies).toBeUndefined();
    expect(options.dockerSocket).toBe("/var/run/docker.sock");
  });

  it("reads every option", () => {
    expect(parseServeArgs(["--listen", "0.0.0.0:80", "--admin", "[::1]:9001", "--state", "/s", "--config", "/c/config.yml", "--dependencies", "/c/dependencies.json", "--docker-socket", "/d.sock"])).toEqual({
      listen: { host: "0.0.0.0", port: 80 },
      admin: { host: "::1", port: 9001 },
      state: "/s",
      config: "/c/config.yml",
      dependencies: "/c/dependencies.json",
      dockerSocket: "/d.sock",
    });
  });

  it("refuses an unknown option, a stray word and a bad address, as input errors", () => {
    expect(() => parseServeArgs(["--bogus"])).toThrow(InputError);
    expect(() => parseServeArgs(["serve"])).toThrow(InputError);
    expect(() => parseServeArgs(["--listen", "8890"])).toThrow("--listen takes HOST:PORT (e.g. 127.0.0.1:8890), got '8890'.");
    for (const bad of ["127.0.0.1:0", "127.0.0.1:65536", "a b:80", ":80"]) expect(() => parseAddress("--admin", bad), bad).toThrow(InputError);
  });
});
