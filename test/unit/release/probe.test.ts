import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { once } from "node:events";
import { createServer } from "node:net";
import { afterAll, describe, expect, it } from "vitest";
import { EnvironmentError } from "../../../src/errors.js";
import {
  chooseCompose,
  parseProbe,
  probeScript,
  type ServerState,
  serverError,
} from "../../../src/release/probe.js";

import { layoutEnv, serverLayout } from "../../../src/release/layout.js";
import { remoteScript } from "../../../src/remote/script.js";

const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");

function state(overrides: Partial<ServerState> = {}): ServerState {
  return {
    app: "/home/deploy/apps/shop",
    appKind: "dir",
    docker: { status: "ok" },
    compose: { v2: "2.27.0" },
    hasTar: true,
    otherFolders: [],
    ...overrides,
  };
}

describe("parseProbe", () => {
  it("decodes every base64 field", () => {
    const env = "POSTGRES_PASSWORD=s3cr=t\nQUOTE='a b'\n";
    const stdout = [
      `app=${b64("/home/deploy/apps/my shop")}`,
      "kind=dir",
      "docker=ok",
      `compose2=${b64("2.27.0\n")}`,
      `compose1=${b64("/usr/local/bin/docker-compose")}`,
      "tar=ok",
      `project=${b64("myshop\n")}`,
      `current=${b64("20240501T100000123Z\n")}`,
      `labelled=${b64("shop")}`,
      `others=${b64("/srv/old shop\n/srv/x")}`,
      "proxySocket=ok",
      "curl=ok",
      `env=${b64(env)}`,
      "end=",
      "",
    ].join("\n");
    expect(parseProbe(stdout)).toEqual({
      app: "/home/deploy/apps/my shop",
      appKind: "dir",
      docker: { status: "ok" },
      compose: { v2: "2.27.0", v1: "/usr/local/bin/docker-compose" },
      hasTar: true,
      project: "myshop",
      labelledProject: "shop",
      otherFolders: ["/srv/old shop", "/srv/x"],
      current: "20240501T100000123Z",
      env,
      proxySocket: true,
      hasCurl: true,
    });
  });

  it("reads a bare server: nothing installed, folder missing", () => {
    const stdout = `app=${b64("/srv/app")}\nkind=missing\ndocker=missing\nend=\n`;
    expect(parseProbe(stdout)).toEqual({
      app: "/srv/app",
      appKind: "missing",
      docker: { status: "missing" },
      compose: { v2: undefined, v1: undefined },
      hasTar: false,
      project: undefined,
      labelledProject: undefined,
      otherFolders: [],
      current: undefined,
      env: undefined,
      proxySocket: false,
      hasCurl: false,
    });
  });

  it("decodes the docker error message", () => {
    const message = "permission denied while trying to connect to the Docker daemon socket\nsecond line";
    const stdout = `app=${b64("/srv/app")}\nkind=file\ndocker=error\ndockerMessage=${b64(message)}\nend=\n`;
    const parsed = parseProbe(stdout);
    expect(parsed.docker).toEqual({ status: "error", message });
    expect(parsed.appKind).toBe("file");
  });

  it("keeps an empty server .env as an empty string, not as missing", () => {
    expect(parseProbe(`app=${b64("/a")}\nenv=\nend=\n`).env).toBe("");
  });

  it("ignores lines without a key, such as login banners", () => {
    const stdout = `Welcome to Ubuntu\n=junk\napp=${b64("/a")}\nkind=dir\ndocker=ok\ntar=ok\nend=\n`;
    expect(parseProbe(stdout)).toMatchObject({ app: "/a", appKind: "dir", hasTar: true });
  });

  it.each([
    ["no end marker", `app=${b64("/a")}\nkind=dir\ndocker=ok\n`],
    ["no app", "kind=dir\ndocker=ok\nend=\n"],
    ["empty output", ""],
  ])("throws on a cut answer: %s", (_, stdout) => {
    expect(() => parseProbe(stdout)).toThrow(EnvironmentError);
    expect(() => parseProbe(stdout)).toThrow(
      "the server's answer to the probe was cut short; is it a POSIX shell with base64, sed and tar?",
    );
  });
});

/** The refusal's one line, as the user reads it. */
const serverProblems = (state: Parameters<typeof serverError>[0], host: string, forced?: "v1" | "v2") =>
  serverError(state, host, { forced })?.message;

describe("serverError's kind of refusal", () => {
  it("a path that is a file or missing (when it must exist) is bad input, exit 2; a lacking server is exit 1", () => {
    expect(serverError(state({ appKind: "file" }), "vps")?.exitCode).toBe(2);
    expect(serverError(state({ appKind: "missing" }), "vps", { mustExist: true })?.exitCode).toBe(2);
    expect(serverError(state({ appKind: "missing" }), "vps", { mustExist: true })?.message).toContain("does not exist; give the app folder with --path");
    expect(serverError(state({ hasTar: false }), "vps")?.exitCode).toBe(1);
    expect(serverError(state({ docker: { status: "missing" } }), "vps")?.exitCode).toBe(1);
  });
});

describe("serverProblems", () => {
  it("accepts a ready server", () => {
    expect(serverProblems(state(), "vps")).toBeUndefined();
    expect(serverProblems(state({ appKind: "missing" }), "vps")).toBeUndefined();
    expect(serverProblems(state({ compose: { v1: "/usr/bin/docker-compose" } }), "vps")).toBeUndefined();
  });

  it("refuses an app path that is a file", () => {
    expect(serverProblems(state({ appKind: "file", app: "/srv/shop" }), "vps")).toBe(
      "vps:/srv/shop is a file, not a folder; choose another --path.",
    );
  });

  it("needs tar, and GNU tar", () => {
    expect(serverProblems(state({ hasTar: false }), "vps")).toBe(
      "vps has no tar; install it (apt-get install tar).",
    );
    expect(serverProblems(state({ hasTar: false, otherTar: "tar (busybox) 1.36.1" }), "vps")).toBe(
      "vps's tar is not GNU tar (tar (busybox) 1.36.1); install GNU tar (apt-get install tar, or apk add tar on Alpine).",
    );
  });

  it("needs docker", () => {
    expect(serverProblems(state({ docker: { status: "missing" } }), "vps")).toBe(
      "vps has no docker command; install Docker Engine (https://docs.docker.com/engine/install/).",
    );
  });

  it("explains a permission denied on the Docker socket", () => {
    const message =
      "permission denied while trying to connect to the Docker daemon socket at unix:///var/run/docker.sock";
    const problem = serverProblems(state({ docker: { status: "error", message } }), "vps");
    expect(problem).toBe(
      "the SSH user on vps may not use Docker (permission denied on the Docker socket); run `sudo usermod -aG docker $USER` there and log in again.",
    );
    expect(
      serverProblems(state({ docker: { status: "error", message: "Got PERMISSION DENIED" } }), "h"),
    ).toContain("usermod -aG docker");
  });

  it("reports a daemon that does not answer, first line only", () => {
    const message =
      "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?\nmore";
    expect(serverProblems(state({ docker: { status: "error", message } }), "vps")).toBe(
      "Docker on vps does not answer: Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?; is dockerd running?",
    );
  });

  it("checks a forced compose version", () => {
    const v1Only = state({ compose: { v1: "/usr/bin/docker-compose" } });
    const v2Only = state({ compose: { v2: "2.27.0" } });
    expect(serverProblems(v1Only, "vps", "v2")).toBe(
      "vps has no Compose v2 (docker compose), which --compose v2 asks for.",
    );
    expect(serverProblems(v2Only, "vps", "v1")).toBe(
      "vps has no Compose v1 (docker-compose), which --compose v1 asks for.",
    );
    expect(serverProblems(v1Only, "vps", "v1")).toBeUndefined();
    expect(serverProblems(v2Only, "vps", "v2")).toBeUndefined();
  });

  it("needs some compose", () => {
    expect(serverProblems(state({ compose: {} }), "vps")).toBe(
      "vps has Docker but no Compose; install the docker-compose-plugin package.",
    );
  });

  it("reports the first problem: file before tar before docker", () => {
    const broken = state({ appKind: "file", hasTar: false, docker: { status: "missing" }, compose: {} });
    expect(serverProblems(broken, "h")).toBe(
      `h:${broken.app} is a file, not a folder; choose another --path.`,
    );
    expect(serverProblems({ ...broken, appKind: "dir" }, "h")).toBe(
      "h has no tar; install it (apt-get install tar).",
    );
    expect(serverProblems({ ...broken, appKind: "dir", hasTar: true }, "h")).toBe(
      "h has no docker command; install Docker Engine (https://docs.docker.com/engine/install/).",
    );
  });
});

describe("chooseCompose", () => {
  it("prefers v2, falls back to v1, and obeys a forced choice", () => {
    expect(chooseCompose(state({ compose: { v2: "2.27.0", v1: "/usr/bin/docker-compose" } }))).toBe("v2");
    expect(chooseCompose(state({ compose: { v1: "/usr/bin/docker-compose" } }))).toBe("v1");
    expect(chooseCompose(state({ compose: { v2: "2.27.0", v1: "/usr/bin/docker-compose" } }), "v1")).toBe(
      "v1",
    );
    expect(chooseCompose(state({ compose: { v1: "/usr/bin/docker-compose" } }), "v2")).toBe("v2");
  });
});

describe("probeScript in a local sh", () => {
  const home = mkdtempSync(join(tmpdir(), "deploy-vps-probe-"));
  const canary = "/tmp/pwned-probe";
  afterAll(() => rmSync(home, { recursive: true, force: true }));

  const run = (path: string, cwd = home, PATH = process.env.PATH) =>
    parseProbe(
      execFileSync("/bin/sh", ["-c", probeScript(path).code], {
        encoding: "utf8",
        cwd,
        env: { ...process.env, HOME: home, PATH },
      }),
    );

  /**
   * A PATH of the tools the probe uses, linked from this machine, and of a stand-in `docker`
   * (a shell script given as DOCKER, or none): each docker outcome, whatever this machine has.
   */
  const bin = join(home, "bin");
  const tools = ["base64", "basename", "cat", "cut", "dirname", "grep", "head", "ls", "mkdir", "mktemp", "mv", "rm", "sed", "sh", "sha256sum", "sort", "stat", "tail", "tar", "tr"];
  const pathWith = (docker: string | undefined): string => {
    rmSync(bin, { recursive: true, force: true });
    mkdirSync(bin);
    for (const tool of tools) symlinkSync(execFileSync("/bin/sh", ["-c", `command -v ${tool}`], { encoding: "utf8" }).trim(), join(bin, tool));
    if (docker !== undefined) writeFileSync(join(bin, "docker"), `#!/bin/sh\n${docker}\n`, { mode: 0o755 });
    return bin;
  };

  it("resolves ~ to an absolute path without running what the path contains", () => {
    rmSync(canary, { force: true });
    const parsed = run("~/apps/it's $(touch /tmp/pwned-probe) x");
    expect(parsed.app).toBe(`${home}/apps/it's $(touch /tmp/pwned-probe) x`);
    expect(parsed.appKind).toBe("missing");
    expect(existsSync(canary)).toBe(false);
  });

  it("finds the runtime proxy's control socket under $HOME, and curl on the PATH", async () => {
    const withCurl = pathWith(undefined);
    expect(run("apps/shop", home, withCurl)).toMatchObject({ proxySocket: false, hasCurl: false });
    writeFileSync(join(withCurl, "curl"), "#!/bin/sh\n", { mode: 0o755 });
    const state = join(home, ".local", "state", "deploy-vps-proxy");
    mkdirSync(state, { recursive: true });
    // A plain file is no socket: a proxy that never ran leaves none.
    writeFileSync(join(state, "control.sock"), "");
    expect(run("apps/shop", home, withCurl)).toMatchObject({ proxySocket: false, hasCurl: true });
    rmSync(join(state, "control.sock"));
    const server = createServer().listen(join(state, "control.sock"));
    try {
      await once(server, "listening");
      expect(run("apps/shop", home, withCurl)).toMatchObject({ proxySocket: true, hasCurl: true });
    } finally {
      server.close();
      rmSync(join(home, ".local"), { recursive: true, force: true });
    }
  });

  it("resolves a relative path against $HOME and tidies slashes", () => {
    expect(run("apps//shop/").app).toBe(`${home}/apps/shop`);
    expect(run("~").app).toBe(home);
    expect(run("/srv//x/").app).toBe("/srv/x");
  });

  it("reads the folder kind, the deploy state beside it and the server .env", () => {
    const app = join(home, "apps", "my shop");
    const stateDir = join(home, "apps", ".deploy-vps", "my shop");
    mkdirSync(app, { recursive: true });
    mkdirSync(stateDir, { recursive: true });
    const env = "A=1\nB='two words'\n";
    writeFileSync(join(app, ".env"), env);
    writeFileSync(join(stateDir, "project"), "myshop\n");
    writeFileSync(join(stateDir, "current"), "20240501T100000123Z\n");
    writeFileSync(join(home, "afile"), "x");

    const parsed = run("~/apps/my shop");
    expect(parsed).toMatchObject({
      app,
      appKind: "dir",
      project: "myshop",
      current: "20240501T100000123Z",
      env,
    });
    expect(parsed.hasTar).toBe(true);

    expect(run("afile")).toMatchObject({ app: join(home, "afile"), appKind: "file" });
  });

  it("reads docker as missing, answering with its compose version, or failing with its message", () => {
    const missing = run("~/apps", home, pathWith(undefined));
    expect(missing.docker).toEqual({ status: "missing" });
    expect(missing.compose).toEqual({});
    expect(missing.hasTar).toBe(true);

    const answering = run(
      "~/apps",
      home,
      pathWith('case "$1 $2" in "info "*) echo 27.3.1 ;; "compose version") echo 2.29.7 ;; *) ;; esac'),
    );
    expect(answering.docker).toEqual({ status: "ok" });
    expect(answering.compose).toEqual({ v2: "2.29.7" });

    const refusing = run(
      "~/apps",
      home,
      pathWith('[ "$1" = info ] && { echo "permission denied while trying to connect to the Docker daemon socket" >&2; echo second line >&2; exit 1; }; exit 1'),
    );
    expect(refusing.docker).toEqual({
      status: "error",
      message: "permission denied while trying to connect to the Docker daemon socket\nsecond line",
    });
    expect(refusing.compose).toEqual({});
  });

  it("asks the Compose v2 version once; the run's end keeps it in an existing state folder until the docker CLI or its plugin changes", () => {
    const calls = join(home, "compose-calls");
    const PATH = pathWith(`case "$1 $2" in "info "*) echo 27.3.1 ;; "compose version") echo x >> "${calls}"; echo 2.29.7 ;; esac`);
    const plugin = join(home, ".docker", "cli-plugins", "docker-compose");
    mkdirSync(dirname(plugin), { recursive: true });
    writeFileSync(plugin, "");
    const asked = () => (existsSync(calls) ? readFileSync(calls, "utf8").split("\n").length - 1 : 0);
    const remember = (app: string, state: ServerState) =>
      execFileSync("/bin/sh", ["-c", remoteScript("remember-compose", { env: layoutEnv(serverLayout(app)), args: [state.composeKey ?? "", state.compose.v2 ?? ""] }).code], { env: { PATH } });

    const uncached = run("~/apps/uncached", home, PATH);
    expect(uncached.compose).toEqual({ v2: "2.29.7" });
    expect(uncached.composeKey).toContain(plugin);
    remember(uncached.app, uncached);
    expect(existsSync(join(home, "apps", ".deploy-vps", "uncached"))).toBe(false);

    mkdirSync(join(home, "apps", ".deploy-vps", "cached"), { recursive: true });
    const first = run("~/apps/cached", home, PATH);
    expect(existsSync(join(home, "apps", ".deploy-vps", "cached", "compose-version"))).toBe(false);
    remember(first.app, first);
    const before = asked();
    const cached = run("~/apps/cached", home, PATH);
    expect(cached.compose).toEqual({ v2: "2.29.7" });
    expect(cached.composeKey).toBeUndefined();
    expect(asked()).toBe(before);
    utimesSync(plugin, new Date(), new Date(Date.now() + 60_000));
    const upgraded = run("~/apps/cached", home, PATH);
    expect(upgraded.compose).toEqual({ v2: "2.29.7" });
    expect(upgraded.composeKey).toBeDefined();
    expect(asked()).toBe(before + 1);
  });

  it("takes the lock only when the server will not be refused, and leaves nothing behind otherwise", () => {
    const lock = { holder: { by: "ana", machine: "m", pid: 1, action: "deploy", since: "s" }, force: false };
    const probe = (path: string, docker: string | undefined) =>
      parseProbe(execFileSync("/bin/sh", ["-c", probeScript(path, { env: false, lock }).code], { encoding: "utf8", cwd: home, env: { HOME: home, PATH: pathWith(docker) } }));
    const answering = 'case "$1" in info) echo 27.3.1 ;; esac';
    expect(probe("~/apps/nodocker", undefined).lock).toBeUndefined();
    expect(existsSync(join(home, "apps", ".deploy-vps", "nodocker"))).toBe(false);
    expect(probe("afile", answering).lock).toBeUndefined();
    expect(probe("~/apps/locked", answering).lock).toEqual({ status: "taken" });
    expect(existsSync(join(home, "apps", ".deploy-vps", "locked", "lock", "info"))).toBe(true);
  });
});
