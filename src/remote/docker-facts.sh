#!/bin/sh
# What the docker CLI says about the server: whether the engine answers, which Compose is
# there, and which stacks run from this app folder or under its project name. Prints
# `key=value` lines, values base64-encoded.
# Inputs: the layout's APP, STATE, PROJECT_FILE, COMPOSE_VERSION_FILE; CANDIDATE, the project
# name the client would use when none is recorded; ENGINE_ANSWERS=1 when the client asks the
# Engine API itself whether the engine answers and which stacks run (then only the Compose
# part is asked here). Exits 0 when the engine answers (or, with ENGINE_ANSWERS, may).
enc() { printf '%s' "$1" | base64 | tr -d '\n'; }

if ! command -v docker >/dev/null 2>&1; then
  echo docker=missing
  v1=$(command -v docker-compose) && echo "compose1=$(enc "$v1")"
  exit 1
fi
# The folders other than this one whose containers run under compose project $1.
stacks() { docker ps -a --filter "label=com.docker.compose.project=$1" --format '{{.Label "com.docker.compose.project.working_dir"}}' 2>/dev/null | sort -u | grep -vxF "$APP"; }
# The Compose v2 version is kept in the state folder (once there is one), under the path and
# mtime of the docker CLI and its compose plugin: an upgrade changes them, and asking costs a
# Go start-up each time.
plugins=
for dir in "${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins" /usr/local/lib/docker/cli-plugins /usr/local/libexec/docker/cli-plugins /usr/lib/docker/cli-plugins /usr/libexec/docker/cli-plugins; do
  [ -f "$dir/docker-compose" ] && plugins="$plugins $dir/docker-compose"
done
key=
# shellcheck disable=SC2086 # $plugins is a list of paths without spaces or none
[ -n "$plugins" ] && key=$(stat -L -c '%n %Y %s' "$(command -v docker)" $plugins 2>/dev/null | tr '\n' ' ')
cached=
[ -n "$key" ] && [ "$(head -n 1 "$COMPOSE_VERSION_FILE" 2>/dev/null)" = "$key" ] && cached=$(sed -n 2p "$COMPOSE_VERSION_FILE")
# The docker calls run side by side: one after the other, each a Go start-up, they were most
# of the probe's time.
side=$(mktemp -d)
if [ -n "$cached" ]; then printf '%s\n' "$cached" > "$side/v2"
else { docker compose version --short > "$side/v2" 2>/dev/null || rm -f "$side/v2"; } & fi
status=0
if [ "${ENGINE_ANSWERS:-}" != 1 ]; then
  # A stack deployed by hand is found by the folder compose recorded in its containers' labels.
  docker ps -a --filter "label=com.docker.compose.project.working_dir=$APP" --format '{{.Label "com.docker.compose.project"}}' 2>/dev/null | head -n 1 > "$side/labelled" &
  [ -f "$PROJECT_FILE" ] && { stacks "$(cat "$PROJECT_FILE")" > "$side/others"; } &
  if out=$(docker info --format '{{.ServerVersion}}' 2>&1); then echo docker=ok
  else echo docker=error; echo "dockerMessage=$(enc "$out")"; status=1; fi
fi
wait
if [ -f "$side/v2" ]; then
  v2=$(cat "$side/v2")
  echo "compose2=$(enc "$v2")"
  # Kept by the run's last step (remember-compose.sh), not here: a run refused later changes nothing.
  [ -z "$cached" ] && [ -n "$key" ] && [ -n "$v2" ] && echo "composeKey=$(enc "$key")"
fi
# Only whether v1 is there: its version costs a Python start-up.
v1=$(command -v docker-compose) && echo "compose1=$(enc "$v1")"
if [ "${ENGINE_ANSWERS:-}" != 1 ]; then
  labelled=$(cat "$side/labelled" 2>/dev/null)
  [ -n "$labelled" ] && echo "labelled=$(enc "$labelled")"
  # Another folder's stack under the same project name would be replaced by this one's (looked
  # up above, beside docker info, when the name is already recorded).
  if [ -f "$side/others" ]; then others=$(cat "$side/others"); else others=$(stacks "${labelled:-$CANDIDATE}"); fi
  [ -n "$others" ] && echo "others=$(enc "$others")"
fi
rm -rf "$side"
exit "$status"
