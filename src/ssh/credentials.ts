import { access } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { Writable } from "node:stream";

/** The keys OpenSSH tries by default, in its order. */
export const DEFAULT_KEYS = ["id_ed25519", "id_ecdsa", "id_rsa"];

/**
 * Which key file to offer: the one given, else (when there is no ssh-agent to ask) the first
 * default key that exists. With an agent, a default key is not read: it may be encrypted,
 * and the agent already holds it.
 */
export async function chooseIdentity(
  given: string | undefined,
  agent: string | undefined,
): Promise<string | undefined> {
  if (given || agent) return given;
  for (const name of DEFAULT_KEYS) {
    const path = join(homedir(), ".ssh", name);
    if (
      await access(path).then(
        () => true,
        () => false,
      )
    )
      return path;
  }
  return undefined;
}

/** Asks for a password on the terminal without echoing it. */
export function askHidden(question: string): Promise<string> {
  const muted = new Writable({ write: (_chunk, _encoding, done) => done() });
  process.stderr.write(question);
  const rl = createInterface({ input: process.stdin, output: muted, terminal: true });
  return new Promise((resolve) => {
    rl.question("", (answer) => {
      rl.close();
      process.stderr.write("\n");
      resolve(answer);
    });
  });
}

/**
 * Asks a question on the terminal and returns the line typed. An aborted `signal` takes the
 * question back (rejects): a question left open would keep the process alive.
 */
export function askLine(question: string, signal?: AbortSignal): Promise<string> {
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
  return new Promise((resolve, reject) => {
    signal?.addEventListener("abort", () => {
      rl.close();
      process.stderr.write("\n");
      reject(new Error("the question was taken back"));
    });
    rl.question(question, (answer) => {
      rl.close();
      resolve(answer);
    });
  });
}
