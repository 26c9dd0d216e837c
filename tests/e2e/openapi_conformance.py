#!/usr/bin/python3
"""Checks real netnsd responses against openapi/openapi.yaml.

Starts the netnsd binary on a private socket, sends real requests over
AF_UNIX with the standard library (as a script in another language would),
and checks for each answer that its status is documented for the operation,
its Content-Type is one the spec lists, and its body validates against the
documented schema. Every operation in the spec must be exercised.

usage: openapi_conformance.py NETNSD_BINARY OPENAPI_YAML
"""

import copy
import datetime
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid

import jsonschema
import yaml

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from netnsd_testing import UnixConnection, skip_without_root  # noqa: E402

DATE_TIME = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$"


def to_json_schema(node):
    """OpenAPI 3.0 schema -> JSON Schema: nullable, date-time as a pattern."""
    if isinstance(node, list):
        return [to_json_schema(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: to_json_schema(v) for k, v in node.items() if k not in ("nullable", "example")}
    if node.get("format") == "date-time":
        out["pattern"] = DATE_TIME
    if node.get("nullable"):
        return {"anyOf": [out, {"type": "null"}]}
    return out


class Spec:
    def __init__(self, path):
        with open(path) as f:
            self.doc = yaml.safe_load(f)
        converted = copy.deepcopy(self.doc)
        converted["components"]["schemas"] = to_json_schema(converted["components"]["schemas"])
        self.root = converted
        self.resolver = jsonschema.RefResolver.from_schema(converted)
        self.exercised = set()

    def deref(self, node):
        while isinstance(node, dict) and "$ref" in node:
            ref = node["$ref"]
            assert ref.startswith("#/"), ref
            target = self.doc
            for part in ref[2:].split("/"):
                target = target[part]
            node = target
        return node

    def operation(self, method, path):
        """(path template, operation) for a concrete path, or (template, None)."""
        for template, item in self.doc["paths"].items():
            pattern = "^" + re.sub(r"\{[^/]+\}", "[^/]+", template) + "$"
            if re.match(pattern, path):
                return template, item.get(method.lower())
        return None, None

    def validate(self, schema, body, where):
        schema = to_json_schema(schema)
        jsonschema.validate(body, schema, resolver=self.resolver)


class Conformance:
    def __init__(self, netnsd, spec_path):
        self.spec = Spec(spec_path)
        self.tmp = tempfile.mkdtemp(prefix="netnsd-openapi-")
        self.sock = os.path.join(self.tmp, "netnsd.sock")
        self.dumps = os.path.join(self.tmp, "dumps")
        self.log = open(os.path.join(self.tmp, "netnsd.log"), "w+")
        self.netnsd = netnsd
        self.failures = []
        self.checked = 0
        self.start()

    def start(self):
        """Runs netnsd (on the same socket and journal each time) until ready."""
        self.proc = subprocess.Popen(
            [self.netnsd, "--socket", self.sock, "--dump-dir", self.dumps, "--log-level", "debug",
             "--journal", os.path.join(self.tmp, "state", "journal.db")],
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 10
        while time.time() < deadline:
            if os.path.exists(self.sock):
                try:
                    if self.request("GET", "/readyz", check=False)[0] == 200:
                        break
                except OSError:
                    pass
            if self.proc.poll() is not None:
                raise SystemExit("netnsd exited early:\n" + self.log_text())
            time.sleep(0.05)
        else:
            raise SystemExit("netnsd did not become ready:\n" + self.log_text())
        # The journal answers from the instant netnsd opened it, a little
        # before it was ready: `at=-1s` is answerable a second after this.
        self.ready_at = time.time()

    def log_text(self):
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if os.path.exists(self.sock):
            self.failures.append("the socket was not removed on SIGTERM")

    def close(self):
        self.stop()
        subprocess.run(["umount", "-l", self.dumps], stderr=subprocess.DEVNULL)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def request(self, method, target, body=None, content_type=None, check=True, raw_headers=None):
        conn = UnixConnection(self.sock)
        headers = dict(raw_headers or {})
        if content_type:
            headers["Content-Type"] = content_type
        if isinstance(body, str):
            body = body.encode()
        conn.request(method, target, body=body, headers=headers)
        res = conn.getresponse()
        payload = res.read()
        status, ctype = res.status, res.getheader("Content-Type", "")
        allow = res.getheader("Allow")
        conn.close()
        if check:
            self.check(method, target, status, ctype, payload, allow)
        return status, ctype, payload

    def expect(self, expected, answer):
        """`answer` (request()'s) has exactly this status and error code."""
        status, _, payload = answer
        try:
            code = json.loads(payload).get("code")
        except ValueError:
            code = None
        if (status, code) != expected:
            self.failures.append(f"expected {expected[0]} {expected[1]}, got {status} {code} ({payload[:120]!r})")

    def fail(self, method, target, message):
        self.failures.append(f"{method} {target}: {message}")

    def check(self, method, target, status, ctype, payload, allow):
        self.checked += 1
        path = target.split("?", 1)[0]
        template, op = self.spec.operation(method, path)
        responses = self.spec.doc["components"]["responses"]
        if template is None:
            response = responses["NotFound"]
            if status != 404:
                self.fail(method, target, f"unknown path answered {status}, not 404")
                return
        elif op is None:
            response = responses["MethodNotAllowed"]
            if status != 405:
                self.fail(method, target, f"undocumented method answered {status}, not 405")
                return
            if not allow:
                self.fail(method, target, "405 without an Allow header")
        else:
            self.spec.exercised.add((template, method.lower()))
            documented = op["responses"]
            if str(status) not in documented:
                self.fail(method, target, f"status {status} is not documented (documented: {sorted(documented)})")
                return
            response = self.spec.deref(documented[str(status)])
        media = ctype.split(";", 1)[0].strip()
        content = response.get("content", {})
        if media not in content:
            self.fail(method, target, f"Content-Type {ctype!r} not documented for {status} ({sorted(content)})")
            return
        schema = content[media].get("schema", {})
        if media == "application/json":
            try:
                body = json.loads(payload)
            except ValueError as e:
                self.fail(method, target, f"invalid JSON: {e}")
                return
            try:
                self.spec.validate(schema, body, target)
            except jsonschema.ValidationError as e:
                self.fail(method, target, f"{status} body does not match the schema: {e.message} at {list(e.path)}")
        elif not payload:
            self.fail(method, target, f"empty {media} body")

    def exercise_events(self, name):
        """GET /v1/events: a stream that never ends by itself, so read a few
        lines (each must be an Event), then hang up."""
        inode = str(os.stat("/run/netns/" + name).st_ino)
        target = "/v1/events?netns=" + inode
        conn = UnixConnection(self.sock, timeout=5)
        conn.request("GET", target)
        res = conn.getresponse()
        template, op = self.spec.operation("GET", "/v1/events")
        self.spec.exercised.add((template, "get"))
        ctype = res.getheader("Content-Type", "")
        if res.status != 200 or not ctype.startswith("application/x-ndjson"):
            self.fail("GET", target, f"answered {res.status} {ctype!r}, not a 200 NDJSON stream")
            conn.close()
            return
        schema = op["responses"]["200"]["content"]["application/x-ndjson"]["schema"]
        subprocess.run(["ip", "-n", name, "link", "add", name + "c", "type", "veth", "peer", "name", name + "d"],
                       check=True)
        subprocess.run(["ip", "-n", name, "addr", "add", "192.0.2.10/24", "dev", name + "c"], check=True)
        seen = set()
        try:
            while "address_added" not in seen:
                line = res.readline()
                if not line:
                    self.fail("GET", target, "the stream ended")
                    break
                event = json.loads(line)
                seen.add(event.get("type"))
                self.checked += 1
                try:
                    self.spec.validate(schema, event, target)
                except jsonschema.ValidationError as e:
                    self.fail("GET", target, f"line {line!r} does not match Event: {e.message} at {list(e.path)}")
        except (OSError, ValueError) as e:
            self.fail("GET", target, f"reading the stream: {e} (saw {sorted(seen)})")
        conn.close()
        if not {"subscribed", "device_added"} <= seen:
            self.fail("GET", target, f"expected subscribed and device_added lines, saw {sorted(seen)}")
        self.request("GET", "/v1/events?type=bogus")
        self.request("GET", "/v1/events?since=-1")

    def json_of(self, answer):
        """The JSON body of request()'s answer, or None (the check said why)."""
        try:
            return json.loads(answer[2])
        except ValueError:
            return None

    def exercise_history(self, name):
        """The past: ?at= on the cache's resources, GET /v1/whois, GET /v1/history."""
        r = self.request
        # Far enough from the journal's first instant for `at=-1s`, and from
        # the veth's creation for the journal (which writes ~200 ms late).
        time.sleep(max(0.0, self.ready_at + 2 - time.time()))

        past = self.json_of(r("GET", "/v1/namespaces?at=-1s"))
        if past is not None and not any(ns["netns"] == int(os.stat("/proc/self/ns/net").st_ino)
                                        for ns in past.get("namespaces", [])):
            self.failures.append("GET /v1/namespaces?at=-1s: the host's namespace is not in the past")
        host = str(os.stat("/proc/self/ns/net").st_ino)
        r("GET", "/v1/namespaces/" + host + "?at=-1s")
        r("GET", "/v1/devices/lo?at=-1s")
        # A dump of the past, in both schemas, each output and format.
        doc = self.json_of(r("POST", "/dump", json.dumps({"output": "stream", "at": "-1s"}), "application/json"))
        if doc is not None and (doc.get("from_history") is not True or not doc.get("namespaces")):
            self.failures.append(f"POST /dump at=-1s: not a past dump of namespaces: {doc!r:.200}")
        r("POST", "/dump?output=stream&schema=datadog&at=-1s")
        r("POST", "/dump?output=stream&format=dot&at=-1s")
        r("POST", "/v1/dump", "output=stream&format=svg&at=-1s", "application/x-www-form-urlencoded")
        r("POST", "/dump?at=-1s")
        self.expect((400, "at_with_snapshot"), r("POST", "/dump?at=-1s&snapshot_interfaces=true"))
        self.expect((400, "invalid_at"), r("POST", "/dump", '{"at": "yesterday"}', "application/json"))
        self.expect((404, "history_not_retained"), r("POST", "/dump?at=2001-01-01T00:00:00Z"))
        # Two instants compared, and one with now.
        diff = self.json_of(r("GET", "/v1/diff?from=-1s"))
        if diff is not None and diff.get("to", {}).get("observed") is not True:
            self.failures.append(f"GET /v1/diff?from=-1s: not compared with now: {diff!r:.300}")
        r("GET", "/v1/diff?from=-2s&to=-1s")
        self.expect((400, "invalid_from"), r("GET", "/v1/diff"))
        self.expect((400, "invalid_from"), r("GET", "/v1/diff?from=-1s&from=-2s"))
        self.expect((400, "reversed_interval"), r("GET", "/v1/diff?from=-1s&to=-2s"))
        self.expect((400, "unknown_parameter"), r("GET", "/v1/diff?from=-1s&at=-2s"))
        self.expect((400, "at_in_future"), r("GET", "/v1/diff?from=2200-01-01T00:00:00Z"))
        self.expect((404, "history_not_retained"), r("GET", "/v1/diff?from=2001-01-01T00:00:00Z"))
        answer = r("GET", "/v1/namespaces?at=2001-01-01T00:00:00Z")
        self.expect((404, "history_not_retained"), answer)
        if answer[0] == 404 and "oldest" not in (self.json_of(answer) or {}):
            self.failures.append("GET /v1/namespaces?at=2001-01-01T00:00:00Z: history_not_retained without oldest")
        self.expect((400, "invalid_at"), r("GET", "/v1/namespaces?at=garbage"))
        self.expect((400, "invalid_at"), r("GET", "/v1/namespaces?at=-1s&at=-2s"))
        self.expect((400, "at_in_future"), r("GET", "/v1/namespaces?at=2200-01-01T00:00:00Z"))
        # Past 2262 a time no longer fits in nanoseconds since 1970.
        self.expect((400, "at_in_future"), r("GET", "/v1/namespaces?at=2999-01-01T00:00:00Z"))

        now = self.json_of(r("GET", "/v1/whois?device=lo"))
        if now is not None and (not now.get("matches") or any("held_from" in m for m in now["matches"])):
            self.failures.append(f"GET /v1/whois?device=lo: expected matches without held_*, got {now!r:.200}")
        then = self.json_of(r("GET", "/v1/whois?address=127.0.0.1&at=-1s"))
        if then is not None and (not then.get("matches") or any("held_from" not in m for m in then["matches"])):
            self.failures.append(f"GET /v1/whois?address=127.0.0.1&at=-1s: expected matches with held_*, "
                                 f"got {then!r:.200}")
        r("GET", "/v1/whois?address=192.0.2.9")
        self.expect((400, "missing_subject"), r("GET", "/v1/whois"))
        self.expect((400, "too_many_subjects"), r("GET", "/v1/whois?device=lo&mac=00:00:00:00:00:00"))
        self.expect((400, "invalid_mac"), r("GET", "/v1/whois?mac=lo"))
        self.expect((400, "unknown_parameter"), r("GET", "/v1/whois?name=lo"))

        lines = self.history("/v1/history")
        if lines and lines[0].get("seq") != 1:
            self.failures.append(f"GET /v1/history does not start at the first change: {lines[0]!r:.200}")
        last = max((e["seq"] for e in lines if "seq" in e), default=0)
        lines = self.history("/v1/history?device=" + name + "a")
        if not any(e.get("type") == "device_added" for e in lines):
            self.failures.append(f"GET /v1/history?device={name}a: no device_added among {len(lines)} lines")
        if any(e.get("device", {}).get("name") != name + "a" for e in lines if e.get("type") != "gap"):
            self.failures.append(f"GET /v1/history?device={name}a: a line about another device")
        self.expect((400, "reversed_interval"), r("GET", "/v1/history?from=-1s&to=-2s"))
        self.expect((400, "invalid_after"), r("GET", "/v1/history?after=x"))
        self.expect((400, "unknown_parameter"), r("GET", "/v1/history?at=-1s"))
        self.expect((404, "history_not_retained"), r("GET", "/v1/history?to=2001-01-01T00:00:00Z"))
        # The export: an SQLite file whose digest is in its header.
        conn = UnixConnection(self.sock)
        conn.request("GET", "/v1/history/export")
        res = conn.getresponse()
        payload = res.read()
        digest = res.getheader("X-Content-SHA256", "")
        conn.close()
        self.check("GET", "/v1/history/export", res.status, res.getheader("Content-Type", ""), payload, None)
        if res.status != 200 or not payload.startswith(b"SQLite format 3\0"):
            self.failures.append(f"GET /v1/history/export: {res.status}, not an SQLite file ({payload[:40]!r})")
        elif hashlib.sha256(payload).hexdigest() != digest:
            self.failures.append(f"GET /v1/history/export: X-Content-SHA256 {digest!r} is not the body's")
        self.expect((400, "unknown_parameter"), r("GET", "/v1/history/export?x=1"))

        # A restart leaves a gap in the journal: a line of its own in the
        # history, and the past inside it is the last known, not observed.
        self.stop()
        time.sleep(1)
        self.start()
        gaps = [e for e in self.history(f"/v1/history?from={last}") if e.get("type") == "gap"]
        if [g.get("reason") for g in gaps] != ["stopped"]:
            self.failures.append(f"GET /v1/history after a restart: expected one gap (stopped), got {gaps!r}")
        else:
            start = datetime.datetime.fromisoformat(gaps[0]["from"].replace("Z", "+00:00"))
            at = (start + datetime.timedelta(milliseconds=500)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            inside = self.json_of(r("GET", "/v1/namespaces?at=" + at))
            gap = {k: v for k, v in gaps[0].items() if k != "type"}
            if inside is not None and (inside.get("observed") is not False or inside.get("gap") != gap):
                self.failures.append(f"GET /v1/namespaces?at= in the gap {gaps[0]!r}: observed "
                                     f"{inside.get('observed')!r}, gap {inside.get('gap')!r}")
            dumped = self.json_of(r("POST", "/dump?output=stream&at=" + at))
            if dumped is not None and (dumped.get("observed") is not False or dumped.get("gap") != gap):
                self.failures.append(f"POST /dump?at= in the gap {gaps[0]!r}: observed "
                                     f"{dumped.get('observed')!r}, gap {dumped.get('gap')!r}")

    def history(self, target):
        """GET /v1/history: an answer that ends, each line an Event or a gap."""
        status, ctype, payload = self.request("GET", target)
        if status != 200 or not ctype.startswith("application/x-ndjson"):
            return []
        schema = self.spec.doc["paths"]["/v1/history"]["get"]["responses"]["200"]["content"]
        schema = schema["application/x-ndjson"]["schema"]
        lines = []
        for line in payload.splitlines():
            try:
                entry = json.loads(line)
            except ValueError as e:
                self.fail("GET", target, f"line {line[:120]!r} is not JSON: {e}")
                continue
            lines.append(entry)
            self.checked += 1
            try:
                self.spec.validate(schema, entry, target)
            except jsonschema.ValidationError as e:
                self.fail("GET", target, f"line {line[:200]!r} is neither an Event nor a gap: {e.message}")
        seqs = [e["seq"] for e in lines if "seq" in e]
        if seqs != sorted(seqs):
            self.fail("GET", target, "the changes are not oldest first")
        return lines

    def run(self):
        name = "oa" + uuid.uuid4().hex[:8]
        subprocess.run(["ip", "netns", "add", name], check=True)
        try:
            # Make the namespace visible: a dump's default scan happened at start.
            self.exercise(name)
        finally:
            subprocess.run(["ip", "netns", "del", name])

    def exercise(self, name):
        r = self.request
        r("GET", "/healthz")
        r("GET", "/readyz")
        r("GET", "/metrics")
        status, _, text = r("GET", "/openapi.yaml")
        if status != 200 or yaml.safe_load(text) != self.spec.doc:
            self.failures.append("GET /openapi.yaml does not serve openapi/openapi.yaml")
        r("GET", "/v1/namespaces")
        host = str(os.stat("/proc/self/ns/net").st_ino)
        r("GET", "/v1/namespaces/" + host)
        r("GET", "/v1/namespaces/1")
        r("GET", "/v1/namespaces/99999999999")
        r("GET", "/v1/namespaces/no-such-" + name)

        # Sockets, read now: the host's, one that listens in the test's
        # namespace, and bad requests.
        r("GET", "/v1/namespaces/" + host + "/sockets")
        listener = subprocess.Popen(["ip", "netns", "exec", name, "/usr/bin/python3", "-c",
                                     "import socket,time\n"
                                     "s=socket.socket(socket.AF_INET6); s.bind(('::', 8471)); s.listen()\n"
                                     "print('ready', flush=True); time.sleep(60)"],
                                    stdout=subprocess.PIPE, text=True)
        try:
            listener.stdout.readline()
            sockets = self.json_of(r("GET", "/v1/namespaces/" + name + "/sockets"))
            if not any(s.get("port") == 8471 for s in (sockets or {}).get("listening", [])):
                self.failures.append(f"GET /v1/namespaces/{name}/sockets: no listener on 8471: {sockets!r:.300}")
            found = self.json_of(r("GET", "/v1/whois?port=8471&proto=tcp"))
            if not (found or {}).get("matches"):
                self.failures.append(f"GET /v1/whois?port=8471: no match: {found!r:.300}")
        finally:
            listener.kill()
            listener.wait()
        self.expect((404, "namespace_not_found"), r("GET", "/v1/namespaces/no-such-" + name + "/sockets"))
        self.expect((400, "sockets_have_no_past"), r("GET", "/v1/namespaces/" + host + "/sockets?at=-1m"))
        self.expect((400, "invalid_port"), r("GET", "/v1/whois?port=70000"))
        self.expect((400, "invalid_protocol"), r("GET", "/v1/whois?port=80&proto=foo"))
        self.expect((400, "port_has_no_past"), r("GET", "/v1/whois?port=80&at=-1m"))

        # Conntrack and the firewall, read now: a nat rule on a port nothing
        # listens on, which whois by port then names.
        subprocess.run(["ip", "netns", "exec", name, "nft", "add table ip nat; "
                        "add chain ip nat pre { type nat hook prerouting priority -100; }; "
                        "add rule ip nat pre tcp dport 8472 dnat to 192.0.2.1"], check=True)
        r("GET", "/v1/namespaces/" + name + "/conntrack")
        firewall = self.json_of(r("GET", "/v1/namespaces/" + name + "/firewall"))
        if not any(p.get("port") == 8472 for p in (firewall or {}).get("port_rules", [])):
            self.failures.append(f"GET /v1/namespaces/{name}/firewall: no rule on 8472: {firewall!r:.300}")
        found = self.json_of(r("GET", "/v1/whois?port=8472"))
        if not ((found or {}).get("firewall") or {}).get("rules"):
            self.failures.append(f"GET /v1/whois?port=8472: no firewall rule: {found!r:.300}")
        self.expect((400, "conntrack_has_no_past"), r("GET", "/v1/namespaces/" + host + "/conntrack?at=-1m"))
        self.expect((400, "firewall_has_no_past"), r("GET", "/v1/namespaces/" + host + "/firewall?at=-1m"))
        # A dump with everything included, of the test's namespace and the host's.
        ns_inode = str(os.stat("/run/netns/" + name).st_ino)
        dumped = self.json_of(r("POST", "/dump?output=stream&netns=" + ns_inode + "," + host +
                                "&include=routes,neighbours,sockets,conntrack,firewall"))
        if not dumped or dumped.get("include_unread") != 0 or not all(
                "firewall" in n and "routes" in n for n in dumped.get("namespaces", [])):
            self.failures.append(f"POST /dump include=: not every namespace carries what it asked: {dumped!r:.300}")
        r("POST", "/dump", json.dumps({"output": "stream", "netns": int(ns_inode), "include": ["sockets"]}),
          "application/json")
        self.expect((400, "include_has_no_past"), r("POST", "/dump?include=routes&at=-1s"))
        self.expect((400, "include_needs_netnsd_schema"), r("POST", "/dump?include=routes&schema=datadog&output=stream"))
        self.expect((400, "invalid_value"), r("POST", "/dump?include=everything"))

        # Whois: a veth pair inside the test's namespace, with an address.
        subprocess.run(["ip", "-n", name, "link", "add", name + "a", "type", "veth", "peer", "name", name + "b"],
                       check=True)
        subprocess.run(["ip", "-n", name, "addr", "add", "192.0.2.9/24", "dev", name + "a"], check=True)
        for _ in range(50):
            status, _, _ = r("GET", "/v1/devices/" + name + "a")
            if status == 200:
                break
            time.sleep(0.1)
        else:
            self.failures.append("GET /v1/devices/NAME never answered 200 for a new veth")
        r("GET", "/v1/devices/no-such-" + name[:4])
        r("GET", "/v1/devices/with%20space")
        self.exercise_events(name)
        self.exercise_history(name)

        for path in ("/dump", "/v1/dump"):
            r("POST", path)
            r("POST", path, "{}", "application/json")
            r("POST", path + "?snapshot_interfaces=true")
            r("POST", path, json.dumps({"snapshot_interfaces": True, "output": "stream"}), "application/json")
            r("POST", path, json.dumps({"output": "stream", "schema": "datadog"}), "application/json")
            r("POST", path, json.dumps({"output": "stream", "format": "dot"}), "application/json")
            r("POST", path + "?output=stream&format=svg&netns=" + host)
            r("POST", path + "?output=stream&format=png&netns=" + host)
            r("POST", path + "?output=stream&netns=" + host)
            r("POST", path, "snapshot_interfaces=true&output=stream", "application/x-www-form-urlencoded")
            r("POST", path, "{not json", "application/json")
            r("POST", path, json.dumps({"snapshot_interfaces": "yes"}), "application/json")
            r("POST", path, json.dumps({"format": "dot"}), "application/json")
            r("POST", path, json.dumps({"netns": [0]}), "application/json")
            r("POST", path, json.dumps({"verbose": 1}), "application/json")
            r("POST", path, '{"output":"stream","output":"files"}', "application/json")
            # What the reader refuses before any handler: each the status and
            # the code the spec says, not merely a documented one.
            for body, headers, expected in (
                    ("x" * (70 * 1024), None, (413, "payload_too_large")),
                    # A chunked body (http.client chunks an iterable).
                    (iter([b'{"output":', b' "stream"}']), None, (411, "length_required")),
                    # An encoded body, nothing of it read.
                    (b"\x1f\x8b\x08\x00", {"Content-Encoding": "gzip"}, (415, "encoded_body_refused"))):
                self.expect(expected, r("POST", path, body, "application/json", raw_headers=headers))

        # Over the request caps: 414 and 431 on any path.
        self.expect((414, "uri_too_long"), r("GET", "/v1/namespaces/" + "x" * 9000))
        self.expect((431, "header_too_large"), r("GET", "/healthz", raw_headers={"X-Long": "h" * 9000}))
        self.expect((431, "header_too_large"),
                    r("POST", "/dump", "{}", "application/json", raw_headers={"X-Long": "h" * 9000}))

        # Wrong methods and unknown paths.
        r("GET", "/dump")
        r("DELETE", "/v1/dump")
        r("POST", "/healthz", "{}", "application/json")
        r("PUT", "/v1/namespaces", "{}", "application/json")
        r("GET", "/nope")
        r("POST", "/nope", "{}", "application/json")

        # A dump directory that cannot be written: 500 with the reason.
        os.makedirs(self.dumps, exist_ok=True)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", self.dumps], check=True)
        try:
            status, _, payload = r("POST", "/dump")
            if status != 500 or b"Read-only file system" not in payload:
                self.failures.append(f"read-only dump directory: {status} {payload!r}")
        finally:
            subprocess.run(["umount", self.dumps], check=True)
        r("POST", "/dump")

        missing = []
        for template, item in self.spec.doc["paths"].items():
            for method in item:
                if (template, method) not in self.spec.exercised:
                    missing.append(f"{method.upper()} {template}")
        if missing:
            self.failures.append("operations never exercised: " + ", ".join(missing))


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    skip = skip_without_root("netnsd (it opens every namespace)")
    if skip is not None:
        return skip
    c = Conformance(sys.argv[1], sys.argv[2])
    try:
        c.run()
    finally:
        c.close()
    print(f"checked {c.checked} responses against {sys.argv[2]}")
    if c.failures:
        for f in c.failures:
            print("FAIL:", f, file=sys.stderr)
        return 1
    print("all responses conform")
    return 0


if __name__ == "__main__":
    sys.exit(main())
