#!/bin/bash
# The whole test suite, from a fresh Debian 12 machine, as root:
#   installs the build and test dependencies (apt-get), builds, runs every
#   CTest label (unit, privileged, e2e). Under CI=true a skipped test fails
#   the run (the privileged tier must really run) and so does a compiler
#   warning. It runs beside a netnsd that deploy/install.sh left serving,
#   and fails if that one stops answering.
set -euo pipefail
cd "$(dirname "$0")/.."

./deploy/deps.sh

BUILD=${BUILD:-build}
# Under CI=true (or NETNSD_WERROR=ON) any compiler warning fails the build.
werror=${NETNSD_WERROR:-$([ "${CI:-}" = true ] && echo ON || echo OFF)}
# -O1 -g1: the suite checks behaviour, not speed (tests/bench measures that,
# on a Release build), and at -O1 with line tables only it builds in about
# half the time of -O2 -g.
# The benchmarks are built by tests/bench/run.sh, in release: not here.
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" \
  -DNETNSD_WERROR="$werror" -DNETNSD_BUILD_BENCH=OFF >/dev/null
cmake --build "$BUILD" -j"$(nproc)"

# The suite runs beside a netnsd that deploy/install.sh left serving (its
# own netnsd instances use private sockets): that one must still serve after.
installed=/run/netnsd/netnsd.sock
healthy() { curl -s --max-time 5 --unix-socket "$installed" http://localhost/healthz 2>/dev/null | grep -q '"ok"'; }
serving_before=false
healthy && serving_before=true

status=0
tests/ctest.sh "$BUILD" || status=$?
if $serving_before; then
  if healthy; then
    echo "the netnsd serving on $installed before the suite still serves"
  else
    echo "FAIL: the netnsd serving on $installed before the suite no longer answers /healthz" >&2
    status=1
  fi
fi
exit $status
