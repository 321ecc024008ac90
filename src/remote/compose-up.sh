#!/bin/sh
# Builds what the project builds (BUILD=1), then starts the stack in the app folder; compose's
# output streams back line by line.
# Inputs: the layout's APP; COMPOSE (v1: docker-compose, v2: docker compose); PROJECT; BUILD;
# the compose files as the arguments.
set -eu
compose() { if [ "$COMPOSE" = v2 ]; then docker compose "$@"; else docker-compose "$@"; fi; }
files=$#
for file; do set -- "$@" -f "$file"; done
shift "$files"
cd "$APP"
if [ "$BUILD" = 1 ]; then compose -p "$PROJECT" --env-file .env "$@" build; fi
compose -p "$PROJECT" --env-file .env "$@" up -d --remove-orphans
