#!/bin/sh
# TEMPORARY (branch i13-scripts2, for rollback's restore until the deploy core's own
# sync-release.sh lands: the lead drops this copy at the merge, theirs takes its place).
# Copies the release in folder $1 into the app folder, after removing the files that the
# release it replaces shipped and this one does not (or ships as a folder), and the emptied
# folders where this one has a file. Nothing else in the app folder is touched: `.env`,
# bind-mounted data and whatever containers wrote stay as they are.
# Inputs: the layout's APP, CURRENT and RELEASES; $1, the release folder.
set -eu
from=$1
mkdir -p "$APP"
if [ -f "$CURRENT" ]; then
  old=$RELEASES/$(cat "$CURRENT")
  if [ -d "$old" ] && [ "$old" != "$from" ]; then
    # A link the old release shipped where this one has a file goes too: cp would write through it.
    # shellcheck disable=SC2016 # the inner script's variables are its own
    (cd "$old" && find . ! -type d -print0) | xargs -0 -r sh -c 'new=$1 app=$2; shift 2
      for f; do
        if [ -L "$app/$f" ] && [ ! -L "$new/$f" ]; then rm -f -- "$app/$f"; continue; fi
        [ -L "$new/$f" ] || { [ -e "$new/$f" ] && [ ! -d "$new/$f" ]; } || rm -f -- "$app/$f"
      done' sh "$from" "$APP"
  fi
fi
# Of the release's paths, the empty folders in the app folder where a file must go.
# shellcheck disable=SC2016 # the inner script's variables are its own
(cd "$from" && find . ! -type d -print0) | xargs -0 -r sh -c 'app=$1; shift
  for f; do if [ -d "$app/$f" ] && [ ! -L "$app/$f" ]; then find "$app/$f" -depth -type d -empty -delete; fi; done' sh "$APP"
cp -a "$from"/. "$APP"/
