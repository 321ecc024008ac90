import type { ComposeInvocation } from "../../compose/commands.js";
import { type LocalImages, localImagesFor } from "../../compose/local-images.js";
import { composeV1Refuses } from "../../compose/model.js";
import { InputError } from "../../errors.js";
import { localNames, localProject } from "../../release/target.js";
import type { DeployContext, Ready, StepView } from "../context.js";

/** Use local images: each service runs the image built or loaded on the server, named for the project. */
export function useLocalImages(
  c: Ready<DeployContext, "plan">,
  step: StepView,
): { project: string; images: LocalImages; compose?: ComposeInvocation } {
  const { plan, settings } = c;
  // Without a host, the project is named as the local files and settings name it.
  const project = c.project ?? localProject(localNames(plan.model.name, settings));
  const refused = c.compose?.kind === "v1" ? composeV1Refuses(plan.model) : undefined;
  if (refused) throw new InputError(`${refused}, which only Compose v2 reads, and ${settings.host} runs docker-compose v1`);
  const images = localImagesFor(plan.model, project);
  const list = Object.entries(images.images).map(
    ([service, image]) => `${service} → ${image}${images.builtBy[service] ? ` (built by ${images.builtBy[service]})` : ""}`,
  );
  step.title = list.length ? `Local images: ${list.join(", ")}` : "Local images: no service is built here";
  return { project, images, compose: c.compose && { ...c.compose, files: images.composeFiles } };
}
