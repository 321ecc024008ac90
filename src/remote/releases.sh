#!/bin/sh
# Lists what `releases` and `rollback` choose from, in one round trip: the live release, each
# kept release newest first with its size in KiB and its metadata (base64, one line), and the
# deploy log (base64). Prints nothing for a folder never deployed.
# Inputs: the layout's RELEASES, CURRENT, META and LOG.
set -u
[ -f "$CURRENT" ] && echo "current $(cat "$CURRENT")"
if [ -d "$RELEASES" ]; then
  # shellcheck disable=SC2012 # release ids are ours, filename-safe; ls sorts them
  ls -1 "$RELEASES" | sort -r | while read -r release; do
    metadata=
    [ -f "$META/$release.json" ] && metadata=$(base64 < "$META/$release.json" | tr -d '\n')
    echo "release $release $(du -sk "$RELEASES/$release" | cut -f1) $metadata"
  done
fi
[ -f "$LOG" ] && echo "log $(base64 < "$LOG" | tr -d '\n')"
true
