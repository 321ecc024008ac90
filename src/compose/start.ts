import { EnvironmentError } from "../errors.js";
import type { Remote } from "../ssh/connection.js";
import { buildAndUpScript, type ComposeInvocation } from "./commands.js";

/** Builds and starts the stack, streaming compose's output; fails with its last lines. */
export async function startStack(
  remote: Remote,
  app: string,
  compose: ComposeInvocation,
  build: boolean,
  onLine: (line: string) => void,
): Promise<void> {
  const tail: string[] = [];
  const result = await remote.run(buildAndUpScript(app, compose, build), {
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
