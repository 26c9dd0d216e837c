// Resolving veth peers to the namespace that holds them.
#pragma once

#include <map>
#include <vector>

#include "resolver/host.h"
#include "resolver/model.h"

namespace netnsd {

using Listings = std::map<NetnsId, std::vector<Device>>;

// Fills PeerRef::netns for every veth in `targets` whose peer lives in
// another namespace. A link only says "peer ifindex j in the namespace I call
// nsid N"; ifindexes repeat across namespaces, so candidates are the veths in
// `candidates` at ifindex j that point back at this device's ifindex, and the
// one whose namespace this namespace really calls N (asked through `host`) is
// the peer. Peers with no confirmed candidate keep netns unset.
void resolve_peers(Listings& targets, const Listings& candidates,
                   const std::map<NetnsId, HandlePtr>& handles, HostView& host);

// Copies the peer namespace from `known` (the cache) into fresh listings of
// the same namespaces, for every veth whose peer (ifindex and nsid) is
// unchanged: nothing to ask the kernel again for those.
void reuse_resolved_peers(Listings& fresh, const std::map<NetnsId, const std::vector<Device>*>& known);

// True if some veth in `listings` has a peer in another namespace not yet
// resolved.
bool has_unresolved_peers(const Listings& listings);

}  // namespace netnsd
