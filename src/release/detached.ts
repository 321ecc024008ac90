import { FORWARDED_ARGUMENTS, remoteScript } from "../remote/script.js";
import type { Shell } from "../ssh/quote.js";
import { layoutEnv, type ServerLayout } from "./layout.js";
import { lockScript } from "./lock.js";

/**
 * Runs `command` (words, as remoteScriptArguments makes them) detached from the SSH session
 * (detached.sh), its output streamed back; it joins the lock's workers, so the lock stays held
 * while it runs.
 */
export function detached(command: Shell, layout: ServerLayout): Shell {
  const env = layoutEnv(layout);
  return remoteScript("detached", { env: { ...env, REGISTER: lockScript(env, "register", FORWARDED_ARGUMENTS).code }, args: [command] });
}
