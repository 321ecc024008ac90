import type { DeployContext, StepView } from "../context.js";
import { count, formatBytes } from "../format.js";
import type { ProjectPlan } from "../plan.js";
import { timed } from "../tasks.js";

/** Read the project: the plan made locally (started before the task list, beside the SSH handshake). */
export async function readProject(c: DeployContext, planning: Promise<ProjectPlan>, step: StepView): Promise<{ plan: ProjectPlan }> {
  const plan = await timed(c, "plan", () => planning);
  const { tree } = plan;
  step.title = `Read the project: ${count(tree.files.length, "file")} (${formatBytes(tree.bytes)}) to ship, skipped ${count(tree.skipped.folders.length, "folder")} and ${count(tree.skipped.files, "file")}`;
  return { plan };
}
