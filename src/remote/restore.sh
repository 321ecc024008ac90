#!/bin/sh
# Rollback's file step: puts kept release $1 back in the app folder, then records it as the
# live release (by a rename, so that `current` is never half written). `.env` and data are not
# touched: the copy is the switch's own, given as SYNC_RELEASE.
# Inputs: the layout's RELEASES and CURRENT; SYNC_RELEASE, the command that copies the release
# folder given as its last argument into the app folder; $1, the release id.
set -eu
umask 022
sh -c "$SYNC_RELEASE \"\$1\"" sync-release "$RELEASES/$1"
umask 077
printf '%s\n' "$1" > "$CURRENT.new"
mv -f "$CURRENT.new" "$CURRENT"
