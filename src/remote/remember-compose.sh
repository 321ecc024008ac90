#!/bin/sh
# Keeps the Compose v2 version the probe asked for, under what identifies the docker CLI and
# its plugin (docker-facts.sh's key), so that the next probe need not start `docker compose`.
# Run by a run's last step: a run refused before it changes nothing on the server.
# Inputs: STATE, COMPOSE_VERSION_FILE; KEY and VERSION as arguments.
set -eu
[ -d "$STATE" ] || exit 0
printf '%s\n%s\n' "$1" "$2" > "$COMPOSE_VERSION_FILE.new"
mv -f "$COMPOSE_VERSION_FILE.new" "$COMPOSE_VERSION_FILE"
