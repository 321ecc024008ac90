import { type ComposeFile, loadComposeFiles } from "../compose/files.js";
import { resolveProjectName } from "../compose/project-name.js";
import type { Settings } from "../config/settings.js";
import { Remote } from "../ssh/connection.js";
import { sshTarget } from "../ssh/login.js";
import { type ServerLayout, serverLayout } from "./layout.js";
import { chooseCompose, probeServer, type ServerState, serverError } from "./probe.js";

/** A connection to the server with what the probe learned about the app folder. */
export interface AppSession {
  remote: Remote;
  server: ServerState;
  layout: ServerLayout;
  /** Recorded by deploy-vps, else read from the containers' labels, else the local name. */
  project: string;
  compose: ReturnType<typeof chooseCompose>;
}

export interface LocalNames {
  compose?: string;
  config?: string;
  folder: string;
}

/** The local view of the project's name: compose `name:`, the config's, else the folder's. */
export function localNames(files: ComposeFile[], settings: Settings): LocalNames {
  return { compose: files.find((file) => file.name)?.name, config: settings.name, folder: settings.folderName };
}

/** The same, for commands that may run where there is no compose file. */
export async function localProjectName(settings: Settings): Promise<LocalNames> {
  return localNames(await loadComposeFiles(settings.projectDir, settings.files).catch(() => []), settings);
}

/** --path, else ~/apps/<project>, the default a deploy uses. */
export function appPath(settings: Settings, local: LocalNames): string {
  return settings.path ?? `~/apps/${resolveProjectName(local).name}`;
}

/** Opens the connection and checks the server, for the commands that work on a deployed app. */
export async function openApp(settings: Settings): Promise<AppSession> {
  const target = await sshTarget(settings);
  const local = await localProjectName(settings);
  const remote = await Remote.connect(target);
  try {
    const server = await probeServer(remote, appPath(settings, local), resolveProjectName(local).name);
    const refusal = serverError(server, target.host, { forced: settings.compose, mustExist: true });
    if (refusal) throw refusal;
    const project = resolveProjectName({ ...local, server: server.project ?? server.labelledProject }).name;
    return { remote, server, layout: serverLayout(server.app), project, compose: chooseCompose(server, settings.compose) };
  } catch (error) {
    remote.close();
    throw error;
  }
}
