import { EnvironmentError } from "../errors.js";
import type { Remote } from "../ssh/connection.js";
import { detached } from "../release/detached.js";
import type { ServerLayout } from "../release/layout.js";
import { buildAndUpScript, type ComposeInvocation } from "./commands.js";

/**
 * Builds and starts the stack, detached so that a dropped connection cannot leave compose
 * half-way through recreating containers; its output streams back. Fails with its last lines.
 */
export async function startStack(
  remote: Remote,
  layout: ServerLayout,
  compose: ComposeInvocation,
  build: boolean,
  onLine: (line: string) => void,
): Promise<void> {
  const tail: string[] = [];
  const script = detached(buildAndUpScript(layout.app, compose, build), layout.workerLog, `${layout.lock}/pids`);
  const result = await remote.run(script, {
    onLine: (line) => {
      onLine(line);
      tail.push(line);
      if (tail.length > 5) tail.shift();
    },
  });
  if (result.code !== 0) {
    throw new EnvironmentError(`docker compose failed on ${remote.target.host} (exit ${result.code}): ${tail.join(" / ")}`);
  }
}
