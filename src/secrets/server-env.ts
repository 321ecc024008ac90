import { randomBytes } from "node:crypto";
import { InputError } from "../errors.js";
import { type EnvFile, parseEnvFile } from "./env-file.js";
import { type EnvMergeResult, mergeEnv, missingVariables } from "./merge.js";

/** A fresh secret: 32 random bytes as 64 hex characters, like the seed's `openssl rand -hex 32`. */
export function newSecret(): string {
  return randomBytes(32).toString("hex");
}

/**
 * The server's next .env: existing values kept, provided ones taken, empty secrets generated.
 * Stops the deploy, naming the variables, when the compose files need one that is still empty.
 */
export function prepareServerEnv(
  template: EnvFile,
  serverEnv: string | undefined,
  provided: Map<string, string>,
  required: string[],
): EnvMergeResult {
  const server = serverEnv === undefined ? undefined : parseEnvFile("server .env", serverEnv, false);
  const result = mergeEnv({ template, server, provided, generate: newSecret });
  const missing = missingVariables(required, result.values);
  if (missing.length > 0) {
    throw new InputError(
      `the compose files use ${missing.join(", ")} without a default, and ${missing.length === 1 ? "it is" : "they are"} not set: ` +
        `add ${missing.length === 1 ? "it" : "them"} to ${template.path} (empty secret-like names are generated), to .env.deploy, or to the environment.`,
    );
  }
  return result;
}
