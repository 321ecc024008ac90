import { type EnvMergeResult } from "../../secrets/merge.js";
import { prepareServerEnv } from "../../secrets/server-env.js";
import type { DeployContext, Ready, StepView } from "../context.js";

/** Prepare secrets: the server's .env to be, from the template, the values given and those the server keeps (none without a host). */
export function prepareSecrets(c: Ready<DeployContext, "plan">, step: StepView): { env: EnvMergeResult } {
  const env = prepareServerEnv(c.plan.template, c.server?.env, c.plan.provided, c.plan.required);
  c.remote?.secrets.addEnv(env.text, env.generated);
  const { generated, kept, provided } = env;
  step.title = `Secrets: ${generated.length} generated, ${kept.length} kept, ${provided.length} provided${generated.length ? ` (new: ${generated.join(", ")})` : ""}`;
  return { env };
}
