import type { ComposeKind } from "../compose/commands.js";
import { projectComposeFiles } from "../compose/model.js";
import { resolveProjectName } from "../compose/project-name.js";
import type { Settings } from "../config/settings.js";
import { InputError } from "../errors.js";
import { type ServerLayout, serverLayout } from "./layout.js";
import { chooseCompose, type ServerState, serverError } from "./probe.js";

/**
 * An app's deploy target, the same for every command (deploy, rollback, releases, monitor-vps,
 * fix-compose), found in two halves: before the probe, where to look and under which name;
 * after it, the app folder, the compose project and the server layout, or a refusal.
 */

/** The local view of the project's name: compose's (COMPOSE_PROJECT_NAME or `name:`), the config's, else the folder's. */
export interface LocalNames {
  compose?: string;
  config?: string;
  folder: string;
}

export function localNames(composeName: string | undefined, settings: Pick<Settings, "name" | "folderName">): LocalNames {
  return { compose: composeName, config: settings.name, folder: settings.folderName };
}

/** The same, for commands that may run where there is no compose file. */
export async function localProjectName(settings: Settings): Promise<LocalNames> {
  const project = await projectComposeFiles(settings.projectDir, settings.files, process.env).catch(() => undefined);
  return localNames(project?.name, settings);
}

/** What the probe looks at: --path, else ~/apps/<project>; and the local project name, to find another folder's stack under it. */
export interface ProbeTarget {
  path: string;
  candidate: string;
}

export function probeTarget(settings: Pick<Settings, "path">, local: LocalNames): ProbeTarget {
  return { path: probePath(settings, local), candidate: localProject(local) };
}

/** The app folder to probe alone (a local project name is only needed without --path). */
export function probePath(settings: Pick<Settings, "path">, local: LocalNames): string {
  return settings.path ?? `~/apps/${localProject(local)}`;
}

/** The project name as the local files and settings give it, before any server is asked. */
export function localProject(local: LocalNames): string {
  return resolveProjectName(local).name;
}

/** The project name on the server: the local names first, then the one a previous deploy recorded, else the one labelled on containers started from the folder. */
export function serverProjectName(server: Pick<ServerState, "project" | "labelledProject">, local: LocalNames): string {
  return resolveProjectName({ ...local, server: server.project ?? server.labelledProject }).name;
}

export interface Target {
  /** The app folder, absolute, as the probe resolved it. */
  app: string;
  project: string;
  layout: ServerLayout;
  compose: ComposeKind;
}

export interface TargetRules {
  host: string;
  /** --compose. */
  compose?: ComposeKind;
  /** The command works on a deployed app: a missing folder is refused. */
  mustExist?: boolean;
  /** The command brings a stack up (deploy): another folder's stack under the same project would be replaced by it. */
  ownProject?: boolean;
}

/** After the probe: the refusal of a wrong path or a server that lacks something, before anything changes. */
export function refuseServer(server: ServerState, rules: Omit<TargetRules, "ownProject">): void {
  const refusal = serverError(server, rules.host, { forced: rules.compose, mustExist: rules.mustExist });
  if (refusal) throw refusal;
}

/** After the probe: the target, or the refusal. */
export function resolveTarget(server: ServerState, local: LocalNames, rules: TargetRules): Target {
  refuseServer(server, rules);
  // A folder deployed by hand keeps its stack: its containers' project name is adopted.
  const project = serverProjectName(server, local);
  if (rules.ownProject && server.otherFolders.length > 0) {
    throw new InputError(
      `compose project "${project}" already runs from ${server.otherFolders.join(", ")} on ${rules.host}; deploying ${server.app} under the same name would replace it. Give this one its own name (name: in deploy-vps.yml or the compose file).`,
    );
  }
  return { app: server.app, project, layout: serverLayout(server.app), compose: chooseCompose(server, rules.compose) };
}
