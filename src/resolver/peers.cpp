#include "resolver/peers.h"

#include <set>
#include <unordered_map>

namespace netnsd {

std::uint64_t veth_key(std::uint32_t ifindex, std::uint32_t peer_ifindex) {
  return (static_cast<std::uint64_t>(ifindex) << 32) | peer_ifindex;
}

bool crosses_namespaces(const Device& device) {
  return device.peer && device.peer->nsid;
}

bool peer_unresolved(const Device& device) {
  return crosses_namespaces(device) && !device.peer->netns;
}

void inherit_peer(const Device& was, Device& now) {
  if (!now.peer || now.peer->netns || !was.peer) return;
  if (was.peer->ifindex == now.peer->ifindex && was.peer->nsid == now.peer->nsid) now.peer->netns = was.peer->netns;
}

std::size_t resolve_ends(NetnsId self, const NamespaceHandle& self_handle, const std::vector<Device*>& unresolved,
                         const EndFinder& ends, HostView& host) {
  // Candidate namespaces of each end, and the distinct ones to ask about.
  std::vector<std::vector<NetnsId>> options(unresolved.size());
  std::map<NetnsId, HandlePtr> to_ask;
  for (std::size_t i = 0; i < unresolved.size(); ++i) {
    const Device& d = *unresolved[i];
    if (!peer_unresolved(d)) continue;
    for (auto& [other, handle] : ends(d.peer->ifindex, d.ifindex)) {
      if (other == self || !handle) continue;
      options[i].push_back(other);
      to_ask.emplace(other, std::move(handle));
    }
  }
  if (to_ask.empty()) return 0;

  std::vector<const NamespaceHandle*> targets;
  targets.reserve(to_ask.size());
  for (const auto& [other, handle] : to_ask) targets.push_back(handle.get());
  auto ids = host.nsids(self_handle, targets);
  if (!ids || ids->size() != targets.size()) return 0;
  std::map<NetnsId, std::int32_t> nsid_of;
  std::size_t k = 0;
  for (const auto& [other, handle] : to_ask) nsid_of[other] = (*ids)[k++];

  std::size_t resolved = 0;
  for (std::size_t i = 0; i < unresolved.size(); ++i) {
    std::optional<NetnsId> match;
    int matches = 0;
    for (NetnsId other : options[i]) {
      if (nsid_of[other] == *unresolved[i]->peer->nsid) {
        match = other;
        ++matches;
      }
    }
    if (matches == 1) {
      unresolved[i]->peer->netns = match;
      ++resolved;
    }
  }
  return resolved;
}

std::size_t resolve_cached_peers(Resolver& resolver, HostView& host, NetnsId netns) {
  std::vector<Device> pending = resolver.unresolved_veths(netns);
  if (pending.empty()) return 0;
  HandlePtr handle = resolver.handle_of(netns);
  if (!handle) return 0;
  std::vector<Device*> unresolved;
  for (Device& d : pending) unresolved.push_back(&d);
  const EndFinder ends = [&](std::uint32_t ifindex, std::uint32_t peer_ifindex) {
    return resolver.veth_ends(ifindex, peer_ifindex, netns);
  };
  if (resolve_ends(netns, *handle, unresolved, ends, host) == 0) return 0;
  std::size_t linked = 0;
  for (const Device& d : pending) {
    if (!d.peer->netns) continue;
    resolver.link_veth_pair(netns, d.ifindex, *d.peer->netns, d.peer->ifindex);
    ++linked;
  }
  return linked;
}

void resolve_peers(Listings& targets, const Listings& candidates, const std::map<NetnsId, HandlePtr>& handles,
                   HostView& host) {
  std::unordered_multimap<std::uint64_t, NetnsId> index;
  for (const auto& [netns, devices] : candidates) {
    for (const Device& d : devices) {
      if (crosses_namespaces(d)) index.emplace(veth_key(d.ifindex, d.peer->ifindex), netns);
    }
  }
  const EndFinder ends = [&](std::uint32_t ifindex, std::uint32_t peer_ifindex) {
    std::vector<std::pair<NetnsId, HandlePtr>> out;
    auto [lo, hi] = index.equal_range(veth_key(ifindex, peer_ifindex));
    for (auto it = lo; it != hi; ++it) {
      if (auto h = handles.find(it->second); h != handles.end()) out.emplace_back(it->second, h->second);
    }
    return out;
  };
  for (auto& [netns, devices] : targets) {
    auto self = handles.find(netns);
    if (self == handles.end() || !self->second) continue;
    std::vector<Device*> unresolved;
    for (Device& d : devices) {
      if (peer_unresolved(d)) unresolved.push_back(&d);
    }
    if (!unresolved.empty()) resolve_ends(netns, *self->second, unresolved, ends, host);
  }
}

void reuse_resolved_peers(Listings& fresh, const std::map<NetnsId, const std::vector<Device>*>& known) {
  for (auto& [netns, devices] : fresh) {
    auto cached = known.find(netns);
    if (cached == known.end()) continue;
    std::unordered_map<std::uint32_t, const Device*> by_index;
    for (const Device& d : *cached->second) by_index.emplace(d.ifindex, &d);
    for (Device& d : devices) {
      if (auto it = by_index.find(d.ifindex); it != by_index.end()) inherit_peer(*it->second, d);
    }
  }
}

bool has_unresolved_peers(const Listings& listings) {
  for (const auto& [netns, devices] : listings) {
    for (const Device& d : devices) {
      if (peer_unresolved(d)) return true;
    }
  }
  return false;
}

}  // namespace netnsd
