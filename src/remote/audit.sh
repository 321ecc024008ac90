#!/bin/sh
# Everything `deploy-vps audit` reads, in one go: nginx's configuration, the runtime proxy's
# config, dependencies and status, every container, the memory of the running ones, and what
# listens on TCP. Changes nothing. Prints `key=value` lines, values base64-encoded.
# Inputs: NGINX_CONF (nginx's main file), PROXY_CONFIG (the proxy's config folder),
# PROXY_CONFIG_FILE (a config file to read instead, optional), SOCKET (the proxy's control socket),
# CONTAINER_USAGE (the command reading the cgroups of the containers whose ids come on its stdin).
enc() { base64 | tr -d '\n'; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "host=$(hostname | enc)"
# The server's own addresses: a proxy_pass to one of them stays on this server.
echo "addresses=$(hostname -I 2>/dev/null | tr ' ' '\n' | enc)"

# nginx lives in sbin, which is not on a plain user's PATH over SSH.
nginx=$(command -v nginx 2>/dev/null)
for candidate in /usr/sbin/nginx /usr/local/sbin/nginx /usr/local/nginx/sbin/nginx; do
  [ -n "$nginx" ] && break
  [ -x "$candidate" ] && nginx=$candidate
done
sudo_ok=
if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo_ok=yes; fi

# What nginx itself loads (`-T`) is the truth; as a plain user it is often refused (its pid file,
# a private key), so then through passwordless sudo, else the files themselves.
how=
# shellcheck disable=SC2024 # the dump is ours to write; only nginx needs root
if [ -z "$nginx" ]; then
  echo "no nginx program found (looked on PATH and in /usr/sbin, /usr/local/sbin, /usr/local/nginx/sbin)" > "$work/refused"
elif "$nginx" -T -c "$NGINX_CONF" > "$work/dump" 2> "$work/refused"; then
  how=T
elif [ -n "$sudo_ok" ] && sudo -n "$nginx" -T -c "$NGINX_CONF" > "$work/dump" 2>> "$work/refused"; then
  how=sudo
fi
if [ -z "$how" ]; then
  how=files
  : > "$work/unreadable"
  # Every file below the main file's folder, in nginx -T's format; `include`s are resolved from
  # them. Keys and certificates, modules and hidden files (backups) are no configuration to send.
  { echo "$NGINX_CONF"; find -L "$(dirname "$NGINX_CONF")" \( -name modules -o -name 'modules-*' \) -prune -o -type f \
    ! -name '*.key' ! -name '*.pem' ! -name '*.crt' ! -name '*.so' ! -name '.*' -size -1024k -print 2> "$work/find-errors" | sort | grep -vxF "$NGINX_CONF"; } |
    while IFS= read -r file; do
      if [ -r "$file" ]; then
        printf '# configuration file %s:\n' "$file"
        cat "$file"
        printf '\n'
      else
        echo "$file" >> "$work/unreadable"
      fi
    done > "$work/dump"
  # A folder it may not enter: find says "find: 'PATH': Permission denied".
  sed -n "s/^find: '\(.*\)': Permission denied$/\1/p" "$work/find-errors" >> "$work/unreadable"
  echo "nginx.unreadable=$(enc < "$work/unreadable")"
fi
echo "nginx.how=$how"
[ -s "$work/refused" ] && echo "nginx.refused=$(enc < "$work/refused")"
echo "nginx.dump=$(enc < "$work/dump")"

# The proxy: its config and dependencies files, and its status when the daemon answers.
config=
if [ -n "${PROXY_CONFIG_FILE:-}" ]; then
  config=$PROXY_CONFIG_FILE
else
  for ext in json yml yaml; do
    [ -z "$config" ] && [ -f "$PROXY_CONFIG/config.$ext" ] && config="$PROXY_CONFIG/config.$ext"
    [ -f "$PROXY_CONFIG/dependencies.$ext" ] && [ -z "${dependencies:-}" ] && dependencies="$PROXY_CONFIG/dependencies.$ext"
  done
fi
if [ -n "$config" ]; then
  echo "proxy.configName=$(printf '%s' "$config" | enc)"
  if text=$(cat "$config" 2>&1); then echo "proxy.config=$(printf '%s' "$text" | enc)"
  else echo "proxy.configError=$(printf '%s' "$text" | enc)"; fi
fi
if [ -n "${dependencies:-}" ]; then
  echo "proxy.dependenciesName=$(printf '%s' "$dependencies" | enc)"
  echo "proxy.dependencies=$(enc < "$dependencies")"
fi
if [ -S "$SOCKET" ]; then
  echo proxy.socket=yes
  if command -v curl >/dev/null 2>&1; then
    echo "proxy.status=$(curl -sS --max-time 3 --unix-socket "$SOCKET" http://proxy/services 2>/dev/null | enc)"
  fi
fi

# Docker: every container as the Engine describes it, and the memory the running ones use, read
# from their cgroups (container-usage.sh; docker stats would wait for a sample).
if ! command -v docker >/dev/null 2>&1; then
  echo "docker.error=$(printf 'no docker program on the server' | enc)"
elif ! docker ps -aq --no-trunc > "$work/ids" 2> "$work/docker-error"; then
  echo "docker.error=$(enc < "$work/docker-error")"
else
  if [ -s "$work/ids" ]; then
    # shellcheck disable=SC2046 # one id per word
    docker inspect $(cat "$work/ids") > "$work/inspect" 2> "$work/docker-error" &
    docker ps -q --no-trunc > "$work/running" 2>/dev/null &
    wait
  else
    echo '[]' > "$work/inspect"
    : > "$work/running"
  fi
  echo "docker=$(enc < "$work/inspect")"
  sh -c "$CONTAINER_USAGE" < "$work/running" > "$work/memory"
  echo "memory=$(enc < "$work/memory")"
fi

# What listens on TCP: /proc is there even where ss is not.
echo "listening=$(cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | awk '$4 == "0A" { print $2 }' | enc)"
# The whole answer came: a cut connection is not read as a server with nothing on it.
echo end=ok
