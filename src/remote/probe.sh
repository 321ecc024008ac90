#!/bin/sh
# What the server holds for the app folder, before anything is changed: the folder, tar, the
# state deploy-vps keeps beside it, and (READ_ENV=1) the server's .env. Prints `key=value`
# lines, values base64-encoded so no content can break the parse, then `end=`.
# Inputs: the layout's variables; READ_ENV; DOCKER_SOCKET; PROXY_SOCKET, the runtime proxy's control socket; MUST_EXIST=1 when the command works on an existing
# app folder only. Exits 0 when the app path, tar and the Docker socket's permissions allow the
# run (whether docker answers is docker-facts.sh's, or the Engine API's).
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
# The state files are one line each: read by the shell itself, as every process started here
# is one more in each deploy's first round trip.
if { read -r project < "$PROJECT_FILE"; } 2>/dev/null; then echo "project=$(enc "$project")"; fi
cur=
if { read -r cur < "$CURRENT"; } 2>/dev/null; then echo "current=$(enc "$cur")"; fi
if { read -r containers < "$CONTAINERS_FILE"; } 2>/dev/null; then echo "containers=$(enc "$containers")"; fi
kept=$(ls -1 "$RELEASES" 2>/dev/null)
if [ -n "$kept" ]; then
  echo "kept=$(enc "$kept")"
  # The last log line of each kept release, in one pass over the log.
  if [ -f "$LOG" ]; then
    echo "outcomes=$(awk -v kept="$kept" '
      BEGIN { n = split(kept, ids, "\n"); for (i = 1; i <= n; i++) wanted["\"release\":\"" ids[i] "\""] = 1 }
      match($0, /"release":"[^"]*"/) { id = substr($0, RSTART, RLENGTH); if (id in wanted) last[id] = $0 }
      END { for (id in last) print last[id] }' "$LOG" | base64 | tr -d '\n')"
  fi
fi
# The hash of the live release's manifest: the client keeps the manifests it sent, by hash.
[ -n "$cur" ] && [ -d "$RELEASES/$cur" ] && [ -f "$META/$cur.manifest" ] && echo "manifestHash=$(sha256sum < "$META/$cur.manifest" | cut -c1-64)"
# What a blue-green deploy switches through: the proxy's control socket, and curl to talk to it.
[ -S "$PROXY_SOCKET" ] && echo proxySocket=ok
command -v curl >/dev/null 2>&1 && echo curl=ok
[ "${READ_ENV:-}" = 1 ] && [ -f "$APP/.env" ] && echo "env=$(base64 < "$APP/.env" | tr -d '\n')"
echo end=
# A user the Docker socket is closed to will be refused (the client learns why from Docker
# itself): no lock is taken for such a run, so it leaves nothing behind.
if [ -e "$DOCKER_SOCKET" ] && { [ ! -r "$DOCKER_SOCKET" ] || [ ! -w "$DOCKER_SOCKET" ]; }; then exit 1; fi
if [ "${MUST_EXIST:-}" = 1 ]; then [ "$kind" = dir ]; else [ "$kind" != file ]; fi && [ -n "$hastar" ]
