#!/bin/bash
# The leak test at scale: netnsd (release build, the shipped unit's
# LimitNOFILE=16384, default capacity, journal and routes on) watches N
# namespaces made at once (ip -batch, every fifth with a veth to the host)
# and then deleted, ROUNDS times (released a second after they are gone).
# After each round, once the cache is back to what it was and its
# descriptors with it, it prints netnsd's descriptors and RSS, the host's
# veth ends still there (a namespace the kernel has not freed yet keeps its
# own) and the slab; a leak shows as a column that grows round after round.
#   sudo tests/bench/scale_churn.sh [N=10000] [ROUNDS=3]
set -euo pipefail
cd "$(dirname "$0")/../.."
n=${1:-10000}
rounds=${2:-3}
[ "$(id -u)" = 0 ] || { echo "needs root" >&2; exit 77; }
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build-bench -j"$(nproc)" --target netnsd >&2
work=$(mktemp -d /tmp/netnsd-churn.XXXXXX)
prefix="c$$x"
pid=
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  for i in $(seq 1 "$n"); do echo "netns del $prefix$i"; done >"$work/del.batch"
  ip -force -batch "$work/del.batch" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
ask() { curl -s --max-time 30 --unix-socket "$work/netnsd.sock" "http://netnsd$1"; }
cached() { ask /v1/namespaces | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["resolver"]["namespaces"])'; }
rss() { awk '/VmRSS/ {print $2}' "/proc/$pid/status"; }
fds() { ls "/proc/$pid/fd" | wc -l; }
# A namespace the kernel still has keeps its veth's host end.
host_links() { ip -o link show | grep -c "h$prefix" || true; }
slab() { awk '/^Slab:/ {print $2}' /proc/meminfo; }
wait_cached() {  # wait_cached COUNT: until the cache holds exactly COUNT
  for _ in $(seq 1 600); do [ "$(cached)" = "$1" ] && return 0; sleep 0.1; done
  echo "the cache never reached $1 (at $(cached))" >&2
  return 1
}

for i in $(seq 1 "$n"); do
  echo "netns add $prefix$i"
  [ $((i % 5)) = 0 ] && echo "link add h$prefix$i type veth peer name eth0 netns $prefix$i"
done >"$work/add.batch"
for i in $(seq 1 "$n"); do echo "netns del $prefix$i"; done >"$work/del.batch"

prlimit --nofile=16384:16384 -- build-bench/netnsd --socket "$work/netnsd.sock" --dump-dir "$work/dumps" \
  --journal "$work/journal.db" --flush-period 1 --lonely-timeout 1 >"$work/netnsd.log" 2>&1 &
pid=$!
until [ "$(curl -s -o /dev/null -w '%{http_code}' --unix-socket "$work/netnsd.sock" http://netnsd/readyz)" = 200 ]; do
  sleep 0.05
done
sleep 2
base=$(cached)
base_fds=$(fds)
echo "| round | cached after adding | cached after deleting | descriptors | RSS KiB | host veth ends left | slab KiB | deleted to all let go, s |"
echo "|---|---|---|---|---|---|---|---|"
echo "| before | $base | | $base_fds | $(rss) | $(host_links) | $(slab) | |"
for r in $(seq 1 "$rounds"); do
  ip -batch "$work/add.batch"
  wait_cached $((base + n))
  added=$(cached)
  ip -force -batch "$work/del.batch"
  t0=$SECONDS
  wait_cached "$base"
  # Then the sockets close (the event thread lets go of each monitor), and
  # with the last of them the kernel frees the namespaces.
  for _ in $(seq 1 1200); do [ "$(fds)" -le "$base_fds" ] && break; sleep 0.1; done
  released=$((SECONDS - t0))
  sleep 3  # a flush period or two (heap given back), and the kernel's cleanup
  echo "| $r | $added | $(cached) | $(fds) | $(rss) | $(host_links) | $(slab) | $released |"
done
