#!/bin/sh
# Lands the archive (stdin) in a fresh staging folder; the live app folder is not touched.
# A full upload (BASE empty) carries its manifest whole. An incremental one first assembles
# the staging copy from the live release BASE (hard links, so it costs no space), extracts
# what changed over it, removes what the new version deletes, and checks its rebuilt manifest
# against MANIFEST_HASH; its lists of changed and deleted paths stay in staging for the switch.
# Prints UPLOADED_MARK once the archive is whole and staged. Exits BASE_GONE when the live
# release is gone or its manifest does not match: the client then sends everything.
# Inputs: the layout's variables; BASE; MANIFEST_HASH; UPLOADED_MARK; BASE_GONE; the names in
# the archive of its manifest (MANIFEST_NAME) and of a redeploy's delta files (DELTA_REMOVE,
# DELTA_ADD: manifest lines; DELTA_CHANGED, DELTA_DELETED: NUL-separated paths).
set -eu
# The app's parent keeps ordinary modes; the state folder is private; the staged tree keeps
# the archive's modes, since `cp -a` carries them, its root's included, into the app folder.
umask 022
mkdir -p "$(dirname -- "$APP")"
umask 077
mkdir -p "$STATE"
rm -rf "$STAGING"
mkdir "$STAGING"
umask 022
extract() { tar -xzpf - --no-same-owner -C "$STAGING"; }

if [ -z "$BASE" ]; then
  mkdir "$STAGED_FILES"
  if [ -e "$APP" ] || [ -L "$APP" ]; then
    extract
  else
    # A full upload to an app folder that does not exist yet: a second copy of the files is
    # extracted on the way, from the same stream, for the switch to move into place, rather
    # than copying the whole tree after the upload. Anything at the app path (a folder
    # deployed by hand, a link) gets the copy instead.
    mkdir "$FRESH_APP"
    fifo=$STAGING/fresh.fifo
    mkfifo "$fifo"
    # The fifo is opened by this shell's redirection, before tar runs: tee's open never waits
    # on a reader that is not there. The stream is decompressed once, for both copies; sh has
    # no pipefail, so a failed gzip leaves a mark.
    tar -xpf - --no-same-owner --strip-components=1 -C "$FRESH_APP" "${STAGED_FILES##*/}" < "$fifo" &
    copier=$!
    { gzip -dc || : > "$STAGING/gunzip-failed"; } | tee "$fifo" | tar -xpf - --no-same-owner -C "$STAGING"
    wait "$copier"
    if [ -e "$STAGING/gunzip-failed" ]; then echo "the archive arrived damaged" >&2; exit 1; fi
    rm -f "$fifo" "$FRESH_APP/$MANIFEST_NAME"
  fi
  mv "$STAGED_FILES/$MANIFEST_NAME" "$STAGED_MANIFEST"
else
  [ -d "$RELEASES/$BASE" ] || { echo "the live release is gone" >&2; exit "$BASE_GONE"; }
  cp -al "$RELEASES/$BASE" "$STAGED_FILES"
  extract
  # The new manifest: the live one, less the lines of what changed or went, plus the new lines.
  { grep -vxF -f "$STAGED_FILES/$DELTA_REMOVE" "$META/$BASE.manifest" || [ $? -eq 1 ]; cat "$STAGED_FILES/$DELTA_ADD"; } | LC_ALL=C sort > "$STAGED_MANIFEST"
  (cd "$STAGED_FILES" && xargs -0 -r rm -f -- < "$DELTA_DELETED")
  mv "$STAGED_FILES/$DELTA_CHANGED" "$STAGED_CHANGED"
  mv "$STAGED_FILES/$DELTA_DELETED" "$STAGED_DELETED"
  rm -f "$STAGED_FILES/$DELTA_REMOVE" "$STAGED_FILES/$DELTA_ADD"
  [ "$(sha256sum < "$STAGED_MANIFEST" | cut -c1-64)" = "$MANIFEST_HASH" ] || { echo "the live release's manifest does not match" >&2; exit "$BASE_GONE"; }
fi
echo "$UPLOADED_MARK"
