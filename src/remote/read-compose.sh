#!/bin/sh
# The compose files fix-compose may rewrite: for each name given as an argument that is a file
# in the app folder, `compose.N=base64 of its text`, N its position among the arguments from 0.
# Inputs: on stdin, the probe's answer, passed on as it came (the app folder is read from it);
# the candidate file names, relative to the app folder, as arguments.
set -u
answer=$(cat)
printf '%s\n' "$answer"
app=$(printf '%s\n' "$answer" | sed -n 's/^app=//p' | base64 -d)
i=0
for name in "$@"; do
  [ -f "$app/$name" ] && echo "compose.$i=$(base64 < "$app/$name" | tr -d '\n')"
  i=$((i + 1))
done
true
