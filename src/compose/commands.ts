import { remoteScript } from "../remote/script.js";
import type { Shell } from "../ssh/quote.js";

export type ComposeKind = "v1" | "v2";

/** How every compose command of a deploy is run: explicit project name, env file and files. */
export interface ComposeInvocation {
  kind: ComposeKind;
  project: string;
  files: string[];
}

/** The inputs every start script takes (compose-up.sh, blue-green.sh, standby.sh): where, which compose, which project, whether to build. */
export function composeScriptEnv(app: string, compose: ComposeInvocation, build: boolean) {
  return { APP: app, COMPOSE: compose.kind, PROJECT: compose.project, BUILD: build ? 1 : 0 };
}

/** Builds what the project builds, then starts the stack (compose-up.sh); output streams back line by line. */
export function buildAndUpScript(app: string, compose: ComposeInvocation, build: boolean): Shell {
  return remoteScript("compose-up", { env: composeScriptEnv(app, compose, build), args: compose.files });
}
