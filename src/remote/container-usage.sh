#!/bin/sh
# What each container whose full id comes on stdin (one a line) uses, read from its cgroups as
# docker stats reads them, but at once: docker stats waits for the Engine to take two samples.
# First line `at SECONDS`, the host's uptime; then `ID MEMORY LIMIT CPU` for each container
# whose cgroup is found: MEMORY its usage less the file cache it would give back (inactive
# file), LIMIT its memory limit in bytes (0: none), CPU its CPU time so far in nanoseconds (-:
# not found). A container found nowhere (rootless Docker, another layout) gets no line.
# Inputs: the ids on stdin; CGROUP, the root of the cgroup filesystem.
# Builtins only, no process per container: monitor-vps reads this twice.
set -u

# The first word of FILE's first line, or empty.
first() { v=; { read -r v _ < "$1"; } 2>/dev/null; }
# KEY's value in FILE's "key value" lines, or 0.
keyed() {
  v=0
  while read -r k value; do
    if [ "$k" = "$2" ]; then v=$value; return; fi
  done < "$1"
}

first /proc/uptime
echo "at $v"
while read -r id; do
  [ -n "$id" ] || continue
  # cgroup v2: one folder holds every controller (systemd's driver, then cgroupfs's).
  for dir in "$CGROUP/system.slice/docker-$id.scope" "$CGROUP/docker/$id"; do
    [ -r "$dir/memory.current" ] || continue
    first "$dir/memory.current"; used=$v
    keyed "$dir/memory.stat" inactive_file; used=$((used - v))
    first "$dir/memory.max"; limit=$v
    [ "$limit" = max ] && limit=0
    keyed "$dir/cpu.stat" usage_usec
    echo "$id $used $limit $((v * 1000))"
    continue 2
  done
  # cgroup v1: a hierarchy per controller.
  for tail in "docker/$id" "system.slice/docker-$id.scope"; do
    dir="$CGROUP/memory/$tail"
    [ -r "$dir/memory.usage_in_bytes" ] || continue
    first "$dir/memory.usage_in_bytes"; used=$v
    keyed "$dir/memory.stat" total_inactive_file; used=$((used - v))
    first "$dir/memory.limit_in_bytes"; limit=$v
    # No limit reads as the kernel's page counter maximum.
    [ "${#limit}" -ge 19 ] && limit=0
    cpu=-
    for acct in "$CGROUP/cpuacct/$tail" "$CGROUP/cpu,cpuacct/$tail"; do
      if [ -r "$acct/cpuacct.usage" ]; then
        first "$acct/cpuacct.usage"; cpu=$v
        break
      fi
    done
    echo "$id $used $limit $cpu"
    continue 2
  done
done
