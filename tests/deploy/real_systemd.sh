#!/bin/bash
# netnsd's unit under a real systemd, in one command, as root:
#   tests/deploy/real_systemd.sh
# Makes a minimal Debian 12 tree with debootstrap (Debian's packages only),
# installs what deploy/install.sh needs into it (deploy/deps.sh --install), boots it with
# systemd-nspawn in a network namespace of its own, and there runs
# tests/deploy/systemd_inside.sh: deploy/install.sh, then start (ready only
# after the scan), a dump, a watchdog restart after kill -STOP, a deleted
# `ip netns` namespace freed across a restart, and stop.
# Everything it makes is removed when it ends (KEEP=1 keeps the tree and
# prints where, to look inside). Exit 0 when every check passes.
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)

if [ "$(id -u)" != 0 ]; then
  if [ "${CI:-}" = true ]; then echo "FAIL: needs root and CI=true forbids skipping" >&2; exit 1; fi
  echo "SKIP: needs root"; exit 77
fi
need=()
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v systemd-nspawn >/dev/null || need+=(systemd-container)
if [ ${#need[@]} -gt 0 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

work=$(mktemp -d /var/tmp/netnsd-systemd-XXXXXX)
root=$work/root
answerer=
cleanup() {
  if [ -n "$answerer" ]; then kill "$answerer" 2>/dev/null || true; fi
  # A container that outlived its timeout, then the tree.
  pkill -KILL -f "systemd-nspawn -D $root" 2>/dev/null || true
  if [ "${KEEP:-}" = 1 ]; then echo "kept: $work"; return; fi
  for m in $(awk -v r="$root" 'index($5, r) == 1 { print $5 }' /proc/self/mountinfo | sort -r); do
    umount -l "$m" 2>/dev/null || true
  done
  rm -rf --one-file-system "$work"
}
trap cleanup EXIT
start=$SECONDS
step() { echo "[$((SECONDS - start)) s] $*"; }

# Debian's own packages, from the mirror this machine's apt already uses
# (its sources, read through apt itself, whatever their format); the host's
# apt cache saves downloading them again.
release=bookworm
mirror=$(apt-get indextargets --format '$(SITE) $(RELEASE) $(COMPONENT)' 'Created-By: Packages' 2>/dev/null |
  awk -v r="$release" '$2 == r && $3 == "main" { print $1; exit }')
if [ -z "$mirror" ]; then
  echo "FAIL: apt has no source for $release main (apt-get indextargets); cannot make a $release tree" >&2
  exit 1
fi
step "debootstrap $release from $mirror"
cache=()
[ -d /var/cache/apt/archives ] && cache=(--cache-dir=/var/cache/apt/archives)
debootstrap --variant=minbase "${cache[@]}" --include=systemd,systemd-sysv,dbus,ca-certificates \
  "$release" "$root" "$mirror" >"$work/debootstrap.log" 2>&1 ||
  { tail -n 20 "$work/debootstrap.log"; exit 1; }
: >"$root/etc/machine-id"

# The tree of this checkout, at the same path inside, with the release
# build deploy/install.sh leaves (when there is one) and none of the others:
# the install inside then builds only what is not up to date (nothing, after
# the README's first command), instead of all of it again. A build tree
# only works at the path it was made at. Under /tmp it stays visible: nspawn
# mounts no tmpfs there (SYSTEMD_NSPAWN_TMPFS_TMP=0, exported) and the boot
# does not empty it (tmpfiles' "D /tmp" becomes "d"). Under a path the boot
# always mounts over (/run, /dev, /proc, /sys) the tree goes to /srv and
# builds there from scratch. The path reaches the unit only through a
# script at a fixed path, so no character in it means anything to systemd.
at=$src
keep_build=true
case "$src/" in
  /run/* | /dev/* | /proc/* | /sys/*) at=/srv/netnsd; keep_build=false ;;
esac
inside=$root$at
mkdir -p "$inside"
skip=(--exclude='./build' --exclude='./build-asan' --exclude='./build-fuzz' --exclude='./build-bench' --exclude=./.git)
$keep_build || skip+=(--exclude='./build-release')
tar -C "$src" "${skip[@]}" -cf - . | tar -C "$inside" -xf -
mkdir -p "$root/etc/tmpfiles.d"
echo 'd /tmp 1777 root root -' >"$root/etc/tmpfiles.d/tmp.conf"
export SYSTEMD_NSPAWN_TMPFS_TMP=0
# The container's journal is kept on disk, to show why when the checks did
# not run.
mkdir -p "$root/var/log/journal"

# Packages need the network: installed before the boot, sharing the host's.
step "deploy/deps.sh --install in the tree"
nspawn=(systemd-nspawn -D "$root" --register=no --keep-unit --quiet)
# What deploy/install.sh needs, and python3 for the checks themselves.
"${nspawn[@]}" --bind=/var/cache/apt/archives /bin/sh -c \
  "$at/deploy/deps.sh --install && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3" \
  >"$work/deps.log" 2>&1 || { tail -n 20 "$work/deps.log"; exit 1; }

# The results come out through a directory bound at /check, unless the tree
# itself is there (a checkout under /check would be hidden by the mount):
# then at a name beside it that no tree path starts with.
results=/check
case "$at/" in /check/*) results=/netnsd-check-results ;; esac

# The check runs as a unit of the booted systemd and powers off at the end.
mkdir -p "$root/usr/local/sbin"
{
  echo '#!/bin/bash'
  printf 'tree=%q\n' "$at"
  printf 'export NETNSD_CHECK_RESULTS=%q\n' "$results"
  echo '[ -x "$tree/tests/deploy/systemd_inside.sh" ] && exec "$tree/tests/deploy/systemd_inside.sh"'
  echo 'echo "FAIL: the tree is not at $tree inside the container" >"$NETNSD_CHECK_RESULTS/log"; exit 1'
} >"$root/usr/local/sbin/netnsd-check"
chmod 0755 "$root/usr/local/sbin/netnsd-check"
cat >"$root/etc/systemd/system/netnsd-check.service" <<'UNIT'
[Unit]
Description=netnsd under systemd: the checks
After=multi-user.target
[Service]
Type=oneshot
ExecStart=/usr/local/sbin/netnsd-check
# A check that cannot start at all ends the boot at once, not at the timeout.
FailureAction=poweroff
UNIT
ln -s /etc/systemd/system/netnsd-check.service "$root/etc/systemd/system/multi-user.target.wants/"

# Its own network namespace (so CAP_NET_ADMIN there only), plus what
# netnsd's BPF programs need that nspawn withholds from a container: CAP_BPF,
# CAP_PERFMON and the bpf() and perf_event_open() calls. $results carries
# the results out.
step "boot"
mkdir "$work/check"
# The checks inside may ask which processes, on the whole machine, keep a
# namespace alive (a netnsd on this host, as deploy/install.sh leaves one,
# caches the container's namespaces too): the answer comes from here, where
# every process can be looked at.
answer_holders() {
  while [ -d "$work/check" ]; do
    if [ -f "$work/check/ask-holders" ]; then
      /usr/bin/python3 "$src/tests/support/netns_holders.py" "$(cat "$work/check/ask-holders")" \
        >"$work/check/holders.tmp" 2>&1
      rm -f "$work/check/ask-holders"
      mv "$work/check/holders.tmp" "$work/check/holders"
    fi
    sleep 0.2
  done
}
answer_holders &
answerer=$!
timeout 900 "${nspawn[@]}" -b --private-network --capability=CAP_BPF,CAP_PERFMON \
  --system-call-filter='bpf perf_event_open' \
  --bind="$work/check:$results" --console=pipe >"$work/boot.log" 2>&1 </dev/null || true
kill "$answerer" 2>/dev/null || true
step "powered off"
if ! cat "$work/check/log" 2>/dev/null; then
  echo "FAIL: the checks did not run"
  tail -n 20 "$work/boot.log"
  journalctl -D "$root/var/log/journal" --no-pager -n 60 2>&1 || true
  exit 1
fi
status=$(cat "$work/check/status" 2>/dev/null || echo "no status")
if [ "$status" != 0 ]; then
  echo "FAIL: under systemd, failures: $status"
  [ -f "$work/check/install.log" ] && tail -n 20 "$work/check/install.log"
  exit 1
fi
echo "all checks pass under systemd ($((SECONDS - start)) s)"
