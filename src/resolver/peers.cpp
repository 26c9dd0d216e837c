#include "resolver/peers.h"

#include <set>
#include <unordered_map>

namespace netnsd {
namespace {

std::uint64_t pair_key(std::uint32_t ifindex, std::uint32_t peer_ifindex) {
  return (static_cast<std::uint64_t>(ifindex) << 32) | peer_ifindex;
}

}  // namespace

void resolve_peers(Listings& targets, const Listings& candidates,
                   const std::map<NetnsId, HandlePtr>& handles, HostView& host) {
  // (ifindex, peer ifindex) -> namespaces holding such a veth end.
  std::unordered_multimap<std::uint64_t, NetnsId> ends;
  for (const auto& [netns, devices] : candidates) {
    for (const Device& d : devices) {
      if (d.peer && d.peer->nsid) ends.emplace(pair_key(d.ifindex, d.peer->ifindex), netns);
    }
  }

  for (auto& [netns, devices] : targets) {
    auto self = handles.find(netns);
    if (self == handles.end() || !self->second) continue;

    // Candidate namespaces for every unresolved peer of this namespace.
    std::map<Device*, std::vector<NetnsId>> pending;
    std::set<NetnsId> to_ask;
    for (Device& d : devices) {
      if (!d.peer || !d.peer->nsid || d.peer->netns) continue;
      auto [lo, hi] = ends.equal_range(pair_key(d.peer->ifindex, d.ifindex));
      for (auto it = lo; it != hi; ++it) {
        if (it->second == netns || !handles.count(it->second)) continue;
        pending[&d].push_back(it->second);
        to_ask.insert(it->second);
      }
    }
    if (to_ask.empty()) continue;

    std::vector<NetnsId> order(to_ask.begin(), to_ask.end());
    std::vector<const NamespaceHandle*> target_handles;
    target_handles.reserve(order.size());
    for (NetnsId other : order) target_handles.push_back(handles.at(other).get());
    auto ids = host.nsids(*self->second, target_handles);
    if (!ids || ids->size() != order.size()) continue;
    std::map<NetnsId, std::int32_t> nsid_of;
    for (std::size_t i = 0; i < order.size(); ++i) nsid_of[order[i]] = (*ids)[i];

    for (auto& [device, options] : pending) {
      std::optional<NetnsId> match;
      int matches = 0;
      for (NetnsId other : options) {
        if (nsid_of[other] == *device->peer->nsid) {
          match = other;
          ++matches;
        }
      }
      if (matches == 1) device->peer->netns = match;
    }
  }
}

void reuse_resolved_peers(Listings& fresh, const std::map<NetnsId, const std::vector<Device>*>& known) {
  for (auto& [netns, devices] : fresh) {
    auto cached = known.find(netns);
    if (cached == known.end()) continue;
    std::unordered_map<std::uint32_t, const Device*> by_index;
    for (const Device& d : *cached->second) by_index.emplace(d.ifindex, &d);
    for (Device& d : devices) {
      if (!d.peer || d.peer->netns) continue;
      auto it = by_index.find(d.ifindex);
      if (it == by_index.end() || !it->second->peer) continue;
      const PeerRef& was = *it->second->peer;
      if (was.ifindex == d.peer->ifindex && was.nsid == d.peer->nsid) d.peer->netns = was.netns;
    }
  }
}

bool has_unresolved_peers(const Listings& listings) {
  for (const auto& [netns, devices] : listings) {
    for (const Device& d : devices) {
      if (d.peer && d.peer->nsid && !d.peer->netns) return true;
    }
  }
  return false;
}

}  // namespace netnsd
