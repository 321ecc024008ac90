import { type Shell, script, sh } from "../ssh/quote.js";

export type ComposeKind = "v1" | "v2";

/** How every compose command of a deploy is run: explicit project name, env file and files. */
export interface ComposeInvocation {
  kind: ComposeKind;
  project: string;
  files: string[];
}

export function composeCommand(compose: ComposeInvocation, args: string[]): Shell {
  const binary = compose.kind === "v2" ? sh`docker compose` : sh`docker-compose`;
  const files = compose.files.flatMap((file) => ["-f", file]);
  return sh`${binary} -p ${compose.project} --env-file .env ${files} ${args}`;
}

/** Builds what the project builds, then starts the stack; output streams back line by line. */
export function buildAndUpScript(app: string, compose: ComposeInvocation, build: boolean): Shell {
  const steps = [sh`set -e`, sh`cd ${app}`];
  if (build) steps.push(composeCommand(compose, ["build"]));
  steps.push(composeCommand(compose, ["up", "-d", "--remove-orphans"]));
  return script(...steps);
}
