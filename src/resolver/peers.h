// Links across namespaces: the one place that knows how a device names a
// link in another namespace, be it a veth end's partner or the device a
// macvlan, ipvlan, vlan or tunnel is stacked on.
//
// A link says only "it is ifindex j in the namespace I call nsid N"
// (IFLA_LINK, IFLA_LINK_NETNSID); N means nothing outside that namespace and
// ifindexes repeat across namespaces. So the namespace is found in two
// steps: candidates, then one question to the kernel, which says which of
// the candidates' namespaces this namespace calls N. Only a single match
// counts. A veth end's candidates are the ends at ifindex j whose own peer
// is this end's ifindex (an index keyed by veth_key finds them); a stacked
// device's, the namespaces holding a device at ifindex j.
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
// A device stacked on a link of another namespace not known yet.
bool lower_unresolved(const Device& device);
// Either: the device needs a question to the kernel.
bool links_unresolved(const Device& device);

// `now` (a fresh listing) keeps the partner and lower namespaces `was` (the
// cache) resolved, each when both name the same link: same ifindex and nsid.
void inherit_peer(const Device& was, Device& now);

// Namespaces (with their handles) holding a device at `ifindex`.
using HolderFinder = std::function<std::vector<std::pair<NetnsId, HandlePtr>>(std::uint32_t ifindex)>;

// Namespaces (with their handles) holding a veth end at `ifindex` whose peer
// is `peer_ifindex`.
using EndFinder =
    std::function<std::vector<std::pair<NetnsId, HandlePtr>>(std::uint32_t ifindex, std::uint32_t peer_ifindex)>;

// Resolves, in place, the partner namespace of each veth end and the lower
// namespace of each stacked device in `unresolved` (devices of namespace
// `self`, reached through `self_handle`): candidates come from `ends` and
// `holders`, and one question to the kernel (HostView::nsids) covers them
// all. Links without exactly one confirmed candidate stay unresolved.
// Returns how many were resolved.
std::size_t resolve_ends(NetnsId self, const NamespaceHandle& self_handle, const std::vector<Device*>& unresolved,
                         const EndFinder& ends, const HolderFinder& holders, HostView& host);

// resolve_ends() for the cached namespace `netns`, against the cache; each
// end resolved is linked to its partner, both ways (Resolver::link_veth_pair),
// each lower link set (Resolver::set_lower_netns). Returns how many were.
std::size_t resolve_cached_peers(Resolver& resolver, HostView& host, NetnsId netns);

// The cached namespace that the cached namespace `self` calls `link.nsid`
// (a device that moved there, say), asking the kernel about every other
// cached namespace: for rare events only. Nullopt unless exactly one is.
std::optional<NetnsId> namespace_called(Resolver& resolver, HostView& host, NetnsId self, const LinkRef& link);

using Listings = std::map<NetnsId, std::vector<Device>>;

// resolve_ends() for every namespace in `targets`, with candidates drawn
// from `candidates` (which may include `targets` itself).
void resolve_peers(Listings& targets, const Listings& candidates, const std::map<NetnsId, HandlePtr>& handles,
                   HostView& host);

// inherit_peer() from `known` (the cache) for every device of the fresh
// listings: peers already resolved need no question to the kernel.
void reuse_resolved_peers(Listings& fresh, const std::map<NetnsId, const std::vector<Device>*>& known);

// True if some device in `listings` is links_unresolved().
bool has_unresolved_peers(const Listings& listings);

}  // namespace netnsd
