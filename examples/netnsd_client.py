#!/usr/bin/python3
"""A netnsd client with nothing but the Python standard library.

    ./netnsd_client.py                 # list cached namespaces
    ./netnsd_client.py dump            # write dump files, print their paths
    ./netnsd_client.py drift           # live snapshot: namespaces whose cache drifted
    ./netnsd_client.py watch [TYPE]    # follow the changes (TYPE: netns, device, address, device_added, ...)
    ./netnsd_client.py svg FILE        # the graph, rendered by the service

The socket is $NETNSD_SOCKET, else /run/netnsd/netnsd.sock.
"""
import http.client
import json
import os
import socket
import sys
import urllib.parse

SOCKET = os.environ.get("NETNSD_SOCKET", "/run/netnsd/netnsd.sock")


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


def watch(types=None):
    """Prints one line per change until interrupted; the stream never ends by itself."""
    conn = UnixHTTPConnection(SOCKET)
    conn.timeout = 60  # the stream says it is alive every 15 s
    query = "?" + urllib.parse.urlencode({"type": types}) if types else ""
    conn.request("GET", "/v1/events" + query)
    res = conn.getresponse()
    if res.status != 200:
        payload = json.loads(res.read())
        raise SystemExit(f"netnsd: {payload['error']} ({payload['code']})")
    for line in res:  # one JSON object per line
        event = json.loads(line)
        kind = event["type"]
        if kind in ("subscribed", "heartbeat"):
            continue
        if kind == "lost":
            print(f"lost {event['count']} changes", flush=True)
            continue
        what = event.get("device", {}).get("name", "")
        if "address" in event:
            what += " " + event["address"]["address"] + "/" + str(event["address"]["prefixlen"])
        print(f"#{event['seq']} {kind} netns {event['netns']} {what}".rstrip(), flush=True)


def render(path):
    conn = UnixHTTPConnection(SOCKET)
    conn.request("POST", "/v1/dump", body=json.dumps({"output": "stream", "format": "svg"}),
                 headers={"Content-Type": "application/json"})
    res = conn.getresponse()
    data = res.read()
    if res.status != 200:
        payload = json.loads(data)
        raise SystemExit(f"netnsd: {payload['error']} ({payload['code']})")
    with open(path, "wb") as f:
        f.write(data)
    print(path)


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
    elif what == "watch":
        try:
            watch(sys.argv[2] if len(sys.argv) > 2 else None)
        except KeyboardInterrupt:
            pass
    elif what == "svg" and len(sys.argv) > 2:
        render(sys.argv[2])
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
