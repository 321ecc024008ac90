/**
 * Remote.run against the real sshd: each output stream is decoded and split into lines on its
 * own, so a character cut between two writes arrives whole and a line that stdout has not
 * finished is never joined to one from stderr.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Remote } from "../../src/ssh/connection.js";
import { sh } from "../../src/ssh/quote.js";
import { testHost } from "./harness.js";

let remote: Remote;

beforeAll(async () => {
  const host = testHost();
  remote = await Remote.connect({
    host: host.DEPLOY_HOST,
    port: Number(host.DEPLOY_PORT),
    user: host.DEPLOY_USER,
    identity: host.DEPLOY_SSH_KEY,
    knownHosts: host.DEPLOY_KNOWN_HOSTS,
    acceptNewHostKey: false,
    timeoutSeconds: 20,
  });
});
afterAll(() => remote?.close());

describe("Remote.run output", () => {
  it("decodes a character split between two writes whole, in lines and in stderr", async () => {
    const lines: string[] = [];
    // "é" is \303\251 in UTF-8; the pause makes the two bytes two SSH packets.
    const result = await remote.run(sh`printf 'caf\\303'; sleep 0.3; printf '\\251\\n'; printf 'na\\303' >&2; sleep 0.3; printf '\\257ve\\n' >&2`, {
      onLine: (line) => lines.push(line),
    });
    expect(result.code).toBe(0);
    expect(lines).toEqual(["café", "naïve"]);
    expect(result.stdout.toString("utf8")).toBe("café\n");
    expect(result.stderr).toBe("naïve\n");
  });

  it("keeps a partial stdout line apart from a stderr line written meanwhile", async () => {
    const lines: string[] = [];
    await remote.run(sh`printf 'Hello, '; sleep 0.3; echo 'warning: low disk' >&2; sleep 0.3; echo 'world'`, {
      onLine: (line) => lines.push(line),
    });
    expect(lines).toEqual(["warning: low disk", "Hello, world"]);
  });

  it("hides the values it was given in lines, stdout and stderr, however the writes cut them", async () => {
    const secret = "5b1e0c7d9a3f4e2b8c6d0a1f3e5b7c9d";
    remote.secrets.add(secret, true);
    const lines: string[] = [];
    const result = await remote.run(
      sh`printf 'Invalid containerPort: ${secret.slice(0, 10)}'; sleep 0.3; printf '${secret.slice(10)}\\n'; echo ${`bad ${secret}`} >&2`,
      { onLine: (line) => lines.push(line) },
    );
    expect(lines).toEqual(["Invalid containerPort: [redacted]", "bad [redacted]"]);
    expect(result.stdout.toString("utf8")).toBe("Invalid containerPort: [redacted]\n");
    expect(result.stderr).toBe("bad [redacted]\n");
  });

  it("says in stderr that a command was killed by a signal, where it has no exit code", async () => {
    const result = await remote.run(sh`echo 'about to go' >&2; kill -KILL $$`);
    expect(result.code).toBe(-1);
    expect(result.stderr).toBe("about to go\n(the command was killed by SIGKILL)\n");
  });

  it("reads every exit status on a busy client, whose one read holds a command's start and its end", async () => {
    // A client that computes most of the time: the server's answers pile up between its reads.
    const busy = setInterval(() => {
      const until = Date.now() + 40;
      while (Date.now() < until);
    }, 50);
    try {
      const codes: number[] = [];
      for (let round = 0; round < 10; round++)
        codes.push(...(await Promise.all(Array.from({ length: 8 }, (_, i) => remote.run(sh`exit ${i}`)))).map((result) => result.code));
      expect(codes).toEqual(Array.from({ length: 10 }, () => [0, 1, 2, 3, 4, 5, 6, 7]).flat());
    } finally {
      clearInterval(busy);
    }
  });
});
