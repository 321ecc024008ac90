import { copyFile, readFile, rename, writeFile } from "node:fs/promises";
import { basename, join } from "node:path";
import { envProblems, type ComposeFix, composeFixes } from "../compose/fix.js";
import { COMPOSE_FILE_CANDIDATES, type ComposeFile, parseComposeFile, pickDefaultFiles } from "../compose/files.js";
import { projectComposeFiles } from "../compose/model.js";
import { resolveProjectName } from "../compose/project-name.js";
import type { Settings } from "../config/settings.js";
import { EnvironmentError, ExitCode, InputError } from "../errors.js";
import { releaseId } from "../release/layout.js";
import { parseProbe, probeScript, scriptFields, serverError } from "../release/probe.js";
import { appPath, localNames, localProjectName } from "../release/session.js";
import { type EnvFile, parseEnvFile } from "../secrets/env-file.js";
import { Remote } from "../ssh/connection.js";
import { sshTarget } from "../ssh/login.js";
import { type Shell, script, sh } from "../ssh/quote.js";

/** The probe, then every compose file the folder could use, by its index in `names`. */
export function readComposeScript(path: string, names: string[]): Shell {
  return script(
    probeScript(path, { env: true }),
    sh`i=0
for f in ${names}; do
  [ -f "$app/$f" ] && echo "compose.$i=$(base64 < "$app/$f" | tr -d '\\n')"
  i=$((i + 1))
done
true`,
  );
}

/** Replaces each file after keeping a copy beside it; each write is a rename, never half a file. */
export function writeComposeScript(app: string, fixes: ComposeFix[], stamp: string): Shell {
  return script(
    sh`set -eu`,
    sh`cd ${app}`,
    ...fixes.map(
      (fix) =>
        sh`cp -p ${fix.path} ${`${fix.path}.${stamp}.bak`}
printf '%s' ${Buffer.from(fix.after).toString("base64")} | base64 -d > ${`${fix.path}.deploy-vps-new`}
mv -f ${`${fix.path}.deploy-vps-new`} ${fix.path}`,
    ),
  );
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
    project: resolveProjectName(localNames(name, settings)).name,
    write: async (fixes, stamp) => {
      for (const fix of fixes) {
        const path = join(settings.projectDir, fix.path);
        await copyFile(path, `${path}.${stamp}.bak`);
        await writeFile(`${path}.deploy-vps-new`, fix.after);
        await rename(`${path}.deploy-vps-new`, path);
      }
    },
  };
}

async function remoteTarget(settings: Settings, remote: Remote): Promise<Target> {
  const names = settings.files.length > 0 ? settings.files : COMPOSE_FILE_CANDIDATES;
  const local = await localProjectName(settings);
  const result = await remote.run(readComposeScript(appPath(settings, local), names));
  const stdout = result.stdout.toString("utf8");
  const server = parseProbe(stdout);
  const refusal = serverError(server, remote.target.host, { mustExist: true });
  if (refusal) throw refusal;
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
  const files = chosen.map((name) => parseComposeFile(name, texts.get(name) ?? ""));
  return {
    where,
    files,
    env: server.env === undefined ? undefined : parseEnvFile(".env", server.env, false),
    project: resolveProjectName({
      compose: files.find((f) => f.name)?.name,
      config: settings.name,
      server: server.project ?? server.labelledProject,
      folder: basename(server.app),
    }).name,
    write: async (fixes, stamp) => {
      const written = await remote.run(writeComposeScript(server.app, fixes, stamp));
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
    process.stdout.write(`${out.join("\n")}\n`);
    return problems.missing.length || problems.placeholders.length ? ExitCode.input : ExitCode.ok;
  } finally {
    remote?.close();
  }
}
