#!/bin/bash
# The systemd units, as systemd-analyze sees them: netnsd's with an exposure
# of 2.5 or lower, Type=notify with a watchdog, and only the capabilities
# netnsd uses; the renderer's beside it (netnsd-render.socket and
# netnsd-render@.service), with no capability at all.
#   check_unit.sh UNIT_FILE
set -u
unit=${1:?usage: check_unit.sh UNIT_FILE}
status=0
fail() { echo "FAIL: $*"; status=1; }
report=$(systemd-analyze security --offline=true "$unit" 2>&1)
score=$(sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p' <<<"$report")
[ -n "$score" ] || { echo "$report"; fail "no exposure level from systemd-analyze"; exit 1; }
awk -v s="$score" 'BEGIN { exit !(s <= 2.5) }' && echo "ok: exposure $score (at most 2.5)" || fail "exposure $score is above 2.5"
grep -qx 'Type=notify' "$unit" && echo "ok: Type=notify" || fail "not Type=notify"
grep -qE '^WatchdogSec=[1-9]' "$unit" && echo "ok: $(grep -E '^WatchdogSec=' "$unit")" || fail "no WatchdogSec"
caps=$(sed -n 's/^CapabilityBoundingSet=//p' "$unit" | head -1)
for cap in $caps; do
  grep -qE "^#   $cap " "$unit" || fail "$cap is not justified in a comment"
done
for unwanted in CAP_FOWNER CAP_SYS_RESOURCE CAP_DAC_OVERRIDE CAP_SETUID; do
  [[ " $caps " == *" $unwanted "* ]] && fail "$unwanted is granted"
done
echo "ok: capabilities $caps"

# The renderer: one process per render as a dynamic user without
# capabilities, behind the socket netnsd is told to use.
dir=$(dirname "$unit")
render="$dir/netnsd-render@.service"
socket_unit="$dir/netnsd-render.socket"
report=$(systemd-analyze security --offline=true "$render" 2>&1)
score=$(sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p' <<<"$report")
awk -v s="${score:-99}" 'BEGIN { exit !(s <= 1.0) }' && echo "ok: the renderer's exposure $score (at most 1.0)" ||
  fail "the renderer's exposure ${score:-unknown} is above 1.0"
for setting in DynamicUser=yes CapabilityBoundingSet= NoNewPrivileges=yes PrivateNetwork=yes StandardInput=socket; do
  grep -qx "$setting" "$render" && echo "ok: renderer $setting" || fail "the renderer lacks $setting"
done
grep -qE '^MemoryMax=[1-9]' "$render" && grep -qE '^RuntimeMaxSec=[1-9]' "$render" &&
  echo "ok: renderer $(grep -E '^MemoryMax=' "$render"), $(grep -E '^RuntimeMaxSec=' "$render")" ||
  fail "the renderer has no MemoryMax or RuntimeMaxSec"
listen=$(sed -n 's/^ListenStream=//p' "$socket_unit")
grep -qx 'Accept=yes' "$socket_unit" && grep -qx 'SocketMode=0600' "$socket_unit" &&
  echo "ok: $listen, one renderer per connection, root only" || fail "the renderer's socket is not Accept=yes, 0600"
grep -qE "^ExecStart=.* --render-socket $listen( |\$)" "$unit" && grep -qE "^Wants=.*netnsd-render.socket" "$unit" &&
  echo "ok: netnsd renders through $listen" || fail "netnsd.service does not render through $listen"
exit $status
