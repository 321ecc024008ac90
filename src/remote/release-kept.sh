#!/bin/sh
# Fails, saying so, when release $1 is no longer kept (pruned since it was chosen).
# Inputs: the layout's RELEASES; $1, the release id.
set -eu
[ -d "$RELEASES/$1" ] || { echo "release $1 is no longer kept" >&2; exit 1; }
