#!/usr/bin/python3
"""A fleet through a real Prometheus: two netnsd instances, each with its own
--node-name and --metrics-namespaces, scraped every second by Debian's
prometheus on loopback; every answer below comes from Prometheus's HTTP API.

    fleet_e2e.py NETNSD_BINARY

A pod's namespace is made as a runtime makes one (a process in a cgroup named
as containerd's under kubepods, the runtime's state under a --runtime-root of
the test's own, a veth from the host). Then:
  - a ping through the pod's veth raises its device's receive bytes;
  - netnsd_address_info{address=...} answers once per node, with the pod;
  - once the pod is gone, the series is absent now and still answered
    with `@ <time>` for an instant in its life;
  - with 1000 more namespaces, /healthz p99 stays within 50 ms while
    Prometheus scrapes every second, a scrape passes `promtool check
    metrics`, Prometheus reports no scrape error, and with
    --metrics-max-series 5000 a node holds at most 5000 series and says
    how many it left out.
Needs root. Cleans up what it made, also on failure.
"""
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from netnsd_testing import UnixConnection, free_port, http_get, promtool_check_metrics, request, skip_without_root  # noqa: E402,E501

MANY = 1000
CAP = 5000


def run(*argv, check=True, stdin=None):
    done = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=120)
    if check and done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: {done.stderr.strip()}")
    return done.stdout


def cgroup2_mount():
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            sep = fields.index("-")
            if fields[sep + 1] == "cgroup2":
                return fields[4]
    return None


def metric(text, name, node):
    """The value of `name`{node=...} (no other label) in a scrape; -1 when absent."""
    m = re.search(rb"^" + name.encode() + rb'\{node="' + node.encode() + rb'"\} (\S+)$', text, re.M)
    return float(m.group(1)) if m else -1


def stop_process(proc):
    """SIGTERM, then SIGKILL after 20 s; reaped either way."""
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def wait_for(what, condition, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = condition()
        if got:
            return got
        time.sleep(0.25)
    raise RuntimeError(f"timed out: {what}")


class Prometheus:
    """Debian's prometheus on a loopback port, scraping `targets` every second."""

    def __init__(self, tmp, targets):
        self.port = free_port()
        config = os.path.join(tmp, "prometheus.yml")
        with open(config, "w") as f:
            f.write("global: {scrape_interval: 1s, scrape_timeout: 1s}\n"
                    "scrape_configs:\n"
                    "  - job_name: netnsd\n"
                    "    honor_labels: true\n"
                    f"    static_configs: [{{targets: {json.dumps(targets)}}}]\n")
        self.log = open(os.path.join(tmp, "prometheus.log"), "w")
        self.proc = subprocess.Popen(["prometheus", f"--config.file={config}",
                                      f"--storage.tsdb.path={os.path.join(tmp, 'tsdb')}",
                                      f"--web.listen-address=127.0.0.1:{self.port}"],
                                     stdout=self.log, stderr=self.log)
        wait_for("prometheus ready", lambda: self._ready(), 60)

    def _ready(self):
        try:
            return http_get(self.port, "/-/ready", timeout=2)[0] == 200
        except OSError:
            return False

    def query(self, expr, at=None):
        params = {"query": expr}
        if at is not None:
            params["time"] = f"{at:.3f}"
        url = f"http://127.0.0.1:{self.port}/api/v1/query?" + urllib.parse.urlencode(params)
        with urllib.request.urlopen(url, timeout=10) as r:
            body = json.load(r)
        if body["status"] != "success":
            raise RuntimeError(f"{expr}: {body}")
        return body["data"]["result"]

    def targets(self):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/api/v1/targets", timeout=10) as r:
            return json.load(r)["data"]["activeTargets"]

    def stop(self):
        stop_process(self.proc)


class Netnsd:
    def __init__(self, binary, tmp, node, runtime_root, extra=(), name=None):
        self.dir = os.path.join(tmp, name or node)
        os.makedirs(self.dir)
        self.sock = os.path.join(self.dir, "netnsd.sock")
        self.port = free_port()
        self.log = open(os.path.join(self.dir, "netnsd.log"), "w")
        self.proc = subprocess.Popen([binary, "--socket", self.sock, "--dump-dir", os.path.join(self.dir, "dumps"),
                                      "--journal", os.path.join(self.dir, "state", "journal.db"),
                                      "--metrics-address", f"127.0.0.1:{self.port}", "--node-name", node,
                                      "--metrics-namespaces", "--metrics-min-interval", "1",
                                      "--lonely-timeout", "1", "--flush-period", "1",
                                      "--runtime-root", runtime_root, *extra],
                                     stdout=self.log, stderr=self.log)
        wait_for(f"{node} ready", lambda: self.get("/readyz")[0] == 200, 60)

    def get(self, path):
        try:
            status, _, body = request(UnixConnection(self.sock, timeout=5), "GET", path)
            return status, body
        except OSError:
            return 0, b""

    def target(self):
        return f"127.0.0.1:{self.port}"

    def stop(self):
        stop_process(self.proc)


def main():
    skip = skip_without_root("the fleet test (namespaces, cgroups, veths)")
    if skip is not None:
        return skip
    mount = cgroup2_mount()
    if not mount:
        print("FAIL: no cgroup v2 hierarchy mounted")
        return 1
    tag = f"nfl{os.getpid() % 100000}"
    tmp = tempfile.mkdtemp(prefix="netnsd-fleet-")
    failures = []
    cleanups = []

    def check(ok, what):
        print(("ok: " if ok else "FAIL: ") + what)
        if not ok:
            failures.append(what)

    try:
        # A pod as containerd makes one: its sandbox's cgroup under kubepods,
        # its annotations in the runtime's state.
        pod_id = secrets.token_hex(32)
        pod_uid = "6a1c2b3d-4e5f-4a6b-8c7d-" + secrets.token_hex(6)
        state = os.path.join(tmp, "runtime-root")
        task = os.path.join(state, "run/containerd/io.containerd.runtime.v2.task/k8s.io", pod_id)
        os.makedirs(task)
        with open(os.path.join(task, "config.json"), "w") as f:
            json.dump({"annotations": {"io.kubernetes.cri.container-name": "POD",
                                       "io.kubernetes.cri.sandbox-name": "web-0",
                                       "io.kubernetes.cri.sandbox-namespace": "shop"}}, f)
        top = os.path.join(mount, f"netnsd-test-{tag}")
        cgroup = os.path.join(top, "kubepods.slice/kubepods-besteffort.slice",
                              f"kubepods-besteffort-pod{pod_uid.replace('-', '_')}.slice",
                              f"cri-containerd-{pod_id}.scope")
        os.makedirs(cgroup)

        def remove_cgroups():
            path = cgroup
            while len(path) >= len(top):
                try:
                    os.rmdir(path)
                except OSError:
                    pass
                path = os.path.dirname(path)
        cleanups.append(remove_cgroups)
        pod = subprocess.Popen(["sh", "-c", f"echo $$ >{cgroup}/cgroup.procs && "
                                "exec unshare -n sh -c 'echo ready; exec sleep 1000'"],
                               stdout=subprocess.PIPE, text=True)
        cleanups.append(lambda: (pod.kill(), pod.wait()))
        assert pod.stdout.readline().strip() == "ready"
        pod_netns = os.stat(f"/proc/{pod.pid}/ns/net").st_ino
        host_end = f"{tag}h"
        run("ip", "link", "add", host_end, "type", "veth", "peer", "name", "eth0", "netns", str(pod.pid))
        cleanups.append(lambda: run("ip", "link", "del", host_end, check=False))
        run("ip", "addr", "add", "10.206.0.1/30", "dev", host_end)
        run("ip", "link", "set", host_end, "up")
        inside = ["nsenter", "-t", str(pod.pid), "-n", "ip"]
        run(*inside, "addr", "add", "10.206.0.2/30", "dev", "eth0")
        run(*inside, "link", "set", "eth0", "up")

        a = Netnsd(sys.argv[1], tmp, "node-a", state)
        cleanups.append(a.stop)
        b = Netnsd(sys.argv[1], tmp, "node-b", state)
        cleanups.append(b.stop)
        prom = Prometheus(tmp, [a.target(), b.target()])
        cleanups.append(prom.stop)

        # Counters: receive bytes of the pod's eth0 on both nodes' series.
        rx = f'netnsd_device_receive_bytes_total{{netns="{pod_netns}",device="eth0"}}'

        def per_node(expr, at=None):
            return {r["metric"]["node"]: r for r in prom.query(expr, at)}
        before = wait_for("both nodes' eth0 counters in Prometheus", lambda: len(per_node(rx)) == 2 and per_node(rx), 30)
        run("ping", "-c", "5", "-i", "0.2", "-W", "1", "-q", "10.206.0.2")
        after = wait_for("the counters rise", lambda: (lambda n: all(
            float(n[k]["value"][1]) >= float(before[k]["value"][1]) + 5 * 98 for k in ("node-a", "node-b"))
            and n)(per_node(rx)), 30)
        check(True, "a ping through the pod's veth raised eth0's receive bytes on both nodes: " +
              ", ".join(f"{k} {before[k]['value'][1]} -> {after[k]['value'][1]}" for k in sorted(after)))

        # Which pod had the address: once per node, with the pod's labels.
        addr = 'netnsd_address_info{address="10.206.0.2"}'
        got = wait_for("the address in Prometheus", lambda: len(per_node(addr)) == 2 and per_node(addr), 30)
        check(all(r["metric"].get("netns") == str(pod_netns) and r["metric"].get("pod") == "web-0" and
                  r["metric"].get("namespace") == "shop" and r["metric"].get("device") == "eth0"
                  for r in got.values()),
              f"{addr} answers once per node with the pod's netns, device and pod: "
              f"{[r['metric'] for r in got.values()]}")
        alive_at = time.time()

        # The pod goes: the series leaves now, and stays in the past.
        pod.kill()
        pod.wait()
        wait_for("the address absent now", lambda: not prom.query(addr), 60)
        then = per_node(addr, at=alive_at)
        check(sorted(then) == ["node-a", "node-b"] and all(r["metric"].get("pod") == "web-0" for r in then.values()),
              f"once the pod is gone its address is absent now and answered at {alive_at:.0f}: "
              f"{sorted(then)}")
        at_modifier = prom.query(f"{addr} @ {alive_at:.3f}")
        check(len(at_modifier) == 2, f"and with the @ modifier: {len(at_modifier)} series")

        # 1000 more namespaces, scraped every second, while /healthz is probed.
        names = [f"{tag}-{i}" for i in range(MANY)]
        run("ip", "-batch", "-", stdin="".join(f"netns add {n}\n" for n in names))
        cleanups.append(lambda: run("ip", "-batch", "-", stdin="".join(f"netns del {n}\n" for n in names),
                                    check=False))
        # Among them, names no exposition takes as they are: quotes, a
        # backslash, a newline, bytes that are not UTF-8, 15-byte devices.
        hostile = [tag.encode() + suffix for suffix in (b'-q"', b"-b\\", b"-n\nl", b"-x\xff\xfe")]
        for h in hostile:
            subprocess.run([b"ip", b"netns", b"add", h], check=True, capture_output=True, timeout=30)
            cleanups.append(lambda h=h: subprocess.run([b"ip", b"netns", b"del", h], capture_output=True, timeout=30))
        subprocess.run([b"ip", b"-n", hostile[0], b"link", b"add", b'q"\\\xff', b"type", b"veth", b"peer", b"name",
                        b"abcdefghijklmno"], check=True, capture_output=True, timeout=30)
        wait_for("netnsd caches them", lambda: metric(a.get("/metrics")[1], "netnsd_namespaces", "node-a") > MANY, 60)
        latencies = []
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            t0 = time.monotonic()
            status, _ = a.get("/healthz")
            latencies.append((time.monotonic() - t0) * 1000 if status == 200 else float("inf"))
            time.sleep(0.05)
        latencies.sort()
        p99 = latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))]
        scrapes = prom.query('scrape_samples_scraped{job="netnsd"}')
        check(p99 <= 50, f"/healthz p99 {p99:.1f} ms over {len(latencies)} probes while Prometheus scraped "
              f"{MANY}+ namespaces every second ({[s['value'][1] for s in scrapes]} samples a scrape)")
        errors = [(t["scrapeUrl"], t["lastError"]) for t in prom.targets() if t["lastError"] or t["health"] != "up"]
        check(not errors, f"Prometheus reports no scrape error: {errors}")
        status, text = http_get(a.port, "/metrics")
        clean, said = promtool_check_metrics(text.decode())
        check(status == 200 and clean and b'device="q\\"\\\\\\\\\\\\xff"' in text,
              f"promtool check metrics is clean at {MANY}+ namespaces, hostile names included "
              f"({len(text)} bytes): {said[:300]}")

        # The series cap: node-b again with --metrics-max-series.
        total = metric(text, "netnsd_metrics_series", "node-a")
        b.stop()
        cleanups.remove(b.stop)
        capped = Netnsd(sys.argv[1], tmp, "node-b", state, ["--metrics-max-series", str(CAP)], name="capped")
        cleanups.append(capped.stop)
        status, text = http_get(capped.port, "/metrics")
        body = text.decode()
        per_ns = sum(1 for line in body.splitlines()
                     if re.match(r"netnsd_(netns|netns_container|device|address)_\w+\{", line))
        dropped = metric(text, "netnsd_metrics_series_dropped", "node-b")
        check(per_ns <= CAP and per_ns + dropped == total,
              f"with --metrics-max-series {CAP}: {per_ns} series held, {dropped:.0f} dropped, "
              f"{total:.0f} without the cap")
    except Exception as e:  # noqa: BLE001 -- any error is a failure, said
        failures.append(f"{type(e).__name__}: {e}")
        print(f"FAIL: {type(e).__name__}: {e}")
    finally:
        for cleanup in reversed(cleanups):
            try:
                cleanup()
            except Exception as e:  # noqa: BLE001
                print(f"cleanup: {e}")
        shutil.rmtree(tmp, ignore_errors=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
