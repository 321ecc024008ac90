import { remoteScript } from "../remote/script.js";
import type { Shell } from "../ssh/quote.js";

export type ComposeKind = "v1" | "v2";

/** How every compose command of a deploy is run: explicit project name, env file and files. */
export interface ComposeInvocation {
  kind: ComposeKind;
  project: string;
  files: string[];
}

/** Builds what the project builds, then starts the stack (compose-up.sh); output streams back line by line. */
export function buildAndUpScript(app: string, compose: ComposeInvocation, build: boolean): Shell {
  return remoteScript("compose-up", {
    env: { APP: app, COMPOSE: compose.kind, PROJECT: compose.project, BUILD: build ? 1 : 0 },
    args: compose.files,
  });
}
