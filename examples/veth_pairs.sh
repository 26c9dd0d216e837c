#!/bin/sh
# Every veth pair on the host, one line per pair, with curl and jq:
#   <netns>:<ifname> <-> <peer netns>:<peer ifindex>
SOCK=${NETNSD_SOCKET:-/run/netnsd/netnsd.sock}
curl -s --unix-socket "$SOCK" -X POST 'http://localhost/v1/dump?output=stream' |
  jq -r '.namespaces[] | .netns as $ns | .devices[]
         | select(.peer != null and .peer.netns != null and ([$ns, .ifindex] < [.peer.netns, .peer.ifindex]))
         | "\($ns):\(.name) <-> \(.peer.netns):\(.peer.ifindex)"'
