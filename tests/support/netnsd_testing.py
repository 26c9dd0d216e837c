"""What the Python test scripts share: HTTP over netnsd's Unix socket and
over loopback, the root check every privileged script makes, and the
Prometheus tools' checks.

Scripts import it with:
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
"""
import http.client
import os
import socket
import subprocess


class UnixConnection(http.client.HTTPConnection):
    """http.client over AF_UNIX, as a script in another language would talk to netnsd."""

    def __init__(self, path, timeout=30):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.unix_path)


def free_port():
    """A TCP port on loopback that nothing listens on now."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def request(conn, method, path, body=None, headers=None):
    """One request on `conn` (closed after): (status, Content-Type, body bytes)."""
    headers = dict(headers or {})
    if body is not None and "Content-Type" not in headers:
        headers["Content-Type"] = "application/json"
    try:
        conn.request(method, path, body=body, headers=headers)
        res = conn.getresponse()
        return res.status, res.getheader("Content-Type", ""), res.read()
    finally:
        conn.close()


def http_get(port, path, timeout=10):
    """GET on loopback: (status, body bytes)."""
    status, _, body = request(http.client.HTTPConnection("127.0.0.1", port, timeout=timeout), "GET", path)
    return status, body


def skip_without_root(why):
    """None as root; else the exit status to return: a skip (77), or a failure under CI=true."""
    if os.geteuid() == 0:
        return None
    if os.environ.get("CI") == "true":
        print(f"FAIL: {why} needs root, and CI=true forbids skipping")
        return 1
    print(f"SKIP: {why} needs root")
    return 77


def promtool_check_metrics(text):
    """Runs Debian's `promtool check metrics` on an exposition: (clean, what it said)."""
    done = subprocess.run(["promtool", "check", "metrics"], input=text.encode(), capture_output=True, timeout=60)
    said = (done.stdout + done.stderr).decode(errors="replace").strip()
    return done.returncode == 0 and not said, said
