import { FORWARDED_ARGUMENTS, remoteScript, type ScriptValue } from "../remote/script.js";
import type { Shell } from "../ssh/quote.js";
import { layoutEnv, type ServerLayout } from "./layout.js";

/** Releases kept besides the live one, for `rollback`. */
export const KEPT_BACKUPS = 5;

/**
 * sync-release.sh: copies the release folder `args[0]` into the app folder (the whole release,
 * or with `changes` what the staged upload changed); `.env` and data are not touched.
 */
export function syncReleaseScript(layout: ServerLayout, ...args: ScriptValue[]): Shell {
  return remoteScript("sync-release", { env: layoutEnv(layout), args });
}

/** make-live.sh: records release `id` as the live one. */
export function makeLiveScript(layout: ServerLayout, id: ScriptValue): Shell {
  return remoteScript("make-live", { env: layoutEnv(layout), args: [id] });
}

/**
 * Turns the staged upload into the live release `id` (switch.sh): the file step of the worker
 * that the upload's own command starts once the archive is whole (so it costs no round trip of
 * its own), and that goes on to build and `up`. `meta` is the release's metadata, a JSON line.
 */
export function switchScript(layout: ServerLayout, id: string, project: string, meta: string): Shell {
  return remoteScript("switch", {
    env: {
      ...layoutEnv(layout),
      ID: id,
      PROJECT: project,
      META_JSON: meta,
      KEEP: KEPT_BACKUPS,
      SYNC: syncReleaseScript(layout, FORWARDED_ARGUMENTS).code,
      MAKE_LIVE: makeLiveScript(layout, FORWARDED_ARGUMENTS).code,
    },
  });
}
