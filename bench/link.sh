#!/usr/bin/env bash
# A slow link for the benchmark: a network namespace of its own with a second sshd, reached
# over a veth pair throttled with tc (tbf, 20 Mbit/s by default) on both ends. Traffic stays
# between this machine and that namespace. `link.sh up|down`. Needs root and the test host.
set -euo pipefail
NS=dvbench
HOST_IF=dvb0
NS_IF=dvb1
HOST_IP=10.203.7.1
NS_IP=10.203.7.2
RATE=${BENCH_RATE:-20mbit}
STATE=${DEPLOY_VPS_TEST_HOST_DIR:-/var/lib/deploy-vps-test-host}

down() {
  if [ -f "$STATE/bench-sshd.pid" ]; then kill "$(cat "$STATE/bench-sshd.pid")" 2>/dev/null || true; fi
  ip netns del "$NS" 2>/dev/null || true
  ip link del "$HOST_IF" 2>/dev/null || true
}

up() {
  down
  ip netns add "$NS"
  ip link add "$HOST_IF" type veth peer name "$NS_IF"
  ip link set "$NS_IF" netns "$NS"
  ip addr add "$HOST_IP/30" dev "$HOST_IF"
  ip link set "$HOST_IF" up
  ip netns exec "$NS" ip addr add "$NS_IP/30" dev "$NS_IF"
  ip netns exec "$NS" ip link set "$NS_IF" up
  ip netns exec "$NS" ip link set lo up
  tc qdisc add dev "$HOST_IF" root tbf rate "$RATE" burst 64kb latency 200ms
  ip netns exec "$NS" tc qdisc add dev "$NS_IF" root tbf rate "$RATE" burst 64kb latency 200ms
  sed -e "s/^ListenAddress .*/ListenAddress $NS_IP/" -e "s/^Port .*/Port 22/" \
    -e "s#^PidFile .*#PidFile $STATE/bench-sshd.pid#" "$STATE/sshd_config" > "$STATE/bench-sshd_config"
  ip netns exec "$NS" /usr/sbin/sshd -f "$STATE/bench-sshd_config"
  echo "$NS_IP ssh-ed25519 $(cut -d' ' -f2 "$STATE/ssh_host_ed25519_key.pub")" > "$STATE/bench-known_hosts"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
