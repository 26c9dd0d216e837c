#!/bin/bash
# The hostile-client battery (tests/privileged/hostile_clients_test.cpp) on
# its own, as root, printing its table: netnsd's peak RSS, descriptors and
# /healthz latency under each attack, at 1000 namespaces. About two minutes.
#   sudo tests/hostile_clients.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
cmake --build "$BUILD" -j"$(nproc)" --target live_tests >/dev/null
"$BUILD"/tests/live_tests --gtest_filter='HostileClients.*' | tee /dev/stderr | grep '^|' >&1 2>/dev/null || true
