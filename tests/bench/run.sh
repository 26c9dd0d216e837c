#!/bin/bash
# Builds netnsd and its benchmarks (release), then runs them side by side:
#   sudo tests/bench/run.sh [netnsd_bench options]
#   sudo tests/bench/run.sh facts [facts_bench options]   (routes, sockets)
# Prints the markdown tables of tests/bench/RESULTS.md on stdout, progress on
# stderr. Everything it creates (namespaces, veths, netnsd) is removed at
# exit, on Ctrl-C too.
set -euo pipefail
cd "$(dirname "$0")/../.."
./deploy/deps.sh
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build-bench -j"$(nproc)" --target netnsd netlink_floor netnsd_bench netlink_listen_bench render_bench facts_bench >&2
if [ "${1:-}" = facts ]; then
  shift
  exec build-bench/tests/bench/facts_bench "$@"
fi
exec build-bench/tests/bench/netnsd_bench "$@"
