#!/usr/bin/python3
"""Which processes keep a network namespace alive, machine-wide.

    netns_holders.py INODE

Prints one line per process that pins the namespace with that inode:
"PID COMMAND inside|outside HOW", where HOW is what pins it (a namespace
descriptor, a socket in it, a thread in it, a bind mount of it in the
process's mount namespace) and inside means the process is in another PID
namespace than this script (a container's). Sockets are looked at through
copies of the process's descriptors (pidfd_getfd) asked for their namespace
(SIOCGSKNS): root with CAP_SYS_PTRACE only. Exit status 0, also when nothing
holds it.
"""
import ctypes
import fcntl
import os
import sys

SYS_PIDFD_GETFD = 438  # x86_64
SIOCGSKNS = 0x894C

libc = ctypes.CDLL(None, use_errno=True)


def socket_netns(pidfd, fd):
    """The inode of the namespace of process fd `fd` (a socket), or None."""
    copy = libc.syscall(SYS_PIDFD_GETFD, pidfd, fd, 0)
    if copy < 0:
        return None
    try:
        netns = fcntl.ioctl(copy, SIOCGSKNS)
        try:
            return os.fstat(netns).st_ino
        finally:
            os.close(netns)
    except OSError:
        return None
    finally:
        os.close(copy)


def holds(pid, inode, mount_namespaces_seen):
    """How process `pid` pins namespace `inode`: a list of reasons. A bind
    mount is said once per mount namespace (of the first process seen in it)."""
    how = []
    proc = f"/proc/{pid}"
    try:
        pidfd = os.pidfd_open(pid)
    except OSError:
        return how
    try:
        for name in os.listdir(f"{proc}/fd"):
            try:
                link = os.readlink(f"{proc}/fd/{name}")
            except OSError:
                continue
            if link == f"net:[{inode}]":
                how.append(f"descriptor {name}")
            elif link.startswith("socket:") and socket_netns(pidfd, int(name)) == inode:
                how.append(f"socket {name}")
        for tid in os.listdir(f"{proc}/task"):
            try:
                if os.stat(f"{proc}/task/{tid}/ns/net").st_ino == inode:
                    how.append(f"thread {tid}")
            except OSError:
                pass
        mount_namespace = os.stat(f"{proc}/ns/mnt").st_ino
        if mount_namespace not in mount_namespaces_seen:
            mount_namespaces_seen.add(mount_namespace)
            with open(f"{proc}/mountinfo") as mounts:
                if any(" nsfs " in line and f"net:[{inode}]" in line for line in mounts):
                    how.append(f"a bind mount in its mount namespace {mount_namespace}")
    except OSError:
        pass
    finally:
        os.close(pidfd)
    return how


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    inode = int(sys.argv[1])
    own_pidns = os.stat("/proc/self/ns/pid").st_ino
    mount_namespaces_seen = set()
    for name in sorted((n for n in os.listdir("/proc") if n.isdigit()), key=int):
        if int(name) == os.getpid():
            continue
        how = holds(int(name), inode, mount_namespaces_seen)
        if not how:
            continue
        try:
            comm = open(f"/proc/{name}/comm").read().strip()
            inside = os.stat(f"/proc/{name}/ns/pid").st_ino != own_pidns
        except OSError:
            continue
        print(name, comm, "inside" if inside else "outside", ", ".join(how))
    return 0


if __name__ == "__main__":
    sys.exit(main())
