import { spawnSync } from "node:child_process";
import { remoteScript, type ScriptInputs } from "../../../src/remote/script.js";

export interface ScriptRun {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs a remote script here under /bin/sh, exactly as the server gets it (the same command
 * line, quoting included), in `cwd` with HOME set to it unless `env` says otherwise.
 */
export function runRemoteScript(
  name: string,
  inputs: ScriptInputs,
  options: { cwd: string; stdin?: string | Buffer; env?: NodeJS.ProcessEnv },
): ScriptRun {
  const command = remoteScript(name, inputs).code;
  const result = spawnSync("/bin/sh", ["-c", command], {
    cwd: options.cwd,
    input: options.stdin,
    env: { PATH: process.env.PATH, HOME: options.cwd, LC_ALL: "C", ...options.env },
    encoding: "utf8",
  });
  return { code: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}
