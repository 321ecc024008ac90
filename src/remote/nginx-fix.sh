#!/bin/sh
# Applies the nginx changes of `deploy-vps audit --fix`, all or none: nothing changes unless each
# file is still what the audit read and nginx accepts the current config; every file is backed
# up, written atomically, then `nginx -t`; a failed test or reload puts every file back.
# Inputs: NGINX_CONF, the main file nginx runs with (every nginx command gets `-c` it); STAMP, a
# word for the backups' names. Stdin: one line per file, `PATH_B64 SHA_BEFORE CONTENT_B64`: the
# absolute path, the sha256 of the content the audit read (`-`: a new file, it must not exist),
# the new content. A symlink's target is written, the link stays.
# Runs as the user when the user may write every file (owning it, so its owner is kept), nginx -t
# passes as the user and the user may signal the nginx master; else with `sudo -n`.
# Output: `backup=PATH_B64` per backup kept, `written=PATH_B64` per file written (the link's
# target for a symlink); progress and errors on stderr.
# Exit: 0 applied and reloaded; 2 bad input; 3 nginx -t refused the current or the new config;
# 4 a file changed since the audit read it; 5 root or passwordless sudo needed; 1 reload or a
# write failed. Anything but 0: every file as it was.
set -eu
# nginx lives in sbin, which an SSH session's PATH often lacks.
PATH=$PATH:/usr/local/sbin:/usr/sbin:/sbin
enc() { printf '%s' "$1" | base64 | tr -d '\n'; }
say() { printf '%s\n' "$*" >&2; }
refuse() {
  code=$1
  shift
  say "$@"
  exit "$code"
}

case $STAMP in '' | *[!A-Za-z0-9._-]*) refuse 2 "nginx-fix: STAMP must be one word of letters, digits, '.', '_' or '-'" ;; esac
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
sudo=0
run() { if [ "$sudo" = 1 ]; then sudo -n "$@"; else "$@"; fi; }

# The input, one numbered set of files per line in $work: path, sha, new content.
n=0
while read -r path64 sha content64 rest || [ -n "${path64:-}" ]; do
  [ -n "$path64" ] || continue
  n=$((n + 1))
  if [ -z "$content64" ] || [ -n "$rest" ] ||
    ! printf '%s' "$path64" | base64 -d > "$work/$n.path" 2>/dev/null ||
    ! printf '%s' "$content64" | base64 -d > "$work/$n.new" 2>/dev/null; then
    refuse 2 "nginx-fix: input line $n is not 'PATH_B64 SHA_BEFORE CONTENT_B64'"
  fi
  case $sha in
    -) ;;
    *[!0-9a-f]*) refuse 2 "nginx-fix: input line $n: '$sha' is neither a sha256 nor '-'" ;;
    *) [ "${#sha}" = 64 ] || refuse 2 "nginx-fix: input line $n: '$sha' is neither a sha256 nor '-'" ;;
  esac
  printf '%s' "$sha" > "$work/$n.sha"
  # One line per path: a newline in one is refused rather than half-read.
  if [ "$(wc -l < "$work/$n.path")" != 0 ]; then refuse 2 "nginx-fix: input line $n: the path holds a newline"; fi
  case $(cat "$work/$n.path") in /*) ;; *) refuse 2 "nginx-fix: input line $n: the path is not absolute" ;; esac
done
[ "$n" -gt 0 ] || refuse 2 "nginx-fix: no file to write on stdin"

# Each file's real path (a symlink's target): $work/N.target. Fails when a folder is missing.
resolve() {
  i=0
  while [ "$i" -lt "$n" ]; do
    i=$((i + 1))
    target=$(run readlink -f -- "$(cat "$work/$i.path")") || return 1
    printf '%s' "$target" > "$work/$i.target"
  done
}

# Why the user may not make the change alone (empty: it may).
why_not_user() {
  me=$(id -un)
  if ! resolve 2>/dev/null; then
    echo "a folder of the files is not readable by $me"
    return
  fi
  i=0
  while [ "$i" -lt "$n" ]; do
    i=$((i + 1))
    target=$(cat "$work/$i.target")
    if [ -e "$target" ]; then
      if [ ! -w "$target" ]; then
        echo "$target is not writable by $me"
        return
      fi
      # Rewriting another's file as the user would give it the user's ownership.
      if [ "$(stat -c %u -- "$target")" != "$(id -u)" ]; then
        echo "$target belongs to $(stat -c %U -- "$target"), not $me"
        return
      fi
    fi
    # The backup and the temporary file go beside the file.
    if [ ! -w "$(dirname -- "$target")" ]; then
      echo "$(dirname -- "$target") (the folder of $target) is not writable by $me"
      return
    fi
  done
  if ! nginx -T -c "$NGINX_CONF" > "$work/dump" 2> "$work/test"; then
    # A refusal for want of rights as the user; any other error is the config's, whoever runs it.
    if grep '\[emerg\]' "$work/test" | grep -q 'Permission denied\|Operation not permitted'; then
      echo "nginx -t as $me: $(grep '\[emerg\]' "$work/test" | head -n 1)"
      return
    fi
    cat "$work/test" >&2
    refuse 3 "nginx-fix: nginx -t fails on the current config: fix it first; nothing was changed"
  fi
  # The master must be the user's to signal for the reload.
  pidfile=$(sed -n 's/^[[:space:]]*pid[[:space:]]\{1,\}\([^;[:space:]]*\)[[:space:]]*;.*/\1/p' "$work/dump" | tail -n 1)
  [ -n "$pidfile" ] || pidfile=$(nginx -V 2>&1 | sed -n 's/.*--pid-path=\([^[:space:]]*\).*/\1/p')
  if [ -n "$pidfile" ] && [ -r "$pidfile" ]; then
    pid=$(cat "$pidfile")
    if [ -n "$pid" ] && [ -d "/proc/$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
      echo "the nginx master (pid $pid, $pidfile) is not $me's to reload"
    fi
  fi
}

reason=$(why_not_user) || exit $?
if [ -n "$reason" ]; then
  if sudo -n true 2>/dev/null; then
    sudo=1
    resolve || refuse 2 "nginx-fix: a folder of the files does not exist"
    if ! run nginx -t -c "$NGINX_CONF" > "$work/test" 2>&1; then
      cat "$work/test" >&2
      refuse 3 "nginx-fix: nginx -t fails on the current config: fix it first; nothing was changed"
    fi
  else
    refuse 5 "nginx-fix: the fix needs root or passwordless sudo for nginx: $reason; nothing was changed"
  fi
fi

# The backup's and the temporary file's names start with a dot: nginx's `include dir/*` skips
# those, so neither is read as config beside the file.
hidden() { printf '%s/.%s.deploy-vps-%s' "$(dirname -- "$1")" "$(basename -- "$1")" "$2"; }

# Each file still as the audit read it, no two lines for one file, no backup name taken.
i=0
while [ "$i" -lt "$n" ]; do
  i=$((i + 1))
  target=$(cat "$work/$i.target")
  sha=$(cat "$work/$i.sha")
  if [ "$sha" = - ]; then
    if run test -e "$target" || run test -L "$target"; then
      refuse 4 "nginx-fix: $target exists: changed since the audit read it; run audit again"
    fi
  elif ! run test -f "$target" || [ "$(run cat -- "$target" | sha256sum | cut -c 1-64)" != "$sha" ]; then
    refuse 4 "nginx-fix: $target changed since the audit read it; run audit again"
  fi
  if run test -e "$(hidden "$target" "$STAMP")"; then
    refuse 2 "nginx-fix: the backup $(hidden "$target" "$STAMP") exists already: give another STAMP"
  fi
  j=0
  while [ "$j" -lt "$((i - 1))" ]; do
    j=$((j + 1))
    if [ "$(cat "$work/$j.target")" = "$target" ]; then refuse 2 "nginx-fix: $target is given twice"; fi
  done
done

# Writes file I: its backup (cp -p: owner and mode kept), then a copy of it (or a new 0644 file)
# filled with the new content and renamed over it. $work/I.done records what to undo.
apply() {
  target=$(cat "$work/$1.target")
  backup=$(hidden "$target" "$STAMP")
  tmp=$(hidden "$target" "tmp.$$")
  if [ "$(cat "$work/$1.sha")" = - ]; then
    echo new > "$work/$1.done"
    (umask 022 && run tee -- "$tmp" < "$work/$1.new" > /dev/null) || return 1
    run chmod 644 -- "$tmp" || return 1
  else
    run cp -p -- "$target" "$backup" || { run rm -f -- "$backup"; return 1; }
    echo backup > "$work/$1.done"
    run cp -p -- "$target" "$tmp" || return 1
    run tee -- "$tmp" < "$work/$1.new" > /dev/null || return 1
  fi
  run mv -f -- "$tmp" "$target"
}

# Every file written so far back as it was, its backup gone; a new file removed.
undo() {
  i=0
  while [ "$i" -lt "$n" ]; do
    i=$((i + 1))
    [ -f "$work/$i.done" ] || continue
    target=$(cat "$work/$i.target")
    run rm -f -- "$(hidden "$target" "tmp.$$")"
    if [ "$(cat "$work/$i.done")" = backup ]; then
      run mv -f -- "$(hidden "$target" "$STAMP")" "$target"
    else
      run rm -f -- "$target"
    fi
  done
}

i=0
while [ "$i" -lt "$n" ]; do
  i=$((i + 1))
  say "writing $(cat "$work/$i.target")"
  if ! apply "$i"; then
    undo
    refuse 1 "nginx-fix: writing $(cat "$work/$i.target") failed; every file was put back"
  fi
done
if ! run nginx -t -c "$NGINX_CONF" > "$work/test" 2>&1; then
  undo
  cat "$work/test" >&2
  refuse 3 "nginx-fix: nginx -t refuses the new config; every file was put back, nginx was not reloaded"
fi
if ! run nginx -s reload -c "$NGINX_CONF" > "$work/reload" 2>&1; then
  undo
  cat "$work/reload" >&2
  refuse 1 "nginx-fix: nginx -s reload failed; every file was put back"
fi
say "nginx reloaded"

# The backups stay: they are the user's way back to the config as it was before the fix.
i=0
while [ "$i" -lt "$n" ]; do
  i=$((i + 1))
  target=$(cat "$work/$i.target")
  if [ "$(cat "$work/$i.done")" = backup ]; then echo "backup=$(enc "$(hidden "$target" "$STAMP")")"; fi
  echo "written=$(enc "$target")"
done
