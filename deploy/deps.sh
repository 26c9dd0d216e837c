#!/bin/bash
# Installs what netnsd needs, from Debian 12's own packages. Idempotent; only
# runs apt-get when something is missing.
#   deploy/deps.sh            what the test suite needs: build, run and test
#   deploy/deps.sh --install  what deploy/install.sh needs: build and run
set -euo pipefail

install=(
  # build
  build-essential cmake pkg-config clang bpftool
  libbpf-dev libcpp-httplib-dev nlohmann-json3-dev libnl-3-dev libnl-route-3-dev libspdlog-dev
  libsystemd-dev libgraphviz-dev libsqlite3-dev
  # run and render; curl for the README's examples, groff for the man pages
  iproute2 util-linux curl graphviz systemd groff-base
)
tests=(
  libgtest-dev libgmock-dev
  # checks: formatting, fuzzing and sanitizers (clang 14's runtimes)
  clang-format-14 libclang-rt-14-dev
  # test scripts; sqlite3 checks the journal with its own integrity check
  sqlite3
  python3 python3-yaml python3-jsonschema
  # hostile-client tests: real compression bombs
  gzip brotli python3-prometheus-client
  # the firewall and conntrack oracles (nft, conntrack, iptables-legacy-save)
  nftables conntrack iptables
  # traffic through the test's own veths (the per-device counters)
  iputils-ping
  # /metrics is checked with promtool, Debian's prometheus package's
  prometheus
)
packages=("${install[@]}")
[ "${1:-}" = --install ] || packages+=("${tests[@]}")

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "missing packages (run as root to install): ${missing[*]}" >&2
    exit 1
  fi
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # Packages are installed, not started: Debian's prometheus would start a
  # server on :9090 under systemd, and the tests start their own Prometheus
  # on loopback when they need one. policy-rc.d is how Debian says so (101:
  # action not allowed); one the machine already has is left alone.
  own_policy=
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 0755 /usr/sbin/policy-rc.d
    own_policy=1
  fi
  status=0
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || status=$?
  [ -n "$own_policy" ] && rm -f /usr/sbin/policy-rc.d
  exit $status
fi
