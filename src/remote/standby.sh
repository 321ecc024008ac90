#!/bin/sh
# The seed's primary/standby deploy: the standby serves while the primary is recreated with the
# new image, so that the site keeps answering. Build; finish or undo a deploy that stopped
# half-way; start the standby with the new image and wait for its health (failing: it is
# stopped, the primary was never touched, exit 3); take the primary out of traffic; recreate it
# and wait for its health (failing: the standby keeps serving, exit 3); traffic back to the
# primary, the standby stopped; then the stack's other services, as a plain `up -d`.
# Traffic moves through the runtime proxy when it routes the primary (UNIT): a switch with a
# drain, nothing lost. Otherwise as the seed does: the primary is stopped gracefully (compose
# honours its stop_grace_period) and the host nginx's `backup` server takes over.
# Only the primary may run the crons: this refuses (exit 2) to start a standby whose container
# (the server's .env and env_file included) turns the CRON variable on, or while another
# container of the stack runs with it on.
# Inputs: APP; COMPOSE (v1: docker-compose, v2: docker compose); PROJECT; BUILD; PRIMARY and
# STANDBY, the compose services; PRIMARY_PORT and STANDBY_PORT, their published ports ({port} in
# HEALTH); PRIMARY_CONTAINER_PORT and STANDBY_CONTAINER_PORT (0: the route's own); OTHERS, the
# other services a plain `up -d` starts; HEALTH, INTERVAL, TIMEOUT (seconds); DRAIN (seconds:
# the proxy's drain, or with nginx how long the standby keeps serving once the primary is back);
# CRON; UNIT; the compose files as the arguments.
# Exit: 0 done; 2 refused, the primary untouched (a `deploy-vps:refused` line); 3 a new container
# never became healthy and the old one serves (`deploy-vps:log` lines, then `deploy-vps:unready`).
set -eu
compose() { if [ "$COMPOSE" = v2 ]; then docker compose "$@"; else docker-compose "$@"; fi; }
# The compose files, each quoted for the shell (paths with spaces or quotes stay one word).
files=
for file; do files="$files -f '$(printf '%s' "$file" | sed "s/'/'\\\\''/g")'"; done
stack() { eval "compose -p \"\$PROJECT\" --env-file .env $files \"\$@\""; }
step() { printf 'deploy-vps:step %s\n' "$*"; }
socket=$HOME/.local/state/deploy-vps-proxy/control.sock
cd "$APP"

# The service's newest container, running (stopped ones too with -a after the name), whatever
# profile it is under; full ids, as the proxy names them.
container() {
  service=$1
  shift
  docker ps -q --no-trunc "$@" --filter "label=com.docker.compose.project=$PROJECT" \
    --filter "label=com.docker.compose.service=$service" | head -n 1
}
health_url() { printf '%s\n' "$HEALTH" | sed "s/{port}/$1/g"; }

# Health: every INTERVAL seconds up to TIMEOUT; a container that exited fails at once.
wait_healthy() {
  url=$(health_url "$2")
  waited=0
  until curl -fsS -o /dev/null --max-time "$INTERVAL" "$url" 2>/dev/null; do
    if [ -z "$(container "$1")" ] || [ "$waited" -ge "$TIMEOUT" ]; then return 1; fi
    sleep "$INTERVAL"
    waited=$((waited + INTERVAL))
  done
}

# The container's last log lines, for the CLI to show.
last_logs() {
  docker logs --tail 30 "$1" < /dev/null 2>&1 | sed 's/^/deploy-vps:log /'
}

cron_on() {
  docker inspect --format '{{range .Config.Env}}{{println .}}{{end}}' "$1" | grep -qiE "^$CRON=(true|1|yes|on)$"
}

# The proxy routes the primary's unit: traffic moves by its switch.
through_proxy() {
  [ -S "$socket" ] &&
    [ "$(curl -sS -o /dev/null -w '%{http_code}' --unix-socket "$socket" "http://proxy/services/$UNIT/live")" = 200 ]
}
live_container() {
  curl -sS --unix-socket "$socket" "http://proxy/services/$UNIT/live" | sed -n 's/.*"id":"\([0-9a-f]*\)".*/\1/p'
}
# The route goes to container $1 on its port $2 once ready; the container it left is drained
# (DRAIN seconds) and stopped. curl waits for the end.
switch_to() {
  port=
  if [ "$2" != 0 ]; then port="&port=$2"; fi
  answer=$(curl -sS -w '\n%{http_code}' --unix-socket "$socket" -X POST \
    "http://proxy/services/$UNIT/switch?to=$1$port&drain=$DRAIN&ready=$TIMEOUT&after=stop")
  if [ "$(printf '%s\n' "$answer" | tail -n 1)" != 200 ]; then
    echo "the proxy did not switch $UNIT to $1: $(printf '%s\n' "$answer" | head -n 1)" >&2
    return 1
  fi
}

# Waits for the primary's health; failing: its last log lines, then the reason $1, exit 3.
primary_healthy() {
  step "waiting for $PRIMARY to be healthy at $(health_url "$PRIMARY_PORT")"
  if ! wait_healthy "$PRIMARY" "$PRIMARY_PORT"; then
    last_logs "$(container "$PRIMARY" -a)"
    echo "deploy-vps:unready $1"
    exit 3
  fi
}

# Recreates the primary with the new image, waits for it, and gives it the traffic back.
primary_back() {
  step "recreating $PRIMARY with the new version while $STANDBY serves"
  stack up -d --no-deps --force-recreate "$PRIMARY"
  primary_healthy "$PRIMARY never became healthy within ${TIMEOUT}s; $STANDBY keeps serving the new version. Read $PRIMARY's logs, fix it and deploy again: the next deploy finishes the switch."
  traffic_to_primary
}

traffic_to_primary() {
  standby_id=$(container "$STANDBY")
  if [ -z "$standby_id" ]; then return 0; fi
  if through_proxy && [ "$(live_container)" = "$standby_id" ]; then
    step "switching traffic back to $PRIMARY through the proxy, $STANDBY drained then stopped"
    switch_to "$(container "$PRIMARY")" "$PRIMARY_CONTAINER_PORT" || exit 1
  else
    # nginx marks a server down for its fail_timeout after max_fails failures, the primary's
    # stop included: it comes back to it only then, and stopping the standby before would leave
    # it no server. DRAIN covers that timeout (the seed's: 30 s).
    if [ "$DRAIN" -gt 0 ]; then
      step "$STANDBY keeps serving ${DRAIN}s more, for nginx to come back to $PRIMARY"
      sleep "$DRAIN"
    fi
    step "stopping $STANDBY: $PRIMARY serves again"
    stack stop "$STANDBY"
  fi
}

for id in $(docker ps -q --no-trunc --filter "label=com.docker.compose.project=$PROJECT"); do
  if [ "$id" != "$(container "$PRIMARY")" ] && cron_on "$id"; then
    echo "deploy-vps:refused container $id of $PROJECT runs with $CRON on, and only $PRIMARY may: stop it or turn $CRON off there; nothing was changed."
    exit 2
  fi
done

if [ "$BUILD" = 1 ]; then
  step "building"
  stack build
fi

# A deploy that stopped half-way: finish it (the primary down) or undo it (both up).
if [ -n "$(container "$STANDBY")" ]; then
  if [ -z "$(container "$PRIMARY")" ]; then
    step "the last deploy stopped with $STANDBY serving alone: finishing it"
    primary_back
  else
    step "the last deploy left $STANDBY running: traffic back to $PRIMARY"
    traffic_to_primary
  fi
fi

if [ -z "$(container "$PRIMARY")" ]; then
  step "$PRIMARY is not running (a first deploy): starting the stack"
  # shellcheck disable=SC2086 # OTHERS is a list of service names, one word each
  stack up -d --remove-orphans "$PRIMARY" $OTHERS
  primary_healthy "$PRIMARY never became healthy within ${TIMEOUT}s."
  exit 0
fi

step "starting $STANDBY with the new version"
stack up --no-start --no-deps --force-recreate "$STANDBY"
standby_id=$(container "$STANDBY" -a)
if cron_on "$standby_id"; then
  echo "deploy-vps:refused $STANDBY's container has $CRON on (its environment as the server's .env and env_file make it): only $PRIMARY may run the crons; turn it off for $STANDBY. $PRIMARY was not touched."
  docker rm -f "$standby_id" > /dev/null
  exit 2
fi
docker start "$standby_id" > /dev/null
step "waiting for $STANDBY to be healthy at $(health_url "$STANDBY_PORT")"
if ! wait_healthy "$STANDBY" "$STANDBY_PORT"; then
  stack stop "$STANDBY" > /dev/null 2>&1 || docker stop "$standby_id" > /dev/null
  last_logs "$standby_id"
  echo "deploy-vps:unready $STANDBY never became healthy with the new version within ${TIMEOUT}s; it is stopped, and $PRIMARY, never touched, still serves the previous one."
  exit 3
fi

if through_proxy; then
  step "switching traffic to $STANDBY through the proxy, $PRIMARY drained then stopped"
  if ! switch_to "$standby_id" "$STANDBY_CONTAINER_PORT"; then
    stack stop "$STANDBY"
    exit 1
  fi
else
  step "stopping $PRIMARY: nginx's backup ($STANDBY) takes over"
  stack stop "$PRIMARY"
fi
primary_back

step "updating the other services"
# shellcheck disable=SC2086 # OTHERS is a list of service names, one word each
stack up -d --remove-orphans "$PRIMARY" $OTHERS
