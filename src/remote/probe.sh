#!/bin/sh
# What the server holds for the app folder, before anything is changed: the folder, tar, the
# state deploy-vps keeps beside it, and (READ_ENV=1) the server's .env. Prints `key=value`
# lines, values base64-encoded so no content can break the parse, then `end=`.
# Inputs: the layout's variables; READ_ENV; MUST_EXIST=1 when the command works on an existing
# app folder only. Exits 0 when the app path and tar allow the run (docker is docker-facts.sh's).
enc() { printf '%s' "$1" | base64 | tr -d '\n'; }

echo "app=$(enc "$APP")"
if [ -d "$APP" ]; then kind="dir"; elif [ -e "$APP" ]; then kind="file"; else kind="missing"; fi
echo "kind=$kind"
# GNU tar: the switch uses --overwrite, --null and --verbatim-files-from (1.29+).
hastar=
if command -v tar >/dev/null 2>&1; then
  tarversion=$(tar --version 2>&1 | head -n 1)
  case "$tarversion" in *"GNU tar"*) echo tar=ok; hastar=1 ;; *) echo "tarOther=$(enc "$tarversion")" ;; esac
fi
[ -f "$PROJECT_FILE" ] && echo "project=$(enc "$(cat "$PROJECT_FILE")")"
[ -f "$CURRENT" ] && echo "current=$(enc "$(cat "$CURRENT")")"
[ -f "$CONTAINERS_FILE" ] && echo "containers=$(enc "$(cat "$CONTAINERS_FILE")")"
[ -n "$(ls -A "$RELEASES" 2>/dev/null)" ] && echo "kept=$(enc "$(ls -1 "$RELEASES")")"
# The last log line of each kept release.
if [ -f "$LOG" ] && [ -d "$RELEASES" ]; then
  echo "outcomes=$(for r in "$RELEASES"/*; do [ -e "$r" ] && grep -F "\"release\":\"${r##*/}\"" "$LOG" | tail -n 1; done | base64 | tr -d '\n')"
fi
# The hash of the live release's manifest: the client keeps the manifests it sent, by hash.
cur=$(cat "$CURRENT" 2>/dev/null || true)
[ -n "$cur" ] && [ -d "$RELEASES/$cur" ] && [ -f "$META/$cur.manifest" ] && echo "manifestHash=$(sha256sum < "$META/$cur.manifest" | cut -c1-64)"
[ "${READ_ENV:-}" = 1 ] && [ -f "$APP/.env" ] && echo "env=$(base64 < "$APP/.env" | tr -d '\n')"
echo end=
if [ "${MUST_EXIST:-}" = 1 ]; then [ "$kind" = dir ]; else [ "$kind" != file ]; fi && [ -n "$hastar" ]
