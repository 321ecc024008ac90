import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { parse as parseDotenv } from "dotenv";
import { excludeRule } from "../archive/exclude.js";
import { type BlueGreenWish, blueGreenWishes } from "../blue-green/labels.js";
import { type ProjectTree, walkProject } from "../archive/walk.js";
import type { ComposeService } from "../compose/files.js";
import { LOCAL_IMAGES_FILE } from "../compose/local-images.js";
import { type ComposeEnv, type ComposeModel, composeEnvironment, loadComposeModel } from "../compose/model.js";
import { requiredVariables } from "../compose/variables.js";
import type { Settings } from "../config/settings.js";
import { InputError } from "../errors.js";
import { type EnvFile, parseEnvFile } from "../secrets/env-file.js";

/** Everything decided locally, before connecting: a bad file stops the deploy here. */
export interface ProjectPlan {
  /** The project as compose merges it: its files, those they include or extend, the services. */
  model: ComposeModel;
  services: ComposeService[];
  /** The services deployed blue-green through the proxy (their labels say so). */
  blueGreen: BlueGreenWish[];
  /** What compose interpolates the files with here (the local .env and the shell): the standby layout reads environments through it. */
  composeEnv: ComposeEnv;
  template: EnvFile;
  /** Variables the compose files (included and extended ones too) use without a default: they must be set on the server. */
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

/** Compose reads its files on the server: each one must be shipped, and deploy-vps's own name is taken. */
function checkComposeFilesShipped(model: ComposeModel, tree: ProjectTree): void {
  const shipped = new Set(tree.files.map((file) => file.path));
  if (shipped.has(LOCAL_IMAGES_FILE))
    throw new InputError(`${LOCAL_IMAGES_FILE} is the name of the compose file deploy-vps writes on the server; rename yours.`);
  const missing = model.sources.find((file) => !shipped.has(file.path));
  if (missing)
    throw new InputError(
      `compose file ${missing.path} is not shipped (it is excluded, or outside the project folder); compose on the server needs it.`,
    );
}

export async function planProject(settings: Settings, env: NodeJS.ProcessEnv): Promise<ProjectPlan> {
  const model = await loadComposeModel(settings.projectDir, settings.files, env);
  const template = await readTemplate(settings);
  const tree = await walkProject(
    settings.projectDir,
    excludeRule({ patterns: settings.exclude, envTemplate: settings.envTemplate }),
  );
  if (tree.files.length === 0)
    throw new InputError(`nothing to ship in ${settings.projectDir}: every file is excluded.`);
  checkComposeFilesShipped(model, tree);
  return {
    model,
    services: model.services,
    blueGreen: blueGreenWishes(model),
    composeEnv: await composeEnvironment(settings.projectDir, env),
    template,
    required: requiredVariables(model.sources.map((file) => file.text)),
    tree,
    provided: await providedValues(settings, template, env),
  };
}
