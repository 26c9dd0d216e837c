// The live side of snapshot_interfaces: list every namespace's interfaces
// now, and compare with what the cache holds.
#pragma once

#include <map>
#include <vector>

#include "dump/document.h"
#include "resolver/host.h"

namespace netnsd {

// Lists the links of each namespace in `targets` through `host`, with their
// addresses and counters, and diffs
// them (by ifindex) with its cached devices. Veth peers are resolved against
// the live listings and, for namespaces outside `targets`, the cached devices
// in `all`. Never touches the cache.
std::map<NetnsId, InterfaceSnapshot> snapshot_interfaces(const std::vector<NamespaceView>& targets,
                                                         const std::vector<NamespaceView>& all, HostView& host);

// Fills the counters of the cached devices of `ns` from a live listing (a
// device gone since has none). Fails, leaving `ns` as it was, when the
// namespace cannot be listed.
Status read_live_counters(NamespaceView& ns, HostView& host);

}  // namespace netnsd
