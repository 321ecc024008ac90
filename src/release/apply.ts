import { type Shell, sh } from "../ssh/quote.js";
import { FRESH_APP } from "./upload.js";
import type { ServerLayout } from "./layout.js";

/** Releases kept besides the live one, for `rollback`. */
export const KEPT_BACKUPS = 5;

/**
 * Copies a release's files into the app folder, after removing the files that the release it
 * replaces shipped and this one does not (or ships as a folder), and the emptied folders where
 * this one has a file. Nothing else in the app folder is touched: `.env`, bind-mounted data
 * and whatever containers wrote stay as they are.
 */
export function syncReleaseScript(layout: ServerLayout, from: Shell): Shell {
  return sh`mkdir -p ${layout.app}
if [ -f ${layout.current} ]; then
  old=${layout.releases}/$(cat ${layout.current})
  if [ -d "$old" ] && [ "$old" != ${from} ]; then
    # A link the old release shipped where this one has a file goes too: cp would write through it.
    (cd "$old" && find . ! -type d -print0) | xargs -0 -r sh -c 'new=$1 app=$2; shift 2
      for f; do
        if [ -L "$app/$f" ] && [ ! -L "$new/$f" ]; then rm -f -- "$app/$f"; continue; fi
        [ -L "$new/$f" ] || { [ -e "$new/$f" ] && [ ! -d "$new/$f" ]; } || rm -f -- "$app/$f"
      done' sh ${from} ${layout.app}
  fi
fi
(cd ${from} && find . ! -type d -print0) | ${clearEmptiedFolders(layout)}
cp -a ${from}/. ${layout.app}/`;
}

/** Of the NUL-separated paths on stdin, the empty folders in the app folder where a file must go. */
function clearEmptiedFolders(layout: ServerLayout): Shell {
  return sh`xargs -0 -r sh -c 'app=$1; shift
  for f; do if [ -d "$app/$f" ] && [ ! -L "$app/$f" ]; then find "$app/$f" -depth -type d -empty -delete; fi; done' sh ${layout.app}`;
}

/**
 * After an incremental upload: removes what the release deleted from the app folder and copies
 * in what it changed, plus any release file the app folder lost (removed by hand, say), so a
 * one-file change writes one file, not the whole tree. Emptied folders where a file now goes
 * make way for it. `--overwrite` writes in place, as `cp`
 * does, so a file bind-mounted on its own shows its new content.
 */
export function syncChangesScript(layout: ServerLayout, from: Shell): Shell {
  const changed = `${layout.staging}/changed`;
  return sh`mkdir -p ${layout.app}
(cd ${layout.app} && xargs -0 -r rm -f -- < ${`${layout.staging}/deleted`}) || echo "warning: some deleted files could not be removed from the app folder" >&2
(cd ${from} && find . ! -type d -print0) | xargs -0 -r sh -c 'app=$1; shift
  for f; do [ -e "$app/$f" ] || [ -L "$app/$f" ] || printf "%s\\0" "$f"; done' sh ${layout.app} >> ${changed}
${clearEmptiedFolders(layout)} < ${changed}
# Through a file, not a pipe: sh has no pipefail, and a half-read change must stop the switch.
(cd ${from} && tar -c --null --verbatim-files-from -T ${changed} -f ${`${layout.staging}/changes.tar`})
tar -x -p --overwrite --no-same-owner -C ${layout.app} -f ${`${layout.staging}/changes.tar`}`;
}

/** Records `id` as the live release, by a rename so that `current` is never half written. */
export function makeLiveScript(layout: ServerLayout, id: string): Shell {
  return sh`printf '%s\\n' ${id} > ${`${layout.current}.new`} && mv -f ${`${layout.current}.new`} ${layout.current}`;
}

/**
 * Turns the staged upload into the live version: the file step of the worker that the
 * upload's own script starts once the archive is whole (so it costs no round trip of its own),
 * and that goes on to build and `up`. The new `.env` came inside the archive (never on a
 * command line) and waits in staging, 0600. The previous `.env` is backed up 0600, the
 * previous release stays in releases/ for rollback, and only the newest KEPT_BACKUPS + 1 are kept.
 */
export function switchScript(layout: ServerLayout, id: string, project: string, meta: string): Shell {
  const next = sh`${layout.releases}/${id}`;
  // A first deploy's upload extracted the app folder to be on the way: it moves in, uncopied.
  const fresh = `${layout.staging}/${FRESH_APP}`;
  return sh`set -eu
umask 077
mkdir -p ${layout.releases} ${layout.envBackups} ${`${layout.state}/meta`}
printf '%s\n' ${meta} > ${`${layout.state}/meta/${id}.json`}
mv ${`${layout.staging}/manifest`} ${`${layout.state}/meta/${id}.manifest`}
mv ${`${layout.staging}/files`} ${next}
umask 022
# A switch that stopped half-way (disk full, power cut) left the app folder matching no
# release: the next one copies the whole release, not just what changed.
if [ -f ${`${layout.staging}/changed`} ] && [ ! -e ${`${layout.state}/switching`} ]; then changes=1; else changes=; fi
: > ${`${layout.state}/switching`}
if [ -n "$changes" ]; then
${syncChangesScript(layout, next)}
elif [ -d ${fresh} ] && [ ! -e ${layout.app} ] && [ ! -L ${layout.app} ]; then
  # -T: a folder that appeared at the app path meanwhile fails the switch, not swallows the copy.
  mv -T ${fresh} ${layout.app}
else
${syncReleaseScript(layout, next)}
fi
umask 077
if [ -f ${`${layout.app}/.env`} ]; then cp -p ${`${layout.app}/.env`} ${`${layout.envBackups}/${id}.env`}; chmod 600 ${`${layout.envBackups}/${id}.env`}; fi
cp ${`${layout.staging}/env`} ${`${layout.app}/.env.deploy-vps-new`}
chmod 600 ${`${layout.app}/.env.deploy-vps-new`}
mv -f ${`${layout.app}/.env.deploy-vps-new`} ${`${layout.app}/.env`}
${makeLiveScript(layout, id)}
rm -f ${`${layout.state}/switching`}
printf '%s\n' ${project} > ${layout.project}
rm -rf ${layout.staging}
ls -1 ${layout.releases} | sort -r | tail -n +${KEPT_BACKUPS + 2} | while read -r old; do rm -rf ${layout.releases}/"$old" ${`${layout.state}/meta`}/"$old".json ${`${layout.state}/meta`}/"$old".manifest; done
ls -1 ${layout.envBackups} | sort -r | tail -n +${KEPT_BACKUPS * 2 + 1} | while read -r old; do rm -f ${layout.envBackups}/"$old"; done`;
}
