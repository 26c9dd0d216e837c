#!/bin/bash
# The unit and privileged tiers (and the end-to-end tests, which run the same
# binaries) built with AddressSanitizer and UBSan: any report fails the run,
# and under CI=true so does a skipped test, as in tests/run.sh. (A test that
# cannot hold under ASan is not built there, and says why: render_test.cpp.)
# As root for the privileged tier, like tests/run.sh.
#   tests/sanitize.sh [ctest arguments...]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${SANITIZE_BUILD:-build-asan}
# -O1: sanitizer builds compile twice as fast as at -O2 and still run the
# suite in a few minutes; -g1: line tables only (reports keep file:line, the
# build skips the full debug information). No benchmarks here. Clang 14
# (its runtimes are libclang-rt-14-dev), and netnsd's own sources in
# batches of 16 (CMAKE_UNITY_BUILD: the headers of httplib, nlohmann/json
# and spdlog are read once a batch): 4 minutes on 2 cores where GCC took 9;
# tests/run.sh keeps building with GCC, a file at a time, so each compiler
# sees the code.
CC=clang-14 CXX=clang++-14 cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g1" \
  -DNETNSD_SANITIZE=ON -DNETNSD_BUILD_BENCH=OFF -DCMAKE_UNITY_BUILD=ON -DCMAKE_UNITY_BUILD_BATCH_SIZE=16 >/dev/null
cmake --build "$BUILD" -j"$(nproc)"
# Leaks are reported at exit; UB stops the process with a report.
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# Of the tests that drive the real binary (live_tests, tests/run.sh runs them
# all), the hostile ones run here too: forged netlink, hostile and crashing
# clients, the kill -9 and full-disk journal, the change stream's and the
# budgets' slow readers, the event log's storm. The others (live tracking,
# systemd, facts, whois, the churn at 1000 namespaces, the fleet through a
# real Prometheus) check behaviour whose code runs here in the unit and
# privileged tiers and the end-to-end scripts; they run in tests/run.sh.
exec tests/ctest.sh "$BUILD" \
  -E '^(Live|Systemd|Facts|Whois)\.|^History\.TheCacheAtAnInstantInsideAChurn|^e2e\.fleet$' "$@"
