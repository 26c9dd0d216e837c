// Veth peers: the one place that knows how a veth end names its partner.
//
// A link says only "my peer is ifindex j in the namespace I call nsid N"
// (IFLA_LINK, IFLA_LINK_NETNSID); N means nothing outside that namespace and
// ifindexes repeat across namespaces. So a partner is found in two steps:
// the candidates are the veth ends at ifindex j whose own peer is this end's
// ifindex (an index keyed by veth_key finds them), and the kernel is asked
// which of the candidates' namespaces this namespace calls N. Only a single
// match counts.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include "resolver/host.h"
#include "resolver/model.h"
#include "resolver/resolver.h"

namespace netnsd {

// Key of a veth end in an index of ends: (its ifindex, its peer's ifindex).
// The partners of end e are found under veth_key(e.peer.ifindex, e.ifindex).
std::uint64_t veth_key(std::uint32_t ifindex, std::uint32_t peer_ifindex);

// A veth end whose partner lives in another namespace (the kernel gave an
// nsid for it): the only ends that need resolving, and the only ones indexed.
bool crosses_namespaces(const Device& device);

// A cross-namespace end whose partner's namespace is not known yet.
bool peer_unresolved(const Device& device);

// `now` (a fresh listing) keeps the partner namespace `was` (the cache)
// resolved, when both name the same partner: same peer ifindex and nsid.
void inherit_peer(const Device& was, Device& now);

// Namespaces (with their handles) holding a veth end at `ifindex` whose peer
// is `peer_ifindex`.
using EndFinder =
    std::function<std::vector<std::pair<NetnsId, HandlePtr>>(std::uint32_t ifindex, std::uint32_t peer_ifindex)>;

// Resolves, in place, the partner namespace of each end in `unresolved`
// (devices of namespace `self`, reached through `self_handle`): candidates
// come from `ends`, and one question to the kernel (HostView::nsids) covers
// them all. Ends without exactly one confirmed candidate stay unresolved.
// Returns how many were resolved.
std::size_t resolve_ends(NetnsId self, const NamespaceHandle& self_handle, const std::vector<Device*>& unresolved,
                         const EndFinder& ends, HostView& host);

// resolve_ends() for the cached namespace `netns`, against the ends the
// resolver indexes; each end resolved is linked to its partner, both ways
// (Resolver::link_veth_pair). Returns how many were.
std::size_t resolve_cached_peers(Resolver& resolver, HostView& host, NetnsId netns);

using Listings = std::map<NetnsId, std::vector<Device>>;

// resolve_ends() for every namespace in `targets`, with candidates drawn
// from `candidates` (which may include `targets` itself).
void resolve_peers(Listings& targets, const Listings& candidates, const std::map<NetnsId, HandlePtr>& handles,
                   HostView& host);

// inherit_peer() from `known` (the cache) for every device of the fresh
// listings: peers already resolved need no question to the kernel.
void reuse_resolved_peers(Listings& fresh, const std::map<NetnsId, const std::vector<Device>*>& known);

// True if some device in `listings` is peer_unresolved().
bool has_unresolved_peers(const Listings& listings);

}  // namespace netnsd
