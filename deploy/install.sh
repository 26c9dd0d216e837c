#!/bin/bash
# Installs, builds and starts netnsd on its defaults, from a fresh Debian 12
# machine, as root:
#   - Debian packages (deploy/deps.sh --install), a release build, binaries into
#     /usr/local (netnsd in sbin, netnsctl in bin, netnsd-render in libexec,
#     man pages, bash completion), /etc/netnsd/netnsd.conf and the systemd
#     units (netnsd, and netnsd-render's socket and service) with drop-in
#     examples;
#   - then (re)starts the service: through systemd when it runs, otherwise as
#     a background daemon (pid in /run/netnsd.pid, log in /var/log/netnsd.log);
#   - and waits until it answers on /run/netnsd/netnsd.sock.
# Stop it with: deploy/install.sh --stop
set -euo pipefail
cd "$(dirname "$0")/.."

PREFIX=${PREFIX:-/usr/local}
SOCKET=/run/netnsd/netnsd.sock
PIDFILE=/run/netnsd.pid
LOG=/var/log/netnsd.log

have_systemd() { [ -d /run/systemd/system ] && command -v systemctl >/dev/null; }

stop_daemon() {
  if have_systemd && systemctl is-active --quiet netnsd 2>/dev/null; then
    systemctl stop netnsd
  fi
  if [ -f "$PIDFILE" ]; then
    pid=$(cat "$PIDFILE")
    if kill -0 "$pid" 2>/dev/null && [ "$(cat /proc/"$pid"/comm 2>/dev/null)" = netnsd ]; then
      kill -TERM "$pid"
      for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
    rm -f "$PIDFILE"
  fi
}

if [ "${1:-}" = --stop ]; then
  stop_daemon
  echo "netnsd stopped"
  exit 0
fi

if [ "$(id -u)" != 0 ]; then
  echo "run as root: netnsd needs CAP_SYS_ADMIN, CAP_NET_ADMIN and CAP_BPF" >&2
  exit 1
fi

./deploy/deps.sh --install
BUILD=${BUILD:-build-release}
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DNETNSD_BUILD_TESTS=OFF >/dev/null
cmake --build "$BUILD" -j"$(nproc)" --target netnsd netnsctl netnsd-render
cmake --install "$BUILD" --prefix "$PREFIX" >/dev/null

install -d -m 0755 /etc/netnsd
[ -f /etc/netnsd/netnsd.conf ] || install -m 0644 deploy/netnsd.conf.example /etc/netnsd/netnsd.conf
install -d -m 0755 "$PREFIX/share/doc/netnsd"
install -m 0644 README.md openapi/openapi.yaml "$PREFIX/share/doc/netnsd/"
if [ -d /etc/systemd/system ]; then
  for unit in netnsd.service netnsd-render.socket netnsd-render@.service; do
    sed "s|/usr/local|$PREFIX|g" "deploy/systemd/$unit" >"/etc/systemd/system/$unit"
  done
  # Examples only: systemd reads *.conf, so they change nothing until renamed.
  install -d -m 0755 /etc/systemd/system/netnsd.service.d
  install -m 0644 deploy/systemd/netnsd.service.d/*.conf.example /etc/systemd/system/netnsd.service.d/
fi
command -v mandb >/dev/null && mandb -q "$PREFIX/share/man" 2>/dev/null || true

stop_daemon
if have_systemd; then
  systemctl daemon-reload
  systemctl enable --now netnsd-render.socket
  systemctl enable --now netnsd
else
  setsid "$PREFIX/sbin/netnsd" --config /etc/netnsd/netnsd.conf >>"$LOG" 2>&1 </dev/null &
  echo $! >"$PIDFILE"
fi

for _ in $(seq 1 100); do
  if "$PREFIX/bin/netnsctl" --socket "$SOCKET" health >/dev/null 2>&1; then
    echo "netnsd is serving on $SOCKET"
    echo "try: curl --unix-socket $SOCKET -X POST http://localhost/dump"
    exit 0
  fi
  sleep 0.1
done
echo "netnsd did not come up; see $LOG or journalctl -u netnsd" >&2
tail -n 20 "$LOG" 2>/dev/null >&2 || true
exit 1
