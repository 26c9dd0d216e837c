#include "resolver/peers.h"

#include <optional>
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

bool lower_unresolved(const Device& device) {
  return device.lower && device.lower->nsid && !device.lower->netns;
}

bool links_unresolved(const Device& device) {
  return peer_unresolved(device) || lower_unresolved(device);
}

namespace {

void inherit(const std::optional<LinkRef>& was, std::optional<LinkRef>& now) {
  if (!now || now->netns || !was) return;
  if (was->ifindex == now->ifindex && was->nsid == now->nsid) now->netns = was->netns;
}

}  // namespace

void inherit_peer(const Device& was, Device& now) {
  inherit(was.peer, now.peer);
  inherit(was.lower, now.lower);
}

std::size_t resolve_ends(NetnsId self, const NamespaceHandle& self_handle, const std::vector<Device*>& unresolved,
                         const EndFinder& ends, const HolderFinder& holders, HostView& host) {
  // Each link to resolve, its candidate namespaces, and the distinct ones to ask about.
  struct Pending {
    LinkRef* link;
    std::vector<NetnsId> options;
  };
  std::vector<Pending> pending;
  std::map<NetnsId, HandlePtr> to_ask;
  auto consider = [&](LinkRef* link, std::vector<std::pair<NetnsId, HandlePtr>> candidates) {
    Pending p{link, {}};
    for (auto& [other, handle] : candidates) {
      if (other == self || !handle) continue;
      p.options.push_back(other);
      to_ask.emplace(other, std::move(handle));
    }
    if (!p.options.empty()) pending.push_back(std::move(p));
  };
  for (Device* d : unresolved) {
    if (peer_unresolved(*d) && ends) consider(&*d->peer, ends(d->peer->ifindex, d->ifindex));
    if (lower_unresolved(*d) && holders) consider(&*d->lower, holders(d->lower->ifindex));
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
  for (Pending& p : pending) {
    std::optional<NetnsId> match;
    int matches = 0;
    for (NetnsId other : p.options) {
      if (nsid_of[other] == *p.link->nsid) {
        match = other;
        ++matches;
      }
    }
    if (matches == 1) {
      p.link->netns = match;
      ++resolved;
    }
  }
  return resolved;
}

std::optional<NetnsId> namespace_called(Resolver& resolver, HostView& host, NetnsId self, const LinkRef& link) {
  HandlePtr handle = resolver.handle_of(self);
  if (!handle || !link.nsid) return std::nullopt;
  // The link as a stacked device's lower one, whose candidates are every
  // other namespace: the device need not be there yet.
  Device probe;
  probe.lower = link;
  probe.lower->netns.reset();
  std::vector<Device*> one{&probe};
  const HolderFinder everyone = [&](std::uint32_t) { return resolver.handles(); };
  if (resolve_ends(self, *handle, one, nullptr, everyone, host) == 0) return std::nullopt;
  return probe.lower->netns;
}

std::size_t resolve_cached_peers(Resolver& resolver, HostView& host, NetnsId netns) {
  std::vector<Device> pending = resolver.unresolved_links(netns);
  if (pending.empty()) return 0;
  HandlePtr handle = resolver.handle_of(netns);
  if (!handle) return 0;
  std::vector<Device*> unresolved;
  for (Device& d : pending) unresolved.push_back(&d);
  const EndFinder ends = [&](std::uint32_t ifindex, std::uint32_t peer_ifindex) {
    return resolver.veth_ends(ifindex, peer_ifindex, netns);
  };
  const HolderFinder holders = [&](std::uint32_t ifindex) { return resolver.holders_of(ifindex, netns); };
  if (resolve_ends(netns, *handle, unresolved, ends, holders, host) == 0) return 0;
  std::size_t linked = 0;
  for (const Device& d : pending) {
    if (d.peer && d.peer->netns) {
      resolver.link_veth_pair(netns, d.ifindex, *d.peer->netns, d.peer->ifindex);
      ++linked;
    }
    if (d.lower && d.lower->netns) {
      resolver.set_lower_netns(netns, d.ifindex, *d.lower);
      ++linked;
    }
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
  // Holders are looked up only when a stacked device needs them (rare: a
  // macvlan or ipvlan in a container on the host's NIC).
  std::optional<std::unordered_multimap<std::uint32_t, NetnsId>> by_ifindex;
  const HolderFinder holders = [&](std::uint32_t ifindex) {
    if (!by_ifindex) {
      by_ifindex.emplace();
      for (const auto& [netns, devices] : candidates) {
        for (const Device& d : devices) by_ifindex->emplace(d.ifindex, netns);
      }
    }
    std::vector<std::pair<NetnsId, HandlePtr>> out;
    auto [lo, hi] = by_ifindex->equal_range(ifindex);
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
      if (links_unresolved(d)) unresolved.push_back(&d);
    }
    if (!unresolved.empty()) resolve_ends(netns, *self->second, unresolved, ends, holders, host);
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
      if (links_unresolved(d)) return true;
    }
  }
  return false;
}

}  // namespace netnsd
