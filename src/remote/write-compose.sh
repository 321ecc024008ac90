#!/bin/sh
# Replaces compose files of the app folder with the texts on stdin, one base64 line each, in
# the order of the arguments (the files' paths relative to APP). Each file is first copied to
# FILE.STAMP.bak; each write is a rename, never half a file; a file that is a symbolic link is
# written through to the file it names, and the link stays.
# Inputs: APP, the app folder; STAMP, the backups' suffix; the file paths as arguments.
set -eu
cd "$APP"
input=$(mktemp)
trap 'rm -f "$input"' EXIT
cat > "$input"
line=0
for file in "$@"; do
  line=$((line + 1))
  target=$(readlink -f -- "$file")
  cp -p -- "$file" "$file.$STAMP.bak"
  sed -n "${line}p" "$input" | base64 -d > "$target.deploy-vps-new"
  mv -f -- "$target.deploy-vps-new" "$target"
done
