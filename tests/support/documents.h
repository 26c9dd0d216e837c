// Dump documents for the tests of what draws them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "dump/document.h"
#include "fakes.h"

namespace netnsd::testing {

// A container host in small: the host's namespace with a bridge and one
// veth end per container on it, `containers` containers with the other
// ends (each namespace a cluster of 3 nodes in the graph, the host's more).
inline DumpDocument container_host(std::uint32_t containers = 2) {
  DumpDocument doc;
  doc.host = {"box", "6.1", 100};
  NamespaceView host;
  host.netns = 100;
  Device bridge = plain(3, "br0", "bridge");
  host.devices = {plain(1, "lo"), plain(2, "eth0"), bridge};
  std::vector<NamespaceView> others;
  for (std::uint32_t i = 0; i < containers; ++i) {
    NetnsId netns = 200 + i;
    Device host_end = veth(10 + i, "veth-c" + std::to_string(i), 2, static_cast<std::int32_t>(i));
    host_end.master = 3;
    host_end.peer->netns = netns;
    host.devices.push_back(host_end);
    NamespaceView c;
    c.netns = netns;
    c.names = {"c" + std::to_string(i)};
    Device eth = veth(2, "eth0", 10 + i, 0);
    eth.peer->netns = 100;
    c.devices = {plain(1, "lo"), eth};
    others.push_back(c);
  }
  doc.namespaces = {host};
  doc.namespaces.insert(doc.namespaces.end(), others.begin(), others.end());
  return doc;
}

}  // namespace netnsd::testing
