#!/bin/bash
# The systemd unit, as systemd-analyze sees it: an exposure of 2.5 or lower,
# Type=notify with a watchdog, and only the capabilities netnsd uses.
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
exit $status
