#!/usr/bin/python3
"""A netnsd client with nothing but the Python standard library.

    ./netnsd_client.py                 # list cached namespaces
    ./netnsd_client.py dump            # write dump files, print their paths
    ./netnsd_client.py drift           # live snapshot: namespaces whose cache drifted
"""
import http.client
import json
import socket
import sys

SOCKET = "/run/netnsd/netnsd.sock"


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=120)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


def call(method, path, body=None):
    conn = UnixHTTPConnection(SOCKET)
    data = json.dumps(body) if body is not None else None
    conn.request(method, path, body=data, headers={"Content-Type": "application/json"} if data else {})
    res = conn.getresponse()
    payload = json.loads(res.read())
    if res.status >= 300:
        raise SystemExit(f"netnsd: {payload['error']} ({payload['code']})")
    return payload


def main():
    what = sys.argv[1] if len(sys.argv) > 1 else "ls"
    if what == "ls":
        for ns in call("GET", "/v1/namespaces")["namespaces"]:
            names = ",".join(ns["names"]) or "-"
            print(f"{ns['netns']:>12} {len(ns['devices']):>3} devices  {names}")
    elif what == "dump":
        files = call("POST", "/v1/dump", {})
        print(files["dump_filename"])
        print(files["graph_filename"])
    elif what == "drift":
        doc = call("POST", "/v1/dump", {"snapshot_interfaces": True, "output": "stream"})
        for ns in doc["namespaces"]:
            snap = ns["snapshot"]
            if snap and (snap["missing_from_cache"] or snap["stale_in_cache"] or snap["error"]):
                print(ns["netns"], "missing:", snap["missing_from_cache"], "stale:", snap["stale_in_cache"],
                      "error:", snap["error"])
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
