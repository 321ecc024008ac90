#!/bin/sh
# The runtime proxy's side of the server, for `deploy-vps proxy`. $1 is the action:
#   probe            prints `key=value` lines: uid, gid, home (base64), dockerGid, systemd (yes
#                    when `systemctl --user` answers), node (its version), nodePath (base64),
#                    config and dependencies (the config and dependencies files' names),
#                    socket (yes when the control socket exists); changes nothing.
#   prepare [EXT]    makes the state and config folders (0700); with EXT (json, yml or yaml),
#                    writes stdin to the config file config.EXT atomically and removes the others.
#   dependencies EXT writes stdin to the config folder's dependencies.EXT the same way.
#   put PATH         writes stdin to PATH (under $HOME when relative) atomically.
#   enable-systemd   reloads the user units, enables the proxy's and (re)starts it.
# Inputs: STATE, CONFIG (the folders), DOCKER_SOCKET, SOCKET (the control socket), UNIT (the unit's name).
set -eu
enc() { printf '%s' "$1" | base64 | tr -d '\n'; }

# A temporary file beside the target, renamed over it: readers see the old file or the new one.
write_atomically() {
  mkdir -p "$(dirname "$1")"
  tmp="$1.tmp.$$"
  cat > "$tmp"
  chmod 600 "$tmp"
  mv -f "$tmp" "$1"
}

# stdin to $CONFIG/$1.$2 (a base name and an extension), and no other extension of $1 left there.
write_config() {
  write_atomically "$CONFIG/$1.$2"
  for ext in json yml yaml; do
    [ "$ext" = "$2" ] || rm -f "${CONFIG:?}/$1.$ext"
  done
}

case "$1" in
  probe)
    echo "uid=$(id -u)"
    echo "gid=$(id -g)"
    echo "home=$(enc "$HOME")"
    if [ -S "$DOCKER_SOCKET" ]; then echo "dockerGid=$(stat -c %g "$DOCKER_SOCKET")"; fi
    # A systemctl with no user manager to answer it (a container, no lingering session) is no use.
    if systemctl --user show-environment >/dev/null 2>&1; then echo "systemd=yes"; fi
    if node=$(command -v node 2>/dev/null); then
      echo "nodePath=$(enc "$node")"
      echo "node=$("$node" --version 2>/dev/null || true)"
    fi
    for base in config dependencies; do
      for ext in json yml yaml; do
        if [ -f "$CONFIG/$base.$ext" ]; then echo "$base=$base.$ext"; break; fi
      done
    done
    if [ -S "$SOCKET" ]; then echo "socket=yes"; fi
    ;;
  prepare)
    umask 077
    mkdir -p "$STATE" "$CONFIG"
    if [ -n "${2:-}" ]; then write_config config "$2"; fi
    ;;
  dependencies)
    umask 077
    mkdir -p "$CONFIG"
    write_config dependencies "$2"
    ;;
  put)
    umask 077
    case "$2" in /*) write_atomically "$2" ;; *) write_atomically "$HOME/$2" ;; esac
    ;;
  enable-systemd)
    systemctl --user daemon-reload
    systemctl --user enable "$UNIT"
    # restart, not start: a running daemon picks up a new bundle or unit.
    systemctl --user restart "$UNIT"
    ;;
  *)
    echo "proxy-host.sh: unknown action '$1'" >&2
    exit 2
    ;;
esac
