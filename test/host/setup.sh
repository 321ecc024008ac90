#!/usr/bin/env bash
# Brings up a local "VPS" for the demo and the end-to-end tests: a real Docker Engine with
# Compose v1 and v2, and a real sshd on 127.0.0.1 that lets user `deploy` in with a key (or the
# password in $STATE/deploy-password), plus users `nodocker`, `nogroup`, `notar` and `busytar` that stand for
# broken servers (see below). `deploy`'s tar has a test hook that can slow the switch down.
# Idempotent: every step checks before it acts. Needs root on Debian 12 (see ../shared/docs).
# Prints the connection settings as DEPLOY_* lines in $STATE/env.
set -euo pipefail

STATE=${DEPLOY_VPS_TEST_HOST_DIR:-/var/lib/deploy-vps-test-host}
PORT=${DEPLOY_VPS_TEST_HOST_PORT:-2222}
USER_NAME=deploy
log() { printf '[test-host] %s\n' "$*" >&2; }

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "test-host: this script needs root on Debian/Ubuntu (apt-get) to install Docker Engine, Compose and openssh-server." >&2
  echo "test-host: elsewhere, point the tests at your own host with DEPLOY_HOST, DEPLOY_PORT, DEPLOY_USER, DEPLOY_SSH_KEY, DEPLOY_KNOWN_HOSTS." >&2
  exit 1
fi

mkdir -p "$STATE"
chmod 700 "$STATE"

apt_updated=
apt_install() {
  local missing=()
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  ((${#missing[@]})) || return 0
  if [ -z "$apt_updated" ]; then log "apt-get update"; apt-get update -qq >/dev/null; apt_updated=1; fi
  log "installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}
# chromium: the waiting pages are tested in a real browser (driven by playwright-core, which never downloads one).
apt_install docker.io docker-compose openssh-server busybox-static iproute2 rsync nginx wrk chromium

# Compose v2 as a CLI plugin, from Debian 13's archive (Debian 12 ships only v1).
PLUGIN=/usr/libexec/docker/cli-plugins/docker-compose
if [ ! -x "$PLUGIN" ]; then
  log "fetching Compose v2 from Debian trixie"
  scratch=$(mktemp -d)
  mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  mirror=${mirror:-http://deb.debian.org/debian}
  mkdir -p "$scratch/lists/partial"
  cat >"$scratch/trixie.sources" <<SRC
Types: deb
URIs: $mirror
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  opts=(-oDir::Etc::SourceList="$scratch/trixie.sources" -oDir::Etc::SourceParts=/dev/null -oDir::State::Lists="$scratch/lists")
  apt-get "${opts[@]}" update -qq >/dev/null
  (cd "$scratch" && apt-get "${opts[@]}" download docker-compose >/dev/null)
  dpkg -x "$scratch"/docker-compose_*.deb "$scratch/root"
  mkdir -p "$(dirname "$PLUGIN")"
  install -m 755 "$scratch/root/usr/libexec/docker/cli-plugins/docker-compose" "$PLUGIN"
  rm -rf "$scratch"
fi

if ! docker info >/dev/null 2>&1; then
  log "starting dockerd"
  setsid /usr/sbin/dockerd >/var/log/dockerd.log 2>&1 < /dev/null &
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null 2>&1 || { echo "test-host: dockerd did not start, see /var/log/dockerd.log" >&2; exit 1; }
fi

# No registry here: the base image every fixture builds FROM is made from busybox.
if ! docker image inspect local/busybox:latest >/dev/null 2>&1; then
  log "importing local/busybox:latest"
  rootfs=$(mktemp -d)
  mkdir -p "$rootfs/bin" "$rootfs/tmp" "$rootfs/etc" "$rootfs/var/www"
  cp /bin/busybox "$rootfs/bin/busybox"
  for applet in $("$rootfs/bin/busybox" --list); do
    [ -e "$rootfs/bin/$applet" ] || ln -s busybox "$rootfs/bin/$applet"
  done
  echo 'root:x:0:0:root:/root:/bin/sh' >"$rootfs/etc/passwd"
  echo 'root:x:0:' >"$rootfs/etc/group"
  tar -C "$rootfs" -c . | docker import -c 'CMD ["sh"]' -c 'ENV PATH=/bin' - local/busybox:latest >/dev/null
  rm -rf "$rootfs"
fi

# The runtime proxy's daemon and the proxied test apps run on Node: this machine's own node
# binary and the libraries it links, in an image (a real VPS would use node:20-alpine).
if ! docker image inspect local/node:20 >/dev/null 2>&1; then
  log "importing local/node:20"
  rootfs=$(mktemp -d)
  node_bin=$(readlink -f "$(command -v node)")
  mkdir -p "$rootfs/usr/local/bin" "$rootfs/bin" "$rootfs/tmp" "$rootfs/etc"
  chmod 1777 "$rootfs/tmp"
  cp "$node_bin" "$rootfs/usr/local/bin/node"
  for lib in $(ldd "$node_bin" | grep -o '/[^ ]*'); do
    mkdir -p "$rootfs$(dirname "$lib")"
    cp -L "$lib" "$rootfs$lib"
  done
  cp /bin/busybox "$rootfs/bin/busybox"
  for applet in sh ls cat echo sleep kill ps wget nc env id; do ln -s busybox "$rootfs/bin/$applet"; done
  echo 'root:x:0:0:root:/root:/bin/sh' >"$rootfs/etc/passwd"
  echo 'root:x:0:' >"$rootfs/etc/group"
  tar -C "$rootfs" -c . | docker import -c 'ENV PATH=/usr/local/bin:/bin' -c 'CMD ["node"]' - local/node:20 >/dev/null
  rm -rf "$rootfs"
fi

if ! id "$USER_NAME" >/dev/null 2>&1; then
  log "creating user $USER_NAME"
  useradd -m -s /bin/bash "$USER_NAME"
fi
usermod -aG docker "$USER_NAME"
home=$(getent passwd "$USER_NAME" | cut -d: -f6)

[ -f "$STATE/id_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C deploy-vps-test -f "$STATE/id_ed25519"
[ -f "$STATE/ssh_host_ed25519_key" ] || ssh-keygen -q -t ed25519 -N '' -f "$STATE/ssh_host_ed25519_key"
install -d -m 700 -o "$USER_NAME" -g "$USER_NAME" "$home/.ssh"
install -m 600 -o "$USER_NAME" -g "$USER_NAME" "$STATE/id_ed25519.pub" "$home/.ssh/authorized_keys"

# Password login for `deploy` (DEPLOY_PASSWORD): a random password, made once. The tests read it
# from $STATE/deploy-password (0600); it is not in $STATE/env, whose DEPLOY_* lines the demo uses.
if [ ! -s "$STATE/deploy-password" ]; then
  (umask 077 && head -c 18 /dev/urandom | base64 | tr -d '\n/+=' >"$STATE/deploy-password")
fi
chmod 600 "$STATE/deploy-password"
printf '%s:%s\n' "$USER_NAME" "$(cat "$STATE/deploy-password")" | chpasswd

# Broken servers, simulated by users that log in with the same key: `nodocker` has no docker
# command on its PATH, `nogroup` may not use the Docker socket, `notar` has no tar. Their PATH
# is set by sshd (Match User ... SetEnv PATH=...) to a folder of symlinks to the commands the
# tool's remote scripts use. $STATE is 0711 so that they can reach those folders (its files stay
# private: keys and the password are 0600).
chmod 711 "$STATE"
REMOTE_COMMANDS="sh tar gzip base64 tr sed cat dirname basename mkdir rm mv cp ls sort tail head printf
  echo du cut find xargs chmod awk df grep date sleep kill id ps env true false test wc ln touch
  mktemp stat uname hostname setsid timeout nohup"
command_folder() { # FOLDER COMMAND... : FOLDER holds exactly symlinks to COMMAND...
  local folder=$1 cmd target
  shift
  rm -rf "$folder.new"
  mkdir -p "$folder.new"
  for cmd in "$@"; do
    target=$(type -P "$cmd") || { echo "test-host: no $cmd on this machine" >&2; exit 1; }
    ln -s "$target" "$folder.new/$cmd"
  done
  chmod 755 "$folder.new"
  rm -rf "$folder"
  mv "$folder.new" "$folder"
}
# shellcheck disable=SC2086 # word splitting of the command list is intended
command_folder "$STATE/bin-nodocker" $REMOTE_COMMANDS
# shellcheck disable=SC2086,SC2046 # word splitting of the command list is intended
command_folder "$STATE/bin-notar" $(printf '%s\n' $REMOTE_COMMANDS | grep -vx tar) docker docker-compose
# `busytar` has busybox's tar, as an Alpine server would: not the GNU tar deploy-vps needs.
# shellcheck disable=SC2086,SC2046 # word splitting of the command list is intended
command_folder "$STATE/bin-busytar" $(printf '%s\n' $REMOTE_COMMANDS | grep -vx tar) docker docker-compose
ln -s "$(type -P busybox)" "$STATE/bin-busytar/tar"
# `deploy`'s tar goes through a test hook. An extraction in place (the switch's, --overwrite)
# into a folder named N first sleeps as many seconds as ~/.slow-switch-N says, when that file
# exists, so that a test can interrupt a deploy in the middle of its switch. Any other use of tar
# goes straight through.
mkdir -p "$STATE/bin-deploy"
cat >"$STATE/bin-deploy/tar.new" <<HOOK
#!/bin/sh
overwrite= dir= previous=
for arg in "\$@"; do
  [ "\$arg" = --overwrite ] && overwrite=1
  [ "\$previous" = -C ] && dir=\$arg
  previous=\$arg
done
flag="\$HOME/.slow-switch-\$(basename "\${dir:-.}")"
if [ -n "\$overwrite" ] && [ -n "\$dir" ] && [ -f "\$flag" ]; then sleep "\$(cat "\$flag")"; fi
exec $(type -P tar) "\$@"
HOOK
chmod 755 "$STATE/bin-deploy" "$STATE/bin-deploy/tar.new"
mv "$STATE/bin-deploy/tar.new" "$STATE/bin-deploy/tar"
for broken in nodocker nogroup notar busytar; do
  # -N: no group of its own (Debian already has a group called nogroup).
  id "$broken" >/dev/null 2>&1 || { log "creating user $broken"; useradd -m -N -s /bin/bash "$broken"; }
  usermod -p '*' "$broken" # no password, but not locked: sshd (without PAM) refuses locked accounts
  broken_home=$(getent passwd "$broken" | cut -d: -f6)
  install -d -m 700 -o "$broken" -g "$(id -gn "$broken")" "$broken_home/.ssh"
  install -m 600 -o "$broken" -g "$(id -gn "$broken")" "$STATE/id_ed25519.pub" "$broken_home/.ssh/authorized_keys"
done
usermod -aG docker notar
usermod -aG docker busytar
gpasswd -d nodocker docker >/dev/null 2>&1 || true
gpasswd -d nogroup docker >/dev/null 2>&1 || true

config_before=$(cat "$STATE/sshd_config" 2>/dev/null || true)
cat >"$STATE/sshd_config" <<CFG
ListenAddress 127.0.0.1
Port $PORT
HostKey $STATE/ssh_host_ed25519_key
PidFile $STATE/sshd.pid
UsePAM no
PasswordAuthentication yes
KbdInteractiveAuthentication no
PubkeyAuthentication yes
AuthorizedKeysFile .ssh/authorized_keys
MaxSessions 64
MaxStartups 64:30:128
Subsystem sftp internal-sftp

Match User nodocker
  SetEnv PATH=$STATE/bin-nodocker
Match User notar
  SetEnv PATH=$STATE/bin-notar
Match User busytar
  SetEnv PATH=$STATE/bin-busytar
Match User deploy
  SetEnv PATH=$STATE/bin-deploy:/usr/local/bin:/usr/bin:/bin:/usr/games
CFG
mkdir -p /run/sshd
/usr/sbin/sshd -t -f "$STATE/sshd_config"
if ! { [ -f "$STATE/sshd.pid" ] && kill -0 "$(cat "$STATE/sshd.pid")" 2>/dev/null; }; then
  log "starting sshd on 127.0.0.1:$PORT"
  /usr/sbin/sshd -f "$STATE/sshd_config"
elif [ "$config_before" != "$(cat "$STATE/sshd_config")" ]; then
  # SIGHUP: sshd re-executes itself with the new config; open sessions keep running.
  log "reloading sshd: its config changed"
  kill -HUP "$(cat "$STATE/sshd.pid")"
  for _ in $(seq 1 50); do
    ssh-keyscan -T 1 -p "$PORT" 127.0.0.1 >/dev/null 2>&1 && break
    sleep 0.1
  done
fi

echo "[127.0.0.1]:$PORT $(cut -d' ' -f1,2 "$STATE/ssh_host_ed25519_key.pub")" >"$STATE/known_hosts"
cat >"$STATE/env" <<ENV
DEPLOY_HOST=127.0.0.1
DEPLOY_PORT=$PORT
DEPLOY_USER=$USER_NAME
DEPLOY_SSH_KEY=$STATE/id_ed25519
DEPLOY_KNOWN_HOSTS=$STATE/known_hosts
ENV
log "ready: ssh -p $PORT -i $STATE/id_ed25519 $USER_NAME@127.0.0.1 (settings in $STATE/env)"
