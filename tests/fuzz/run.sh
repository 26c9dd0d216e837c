#!/bin/bash
# Builds the libFuzzer targets with clang 14 (ASan + UBSan) and runs each for
# SECONDS (default 60), starting from the seed corpus under tests/fuzz/corpus
# (copied: the seeds are not changed). Prints one line per target with its
# executions; exits non-zero if any target finds a crash, leak or UB report
# (the reproducer is kept under build-fuzz/findings/).
#   tests/fuzz/run.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(rtnl_fuzz mountinfo_fuzz dump_params_fuzz config_fuzz request_reader_fuzz)

BUILD=${FUZZ_BUILD:-build-fuzz}
CC=clang-14 CXX=clang++-14 cmake -S . -B "$BUILD" -DNETNSD_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD" -j"$(nproc)" --target "${targets[@]}" >/dev/null

status=0
printf '%-18s %12s %10s %8s  %s\n' target executions "exec/s" corpus result
for target in "${targets[@]}"; do
  corpus="$BUILD/corpus/${target%_fuzz}"
  findings="$BUILD/findings/$target"
  rm -rf "$corpus" "$findings"
  mkdir -p "$corpus" "$findings"
  cp tests/fuzz/corpus/"${target%_fuzz}"/* "$corpus"/
  log="$BUILD/$target.log"
  result=ok
  # -fork keeps going past a single crash only to report more; one is enough.
  if ! "$BUILD/tests/fuzz/$target" -max_total_time="$seconds" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 \
      -artifact_prefix="$findings/" "$corpus" >"$log" 2>&1; then
    result="FAILED: see $log and $findings"
    status=1
  fi
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  units=$(ls "$corpus" | wc -l)
  printf '%-18s %12s %10s %8s  %s\n' "$target" "${execs:-?}" "${rate:-?}" "$units" "$result"
done
exit $status
