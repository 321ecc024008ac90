#!/bin/sh
# What monitor-vps shows besides the probe, in the probe's round trip: the monitored project,
# host load, memory and disk, every container's state (docker inspect), CPU and memory use,
# and the last log lines of each. One `key=base64` a line, `done=` last; the logs as text.
# Inputs: on stdin, the probe's answer, passed on as it came (the app folder and the project
# are read from it); LOCAL_PROJECT, the project's name here, when the server knows none;
# CONTAINER_LOGS, the command printing the logs of the containers named on its stdin;
# CONTAINER_USAGE, the command printing what the containers whose ids come on its stdin use
# (container-usage.sh); SOCKET, the runtime proxy's control socket, whose status says which
# container each route sends to.
set -u
answer=$(cat)
printf '%s\n' "$answer"
field() { printf '%s\n' "$answer" | sed -n "s/^$1=//p" | base64 -d; }
enc() { printf '%s' "$1" | base64 | tr -d '\n'; }
app=$(field app)
# The name recorded by the first deploy, else the containers' labels, else the local one.
project=$(field project)
[ -n "$project" ] || project=$(field labelled)
[ -n "$project" ] || project=$LOCAL_PROJECT
echo "monitored=$(enc "$project")"
echo "load=$(enc "$(cut -d' ' -f1-3 /proc/loadavg)")"
echo "mem=$(enc "$(awk '/^MemTotal:/ {t=$2} /^MemAvailable:/ {a=$2} END {print t, a}' /proc/meminfo)")"
echo "disk=$(enc "$(df -Pk "$app" 2>/dev/null | awk 'NR==2 {print $2, $3}')")"
ids=$(docker ps -aq --filter "label=com.docker.compose.project=$project")
if [ -n "$ids" ]; then
  # shellcheck disable=SC2086 # one word per container id
  {
    echo "inspect=$(docker inspect $ids | base64 | tr -d '\n')"
    # CPU use from two reads of the running containers' cgroups, the logs read in between
    # (half a second at least); docker stats, which samples for longer, only where a cgroup or
    # its CPU time is not found (a line that does not end in a number). With nothing running,
    # nothing is sampled and nothing waited for.
    running=$(docker ps -q --no-trunc --filter "label=com.docker.compose.project=$project")
    pause=
    if [ -n "$running" ]; then
      before=$(printf '%s\n' "$running" | sh -c "$CONTAINER_USAGE")
      sleep 0.5 &
      pause=$!
    fi
    docker inspect -f '{{.Name}}' $ids | tr -d / | sh -c "$CONTAINER_LOGS"
    if [ -n "$pause" ]; then
      wait "$pause"
      after=$(printf '%s\n' "$running" | sh -c "$CONTAINER_USAGE")
      echo "usage=$(printf '%s\n%s\n' "$before" "$after" | base64 | tr -d '\n')"
      if [ "$(printf '%s\n' "$after" | grep -c ' [0-9][0-9]*$')" -lt "$(printf '%s\n' "$running" | grep -c .)" ]; then
        echo "stats=$(docker stats --no-stream --format "$(printf '{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}')" $ids | base64 | tr -d '\n')"
      fi
    fi
  }
fi
# Only with the proxy installed and curl to ask it; a daemon that does not answer soon is left out.
if [ -S "$SOCKET" ] && command -v curl >/dev/null 2>&1; then
  echo "proxy=$(curl -sS --max-time 3 --unix-socket "$SOCKET" http://proxy/services 2>/dev/null | base64 | tr -d '\n')"
fi
echo done=
