#!/usr/bin/python3
"""Opens real sockets for the socket tests, then holds them until killed.

    listener.py [--netns PATH] SPEC...

With --netns, the sockets are made in the network namespace at PATH (an
`ip netns` mount or /proc/PID/ns/net) and the process then goes back to
its own: the sockets belong to that namespace, their holder lives in
another, as a process that passed a descriptor on would.

SPEC is PROTO:ADDRESS:PORT[:OPTION...], PROTO one of tcp, tcp6, udp, udp6;
PORT 0 takes any free port. Options: v6only, dual (IPV6_V6ONLY 1 or 0),
dev=NAME (SO_BINDTODEVICE), connect (a TCP client connected to the
listener of the same address and port made earlier, and accepted), and
connect=ADDRESS (a connected UDP socket whose far end is ADDRESS:PORT).

Prints one line, "ready PORT...", the local port of each SPEC in order.
"""
import ctypes
import os
import socket
import sys
import time

CLONE_NEWNET = 0x40000000


def setns(fd):
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def make(spec, listeners, held):
    proto, rest = spec.split(":", 1)
    if rest.startswith("["):
        address, rest = rest[1:].split("]:", 1)
    else:
        address, rest = rest.split(":", 1)
    port, *options = rest.split(":")
    family = socket.AF_INET6 if proto.endswith("6") else socket.AF_INET
    kind = socket.SOCK_STREAM if proto.startswith("tcp") else socket.SOCK_DGRAM
    if "connect" in options:
        listener = listeners[(address, int(port))]
        client = socket.socket(family, kind)
        client.connect((address, listener.getsockname()[1]))
        accepted, _ = listener.accept()
        held += [client, accepted]
        return client.getsockname()[1]
    s = socket.socket(family, kind)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    for option in options:
        if option in ("v6only", "dual"):
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1 if option == "v6only" else 0)
        elif option.startswith("dev="):
            s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, option[4:].encode())
    s.bind((address, int(port)))
    for option in options:
        if option.startswith("connect="):
            s.connect((option[8:], 9))
    if kind == socket.SOCK_STREAM:
        s.listen(16)
    listeners[(address, int(port))] = s
    held.append(s)
    return s.getsockname()[1]


def main(argv):
    target = None
    if len(argv) > 1 and argv[0] == "--netns":
        target, argv = argv[1], argv[2:]
    home = os.open("/proc/self/ns/net", os.O_RDONLY)
    if target:
        fd = os.open(target, os.O_RDONLY)
        setns(fd)
        os.close(fd)
    listeners, held = {}, []
    ports = [make(spec, listeners, held) for spec in argv]
    if target:
        setns(home)
    print("ready " + " ".join(str(p) for p in ports), flush=True)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main(sys.argv[1:])
