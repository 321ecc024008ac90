import { buildAndUpScript, type ComposeInvocation, composeScriptEnv } from "../compose/commands.js";
import { EnvironmentError, InputError } from "../errors.js";
import { CONTROL_SOCKET_PATH } from "../proxy/status.js";
import { remoteScript } from "../remote/script.js";
import { remotePath, type Shell } from "../ssh/quote.js";
import type { BlueGreenService, StandbyLayout, ZeroDowntimePlan } from "./plan.js";
import { standbyStartScript } from "./standby.js";

/** The daemon's control socket on the server, under the deploy user's home. */
export const CONTROL_SOCKET_ON_SERVER = remotePath(CONTROL_SOCKET_PATH);

/** A deploy with no zero-downtime work: compose's own `up -d`. */
export const PLAIN_START: ZeroDowntimePlan = { blueGreen: [] };

/** The plan a release's metadata recorded; a plain `up -d` for releases from before it was recorded. */
export function recordedPlan(meta: { zeroDowntime?: ZeroDowntimePlan } | undefined): ZeroDowntimePlan {
  const recorded = meta?.zeroDowntime;
  return recorded && Array.isArray(recorded.blueGreen) ? recorded : PLAIN_START;
}

/** Pure: a deploy's plan, refused when it asks for both layouts (they would switch the same traffic two ways). */
export function zeroDowntimePlan(blueGreen: BlueGreenService[], standby?: StandbyLayout): ZeroDowntimePlan {
  if (blueGreen.length > 0 && standby)
    throw new InputError(
      `both zero-downtime layouts are asked for: blue-green through the proxy (deploy-vps.proxy.deploy on ${blueGreen.map((s) => s.service).join(", ")}) and primary/standby (blueGreen: in deploy-vps.yml); keep one.`,
    );
  return standby ? { blueGreen, standby } : { blueGreen };
}

/** Whether a deploy with this plan talks to the runtime proxy (the server needs its control socket and curl). */
export function needsProxySwitch(plan: ZeroDowntimePlan): boolean {
  return plan.blueGreen.length > 0;
}

/**
 * Why the server cannot run this plan's switches, before anything changes (exit 1): the proxy's
 * control socket (blue-green) or curl (both layouts: the switches and the standby's health
 * checks run on the server) is missing. `server` is what the probe found.
 */
export function proxySwitchRefusal(server: { proxySocket?: boolean; hasCurl?: boolean }, host: string, plan: ZeroDowntimePlan): EnvironmentError | undefined {
  if (plan.standby && !server.hasCurl)
    return new EnvironmentError(`${host} has no curl, which the primary/standby deploy checks ${plan.standby.primary} and ${plan.standby.standby}'s health with: install it there (apt-get install curl).`);
  if (!needsProxySwitch(plan)) return undefined;
  const services = plan.blueGreen.map((s) => s.service).join(", ");
  if (!server.proxySocket)
    return new EnvironmentError(
      `${services} ${plan.blueGreen.length === 1 ? "is" : "are"} deployed blue-green through the runtime proxy, which is not running on ${host} (no control socket at ${CONTROL_SOCKET_PATH}): install it (deploy-vps proxy install -H ${host}), or remove the deploy-vps.proxy.deploy label.`,
    );
  if (!server.hasCurl)
    return new EnvironmentError(`${host} has no curl, which a blue-green deploy (${services}) talks to the runtime proxy with: install it there (apt-get install curl).`);
  return undefined;
}

/**
 * blue-green.sh: build, then each blue-green service switched through the proxy, then `up -d`
 * for the rest. Each service goes as one line, its unit percent-encoded for the URL it is part of.
 */
export function blueGreenScript(app: string, compose: ComposeInvocation, build: boolean, services: readonly BlueGreenService[]): Shell {
  const lines = services.map((s) => `${s.service} ${encodeURIComponent(s.unit)} ${s.drainSeconds} ${s.readySeconds}`);
  return remoteScript("blue-green", {
    env: {
      ...composeScriptEnv(app, compose, build),
      SOCKET: CONTROL_SOCKET_ON_SERVER,
      SERVICES: lines.join("\n"),
    },
    args: compose.files,
  });
}

/** What the worker runs to bring the containers up: the standby layout's steps, the proxy path's switches, or a plain `up -d`. */
export function startScript(app: string, compose: ComposeInvocation, build: boolean, plan: ZeroDowntimePlan): Shell {
  const checked = zeroDowntimePlan(plan.blueGreen, plan.standby);
  if (checked.standby) return standbyStartScript(app, compose, build, checked.standby);
  if (needsProxySwitch(checked)) return blueGreenScript(app, compose, build, checked.blueGreen);
  return buildAndUpScript(app, compose, build);
}
