// The live side of snapshot_interfaces: list every namespace's interfaces
// now, and compare with what the cache holds.
#pragma once

#include <map>
#include <vector>

#include "dump/document.h"
#include "resolver/host.h"

namespace netnsd {

// Lists the links of each namespace in `targets` through `host` and diffs
// them (by ifindex) with its cached devices. Veth peers are resolved against
// the live listings and, for namespaces outside `targets`, the cached devices
// in `all`. Never touches the cache.
std::map<NetnsId, InterfaceSnapshot> snapshot_interfaces(const std::vector<NamespaceView>& targets,
                                                         const std::vector<NamespaceView>& all, HostView& host);

}  // namespace netnsd
