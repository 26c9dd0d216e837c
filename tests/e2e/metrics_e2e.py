#!/usr/bin/python3
"""The metrics endpoint, end to end, with the Prometheus text parser.

    metrics_e2e.py NETNSD_BINARY

Starts netnsd with --metrics-address on a free loopback port and checks that
GET /metrics there (and on the Unix socket) parses as Prometheus text with the
expected families, each sample labelled with --node-name, that /healthz and /readyz answer, and that neither dumps
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

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from netnsd_testing import UnixConnection, free_port, promtool_check_metrics, request, skip_without_root  # noqa: E402


def get(conn, method, path, body=None):
    return request(conn, method, path, body)


def raw(sock_path, data):
    """Sends raw bytes on a new connection and reads until the server closes (or 5 s)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(sock_path)
    try:
        s.sendall(data)
        out = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
    except OSError:
        pass
    finally:
        s.close()
    return out[:12]


def every_kind_of_request(sock, port):
    """Each route, each dump output, format and schema, each refusal the reader makes, once."""
    unix = lambda: UnixConnection(sock)
    for body in ("{}", '{"snapshot_interfaces": true}', '{"schema": "datadog"}'):
        get(unix(), "POST", "/v1/dump", body)
    for fmt in ("json", "dot", "svg", "png"):
        get(unix(), "POST", f"/v1/dump?output=stream&format={fmt}")
    get(unix(), "POST", "/dump?output=stream&schema=datadog")
    get(unix(), "POST", "/dump", '{"output": "nope"}')
    get(unix(), "POST", "/dump", '{"output":"stream","output":"files"}')
    for path in ("/v1/namespaces", "/v1/namespaces/1", "/v1/namespaces/nope", "/v1/devices/lo",
                 "/v1/devices/nope0", "/v1/events?type=bogus", "/openapi.yaml", "/healthz", "/readyz", "/nope"):
        get(unix(), "GET", path)
    get(unix(), "HEAD", "/healthz")
    get(unix(), "DELETE", "/v1/dump")
    # A change stream, briefly.
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(sock)
    s.sendall(b"GET /v1/events HTTP/1.1\r\nHost: x\r\n\r\n")
    s.recv(4096)
    s.close()
    # What the reader refuses itself.
    for data in (b"garbage\r\n\r\n",
                 b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\n\r\n",
                 b"GET /healthz HTTP/1.1\r\nX: " + b"h" * 9000 + b"\r\n\r\n",
                 b"POST /dump HTTP/1.1\r\nContent-Length: 100000\r\n\r\n",
                 b"POST /dump HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
                 b"POST /dump HTTP/1.1\r\nContent-Encoding: gzip\r\nContent-Length: 1\r\n\r\nx",
                 b"GET /healthz HTTP/1.1\r\nHost : x\r\n\r\n"):
        raw(sock, data)
    for path in ("/healthz", "/readyz", "/metrics", "/v1/namespaces"):
        get(http.client.HTTPConnection("127.0.0.1", port, timeout=10), "GET", path)


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    skip = skip_without_root("netnsd (it opens every namespace)")
    if skip is not None:
        return skip
    tmp = tempfile.mkdtemp(prefix="netnsd-metrics-")
    sock = os.path.join(tmp, "netnsd.sock")
    port = free_port()
    log = open(os.path.join(tmp, "netnsd.log"), "w")
    proc = subprocess.Popen([sys.argv[1], "--socket", sock, "--dump-dir", os.path.join(tmp, "dumps"),
                             "--journal", os.path.join(tmp, "state", "journal.db"),
                             "--metrics-address", f"127.0.0.1:{port}", "--node-name", "e2e-node"],
                            stdout=log, stderr=log)
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
        every_kind_of_request(sock, port)

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
            unlabelled = [s for f in families.values() for s in f.samples if s.labels.get("node") != "e2e-node"]
            if unlabelled:
                failures.append(f"{where}: samples without node=\"e2e-node\": {unlabelled[:3]}")
            print(f"ok: {where} /metrics parses: {len(families)} families, every sample labelled with its node")
            clean, said = promtool_check_metrics(body.decode())
            if not clean:
                failures.append(f"promtool check metrics on the {where} scrape: {said}")
            else:
                print(f"ok: promtool check metrics is clean on the {where} scrape ({len(body)} bytes)")

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
        # One client asking again as soon as it has its answer: each 404 is
        # a 404, never a 503 because the lone worker has not let go yet.
        refused = 0
        for _ in range(200):
            status, _, payload = get(tcp(), "GET", "/nope")
            if status != 404:
                refused += 1
        if refused:
            failures.append(f"tcp: {refused} of 200 sequential GET /nope not answered 404")
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
