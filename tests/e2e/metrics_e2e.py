#!/usr/bin/python3
"""The metrics endpoint, end to end, with the Prometheus text parser.

    metrics_e2e.py NETNSD_BINARY

Starts netnsd with --metrics-address on a free loopback port and checks that
GET /metrics there (and on the Unix socket) parses as Prometheus text with the
expected families, that /healthz and /readyz answer, and that neither dumps
nor the cache are served over TCP. Needs root (netnsd opens every namespace).
"""
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

from prometheus_client.parser import text_string_to_metric_families


class UnixConnection(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=30)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.path)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def get(conn, method, path, body=None):
    conn.request(method, path, body=body, headers={"Content-Type": "application/json"} if body else {})
    res = conn.getresponse()
    return res.status, res.getheader("Content-Type", ""), res.read()


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    if os.geteuid() != 0:
        if os.environ.get("CI") == "true":
            print("FAIL: needs root, and CI=true forbids skipping", file=sys.stderr)
            return 1
        print("SKIP: needs root")
        return 77
    tmp = tempfile.mkdtemp(prefix="netnsd-metrics-")
    sock = os.path.join(tmp, "netnsd.sock")
    port = free_port()
    log = open(os.path.join(tmp, "netnsd.log"), "w")
    proc = subprocess.Popen([sys.argv[1], "--socket", sock, "--dump-dir", os.path.join(tmp, "dumps"),
                             "--metrics-address", f"127.0.0.1:{port}"], stdout=log, stderr=log)
    failures = []
    try:
        for _ in range(200):
            try:
                status, _, _ = get(http.client.HTTPConnection("127.0.0.1", port, timeout=2), "GET", "/readyz")
                if status == 200:
                    break
            except OSError:
                pass
            time.sleep(0.05)
        # A dump first, so the histogram has a sample.
        status, _, _ = get(UnixConnection(sock), "POST", "/v1/dump", "{}")
        if status != 200:
            failures.append(f"a dump on the socket answered {status}")

        for where, conn in (("tcp", lambda: http.client.HTTPConnection("127.0.0.1", port, timeout=10)),
                            ("unix", lambda: UnixConnection(sock))):
            status, ctype, body = get(conn(), "GET", "/metrics")
            if status != 200 or not ctype.startswith("text/plain"):
                failures.append(f"{where} /metrics: {status} {ctype}")
                continue
            families = {f.name: f for f in text_string_to_metric_families(body.decode())}
            for name, kind in (("netnsd_namespaces", "gauge"), ("netnsd_ready", "gauge"),
                               ("process_resident_memory_bytes", "gauge"), ("process_open_fds", "gauge"),
                               ("process_cpu_seconds", "counter"), ("netnsd_build_info", "gauge"),
                               ("netnsd_dump_duration_seconds", "histogram"),
                               ("netnsd_http_requests_by_route", "counter"),
                               ("netnsd_netlink_rejected", "counter"), ("netnsd_evictions", "counter")):
                if name not in families:
                    failures.append(f"{where} /metrics has no {name} (families: {sorted(families)[:8]}...)")
                elif families[name].type != kind:
                    failures.append(f"{where} /metrics: {name} is a {families[name].type}, not a {kind}")
            ns = [s.value for s in families.get("netnsd_namespaces").samples] if "netnsd_namespaces" in families else []
            if not ns or ns[0] < 1:
                failures.append(f"{where}: netnsd_namespaces is {ns}")
            dumps = [s for s in families["netnsd_dump_duration_seconds"].samples
                     if s.name.endswith("_count") and s.labels.get("snapshot") == "false"]
            if not dumps or dumps[0].value < 1:
                failures.append(f"{where}: the dump was not counted in netnsd_dump_duration_seconds")
            print(f"ok: {where} /metrics parses: {len(families)} families")

        tcp = lambda: http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        for path in ("/healthz", "/readyz"):
            status, _, body = get(tcp(), "GET", path)
            if status != 200:
                failures.append(f"tcp {path}: {status} {body!r}")
        # Never dumps, never the cache.
        for method, path, body in (("POST", "/dump", "{}"), ("POST", "/v1/dump", "{}"), ("GET", "/v1/namespaces", None),
                                   ("GET", "/v1/namespaces/1", None), ("GET", "/openapi.yaml", None)):
            status, ctype, payload = get(tcp(), method, path, body)
            if status != 404 or json.loads(payload).get("code") != "not_found":
                failures.append(f"tcp {method} {path} answered {status} {payload[:80]!r}, not 404")
        print("ok: over TCP only /metrics, /healthz and /readyz are served")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
        shutil.rmtree(tmp, ignore_errors=True)
    for f in failures:
        print("FAIL:", f, file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
