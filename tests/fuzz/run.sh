#!/bin/bash
# Builds the libFuzzer targets with clang 14 (ASan + UBSan) and runs each for
# SECONDS (default 60), starting from the seed corpus under tests/fuzz/corpus
# (copied: the seeds are not changed). Prints one line per target with its
# executions; exits non-zero if any target finds a crash, leak or UB report
# (the reproducer is kept under build-fuzz/findings/, its log printed).
# The mutations follow FUZZ_SEED (default 1): a run is then the same
# inputs each time, and a shorter or slower run tries a prefix of a longer
# one's, so what passed here for 10 minutes passes in CI for 6 s. Exploring
# takes FUZZ_SEED=0 (libFuzzer picks one) and time.
#   tests/fuzz/run.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-60}
seed=${FUZZ_SEED:-1}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(rtnl_fuzz mountinfo_fuzz dump_params_fuzz config_fuzz request_reader_fuzz history_params_fuzz
  document_diff_fuzz sock_diag_fuzz nfnetlink_fuzz)

BUILD=${FUZZ_BUILD:-build-fuzz}
CC=clang-14 CXX=clang++-14 cmake -S . -B "$BUILD" -DNETNSD_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD" -j"$(nproc)" --target "${targets[@]}" >/dev/null

# One target: its line of the table, and exit non-zero on a finding.
fuzz_one() {
  local target=$1 corpus="$BUILD/corpus/${1%_fuzz}" findings="$BUILD/findings/$1" log="$BUILD/$1.log" result=ok
  rm -rf "$corpus" "$findings"
  mkdir -p "$corpus" "$findings"
  cp tests/fuzz/corpus/"${target%_fuzz}"/* "$corpus"/
  # -fork keeps going past a single crash only to report more; one is enough.
  if ! "$BUILD/tests/fuzz/$target" -max_total_time="$seconds" -seed="$seed" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 \
      -artifact_prefix="$findings/" "$corpus" >"$log" 2>&1; then
    result="FAILED: see $log and $findings"
  fi
  local execs rate units
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  units=$(ls "$corpus" | wc -l)
  printf '%-18s %12s %10s %8s  %s\n' "$target" "${execs:-?}" "${rate:-?}" "$units" "$result"
  [ "$result" = ok ] || tail -n 40 "$log" | sed "s/^/$target: /"
  [ "$result" = ok ]
}

# A fuzzer is one process on one core: as many run at once as there are
# cores, each for its full time.
status=0
printf '%-18s %12s %10s %8s  %s\n' target executions "exec/s" corpus result
running=()
for target in "${targets[@]}"; do
  if [ ${#running[@]} -ge "$(nproc)" ]; then
    wait "${running[0]}" || status=1
    running=("${running[@]:1}")
  fi
  fuzz_one "$target" &
  running+=($!)
done
for pid in "${running[@]}"; do wait "$pid" || status=1; done
exit $status
