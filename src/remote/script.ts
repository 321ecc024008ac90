import { readFileSync } from "node:fs";
import { quote, Shell } from "../ssh/quote.js";

/**
 * The scripts that run on the server are the `.sh` files of this folder, read as they are
 * shipped (beside this module in dist/). A script takes its inputs as positional arguments and
 * environment variables set on its own command line, never as text spliced into it: what runs
 * is what you read, and shellcheck checks it.
 */
const texts = new Map<string, string>();

export function scriptText(name: string): string {
  let text = texts.get(name);
  if (text === undefined) {
    text = readFileSync(new URL(`./${name}.sh`, import.meta.url), "utf8");
    texts.set(name, text);
  }
  return text;
}

/** A value for a script: quoted, except a `Shell` (a remote path relative to "$HOME", say). */
export type ScriptValue = string | number | Shell;

export interface ScriptInputs {
  args?: readonly ScriptValue[];
  env?: Readonly<Record<string, ScriptValue | undefined>>;
}

/**
 * The command that runs script `name` with `inputs`: `VAR=value … sh -c '<script>' name args…`.
 * Commands compose as data: `sh\`${a} && ${b}\`` runs b when a succeeded.
 */
export function remoteScript(name: string, inputs: ScriptInputs = {}): Shell {
  return new Shell(scriptWords(name, inputs).join(" "));
}

/**
 * The same command as words only (`env VAR=value … sh -c …`), for a script that runs a command
 * given as its arguments (detached.sh): no assignment prefix, no quoting of quoting.
 */
export function remoteScriptArguments(name: string, inputs: ScriptInputs = {}): Shell {
  return new Shell(["env", ...scriptWords(name, inputs)].join(" "));
}

function scriptWords(name: string, inputs: ScriptInputs): string[] {
  const word = (value: ScriptValue) => (value instanceof Shell ? value.code : quote(String(value)));
  const assignments = Object.entries(inputs.env ?? {}).flatMap(([key, value]) => {
    if (!/^[A-Z_][A-Z0-9_]*$/.test(key)) throw new Error(`not a script variable name: ${key}`);
    return value === undefined ? [] : [`${key}=${word(value)}`];
  });
  const args = (inputs.args ?? []).map(word);
  return [...assignments, "sh -c", quote(scriptText(name)), name, ...args];
}

/** In a command line run with arguments (`sh -c "$CMD" name args…`), hands them on to the script. */
export const FORWARDED_ARGUMENTS = new Shell(`"$@"`);
