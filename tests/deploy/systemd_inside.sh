#!/bin/bash
# Runs inside a booted Debian 12 container (see real_systemd.sh), as a
# oneshot unit of its systemd: installs netnsd with deploy/install.sh and
# checks the unit as systemd runs it. Writes ok/FAIL lines to log and the
# number of failures to status in $NETNSD_CHECK_RESULTS (/check unless the
# tree is there), then powers the container off.
set -u
results=${NETNSD_CHECK_RESULTS:-/check}
exec > >(tee -a "$results/log") 2>&1
failures=0
completed=false
ok() { echo "ok: $*"; }
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
# The status is the number of failures only when the checks ran to their
# end; a script that stopped early (a failed cd, an unexpected exit) says
# so instead, and real_systemd.sh fails on anything but 0.
finish() {
  local code=$?
  if $completed; then
    echo "$failures" >"$results/status"
  else
    echo "aborted (exit $code) after $failures failure(s)" >"$results/status"
  fi
  systemctl poweroff --no-block
  exit 0
}
trap finish EXIT
echo "not started" >"$results/status"
sock=/run/netnsd/netnsd.sock
ask() { curl -s --max-time 10 --unix-socket "$sock" "$@"; }
eventually() {  # eventually SECONDS COMMAND...: true once COMMAND is
  local deadline=$((SECONDS + $1)); shift
  until "$@"; do [ $SECONDS -ge $deadline ] && return 1; sleep 0.2; done
}

cd "$(dirname "$0")/../.." || exit 1
t0=$SECONDS
if ./deploy/install.sh >"$results/install.log" 2>&1; then
  ok "deploy/install.sh installed and started netnsd under systemd in $((SECONDS - t0)) s"
else
  fail "deploy/install.sh: $(tail -n 20 "$results/install.log")"
  exit 1
fi
[ "$(systemctl show -p Type --value netnsd)" = notify ] && ok "Type=notify" || fail "the unit is not Type=notify"

# Short timeouts for the test only; the unit itself is unchanged.
mkdir -p /etc/systemd/system/netnsd.service.d
cat >/etc/systemd/system/netnsd.service.d/zz-test.conf <<'UNIT'
[Service]
WatchdogSec=2s
TimeoutAbortSec=2s
RestartSec=1
UNIT
sed -i 's/^lonely-timeout = .*/lonely-timeout = 2/; s/^flush-period = .*/flush-period = 1/' /etc/netnsd/netnsd.conf
systemctl daemon-reload

# --- ready only after the initial scan ---------------------------------------
# 200 namespaces exist before the start; the moment `systemctl restart`
# returns, /readyz is 200 and a dump names every one of them.
for i in $(seq 1 200); do ip netns add "ready$i"; done
systemctl restart netnsd
ready=$(ask -o /dev/null -w '%{http_code}' http://localhost/readyz)
names=$(ask -X POST 'http://localhost/dump?output=stream' |
  python3 -c 'import json,sys; print(sum(1 for ns in json.load(sys.stdin)["namespaces"] for n in ns["names"] if n.startswith("ready")))')
[ "$ready" = 200 ] && [ "$names" = 200 ] &&
  ok "when systemctl restart returns, /readyz is 200 and a dump names all $names namespaces" ||
  fail "right after the start: /readyz $ready, $names of 200 namespaces in a dump"
readyz=$(ask http://localhost/readyz)
grep -q '"status":"\(ready\|degraded\)"' <<<"$readyz" && ! grep -q 'BPF' <<<"$readyz" &&
  ok "eBPF events run under the unit's capabilities and filters (/readyz: $readyz)" ||
  fail "eBPF does not run under the unit: /readyz '$readyz'"
status=$(systemctl show -p StatusText --value netnsd)
[[ "$status" == *namespaces* ]] && ok "STATUS=: $status" || fail "no STATUS= with the namespace count: '$status'"

# --- the renderer: a dynamic user with no capability ----------------------------
# netnsd draws through netnsd-render.socket: systemd starts one
# netnsd-render@ per render. Watched while it draws the 200 namespaces.
netnsctl dump --stream --format png >/tmp/netns.png &
drawing=$!
seen=""
for _ in $(seq 1 1000); do
  for p in $(pgrep -x netnsd-render); do
    s=$(grep -E '^(Uid|CapEff|CapPrm|NoNewPrivs|PPid):' "/proc/$p/status" 2>/dev/null | tr -s '\t' ' ' | tr '\n' ';')
    [ -n "$s" ] && seen=$s
  done
  [ -n "$seen" ] && break
  kill -0 "$drawing" 2>/dev/null || break
  sleep 0.01
done
wait "$drawing" || true
uid=$(sed -n 's/.*Uid: \([0-9]*\) .*/\1/p' <<<"$seen")
if [ -n "$seen" ] && [ "${uid:-0}" != 0 ] && grep -q 'CapEff: 0000000000000000' <<<"$seen" &&
  grep -q 'CapPrm: 0000000000000000' <<<"$seen" && grep -q 'NoNewPrivs: 1' <<<"$seen" &&
  grep -q 'PPid: 1;' <<<"$seen" && head -c 8 /tmp/netns.png | grep -q PNG; then
  ok "the renderer was systemd's, as uid $uid with no capability: $seen"
else
  fail "the renderer: '${seen:-never seen}'; $(journalctl -u 'netnsd-render@*' -o cat --no-pager | tail -n 3)"
fi
for i in $(seq 1 200); do ip netns del "ready$i"; done

# --- a dump through the socket ------------------------------------------------
out=$(netnsctl dump --snapshot-interfaces)
paths=$(sed -n 's/^Network namespace dump[a-z ]*: //p' <<<"$out")
if [ "$(wc -l <<<"$paths")" = 2 ] && python3 -m json.tool "$(head -1 <<<"$paths")" >/dev/null; then
  ok "netnsctl dump wrote $(echo $paths)"
else
  fail "netnsctl dump: $out"
fi
# The graph drawn by the service, through its renderer's socket.
svg_bytes=$(netnsctl dump --stream --format svg | tee /tmp/netns.svg | wc -c)
grep -q '</svg>' /tmp/netns.svg && ok "netnsctl dump --stream --format svg under the unit: $svg_bytes bytes" ||
  fail "svg under the unit: $(head -c 200 /tmp/netns.svg) $(journalctl -u netnsd -o cat --no-pager | tail -n 3)"
journalctl -u netnsd -o verbose --no-pager | grep -q '^ *PRIORITY=6' &&
  ! journalctl -u netnsd -o cat --no-pager | grep -qE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T' && ok "logs reach the journal with priorities and without timestamps" ||
  fail "journal lines: $(journalctl -u netnsd -o cat --no-pager | tail -n 3)"

# --- every change in the journal (--event-log auto: journald under systemd) ---
ip netns add evlog
ip -n evlog link add evj0 type veth peer name evj1
evns=$(stat -L -c %i /run/netns/evlog)
entry() { journalctl -u netnsd -o json --no-pager NETNSD_TYPE=device_added NETNSD_DEVICE=evj0 | tail -n 1; }
if eventually 5 sh -c "journalctl -u netnsd -o json --no-pager NETNSD_TYPE=device_added NETNSD_DEVICE=evj0 | grep -q ." &&
  entry | python3 -c '
import json, sys
e = json.load(sys.stdin)
ok = (e["NETNSD_NETNS"] == sys.argv[1] and e["NETNSD_SEQ"].isdigit() and e["SYSLOG_IDENTIFIER"] == "netnsd"
      and e["MESSAGE"] == "device evj0 (veth) appeared in network namespace " + sys.argv[1])
sys.exit(0 if ok else 1)' "$evns"; then
  ok "a veth made in a namespace is a journal entry: $(entry | head -c 400)"
else
  fail "no journal entry for the veth evj0: $(entry | head -c 400)"
fi
# A storm: 5000 address changes in five bursts over about 8 s. Entries plus
# summarised counts are all of them, within netnsd's rate (200/s after a
# burst of 1000), below journald's own limit, which must not act.
storm0=$SECONDS
for burst in 0 1 2 3 4; do
  {
    for verb in add del; do
      for i in $(seq 0 499); do echo "addr $verb 10.204.$((2 * burst + i / 250)).$((i % 250))/32 dev evj0"; done
    done
  } | ip -n evlog -batch -
  [ $burst -lt 4 ] && sleep 2
done
storm_s=$((SECONDS - storm0 + 1))
answered=$(ask http://localhost/healthz)
# A restart writes the summaries still counted (they are due every 10 s).
systemctl restart netnsd
counts=$(journalctl -u netnsd -o json --no-pager NETNSD_NETNS="$evns" | python3 -c '
import json, sys
entries = summarised = 0
for line in sys.stdin:
    e = json.loads(line)
    if e.get("NETNSD_TYPE") == "summary" and e.get("NETNSD_SUMMARY_OF", "").startswith("address_"):
        summarised += int(e["NETNSD_COUNT"])
    elif e.get("NETNSD_TYPE", "").startswith("address_"):
        entries += 1
print(entries, summarised)')
read -r entries summarised <<<"$counts"
allowed=$((1000 + 200 * storm_s))
suppressed=$(journalctl -u netnsd --no-pager | grep -c 'Suppressed' || true)
if [ "$answered" = '{"status":"ok"}' ] && [ $((entries + summarised)) = 5000 ] && [ "$entries" -le "$allowed" ] &&
  [ "$summarised" -gt 0 ] && [ "$suppressed" = 0 ]; then
  ok "a storm of 5000 address changes in ${storm_s} s: $entries entries and $summarised in summaries" \
    "(at most $allowed allowed; journald suppressed nothing); netnsd answered after it"
else
  fail "the storm: $entries entries + $summarised summarised (want 5000, entries <= $allowed)," \
    "journald suppressed $suppressed times, /healthz '$answered'"
fi
ip netns del evlog

# --- the watchdog restarts a stalled netnsd ----------------------------------
pid=$(systemctl show -p MainPID --value netnsd)
restarts=$(systemctl show -p NRestarts --value netnsd)
kill -STOP "$pid"
t0=$SECONDS
restarted() {
  local now
  now=$(systemctl show -p MainPID --value netnsd)
  [ "$now" != 0 ] && [ "$now" != "$pid" ] && systemctl is-active --quiet netnsd
}
if eventually 30 restarted; then
  ok "a stopped netnsd (kill -STOP) was restarted by the watchdog in $((SECONDS - t0)) s" \
    "(NRestarts $restarts -> $(systemctl show -p NRestarts --value netnsd))"
else
  fail "no restart after kill -STOP: $(systemctl status netnsd --no-pager | head -n 5)"
fi
journalctl -u netnsd --no-pager | grep -q 'Watchdog timeout' && ok "the journal says: watchdog timeout" ||
  fail "no watchdog timeout in the journal"
[ "$(ask http://localhost/healthz)" = '{"status":"ok"}' ] && ok "the restarted netnsd answers" || fail "no answer after the restart"

# --- a private mount namespace does not keep a deleted namespace alive --------
# A veth pair with one end in the namespace: when the kernel frees the
# namespace, the end inside goes and takes the other with it.
ip netns add a
ip link add vhost type veth peer name vpeer netns a
systemctl restart netnsd
inode=$(stat -L -c %i /run/netns/a)
grep -q "$inode" <(ask "http://localhost/v1/namespaces/$inode") && ok "netnsd caches namespace a ($inode)" ||
  fail "namespace a is not cached"
# Drawn while it exists: the renderer must not keep it alive either.
netnsctl dump --stream --format svg | grep -q "$inode" && ok "namespace a is in a rendered graph" ||
  fail "namespace a is not in the rendered graph"
ip netns del a
gone() { ! ip link show vhost >/dev/null 2>&1; }
if eventually 20 gone; then
  ok "ip netns add a; restart; a render; ip netns del a: the namespace was freed (its veth is gone)"
else
  # Still alive: who holds it, asked of real_systemd.sh, which sees every
  # process on the machine. Only processes outside the container (a netnsd
  # on the host caches this namespace too, and lets go after its own lonely
  # timeout) may; nothing in here.
  rm -f "$results/holders"
  echo "$inode" >"$results/ask-holders"
  for _ in $(seq 1 75); do [ -f "$results/holders" ] && break; sleep 0.2; done
  holders=$(tr '\n' ';' <"$results/holders" 2>/dev/null)
  if [ -n "$holders" ] && ! grep -q " inside " "$results/holders"; then
    ok "ip netns add a; restart; a render; ip netns del a: let go in here; held only outside the container: $holders"
  else
    fail "namespace a is still alive: held by ${holders:-no process the host sees}; netnsd said:" \
      "$(journalctl -u netnsd -o cat --no-pager | grep -iE 'lonely|releas|mount' | tail -n 5 | tr '\n' ' ')"
  fi
  ip link del vhost 2>/dev/null
fi

# --- stop -------------------------------------------------------------------------
systemctl stop netnsd
! systemctl is-active --quiet netnsd && [ ! -e "$sock" ] && ok "systemctl stop: inactive, socket removed" ||
  fail "after stop: $(systemctl is-active netnsd), socket $(ls -l "$sock" 2>&1)"
journalctl -u netnsd --no-pager | grep -q 'Stopped netnsd' && ok "the journal says it stopped" || fail "no stop in the journal"
completed=true
