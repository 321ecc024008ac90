import { setTimeout as sleep } from "node:timers/promises";
import type { Settings } from "../config/settings.js";
import { ExitCode } from "../errors.js";
import { monitorJson, monitorScreen } from "../monitor/render.js";
import { monitorScript, parseSnapshot, type Snapshot, snapshotHealthy } from "../monitor/snapshot.js";
import { envInAnswer, parseProbe } from "../release/probe.js";
import { localProjectName, probeTarget, resolveTarget } from "../release/target.js";
import { Remote } from "../ssh/connection.js";
import { sshTarget } from "../ssh/login.js";

export interface MonitorOptions {
  logs: number;
  allLogs: boolean;
  watch?: number;
  color: boolean;
}

/** One look at the server: one connection, one round trip. */
async function look(remote: Remote, settings: Settings, options: MonitorOptions): Promise<{ snapshot: Snapshot; app: string }> {
  const local = await localProjectName(settings);
  const { path, candidate } = probeTarget(settings, local);
  const result = await remote.run(monitorScript(path, candidate, options.logs), {
    secretOutput: true,
    envOf: envInAnswer,
  });
  const stdout = result.stdout.toString("utf8");
  const { app } = resolveTarget(parseProbe(stdout), local, { host: remote.target.host, mustExist: true });
  return { snapshot: parseSnapshot(stdout, Date.now()), app };
}

export async function monitor(settings: Settings, options: MonitorOptions): Promise<number> {
  const remote = await Remote.connect(await sshTarget(settings));
  const where = `${settings.host}`;
  try {
    for (;;) {
      const { snapshot, app } = await look(remote, settings, options);
      const healthy = snapshotHealthy(snapshot);
      if (settings.json) {
        process.stdout.write(`${JSON.stringify(monitorJson(snapshot, where, app), null, 2)}\n`);
      } else {
        // --watch redraws in place on a terminal; elsewhere each look is appended.
        const clear = options.watch && process.stdout.isTTY ? "\u001b[2J\u001b[H" : "";
        process.stdout.write(`${clear}${monitorScreen(snapshot, `${where}:${app}`, options)}\n`);
      }
      if (!options.watch) return healthy ? ExitCode.ok : ExitCode.unhealthy;
      await sleep(options.watch * 1000);
    }
  } finally {
    remote.close();
  }
}
