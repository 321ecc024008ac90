#!/bin/sh
# The app folder's deploy lock, taken atomically (mkdir). One script for every use of it, so
# its process functions are written once:
#   lock.sh take HOLDER FORCE   take it for HOLDER (a JSON line); FORCE=1 breaks a live client's lock
#   lock.sh report              who holds it, if anyone, and whether they still run
#   lock.sh register PID        add the detached process PID to its workers
#   lock.sh release             remove it if this SSH connection holds it
# Inputs: the layout's STATE and LOCK. The lock folder holds `info` (who), `session` (the sshd
# process serving the client) and `workers` (the detached steps it started), each process
# recorded as "pid start-time", so a pid the kernel reused is not taken for the one recorded.
set -u

enc() { printf '%s' "$1" | base64 | tr -d '\n'; }
started() { sed 's/.*) //' /proc/"$1"/stat 2>/dev/null | cut -d' ' -f20; }
# The pids of FILE's processes still running.
running() {
  [ -f "$1" ] || return 0
  while read -r pid start; do [ -n "$start" ] && [ "$(started "$pid")" = "$start" ] && echo "$pid"; done < "$1"
  return 0
}
# The sshd process serving this SSH connection: when it is gone, so is the client that ran us.
connection() {
  p=$$
  while [ "$p" -gt 1 ] 2>/dev/null; do
    case "$(cat /proc/"$p"/comm 2>/dev/null)" in sshd|sshd-session) echo "$p"; return ;; esac
    p=$(sed 's/.*) //' /proc/"$p"/stat 2>/dev/null | cut -d' ' -f2); p=${p:-1}
  done
}
# Sets $session and $workers to the lock's processes still running, and prints the holder.
inspect() {
  session=$(running "$LOCK/session")
  workers=$(running "$LOCK/workers" | tr '\n' ' ' | sed 's/ $//')
  echo "holder=$(enc "$(cat "$LOCK/info" 2>/dev/null)")"
  if [ -n "$workers" ]; then echo "workers=$workers"; fi
}

case "${1:-}" in
take)
  # A lock whose processes are all gone (the client's session and any detached step it
  # started) was left by a run that died: it is cleared. FORCE breaks the lock of a client that
  # is alive (hung, say), never while one of its detached steps runs: two would interleave.
  holder=$2 force=$3
  ( umask 077; mkdir -p "$STATE" )
  lockstate=taken
  if ! mkdir "$LOCK" 2>/dev/null; then
    inspect
    if [ -z "$session$workers" ]; then lockstate=stale
    elif [ -z "$workers" ] && [ "$force" = 1 ]; then lockstate=broke
    else lockstate=held; fi
    if [ "$lockstate" != held ]; then
      rm -rf "$LOCK"
      mkdir "$LOCK" 2>/dev/null || lockstate=held
    fi
  fi
  if [ "$lockstate" != held ]; then
    printf '%s\n' "$holder" > "$LOCK/info"
    conn=$(connection)
    echo "$conn $(started "$conn")" > "$LOCK/session"
    : > "$LOCK/workers"
  fi
  echo "lock=$lockstate"
  ;;
report)
  if [ -d "$LOCK" ]; then
    inspect
    if [ -n "$session$workers" ]; then echo lockseen=running; else echo lockseen=dead; fi
  fi
  ;;
register)
  echo "$2 $(started "$2")" >> "$LOCK/workers" 2>/dev/null || true
  ;;
release)
  # Only this connection's: a run whose lock was broken or cleared meanwhile must not remove the
  # next one's. A state folder left empty (a first run that was refused) goes too.
  conn=$(connection)
  if [ -n "$conn" ] && [ "$(cat "$LOCK/session" 2>/dev/null)" = "$conn $(started "$conn")" ]; then rm -rf "$LOCK"; fi
  rmdir "$STATE" 2>/dev/null
  rmdir "$(dirname -- "$STATE")" 2>/dev/null
  ;;
*)
  echo "usage: lock.sh take HOLDER FORCE | report | register PID | release" >&2
  exit 2
  ;;
esac
exit 0
