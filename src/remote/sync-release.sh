#!/bin/sh
# Copies the release folder $1 into the app folder. Nothing else in the app folder is touched:
# `.env`, bind-mounted data and whatever containers wrote stay as they are.
#   sync-release.sh FOLDER           the whole release, after removing the files that the live
#                                    release (the layout's CURRENT) shipped and this one does not
#                                    (or ships as a folder)
#   sync-release.sh FOLDER changes   after an incremental upload: what it changed and deleted
#                                    (STAGED_CHANGED, STAGED_DELETED), plus any release file the
#                                    app folder lost (removed by hand, say): a one-file change
#                                    writes one file, not the whole tree
# Either way, emptied folders where a file now goes make way for it.
# Inputs: the layout's APP, CURRENT, RELEASES, STAGING, STAGED_CHANGED, STAGED_DELETED; $1, $2.
set -eu
from=$1
mkdir -p "$APP"

# Of the NUL-separated paths on stdin, removes the empty folders in the app folder where a file must go.
clear_emptied_folders() {
  # shellcheck disable=SC2016 # the inner script's variables are its own
  xargs -0 -r sh -c 'app=$1; shift
    for f; do if [ -d "$app/$f" ] && [ ! -L "$app/$f" ]; then find "$app/$f" -depth -type d -empty -delete; fi; done' sh "$APP"
}

if [ "${2:-}" = changes ]; then
  (cd "$APP" && xargs -0 -r rm -f -- < "$STAGED_DELETED") || echo "warning: some deleted files could not be removed from the app folder" >&2
  # shellcheck disable=SC2016
  (cd "$from" && find . ! -type d -print0) | xargs -0 -r sh -c 'app=$1; shift
    for f; do [ -e "$app/$f" ] || [ -L "$app/$f" ] || printf "%s\0" "$f"; done' sh "$APP" >> "$STAGED_CHANGED"
  clear_emptied_folders < "$STAGED_CHANGED"
  # Through a file, not a pipe: sh has no pipefail, and a half-read change must stop the switch.
  # `--overwrite` writes in place, as `cp` does, so a file bind-mounted on its own shows its new content.
  (cd "$from" && tar -c --null --verbatim-files-from -T "$STAGED_CHANGED" -f "$STAGING/changes.tar")
  tar -x -p --overwrite --no-same-owner -C "$APP" -f "$STAGING/changes.tar"
  exit 0
fi

if [ -f "$CURRENT" ]; then
  old=$RELEASES/$(cat "$CURRENT")
  if [ -d "$old" ] && [ "$old" != "$from" ]; then
    # A link the old release shipped where this one has a file goes too: cp would write through it.
    # shellcheck disable=SC2016
    (cd "$old" && find . ! -type d -print0) | xargs -0 -r sh -c 'new=$1 app=$2; shift 2
      for f; do
        if [ -L "$app/$f" ] && [ ! -L "$new/$f" ]; then rm -f -- "$app/$f"; continue; fi
        [ -L "$new/$f" ] || { [ -e "$new/$f" ] && [ ! -d "$new/$f" ]; } || rm -f -- "$app/$f"
      done' sh "$from" "$APP"
  fi
fi
(cd "$from" && find . ! -type d -print0) | clear_emptied_folders
cp -a "$from"/. "$APP"/
