#!/bin/sh
# `docker inspect` of every container of compose project $1, running or not: a JSON array,
# `[]` when there is none. Compose v1 and v2 label their containers alike.
set -u
ids=$(docker ps -aq --filter "label=com.docker.compose.project=$1")
if [ -n "$ids" ]; then
  # shellcheck disable=SC2086 # one word per container id
  docker inspect $ids
else
  echo '[]'
fi
