#!/bin/sh
# Placeholder removed by the first real script: prints its inputs, one a line.
set -eu
printf 'greeting=%s\n' "$GREETING"
for arg in "$@"; do printf 'arg=%s\n' "$arg"; done
