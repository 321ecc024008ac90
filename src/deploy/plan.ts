import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { parse as parseDotenv } from "dotenv";
import { excludeRule } from "../archive/exclude.js";
import { type ProjectTree, walkProject } from "../archive/walk.js";
import { type ComposeFile, type ComposeService, loadComposeFiles, mergedServices } from "../compose/files.js";
import { requiredVariables } from "../compose/variables.js";
import type { Settings } from "../config/settings.js";
import { InputError } from "../errors.js";
import { type EnvFile, parseEnvFile } from "../secrets/env-file.js";

/** Everything decided locally, before connecting: a bad file stops the deploy here. */
export interface ProjectPlan {
  compose: ComposeFile[];
  services: ComposeService[];
  template: EnvFile;
  /** Variables the compose files use without a default: they must be set on the server. */
  required: string[];
  tree: ProjectTree;
  /** Values for template keys from the deploying shell or a local .env.deploy; never written to disk. */
  provided: Map<string, string>;
}

export const LOCAL_VALUES_FILE = ".env.deploy";

async function readTemplate(settings: Settings): Promise<EnvFile> {
  const path = join(settings.projectDir, settings.envTemplate);
  try {
    return parseEnvFile(settings.envTemplate, await readFile(path, "utf8"), true);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    // Without a template the server's .env keeps what it has; only an explicit one must exist.
    if (settings.envTemplate !== ".env.example")
      throw new InputError(`env template not found: ${settings.envTemplate} (--env-template).`);
    return { path: settings.envTemplate, lines: [] };
  }
}

/** Shell values win over .env.deploy; only keys the template lists are ever taken. */
async function providedValues(
  settings: Settings,
  template: EnvFile,
  env: NodeJS.ProcessEnv,
): Promise<Map<string, string>> {
  const local = parseDotenv(
    await readFile(join(settings.projectDir, LOCAL_VALUES_FILE), "utf8").catch(() => ""),
  );
  const provided = new Map<string, string>();
  for (const line of template.lines) {
    if (line.kind !== "entry") continue;
    const value = env[line.key] ?? local[line.key];
    if (value !== undefined && value !== "") provided.set(line.key, value);
  }
  return provided;
}

export async function planProject(settings: Settings, env: NodeJS.ProcessEnv): Promise<ProjectPlan> {
  const compose = await loadComposeFiles(settings.projectDir, settings.files);
  const template = await readTemplate(settings);
  const tree = await walkProject(
    settings.projectDir,
    excludeRule({ patterns: settings.exclude, envTemplate: settings.envTemplate }),
  );
  if (tree.files.length === 0)
    throw new InputError(`nothing to ship in ${settings.projectDir}: every file is excluded.`);
  return {
    compose,
    services: mergedServices(compose),
    template,
    required: requiredVariables(compose.map((file) => file.text)),
    tree,
    provided: await providedValues(settings, template, env),
  };
}
