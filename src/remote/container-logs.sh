#!/bin/sh
# The last $1 log lines of each container named on stdin (one a line): a `logs NAME` line,
# then each of its lines after `| `. As text, not encoded, so that the connection's redaction
# sees them (a crashing app may print its own password).
set -u
while read -r container; do
  [ -n "$container" ] || continue
  printf 'logs %s\n' "$container"
  docker logs --tail "$1" "$container" < /dev/null 2>&1 | awk '{ print "| " $0 }'
done
