#!/bin/sh
# Builds what the project builds (BUILD=1), then deploys each blue-green service through the
# runtime proxy: a second container of it starts beside the one serving, the proxy switches the
# route to it once ready, drains the old one and removes it. Then the rest of the stack is
# brought up as compose-up.sh does; a switched service already has its one container with the
# new config, which compose leaves alone.
# Inputs: the layout's APP; COMPOSE (v1: docker-compose, v2: docker compose); PROJECT; BUILD;
# SOCKET, the proxy's control socket; SERVICES, one line per blue-green service:
# "service unit drain ready" (the unit percent-encoded as it goes in a URL, seconds); the compose
# files as the arguments.
# Prints `deploy-vps:step ` lines for the client to show. Exits 3 when a new container never
# became ready: it is removed, the old one never stopped serving; its last log lines were
# printed (`deploy-vps:log `), and the reason (`deploy-vps:unready `).
set -eu
compose() { if [ "$COMPOSE" = v2 ]; then docker compose "$@"; else docker-compose "$@"; fi; }
files=$#
for file; do set -- "$@" -f "$file"; done
shift "$files"
cd "$APP"

step() { echo "deploy-vps:step $*"; }
# The client checked both before anything changed; a rollback to a blue-green release, or a
# proxy removed since, finds out here, before anything changes either.
if [ ! -S "$SOCKET" ]; then echo "the runtime proxy's control socket $SOCKET is missing: install the proxy (deploy-vps proxy install) or remove the deploy-vps.proxy.deploy label" >&2; exit 1; fi
if ! command -v curl >/dev/null 2>&1; then echo "curl is missing on this server (apt-get install curl): blue-green deploys talk to the proxy with it" >&2; exit 1; fi

answer=$(mktemp)
trap 'rm -f "$answer"' EXIT
# An HTTP exchange with the daemon: prints the status (000 when it did not answer), the body in $answer.
control() { curl -sS --unix-socket "$SOCKET" -o "$answer" -w '%{http_code}' "$@" || true; }
# The first string field named $1 in the daemon's JSON answer (ids, names and its messages hold no quote).
field() { grep -o "\"$1\":\"[^\"]*\"" "$answer" | head -n 1 | cut -d '"' -f 4; }
# The containers of a service, stopped ones too (one-off `compose run` ones aside), full ids.
containers() {
  docker ps -aq --no-trunc --filter "label=com.docker.compose.project=$PROJECT" \
    --filter "label=com.docker.compose.service=$1" --filter label=com.docker.compose.oneoff=False
}

if [ "$BUILD" = 1 ]; then compose -p "$PROJECT" --env-file .env "$@" build; fi

while read -r service unit drain ready <&3; do
  [ -n "$service" ] || continue
  status=$(control "http://proxy/services/$unit/live")
  case "$status" in
    200) live=$(field id) ;;
    404) live= ;;
    *) echo "the proxy did not say which container of $service serves (HTTP $status): $(cat "$answer")" >&2; exit 1 ;;
  esac
  if [ -z "$live" ]; then
    # None runs (a first deploy, a stack asleep): the `up` below starts it, as without the proxy.
    step "$service: no container serves it yet, started with the rest"
    continue
  fi
  # Any other container of the service was left by a switch that did not end (a new one never
  # switched to, an old one whose drain a restart cut): it serves nothing.
  leftovers=$(containers "$service" | grep -v -x -e "$live" || true)
  if [ -n "$leftovers" ]; then
    step "$service: removing what an unfinished switch left"
    # shellcheck disable=SC2086 # one id a word
    docker rm -f $leftovers >/dev/null
  fi
  step "$service: starting a new container beside the one serving"
  # The one serving stays as it is (--no-recreate); the second is made with the new config.
  compose -p "$PROJECT" --env-file .env "$@" up -d --no-deps --no-recreate --scale "$service=2" "$service"
  new=$(containers "$service" | grep -v -x -e "$live" | head -n 1)
  if [ -z "$new" ]; then echo "compose started no second container of $service" >&2; exit 1; fi
  step "$service: waiting up to $ready s for it to be ready, then switching"
  status=$(control -X POST "http://proxy/services/$unit/switch?to=$new&drain=$drain&ready=$ready&after=remove")
  case "$status" in
    200) step "$service: switched to $(field name), the old one drained and removed" ;;
    422)
      docker logs --tail 20 "$new" 2>&1 | sed 's/^/deploy-vps:log /'
      docker rm -f "$new" >/dev/null
      echo "deploy-vps:unready $service: its new container was not ready within $ready s ($(field error)); it was removed, the old one still serves"
      exit 3
      ;;
    000)
      # The daemon goes on with a switch its caller left: the next deploy finds how it ended.
      echo "the proxy's control socket stopped answering during the switch of $service; the next deploy finishes it" >&2
      exit 1
      ;;
    *)
      # Refused (no such route, another switch running): the route never moved.
      docker rm -f "$new" >/dev/null
      echo "the proxy refused the switch of $service (HTTP $status): $(field error)" >&2
      exit 1
      ;;
  esac
done 3<<EOF
$SERVICES
EOF

compose -p "$PROJECT" --env-file .env "$@" up -d --remove-orphans
