import type { ComposeInvocation } from "../compose/commands.js";
import { InputError } from "../errors.js";
import type { Shell } from "../ssh/quote.js";
import type { StandbyLayout } from "./plan.js";

/** Stand-in until the primary/standby layout's script is merged (branch `standby`). */
export function standbyStartScript(app: string, compose: ComposeInvocation, build: boolean, layout: StandbyLayout): Shell {
  throw new InputError(`not built yet (${layout.primary}/${layout.standby} of ${compose.project} in ${app}${build ? ", built" : ""})`);
}
