import type { Remote } from "../../ssh/connection.js";
import type { DeployContext } from "../context.js";
import { timed } from "../tasks.js";

/** Connect: the handshake started before the task list; this step waits for it to end. */
export async function connect(c: DeployContext, connecting: Promise<Remote>): Promise<{ remote: Remote }> {
  return { remote: await timed(c, "connect", () => connecting) };
}
