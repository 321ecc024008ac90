import type { DeployContext, Ready, StepView } from "../context.js";
import { timed } from "../tasks.js";

/** Why Switch is skipped, if it is: nothing changed (the live release stays), or a dry run, saying what it would do. */
export function switchSkip(c: DeployContext): string | false {
  if (c.unchanged) return `Switch: release ${c.upload?.base} stays live`;
  if (c.settings.dryRun) return `Switch: would make a new release live${c.server?.current ? `, keeping ${c.server.current} for rollback` : ""}`;
  return false;
}

/** Switch to the new version: ends when the worker the upload started has the new files in the app folder. */
export async function switchRelease(c: Ready<DeployContext, "release" | "server">, step: StepView): Promise<void> {
  await timed(c, "apply", async () => c.worker?.switched);
  step.title = `Switch to the new version: release ${c.release}${c.server.current ? `, ${c.server.current} kept for rollback` : ""}`;
}
