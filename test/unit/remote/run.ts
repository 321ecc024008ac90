import { spawnSync } from "node:child_process";
import { remoteScript, type ScriptInputs } from "../../../src/remote/script.js";
import type { Shell } from "../../../src/ssh/quote.js";

export interface ScriptRun {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  cwd: string;
  stdin?: string | Buffer;
  env?: NodeJS.ProcessEnv;
}

/**
 * Runs a remote script here under /bin/sh, exactly as the server gets it (the same command
 * line, quoting included), in `cwd` with HOME set to it unless `env` says otherwise.
 */
export function runRemoteScript(name: string, inputs: ScriptInputs, options: RunOptions): ScriptRun {
  return runRemoteCommand(remoteScript(name, inputs), options);
}

/** The same, for a command composed of scripts. */
export function runRemoteCommand(command: Shell, options: RunOptions): ScriptRun {
  const result = spawnSync("/bin/sh", ["-c", command.code], {
    cwd: options.cwd,
    input: options.stdin,
    env: { PATH: process.env.PATH, HOME: options.cwd, LC_ALL: "C", ...options.env },
    encoding: "utf8",
  });
  return { code: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}
