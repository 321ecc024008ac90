import { copyFile, readFile, realpath, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { envProblems, type ComposeFix, composeFixes } from "../compose/fix.js";
import { COMPOSE_FILE_CANDIDATES, type ComposeFile, parseComposeFile, pickDefaultFiles } from "../compose/files.js";
import { projectComposeFiles } from "../compose/model.js";
import type { Settings } from "../config/settings.js";
import { EnvironmentError, ExitCode, InputError } from "../errors.js";
import { releaseId } from "../release/layout.js";
import { envInAnswer, parseProbe, probeScript, scriptFields } from "../release/probe.js";
import { localNames, localProject, localProjectName, probePath, refuseServer, serverProjectName } from "../release/target.js";
import { type EnvFile, parseEnvFile } from "../secrets/env-file.js";
import { remoteScript } from "../remote/script.js";
import { Remote } from "../ssh/connection.js";
import { sshTarget } from "../ssh/login.js";
import { type Shell, sh } from "../ssh/quote.js";

/** The probe, then every compose file the folder could use, by its index in `names`: one round trip. */
export function readComposeScript(path: string, names: string[]): Shell {
  return sh`{ ${probeScript(path, { env: true })}
} | ${remoteScript("read-compose", { args: names })}`;
}

/**
 * Replaces each file after keeping a copy beside it (see write-compose.sh). The new texts
 * come on stdin (composeInput), never on a command line.
 */
export function writeComposeScript(app: string, fixes: ComposeFix[], stamp: string): Shell {
  return remoteScript("write-compose", { env: { APP: app, STAMP: stamp }, args: fixes.map((fix) => fix.path) });
}

/** What writeComposeScript reads on stdin. */
export function composeInput(fixes: ComposeFix[]): string {
  return fixes.map((fix) => `${Buffer.from(fix.after).toString("base64")}\n`).join("");
}

interface Target {
  where: string;
  files: ComposeFile[];
  env?: EnvFile;
  project: string;
  write: (fixes: ComposeFix[], stamp: string) => Promise<void>;
}

async function localTarget(settings: Settings): Promise<Target> {
  const { files, name } = await projectComposeFiles(settings.projectDir, settings.files, process.env);
  const envText = await readFile(join(settings.projectDir, ".env"), "utf8").catch(() => undefined);
  return {
    where: settings.projectDir,
    files,
    env: envText === undefined ? undefined : parseEnvFile(".env", envText, false),
    project: localProject(localNames(name, settings)),
    write: async (fixes, stamp) => {
      for (const fix of fixes) {
        const path = join(settings.projectDir, fix.path);
        // Through a symbolic link to the file it names: the link stays a link.
        const target = await realpath(path);
        await copyFile(path, `${path}.${stamp}.bak`);
        await writeFile(`${target}.deploy-vps-new`, fix.after);
        await rename(`${target}.deploy-vps-new`, target);
      }
    },
  };
}

async function remoteTarget(settings: Settings, remote: Remote): Promise<Target> {
  const names = settings.files.length > 0 ? settings.files : COMPOSE_FILE_CANDIDATES;
  const local = await localProjectName(settings);
  // The probe part reads .env: never traced, and its values hidden from the rest of the answer.
  const result = await remote.run(readComposeScript(probePath(settings, local), names), { secretOutput: true, envOf: envInAnswer });
  const stdout = result.stdout.toString("utf8");
  const server = parseProbe(stdout);
  refuseServer(server, { host: remote.target.host, mustExist: true });
  const { decoded } = scriptFields(stdout);
  const texts = new Map<string, string>();
  names.forEach((name, i) => {
    const text = decoded(`compose.${i}`);
    if (text !== undefined) texts.set(name, text);
  });
  const where = `${remote.target.host}:${server.app}`;
  const missing = settings.files.find((name) => !texts.has(name));
  if (missing) throw new InputError(`compose file ${missing} not found in ${where}`);
  const chosen = settings.files.length > 0 ? settings.files : pickDefaultFiles(new Set(texts.keys()), where);
  const files = chosen.map((name, i) =>
    parseComposeFile(name, texts.get(name) ?? "", { partial: chosen.length > 1, override: i > 0 }),
  );
  return {
    where,
    files,
    env: server.env === undefined ? undefined : parseEnvFile(".env", server.env, false),
    // The server's compose files name the project there, and the app folder stands for the local one.
    project: serverProjectName(server, { compose: files.find((f) => f.name)?.name, config: settings.name, folder: server.app }),
    write: async (fixes, stamp) => {
      const written = await remote.run(writeComposeScript(server.app, fixes, stamp), { stdin: composeInput(fixes) });
      if (written.code !== 0) throw new EnvironmentError(`writing the compose files on ${where} failed: ${written.stderr.trim()}`);
    },
  };
}

export async function fixCompose(settings: Settings, options: { local: boolean; dryRun: boolean }): Promise<number> {
  const remote = options.local ? undefined : await Remote.connect(await sshTarget(settings));
  try {
    const target = remote ? await remoteTarget(settings, remote) : await localTarget(settings);
    const fixes = composeFixes(target.files, target.project);
    const out: string[] = [];
    for (const fix of fixes) out.push(fix.diff);
    const stamp = releaseId(new Date());
    if (fixes.length === 0) out.push(`Compose files in ${target.where} already use local images with pull_policy: never; nothing to change.`);
    else if (options.dryRun) out.push(`--dry-run: ${fixes.length} file(s) would change in ${target.where}; nothing written.`);
    else {
      await target.write(fixes, stamp);
      out.push(...fixes.map((fix) => `Rewrote ${fix.path} in ${target.where} (the previous one is ${fix.path}.${stamp}.bak).`));
    }
    const problems = envProblems(target.files, target.env);
    if (problems.missing.length) out.push(`Missing or empty in .env, and used without a default: ${problems.missing.join(", ")}`);
    if (problems.placeholders.length) out.push(`Placeholder values in .env: ${problems.placeholders.join(", ")}`);
    if (!problems.missing.length && !problems.placeholders.length) out.push(".env sets every variable the compose files need.");
    // The diffs quote the server's compose files, which came encoded, past the connection's redaction.
    const report = `${out.join("\n")}\n`;
    process.stdout.write(remote ? remote.secrets.redact(report) : report);
    return problems.missing.length || problems.placeholders.length ? ExitCode.input : ExitCode.ok;
  } finally {
    remote?.close();
  }
}
