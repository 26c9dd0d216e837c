#!/bin/bash
# End to end with the real binaries: netnsd started as a process, driven with
# curl and netnsctl over its Unix socket, as an operator would.
#
# usage: cli_e2e.sh NETNSD NETNSCTL
# Exit 77 (skip) without root, unless CI=true, where skipping is a failure.
set -uo pipefail

NETNSD=$(readlink -f "$1")
NETNSCTL=$(readlink -f "$2")

if [ "$(id -u)" != 0 ]; then
  if [ "${CI:-}" = true ]; then echo "FAIL: needs root and CI=true forbids skipping" >&2; exit 1; fi
  echo "SKIP: needs root"; exit 77
fi

tmp=$(mktemp -d /tmp/netnsd-e2e-XXXXXX)
tag=e2e$$$RANDOM
sock=$tmp/run/netnsd.sock
dumps=$tmp/dumps
pids=()
failures=0

cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  umount -l "$dumps" 2>/dev/null
  ip netns del "${tag}a" 2>/dev/null
  ip netns del "${tag}b" 2>/dev/null
  ip netns del "${tag}c" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
pass() { echo "ok: $*"; }

# Starts netnsd with extra args; sets $started_pid. Logs to $tmp/netnsd.N.log.
start_netnsd() {
  local log=$tmp/netnsd.${#pids[@]}.log
  "$NETNSD" --log-level debug --journal "$tmp/state.${#pids[@]}/journal.db" "$@" >"$log" 2>&1 &
  started_pid=$!
  pids+=("$started_pid")
  started_log=$log
}

wait_ready() {
  for _ in $(seq 1 100); do
    if [ -S "$1" ] && [ "$(curl -s -o /dev/null -w '%{http_code}' --unix-socket "$1" http://localhost/readyz)" = 200 ]; then
      return 0
    fi
    sleep 0.05
  done
  return 1
}

ip netns add "${tag}a"

start_netnsd --socket "$sock" --dump-dir "$dumps" --resync-interval 1
main_pid=$started_pid
main_log=$started_log
wait_ready "$sock" || { cat "$main_log"; echo "FAIL: netnsd did not become ready" >&2; exit 1; }

# --- the socket ---------------------------------------------------------------
[ "$(stat -c %a "$sock")" = 660 ] && pass "socket mode 0660" || fail "socket mode $(stat -c %a "$sock")"
[ "$(stat -c %a "$tmp/run")" = 750 ] && pass "socket directory 0750" || fail "socket directory $(stat -c %a "$tmp/run")"

# --- a bare curl POST: 200 at once, two real files ---------------------------
start=$(date +%s%N)
out=$(curl -sS --max-time 5 --unix-socket "$sock" -X POST http://localhost/dump -w '\n%{http_code}')
took_ms=$(( ($(date +%s%N) - start) / 1000000 ))
code=$(tail -n1 <<<"$out")
body=$(head -n1 <<<"$out")
[ "$code" = 200 ] && pass "bare curl -X POST /dump -> 200 in ${took_ms} ms" || fail "bare POST got $code: $body"
[ "$took_ms" -lt 2000 ] || fail "bare POST took ${took_ms} ms"
dump_file=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["dump_filename"])' <<<"$body")
graph_file=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["graph_filename"])' <<<"$body")
for f in "$dump_file" "$graph_file"; do
  [ -f "$f" ] && [ "$(stat -c %a "$f")" = 400 ] && pass "$(basename "$f") exists, mode 0400" || fail "$f missing or not 0400"
done
python3 -m json.tool "$dump_file" >/dev/null && pass "dump is valid JSON" || fail "dump is not valid JSON"
dot -Tsvg "$graph_file" -o "$tmp/graph.svg" && pass "dot -Tsvg renders the graph" || fail "dot cannot render $graph_file"

# --- netnsctl dump: exactly the seed agent's two lines -----------------------
out=$("$NETNSCTL" --socket "$sock" dump 2>"$tmp/err")
rc=$?
[ $rc = 0 ] || fail "netnsctl dump exited $rc: $(cat "$tmp/err")"
lines=$(wc -l <<<"$out")
first=$(sed -n 1p <<<"$out")
second=$(sed -n 2p <<<"$out")
if [ "$lines" = 2 ] \
  && [[ $first =~ ^Network\ namespace\ dump:\ (/.*/network-namespace-dump-[^/]+\.json)$ ]] && [ -f "${BASH_REMATCH[1]}" ] \
  && [[ $second =~ ^Network\ namespace\ dump\ graph:\ (/.*/network-namespace-graph-[^/]+\.dot)$ ]] && [ -f "${BASH_REMATCH[1]}" ]; then
  pass "netnsctl dump prints the two lines"
else
  fail "netnsctl dump printed: $out"
fi
[ -s "$tmp/err" ] && fail "netnsctl dump wrote to stderr: $(cat "$tmp/err")"

"$NETNSCTL" --socket "$sock" dump --snapshot-interfaces >/dev/null && pass "netnsctl dump --snapshot-interfaces" || fail "snapshot dump"
"$NETNSCTL" --socket "$sock" dump --stream --format dot | dot -Tsvg >/dev/null && pass "netnsctl dump --stream --format dot | dot" || fail "streamed graph"
"$NETNSCTL" --socket "$sock" dump --stream --schema datadog | python3 -c '
import json, sys
doc = json.load(sys.stdin)
assert isinstance(doc, list) and doc, doc
for ns in doc:
    assert set(ns) == {"NsID", "HandleFD", "HandlePath", "LonelyTimeout", "Devices", "DevicesInQueue"}, ns
' && pass "netnsctl dump --stream --schema datadog" || fail "datadog stream"

# --- health, ls, get ------------------------------------------------------------
[ "$("$NETNSCTL" --socket "$sock" health)" = ok ] && pass "netnsctl health" || fail "netnsctl health"
listing=$("$NETNSCTL" --socket "$sock" ls)
grep -q " ${tag}a$" <<<"$listing" && pass "netnsctl ls lists ${tag}a" || fail "netnsctl ls: $listing"
inode_a=$(stat -L -c %i "/run/netns/${tag}a")
got=$("$NETNSCTL" --socket "$sock" get "${tag}a" | python3 -c 'import json,sys; print(json.load(sys.stdin)["netns"])')
[ "$got" = "$inode_a" ] && pass "netnsctl get NAME" || fail "netnsctl get ${tag}a gave $got, want $inode_a"
"$NETNSCTL" --socket "$sock" get 4294967295 2>"$tmp/err" >/dev/null
rc=$?
[ $rc != 0 ] && grep -q "no network namespace" "$tmp/err" && pass "netnsctl get of an unknown inode fails with the reason" \
  || fail "netnsctl get unknown: rc=$rc $(cat "$tmp/err")"

# --- bash completion offers the running netnsd's namespaces -------------------
completion=$(dirname "$0")/../../deploy/completion/netnsctl.bash
offered=$(PATH=$(dirname "$NETNSCTL"):$PATH bash -c '
  source "$1"; COMP_WORDS=(netnsctl --socket "$2" get "$3"); COMP_CWORD=4; _netnsctl; echo "${COMPREPLY[*]}"' \
  complete "$completion" "$sock" "${tag}")
[ "$offered" = "${tag}a" ] && pass "netnsctl get <TAB> offers ${tag}a" || fail "completion offered '$offered'"
offered=$(PATH=$(dirname "$NETNSCTL"):$PATH bash -c '
  source "$1"; COMP_WORDS=(netnsctl --socket "$2" dump --netns "$3"); COMP_CWORD=5; _netnsctl; echo "${COMPREPLY[*]}"' \
  complete "$completion" "$sock" "$inode_a")
[ "$offered" = "$inode_a" ] && pass "netnsctl dump --netns <TAB> offers its inode" || fail "completion offered '$offered'"

# --- the periodic resync picks up a namespace and a veth made after start ----
ip netns add "${tag}b"
ip -n "${tag}b" link add e2e0 type veth peer name e2e1
seen=no
for _ in $(seq 1 60); do
  # Capture first: with pipefail, `| grep -q` fails when grep stops reading early.
  got=$("$NETNSCTL" --socket "$sock" get "${tag}b" 2>/dev/null)
  if grep -q '"e2e0"' <<<"$got"; then seen=yes; break; fi
  sleep 0.1
done
[ $seen = yes ] && pass "resync picked up ${tag}b and its veth" || fail "resync never showed ${tag}b"

# --- an unwritable dump directory: the server's reason, non-zero exit --------
mkdir -p "$dumps"
mount -t tmpfs -o ro,size=1m tmpfs "$dumps"
out=$("$NETNSCTL" --socket "$sock" dump 2>"$tmp/err")
rc=$?
umount "$dumps"
[ $rc != 0 ] && pass "netnsctl dump fails (exit $rc) on a read-only dump directory" || fail "netnsctl dump succeeded on a read-only directory"
grep -q "Read-only file system" "$tmp/err" && pass "netnsctl prints the server's reason: $(cat "$tmp/err")" || fail "stderr was: $(cat "$tmp/err")"
[ -z "$out" ] || fail "netnsctl printed on stdout on failure: $out"
"$NETNSCTL" --socket "$sock" dump >/dev/null && pass "the next dump succeeds" || fail "dump after the failure"

# --- netnsctl against a server that answers something else --------------------
# Answers every request 200 with JSON of the wrong shape, then closes.
/usr/bin/python3 - "$tmp/liar.sock" <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1])
s.listen(8)
for _ in range(4):
    c, _ = s.accept()
    # The whole request first: closing on an unread body would fail the
    # client's write, which is another test.
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = c.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length:
        chunk = c.recv(65536)
        if not chunk:
            break
        body += chunk
    body = b'{"namespaces": 5, "dump_filename": 7}'
    c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body))
    c.close()
PY
pids+=("$!")
for _ in $(seq 1 50); do [ -S "$tmp/liar.sock" ] && break; sleep 0.1; done
for cmd in ls "get 1" dump; do
  # shellcheck disable=SC2086
  "$NETNSCTL" --socket "$tmp/liar.sock" $cmd >/dev/null 2>"$tmp/err"
  rc=$?
  [ $rc = 1 ] && grep -q "unexpected answer" "$tmp/err" \
    && pass "netnsctl $cmd reports an answer of the wrong shape: $(head -c 120 "$tmp/err")" \
    || fail "netnsctl $cmd on a wrong answer: rc=$rc $(cat "$tmp/err")"
done

# --- netnsctl against nothing --------------------------------------------------
"$NETNSCTL" --socket "$tmp/nothing.sock" health 2>"$tmp/err"
rc=$?
[ $rc != 0 ] && grep -q "cannot reach netnsd" "$tmp/err" && pass "netnsctl without a server fails clearly" || fail "rc=$rc $(cat "$tmp/err")"

# --- a second netnsd on a live socket refuses to start -----------------------
start_netnsd --socket "$sock" --dump-dir "$dumps"
second=$started_pid
for _ in $(seq 1 50); do kill -0 "$second" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$second" 2>/dev/null; then
  fail "a second netnsd kept running on a live socket"
else
  wait "$second"; rc=$?
  [ $rc != 0 ] && grep -q "is netnsd already running on $sock" "$started_log" && pass "a second netnsd refuses a live socket: $(grep -o 'cannot start.*' "$started_log")" \
    || fail "second netnsd: rc=$rc $(cat "$started_log")"
fi
[ "$("$NETNSCTL" --socket "$sock" health)" = ok ] && pass "the first netnsd still serves" || fail "the first netnsd stopped answering"

# --- a file that is not a socket is refused and left untouched ---------------
echo precious >"$tmp/not-a-socket"
start_netnsd --socket "$tmp/not-a-socket" --dump-dir "$dumps"
wait "$started_pid"; rc=$?
[ $rc != 0 ] && grep -q "is not a socket" "$started_log" && [ "$(cat "$tmp/not-a-socket")" = precious ] \
  && pass "a regular file at the socket path is refused and kept" || fail "non-socket: rc=$rc $(cat "$started_log")"

# --- a stale socket (netnsd killed hard) is replaced --------------------------
kill -9 "$main_pid"; wait "$main_pid" 2>/dev/null
[ -S "$sock" ] || fail "expected the killed netnsd to leave its socket behind"
start_netnsd --socket "$sock" --dump-dir "$dumps" --socket-group nogroup
main_pid=$started_pid
if wait_ready "$sock"; then pass "a stale socket is replaced"; else fail "restart on a stale socket: $(cat "$started_log")"; fi
[ "$(stat -c %G "$sock")" = nogroup ] && [ "$(stat -c %a "$sock")" = 660 ] && pass "--socket-group nogroup" \
  || fail "socket group $(stat -c %G "$sock") mode $(stat -c %a "$sock")"

# --- the Python example client (standard library only) ------------------------
client=$(dirname "$0")/../../examples/netnsd_client.py
NETNSD_SOCKET=$sock python3 "$client" watch device >"$tmp/watch.out" 2>"$tmp/watch.err" &
watcher=$!
pids+=("$watcher")
for _ in $(seq 1 50); do
  curl -s --unix-socket "$sock" http://localhost/metrics | grep -qE '^netnsd_event_subscribers(\{node="[^"]*"\})? 1' && break
  sleep 0.05
done
ip -n "${tag}a" link add "${tag}w" type veth peer name "${tag}x"
for _ in $(seq 1 50); do grep -q "device_added .*${tag}w" "$tmp/watch.out" && break; sleep 0.05; done
kill -TERM "$watcher"; wait "$watcher" 2>/dev/null
grep -q "device_added .*${tag}w" "$tmp/watch.out" && pass "examples/netnsd_client.py watch: $(grep "${tag}w" "$tmp/watch.out" | head -n1)" \
  || fail "the example client's watch printed: $(cat "$tmp/watch.out" "$tmp/watch.err")"

# --- the graph, drawn by the service ------------------------------------------
"$NETNSCTL" --socket "$sock" dump --stream --format svg >"$tmp/netns.svg"
python3 -c 'import sys, xml.etree.ElementTree as E; E.parse(sys.argv[1])' "$tmp/netns.svg" \
  && grep -q ">${tag}w (" "$tmp/netns.svg" && pass "netnsctl dump --stream --format svg: well-formed SVG naming the devices" \
  || fail "svg: $(head -c 300 "$tmp/netns.svg")"
"$NETNSCTL" --socket "$sock" dump --stream --format png >"$tmp/netns.png"
[ "$(head -c 8 "$tmp/netns.png" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] \
  && pass "netnsctl dump --stream --format png: a PNG of $(stat -c %s "$tmp/netns.png") bytes" || fail "png: $(head -c 100 "$tmp/netns.png" | od -c | head -3)"
NETNSD_SOCKET=$sock python3 "$client" svg "$tmp/client.svg" >/dev/null && grep -q '</svg>' "$tmp/client.svg" \
  && pass "examples/netnsd_client.py svg" || fail "the example client's svg"

# --- netnsctl diff: an instant of the journal and now, and dump files offline -
ctl() { "$NETNSCTL" --socket "$sock" "$@"; }
sleep 0.5  # the journal writes a batch at most every 200 ms
before=$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)
ctl dump --stream >"$tmp/before.json"
ip netns add "${tag}c"
ip -n "${tag}a" link set "${tag}w" mtu 1400
ip -n "${tag}a" addr add 198.51.100.7/32 dev "${tag}w"
new_inode=$(stat -L -c %i "/run/netns/${tag}c")
for _ in $(seq 1 60); do
  ctl dump --stream >"$tmp/after.json"
  grep -q "\"${tag}c\"" "$tmp/after.json" && grep -q 198.51.100.7 "$tmp/after.json" && break
  sleep 0.05
done
ctl dump --stream --schema datadog >"$tmp/after-dd.json"
sleep 0.5
ctl diff "$before" >"$tmp/diff.txt" 2>&1
grep -qE "^\+ netns $new_inode \(${tag}c\): lo$" "$tmp/diff.txt" \
  && grep -qE "^~ device ${tag}w \([0-9]+\) veth in netns [0-9]+ \(${tag}a\): mtu 1500 -> 1400$" "$tmp/diff.txt" \
  && grep -qE "^\+ address 198.51.100.7/32 on ${tag}w \([0-9]+\) in netns [0-9]+ \(${tag}a\)$" "$tmp/diff.txt" \
  && pass "netnsctl diff TIME (from the journal to now): $(grep -c . "$tmp/diff.txt") lines" || fail "diff TIME: $(cat "$tmp/diff.txt")"
# Offline, with no netnsd to ask: the same lines about what this test changed.
"$NETNSCTL" --socket "$tmp/nowhere.sock" diff "$tmp/before.json" "$tmp/after.json" >"$tmp/offline.txt" 2>&1
if diff <(grep "${tag}" "$tmp/diff.txt") <(grep "${tag}" "$tmp/offline.txt") >/dev/null && [ -s "$tmp/offline.txt" ]; then
  pass "netnsctl diff A.json B.json offline says what the journal says"
else
  fail "offline diff differs from the journal's: $(diff <(grep "${tag}" "$tmp/diff.txt") <(grep "${tag}" "$tmp/offline.txt"))"
fi
"$NETNSCTL" --socket "$tmp/nowhere.sock" diff "$tmp/before.json" "$tmp/after-dd.json" --json >"$tmp/cross.json" 2>&1
python3 - "$tmp/cross.json" "$new_inode" <<'PY' && pass "netnsctl diff across schemas (netnsd then datadog) --json" || fail "cross-schema diff: $(head -c 600 "$tmp/cross.json")"
import json, sys
diff = json.load(open(sys.argv[1]))
inode = int(sys.argv[2])
appeared = [c for c in diff["changes"] if c["subject"] == "namespace" and c["change"] == "appeared"]
assert any(c["netns"] == inode for c in appeared), appeared
assert diff["to"]["schema"] == "datadog" and diff["from"]["schema"] == "netnsd"
assert not any(c["subject"] == "address" for c in diff["changes"]), "datadog has no addresses: none compared"
PY
echo '{"namespaces": 3}' >"$tmp/broken.json"
"$NETNSCTL" --socket "$tmp/nowhere.sock" diff "$tmp/broken.json" "$tmp/after.json" 2>"$tmp/err"; rc=$?
[ $rc = 1 ] && grep -q "cannot compare: the first document" "$tmp/err" && pass "a broken dump file is refused clearly" \
  || fail "broken dump: rc=$rc $(cat "$tmp/err")"

# --- SIGTERM stops cleanly and removes the socket -----------------------------
kill -TERM "$main_pid"; wait "$main_pid"; rc=$?
[ $rc = 0 ] && [ ! -e "$sock" ] && pass "SIGTERM: exit 0, socket removed" || fail "SIGTERM: rc=$rc, socket present: $([ -e "$sock" ] && echo yes)"

if [ $failures != 0 ]; then
  echo "$failures failure(s); netnsd log:" >&2
  cat "$main_log" >&2
  exit 1
fi
echo "all end-to-end checks passed"
