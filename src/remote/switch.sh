#!/bin/sh
# Turns the staged upload into the live release ID: the file step of a deploy's worker. The
# new `.env` came inside the archive (never on a command line) and waits in staging, 0600. The
# previous `.env` is backed up 0600, the previous release stays in releases/ for rollback, and
# only the newest KEEP + 1 releases (and 2 x KEEP env backups) are kept.
# Inputs: the layout's variables; ID; PROJECT, the compose project name to record; META_JSON, the
# release's metadata (a JSON line); KEEP; SYNC, the command line that copies the release folder
# $1 into the app folder (with $2 = changes: only what the upload changed); MAKE_LIVE, the
# command line that records release $1 as live.
set -eu
next=$RELEASES/$ID
umask 077
mkdir -p "$RELEASES" "$ENV_BACKUPS" "$META"
printf '%s\n' "$META_JSON" > "$META/$ID.json"
mv "$STAGED_MANIFEST" "$META/$ID.manifest"
mv "$STAGED_FILES" "$next"
umask 022
# A switch that stopped half-way (disk full, power cut) left the app folder matching no
# release: the next one copies the whole release, not just what changed.
if [ -f "$STAGED_CHANGED" ] && [ ! -e "$SWITCHING" ]; then changes=1; else changes=; fi
: > "$SWITCHING"
if [ -n "$changes" ]; then
  sh -c "$SYNC" sync-release "$next" changes
elif [ -d "$FRESH_APP" ] && [ ! -e "$APP" ] && [ ! -L "$APP" ]; then
  # A first deploy's upload extracted the app folder to be on the way: it moves in, uncopied.
  # -T: a folder that appeared at the app path meanwhile fails the switch, not swallows the copy.
  mv -T "$FRESH_APP" "$APP"
else
  sh -c "$SYNC" sync-release "$next"
fi
umask 077
if [ -f "$APP/.env" ]; then cp -p "$APP/.env" "$ENV_BACKUPS/$ID.env"; chmod 600 "$ENV_BACKUPS/$ID.env"; fi
cp "$STAGED_ENV" "$APP/.env.deploy-vps-new"
chmod 600 "$APP/.env.deploy-vps-new"
mv -f "$APP/.env.deploy-vps-new" "$APP/.env"
sh -c "$MAKE_LIVE" make-live "$ID"
rm -f "$SWITCHING"
printf '%s\n' "$PROJECT" > "$PROJECT_FILE"
rm -rf "$STAGING"
# shellcheck disable=SC2012 # release ids and backup names are plain words
ls -1 "$RELEASES" | sort -r | tail -n +$((KEEP + 2)) | while read -r old; do rm -rf "${RELEASES:?}/$old" "$META/$old.json" "$META/$old.manifest"; done
# shellcheck disable=SC2012
ls -1 "$ENV_BACKUPS" | sort -r | tail -n +$((KEEP * 2 + 1)) | while read -r old; do rm -f "$ENV_BACKUPS/$old"; done
