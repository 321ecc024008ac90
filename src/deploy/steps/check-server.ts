import { blueGreenServices } from "../../blue-green/labels.js";
import type { ZeroDowntimePlan } from "../../blue-green/plan.js";
import { standbyLayout } from "../../blue-green/standby.js";
import { proxySwitchRefusal, zeroDowntimePlan } from "../../blue-green/start.js";
import type { ComposeInvocation } from "../../compose/commands.js";
import { releaseDrift } from "../../release/history.js";
import { probeServer, type ServerState } from "../../release/probe.js";
import { probeAndLock } from "../../release/session.js";
import { localNames, probeTarget, resolveTarget, type Target } from "../../release/target.js";
import type { DeployContext, Ready, StepView } from "../context.js";
import { timed } from "../tasks.js";

/**
 * Check the server: one round trip finds the app folder, its project and live release, reads
 * its .env, and takes the app folder's lock (a dry run changes nothing, so it takes none). A
 * deploy with blue-green services needs the runtime proxy there, and curl.
 */
export async function checkServer(
  c: Ready<DeployContext, "plan" | "remote">,
  step: StepView,
): Promise<{ server: ServerState; target: Target; project: string; compose: ComposeInvocation; zeroDowntime: ZeroDowntimePlan }> {
  const { settings, remote, plan } = c;
  const local = localNames(plan.model.name, settings);
  const { path, candidate } = probeTarget(settings, local);
  const probe = { env: true, candidate };
  const server = await timed(c, "probe", () =>
    settings.dryRun
      ? probeServer(remote, path, probe)
      : probeAndLock(remote, path, probe, settings, "deploy", (line) => {
          step.output = line;
        }),
  );
  c.lock.took(remote, server);
  const target = resolveTarget(server, local, { host: settings.host ?? "", compose: settings.compose, ownProject: true });
  const compose = { kind: target.compose, project: target.project, files: plan.model.files.map((f) => f.path) };
  const standby = settings.blueGreen && standbyLayout(settings.blueGreen, plan.model, target.project, plan.composeEnv);
  const zeroDowntime = zeroDowntimePlan(blueGreenServices(plan.blueGreen, target.project), standby);
  const refusal = proxySwitchRefusal(server, remote.target.host, zeroDowntime);
  if (refusal) throw refusal;
  const drift = releaseDrift(server.current, server.containers);
  step.title = `Check the server: ${server.app}, project ${target.project}, Compose ${compose.kind}${server.current ? `, live release ${server.current}` : ", first deploy"}${drift ? ` (${drift}: this deploy brings them in line)` : ""}`;
  return { server, target, project: target.project, compose, zeroDowntime };
}
