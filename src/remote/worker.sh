#!/bin/sh
# The worker of a version change, run detached (detached.sh): the file step (a deploy's switch,
# a rollback's restore), then build and `up`. After a successful `up` it records the release
# the containers were brought up from; a failure it logs itself, being the one that knows.
# Inputs: FILES_STEP, the file step's command line (empty: none), printing SWITCHED_MARK once
# it succeeded; START_STEP, the command line that builds and starts; LOG_FAILURE, the command
# line that logs a failure; RELEASE; the layout's CONTAINERS_FILE.
set -u
status=0
if [ -n "$FILES_STEP" ]; then
  sh -c "$FILES_STEP" || status=$?
  [ "$status" -ne 0 ] || echo "$SWITCHED_MARK"
fi
[ "$status" -ne 0 ] || sh -c "$START_STEP" || status=$?
if [ "$status" -eq 0 ]; then
  printf '%s\n' "$RELEASE" > "$CONTAINERS_FILE.new" && mv -f "$CONTAINERS_FILE.new" "$CONTAINERS_FILE"
else
  sh -c "$LOG_FAILURE"
fi
exit "$status"
