#!/usr/bin/python3
"""The Kubernetes DaemonSet, checked as an operator would and then run as the pod would.

    check_daemonset.py MANIFEST UNIT
    check_daemonset.py MANIFEST UNIT NETNSD NETNSCTL

The first form reads the manifest and checks its security context, probes,
scrape annotations, volumes and resources, some against the systemd unit
(the capabilities and the memory limit have one justification each).

The second form also starts netnsd the way the container would run it: the
manifest's own arguments, only its capabilities (a bounding set, no new
privileges), a read-only root file system with only the manifest's writable
volumes writable, in a mount namespace that receives the host's netns mounts.
Then it drives the manifest's probes with their own timeouts, fetches a dump
the way the README tells an operator to (netnsctl dump --stream), and
measures peak memory against the manifest's request. Needs root.
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import yaml

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from netnsd_testing import free_port, http_get, skip_without_root  # noqa: E402

failures = []


def check(ok, what):
    print(("ok: " if ok else "FAIL: ") + what)
    if not ok:
        failures.append(what)
    return ok


def quantity(text):
    """Bytes in a Kubernetes quantity (48Mi) or a systemd size (256M, base 1024)."""
    m = re.fullmatch(r"(\d+)(Ki|Mi|Gi|K|M|G)?", str(text).strip())
    if not m:
        raise ValueError(f"not a size: {text!r}")
    scale = {None: 1, "Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    return int(m.group(1)) * scale[m.group(2)]


def unit_setting(unit_text, key):
    values = re.findall(rf"^{key}=(.*)$", unit_text, re.M)
    return values[0].strip() if values else None


def flags(args):
    out = {}
    for a in args:
        m = re.fullmatch(r"--([a-z-]+)(?:=(.*))?", a)
        if m:
            out[m.group(1)] = m.group(2)
    return out


def static_checks(manifest_text, ds, unit_text):
    check(ds.get("kind") == "DaemonSet", "the manifest is a DaemonSet")
    pod = ds["spec"]["template"]["spec"]
    meta = ds["spec"]["template"]["metadata"]
    containers = pod["containers"]
    check(len(containers) == 1, "one container")
    c = containers[0]
    sc = c.get("securityContext", {})

    check(pod.get("priorityClassName") == "system-node-critical", "priorityClassName is system-node-critical")
    check(pod.get("hostPID") is True and pod.get("hostNetwork") is True, "the host's PID and network namespaces")
    check(pod.get("automountServiceAccountToken") is False, "no service account token (netnsd never calls the API)")

    check(sc.get("privileged") in (None, False), "not privileged")
    check(sc.get("allowPrivilegeEscalation") is False, "allowPrivilegeEscalation: false")
    check(sc.get("readOnlyRootFilesystem") is True, "readOnlyRootFilesystem: true")
    caps = sc.get("capabilities", {})
    check(caps.get("drop") == ["ALL"], "capabilities: drop ALL")
    added = set(caps.get("add", []))
    unit_caps = {c.removeprefix("CAP_") for c in (unit_setting(unit_text, "CapabilityBoundingSet") or "").split()}
    check(added == unit_caps and added, f"the capabilities added are the unit's: {sorted(added)} vs {sorted(unit_caps)}")
    for cap in added:
        check(re.search(rf"^\s*#\s+{cap}\s+\S", manifest_text, re.M) is not None, f"{cap} is justified in a comment")
    check(sc.get("seccompProfile", {}).get("type") in ("RuntimeDefault", "Localhost"), "a seccomp profile")

    args = flags(c.get("args", []))
    check(args.get("host-pid") == "1" and "runtime-root" not in args,
          "--host-pid=1: containers named from the runtimes' state as the host's init sees it "
          f"(host-pid {args.get('host-pid')!r}, runtime-root {args.get('runtime-root')!r})")
    node_env = [e for e in c.get("env", []) if e.get("name") == "NODE_NAME"]
    check(args.get("node-name") == "$(NODE_NAME)" and len(node_env) == 1 and
          node_env[0].get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") == "spec.nodeName",
          "--node-name is the node's name (spec.nodeName)")
    metrics_address = args.get("metrics-address") or ""
    m = re.search(r":(\d+)$", metrics_address)
    check(m is not None, f"--metrics-address is set: {metrics_address!r}")
    metrics_port = int(m.group(1)) if m else None
    ports = {p.get("name"): p["containerPort"] for p in c.get("ports", [])}
    check(ports.get("metrics") == metrics_port, "a port named metrics is the --metrics-address port")

    ann = meta.get("annotations", {})
    check(ann.get("prometheus.io/scrape") == "true", "prometheus.io/scrape is \"true\"")
    check(ann.get("prometheus.io/port") == str(metrics_port), "prometheus.io/port is the metrics port")
    check(ann.get("prometheus.io/path") == "/metrics", "prometheus.io/path is /metrics")

    probes = {}
    for kind, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz"), ("startupProbe", "/readyz")):
        p = c.get(kind)
        if not check(p is not None, f"a {kind}"):
            continue
        get = p.get("httpGet", {})
        port = ports.get(get.get("port"), get.get("port"))
        check(get.get("path") == path and port == metrics_port, f"{kind} is GET {path} on the metrics port")
        check("exec" not in p, f"{kind} runs no process in the container")
        for field in ("timeoutSeconds", "periodSeconds", "failureThreshold"):
            check(isinstance(p.get(field), int), f"{kind}.{field} is explicit")
        check(p.get("timeoutSeconds", 1) >= 2, f"{kind} waits more than the 1 s default")
        probes[kind] = p

    mounts = {v["mountPath"]: v for v in c.get("volumeMounts", [])}
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    for host_dir, who in (("/run/netns", "ip netns, containerd and CRI-O"), ("/run/docker/netns", "Docker")):
        v = mounts.get(host_dir)
        hp = volumes.get(v["name"], {}).get("hostPath", {}).get("path") if v else None
        check(hp == host_dir and v.get("mountPropagation") == "HostToContainer",
              f"{host_dir} ({who}) from the host, HostToContainer")

    def writable(path):
        for mp, v in mounts.items():
            if (path == mp or path.startswith(mp.rstrip("/") + "/")) and not v.get("readOnly"):
                return True
        return False

    socket_path = args.get("socket") or "/run/netnsd/netnsd.sock"
    dump_dir = args.get("dump-dir") or "/var/lib/netnsd/dumps"
    check(writable(os.path.dirname(socket_path)), f"the socket's directory {os.path.dirname(socket_path)} is a writable volume")
    check(writable(dump_dir), f"the dump directory {dump_dir} is a writable volume")

    res = c.get("resources", {})
    limit = res.get("limits", {}).get("memory")
    request = res.get("requests", {}).get("memory")
    check(limit is not None and request is not None, "memory request and limit")
    unit_max = unit_setting(unit_text, "MemoryMax")
    if limit and unit_max:
        check(quantity(limit) == quantity(unit_max), f"the memory limit {limit} is the unit's MemoryMax {unit_max}")
    check(re.search(r"Measured by tests/bench", manifest_text) is not None, "the memory figures cite their measurement")
    return c, pod, probes, metrics_port, quantity(request) if request else None


def run_as_the_pod(container, pod, probes, metrics_port, memory_request, netnsd, netnsctl):
    tmp = tempfile.mkdtemp(prefix="netnsd-ds-")
    tag = f"netnsd-ds-{os.getpid()}"
    before, after = tag + "-a", tag + "-b"
    proc = None
    log_path = os.path.join(tmp, "netnsd.log")
    try:
        # The pod's writable volumes become directories of the test.
        volumes = {v["name"]: v for v in pod["volumes"]}
        remap = {}
        for vm in container["volumeMounts"]:
            if not vm.get("readOnly") and "hostPath" in volumes[vm["name"]]:
                local = os.path.join(tmp, vm["name"])
                os.makedirs(local)
                remap[vm["mountPath"]] = local
        port = free_port()
        env = {"POD_IP": "127.0.0.1", "NODE_NAME": "ds-node"}

        def localize(arg):
            arg = re.sub(r"\$\((\w+)\)", lambda m: env[m.group(1)], arg)
            arg = arg.replace(f":{metrics_port}", f":{port}")
            # PID 1 is the host as the pod sees it; here the host is where this test runs.
            arg = re.sub(r"^--host-pid=1$", f"--host-pid={os.getpid()}", arg)
            for mount, local in remap.items():
                arg = re.sub(rf"(=){re.escape(mount)}(/|$)", rf"\g<1>{local}\2", arg)
            return arg

        args = [localize(a) for a in container["args"]]
        socket_path = flags(args)["socket"]
        caps = container["securityContext"]["capabilities"]["add"]
        bounding = "-all," + ",".join("+" + c.lower() for c in caps)

        subprocess.run(["ip", "netns", "add", before], check=True)
        # A private mount namespace that still receives the host's mounts,
        # like HostToContainer, and a cgroup namespace of its own; the root
        # file system read-only and only the writable volumes writable; then
        # the container's capabilities.
        script = ('set -e; mount --bind "$VOLUMES" "$VOLUMES"; mount -o remount,bind,ro /; '
                  'exec setpriv --bounding-set "$BOUNDING" --inh-caps -all --no-new-privs -- "$NETNSD" "$@"')
        log = open(log_path, "w")
        proc = subprocess.Popen(
            ["unshare", "--mount", "--cgroup", "--propagation", "slave", "--", "sh", "-c", script, "sh", *args],
            env={**os.environ, "VOLUMES": tmp, "BOUNDING": bounding, "NETNSD": netnsd},
            stdout=log, stderr=log, start_new_session=True)

        # The startup probe, with its own period, timeout and patience.
        sp = probes["startupProbe"]
        started = False
        deadline = time.monotonic() + sp["periodSeconds"] * sp["failureThreshold"]
        t0 = time.monotonic()
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if http_get(port, sp["httpGet"]["path"], sp["timeoutSeconds"])[0] == 200:
                    started = True
                    break
            except OSError:
                pass
            time.sleep(0.1)
        if not check(started, f"the startup probe passes ({time.monotonic() - t0:.2f} s)"):
            return
        subprocess.run(["ip", "netns", "add", after], check=True)

        for kind in ("livenessProbe", "readinessProbe"):
            p = probes[kind]
            t = time.monotonic()
            status, body = http_get(port, p["httpGet"]["path"], p["timeoutSeconds"])
            check(status == 200, f"{kind} {p['httpGet']['path']}: {status} in {(time.monotonic() - t) * 1000:.1f} ms "
                                 f"(timeout {p['timeoutSeconds']} s)")
        status, body = http_get(port, "/readyz", 5)
        reasons = json.loads(body).get("reasons", [])
        check(not any("eBPF" in r or "BPF" in r for r in reasons),
              f"eBPF events run with only {', '.join(caps)} (readyz reasons: {reasons})")
        status, body = http_get(port, "/metrics", 5)
        check(status == 200 and b"netnsd_namespaces" in body, "the scrape port serves /metrics")
        with open(log_path) as f:
            check(f"as process {os.getpid()} sees them" in f.read(),
                  "--host-pid: netnsd joined the host's cgroup namespace with only the pod's capabilities")
        status, _ = http_get(port, "/v1/namespaces", 5)
        check(status == 404, f"the scrape port does not serve the cache ({status})")

        # What the README tells an operator to run through kubectl exec.
        names = set()
        for _ in range(50):
            out = subprocess.run([netnsctl, "--socket", socket_path, "dump", "--stream"], capture_output=True,
                                 timeout=60)
            if out.returncode != 0:
                break
            doc = json.loads(out.stdout)
            names = {n for ns in doc.get("namespaces", []) for n in ns.get("names", [])}
            if after in names:
                break
            time.sleep(0.1)
        check(out.returncode == 0, f"netnsctl dump --stream exits 0 ({out.stderr.decode(errors='replace').strip()})")
        check(before in names, f"the dump names {before}, mounted before the start")
        check(after in names, f"the dump names {after}, mounted after the start (host mounts reach the pod)")
        out = subprocess.run([netnsctl, "--socket", socket_path, "dump", "--snapshot-interfaces"],
                             capture_output=True, timeout=60)
        # "Network namespace dump: PATH" and "Network namespace dump graph: PATH"
        paths = [line.rpartition(": ")[2] for line in out.stdout.decode().splitlines() if ": /" in line]
        check(out.returncode == 0 and len(paths) == 2 and all(os.path.exists(p) for p in paths),
              f"a snapshot dump writes its files on the writable volume: {paths}")

        with open(f"/proc/{proc.pid}/status") as f:
            status_text = f.read()
        # proc.pid is unshare's, which exec'ed sh, which exec'ed setpriv and netnsd.
        hwm = int(re.search(r"VmHWM:\s+(\d+) kB", status_text).group(1)) * 1024
        # An ASan build (GCC links the runtime as a shared library, clang
        # into the binary) names the runtime's entry point either way.
        with open(netnsd, "rb") as f:
            sanitized = b"__asan_init" in f.read()
        if sanitized:
            print(f"note: peak RSS {hwm / 2**20:.1f} MiB not compared: an ASan build's memory is not netnsd's")
        else:
            check(memory_request is None or hwm < memory_request,
                  f"peak RSS {hwm / 2**20:.1f} MiB is under the memory request {memory_request / 2**20:.0f} MiB")
        eff = int(re.search(r"CapEff:\s+([0-9a-f]+)", status_text).group(1), 16)
        check(bin(eff).count("1") == len(caps), f"netnsd holds {bin(eff).count('1')} capabilities ({len(caps)} granted)")
        check(re.search(r"NoNewPrivs:\s+1", status_text) is not None, "no new privileges")
    finally:
        if proc and proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        for name in (before, after):
            subprocess.run(["ip", "netns", "del", name], capture_output=True)
        if failures and os.path.exists(log_path):
            print("--- netnsd log ---")
            print(open(log_path).read()[-4000:])
        shutil.rmtree(tmp, ignore_errors=True)


def policy_checks(docs, ds, metrics_port):
    """--metrics-namespaces shows the node's layout: a NetworkPolicy admits only the monitoring namespace."""
    labels = ds["spec"]["template"]["metadata"]["labels"]
    policies = [d for d in docs if d.get("kind") == "NetworkPolicy" and
                d["spec"]["podSelector"].get("matchLabels", {}).items() <= labels.items()]
    check(len(policies) == 1, "one NetworkPolicy selects netnsd's pods (--metrics-namespaces is on)")
    if not policies:
        return
    spec = policies[0]["spec"]
    rules = spec.get("ingress", [])
    check(spec.get("policyTypes") == ["Ingress"] and len(rules) == 1 and
          [p.get("port") for p in rules[0].get("ports", [])] == [metrics_port] and
          all(set(f) == {"namespaceSelector"} for f in rules[0].get("from", [])) and rules[0].get("from"),
          f"it admits only namespaces it names, only to the metrics port {metrics_port}: {rules}")
    check(policies[0]["metadata"].get("namespace") == ds["metadata"].get("namespace"),
          "in the DaemonSet's namespace")


def main():
    if len(sys.argv) not in (3, 5):
        print(__doc__, file=sys.stderr)
        return 2
    manifest_text = open(sys.argv[1]).read()
    unit_text = open(sys.argv[2]).read()
    docs = [d for d in yaml.safe_load_all(manifest_text) if d]
    ds = next((d for d in docs if d.get("kind") == "DaemonSet"), None)
    if not check(ds is not None, "a DaemonSet in the manifest"):
        return 1
    container, pod, probes, metrics_port, memory_request = static_checks(manifest_text, ds, unit_text)
    if "metrics-namespaces" in flags(container.get("args", [])):
        policy_checks(docs, ds, metrics_port)
    if len(sys.argv) == 5 and not failures:
        skip = skip_without_root("running netnsd as the pod")
        if skip is not None:
            return skip
        run_as_the_pod(container, pod, probes, metrics_port, memory_request, sys.argv[3], sys.argv[4])
    print(f"{len(failures)} failure(s)" if failures else "all checks pass")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
