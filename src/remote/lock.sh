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
# Sets $ppid and $start (its start time) from /proc/PID/stat, both empty when PID is gone or a
# zombie: a process killed with its parent waits, dead, for init to collect it, which some inits
# do only seconds later. The command name in it may hold spaces and parentheses: fields are
# counted after its last ") ".
# Builtins only: this runs in every deploy's first and last round trip, where each process
# started costs more than the rest of the script.
proc_stat() {
  ppid='' start='' line=''
  { read -r line < "/proc/$1/stat"; } 2>/dev/null || return 0
  set -f
  # shellcheck disable=SC2086 # split into the stat fields
  set -- ${line##*") "}
  set +f
  [ "$#" -ge 20 ] || return 0
  case $1 in Z | X) return 0 ;; esac
  ppid=$2
  shift 19
  start=$1
}
# The pids of FILE's processes still running.
running() {
  [ -f "$1" ] || return 0
  while read -r pid recorded; do
    proc_stat "$pid"
    [ -n "$recorded" ] && [ "$start" = "$recorded" ] && echo "$pid"
  done < "$1"
  return 0
}
# Sets $conn to the sshd process serving this SSH connection: when it is gone, so is the client
# that ran us.
connection() {
  conn='' p=$$
  while [ "$p" -gt 1 ] 2>/dev/null; do
    comm=
    { read -r comm < "/proc/$p/comm"; } 2>/dev/null
    case "$comm" in sshd|sshd-session) conn=$p; return ;; esac
    proc_stat "$p"
    p=${ppid:-1}
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
    connection
    proc_stat "$conn"
    echo "$conn $start" > "$LOCK/session"
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
  # A worker already over (a quick one, on a loaded host) has nothing left to hold the lock for.
  proc_stat "$2"
  if [ -n "$start" ]; then echo "$2 $start" >> "$LOCK/workers" 2>/dev/null || true; fi
  ;;
release)
  # Only this connection's: a run whose lock was broken or cleared meanwhile must not remove the
  # next one's. A state folder left empty (a first run that was refused) goes too.
  connection
  proc_stat "$conn"
  recorded=
  { read -r recorded < "$LOCK/session"; } 2>/dev/null
  if [ -n "$conn" ] && [ "$recorded" = "$conn $start" ]; then rm -rf "$LOCK"; fi
  # Both at once: rmdir removes the state folder, then its parent if that is empty too.
  rmdir "$STATE" "${STATE%/*}" 2>/dev/null
  ;;
*)
  echo "usage: lock.sh take HOLDER FORCE | report | register PID | release" >&2
  exit 2
  ;;
esac
exit 0
