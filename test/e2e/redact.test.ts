/**
 * Issue 12, item 1: compose quotes .env values in its own error messages, and a crashing app
 * may print its password. No output of any mode, and no log the tool leaves on the server,
 * may hold a value of the server's .env.
 */
import { appendFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { onServer, projectCopy, removeStack, runCli, shq, uniqueName } from "./harness.js";

/** A loopback port nobody listens on now (the test host is this machine). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

function serverEnvValue(app: string, key: string): string {
  const line = onServer(`cat ${shq(`${app}/.env`)}`).split("\n").find((l) => l.startsWith(`${key}=`));
  const value = line?.slice(key.length + 1) ?? "";
  expect(value).toMatch(/^[0-9a-f]{64}$/);
  return value;
}

const failing = uniqueName("e2e-redact");
const crashing = uniqueName("e2e-redact-logs");
afterAll(() => {
  removeStack(failing, `apps/${failing}`);
  removeStack(crashing, `apps/${crashing}`);
});

describe("the values of the server's .env are never shown", () => {
  it("hides the password that compose quotes in its error, in text, --json, --verbose and --debug", async () => {
    const dir = projectCopy("compose/demo", failing);
    const port = await freePort();
    appendFileSync(
      join(dir, "compose.yaml"),
      `\n  leak:\n    image: local/busybox:latest\n    command: ["sleep", "1000"]\n    ports:\n      - "127.0.0.1:${port}:\${DB_PASSWORD}"\n`,
    );
    const args = [dir, "--path", `~/apps/${failing}`, "--settle", "2"];
    const env = { DEMO_PORT: String(await freePort()) };
    const runs = [
      await runCli(args, env),
      await runCli([...args, "--json"], env),
      await runCli([...args, "--debug"], env),
      await runCli([...args, "--verbose", "--debug"], env),
    ];
    const password = serverEnvValue(`apps/${failing}`, "DB_PASSWORD");
    for (const run of runs) {
      expect(run.code).toBe(1);
      expect(run.stderr).toContain("Invalid containerPort: [redacted]");
      expect(run.stdout + run.stderr).not.toContain(password);
      // Not even a piece long enough to tell.
      expect(run.stdout + run.stderr).not.toContain(password.slice(20, 36));
    }
    // The worker's log on the server held compose's raw message: owner-only, and emptied once streamed back.
    const state = `apps/.deploy-vps/${failing}`;
    expect(onServer(`stat -c %a ${shq(`${state}/worker.log`)}`).trim()).toBe("600");
    expect(onServer(`cat ${shq(`${state}/worker.log`)}`)).not.toContain(password);
  });

  it("hides a password that a crashing service prints, in the logs of deploy --json and monitor-vps --json", async () => {
    const dir = projectCopy("compose/demo", crashing);
    appendFileSync(
      join(dir, "compose.yaml"),
      `\n  crashy:\n    image: local/busybox:latest\n    environment:\n      DB_PASSWORD: \${DB_PASSWORD}\n` +
        `    command: ["sh", "-c", "echo connecting with password $$DB_PASSWORD; exit 1"]\n`,
    );
    const path = ["--path", `~/apps/${crashing}`];
    const env = { DEMO_PORT: String(await freePort()) };
    // It exits at once with an error (no restart): flagged at the first look, however busy the host.
    const deploy = await runCli([dir, ...path, "--settle", "8", "--json"], env);
    expect(deploy.code).toBe(3);
    const password = serverEnvValue(`apps/${crashing}`, "DB_PASSWORD");
    expect(deploy.stdout + deploy.stderr).not.toContain(password);
    const summary = JSON.parse(deploy.stdout) as { services: { service: string; flagged: boolean; logs: string[] | null }[] };
    const crashy = summary.services.find((s) => s.service === "crashy");
    expect(crashy?.flagged).toBe(true);
    expect(crashy?.logs).toContain("connecting with password [redacted]");
    expect(summary.services.find((s) => s.service === "db")?.logs).toBeNull();

    const monitor = await runCli(["monitor-vps", dir, ...path, "--json"]);
    expect(monitor.code).toBe(3);
    expect(monitor.stdout + monitor.stderr).not.toContain(password);
    const snapshot = JSON.parse(monitor.stdout) as { services: { service: string; logs: string[] }[] };
    expect(snapshot.services.find((s) => s.service === "crashy")?.logs).toContain("connecting with password [redacted]");

    const text = await runCli(["monitor-vps", dir, ...path, "--verbose"]);
    expect(text.stdout).toContain("connecting with password [redacted]");
    expect(text.stdout + text.stderr).not.toContain(password);
    // --verbose traces monitor-vps's and releases' remote commands, as it does a deploy's.
    expect(text.stderr).toContain("  │ $ ");
    const releases = await runCli(["releases", dir, ...path, "--verbose"]);
    expect(releases.code).toBe(0);
    expect(releases.stderr).toContain("  │ $ ");
    expect(releases.stdout + releases.stderr).not.toContain(password);
  });
});
