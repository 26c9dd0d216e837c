#!/bin/bash
# The hostile-client battery (tests/privileged/hostile_clients_test.cpp) on
# its own, as root, printing its table: netnsd's peak RSS, descriptors and
# /healthz latency under each attack, at 1000 namespaces. About two minutes.
# Exits non-zero when any case of the battery fails (the table is printed
# either way).
#   sudo tests/hostile_clients.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
cmake --build "$BUILD" -j"$(nproc)" --target live_tests >/dev/null
out=$(mktemp)
trap 'rm -f "$out"' EXIT
status=0
"$BUILD"/tests/live_tests --gtest_filter='HostileClients.*' >"$out" 2>&1 || status=$?
grep -E '^\[  (FAILED|PASSED|  OK|SKIPPED) |Failure|^\[ figures \]|^probe failed' "$out" || true
grep '^|' "$out" || true
if [ $status -ne 0 ]; then
  echo "FAIL: the hostile-client battery failed (exit $status); its output: $out.kept" >&2
  cp "$out" "$out.kept"
fi
exit $status
