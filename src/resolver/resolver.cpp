#include "resolver/resolver.h"

#include <algorithm>
#include <utility>

#include "resolver/peers.h"

namespace netnsd {

namespace {

std::size_t default_owner_share(const ResolverConfig& config) {
  if (config.max_per_owner) return config.max_per_owner;
  return std::max<std::size_t>(1, config.capacity / defaults::kOwnerShareDivisor);
}

// The same containers, whatever the order of their processes.
bool same_containers(std::vector<ContainerRef> a, std::vector<ContainerRef> b) {
  auto by_id = [](const ContainerRef& x, const ContainerRef& y) { return x.id < y.id; };
  std::sort(a.begin(), a.end(), by_id);
  std::sort(b.begin(), b.end(), by_id);
  return a == b;
}

}  // namespace

Resolver::Resolver(ResolverConfig config, const Clock& clock)
    : config_(std::move(config)), max_per_owner_(default_owner_share(config_)), clock_(clock) {}

FdBudget plan_fd_budget(std::size_t capacity, std::uint64_t fd_limit, std::size_t reserve) {
  const std::uint64_t room = fd_limit > reserve ? (fd_limit - reserve) / defaults::kFdsPerNamespace : 0;
  if (room >= capacity) return {capacity, ""};
  const std::size_t fits = static_cast<std::size_t>(std::max<std::uint64_t>(room, 1));
  return {fits, "descriptor budget: RLIMIT_NOFILE " + std::to_string(fd_limit) + " leaves room for " +
                    std::to_string(fits) + " of the " + std::to_string(capacity) + " namespaces --capacity asks for (" +
                    std::to_string(defaults::kFdsPerNamespace) + " descriptors each, " + std::to_string(reserve) +
                    " kept for the rest)"};
}

class Resolver::Mutation {
 public:
  explicit Mutation(Resolver& resolver) : resolver_(resolver), lock_(resolver.mutex_) {}
  // Runs before lock_ is released: the feed sees changes in the cache's order.
  ~Mutation() {
    if (resolver_.feed_ && !resolver_.changes_.empty()) {
      resolver_.feed_->publish(std::exchange(resolver_.changes_, {}), resolver_.clock_.now());
    }
  }
  Mutation(const Mutation&) = delete;
  Mutation& operator=(const Mutation&) = delete;

 private:
  Resolver& resolver_;
  std::lock_guard<std::mutex> lock_;
};

void Resolver::note_locked(Change change) {
  if (feed_) changes_.push_back(std::move(change));
}

void Resolver::publish_facts(std::vector<Change> changes) {
  Mutation m(*this);
  if (!feed_) return;
  for (Change& c : changes) {
    auto it = entries_.find(c.netns);
    if (it == entries_.end()) continue;  // left the cache meanwhile
    std::vector<std::uint32_t> ifindexes;
    if (c.route) {
      for (const NextHop& hop : c.route->nexthops) ifindexes.push_back(hop.ifindex);
    }
    if (c.neighbour) ifindexes.push_back(c.neighbour->ifindex);
    for (std::uint32_t ifindex : ifindexes) {
      auto d = it->second.devices.find(ifindex);
      if (ifindex != 0 && d != it->second.devices.end()) c.device_names.emplace_back(ifindex, d->second.name);
    }
    note_locked(std::move(c));
  }
}

void Resolver::note_address_locked(ChangeKind kind, NetnsId netns, const Device& device, const Address& address) {
  if (!feed_) return;  // no change built for nobody
  Change c;
  c.kind = kind;
  c.netns = netns;
  c.ifindex = device.ifindex;
  c.device_name = device.name;
  c.address = address;
  note_locked(std::move(c));
}

void Resolver::note_device_locked(NetnsId netns, const Device* before, const Device* after) {
  if (!feed_ || (!before && !after)) return;
  Change c;
  c.netns = netns;
  if (!before) {
    c.kind = ChangeKind::device_added;
    c.device = *after;
  } else if (!after) {
    c.kind = ChangeKind::device_removed;
    c.device = *before;
  } else {
    // Addresses: one change each.
    for (const Address& a : after->addresses) {
      auto same = std::find_if(before->addresses.begin(), before->addresses.end(),
                               [&](const Address& b) { return b.same_key(a); });
      if (same != before->addresses.end() && *same == a) continue;
      note_address_locked(same == before->addresses.end() ? ChangeKind::address_added : ChangeKind::address_changed,
                          netns, *after, a);
    }
    for (const Address& b : before->addresses) {
      const bool kept = std::any_of(after->addresses.begin(), after->addresses.end(),
                                    [&](const Address& a) { return a.same_key(b); });
      if (kept) continue;
      note_address_locked(ChangeKind::address_removed, netns, *after, b);
    }
    c.changed = changed_fields(*before, *after);
    if (c.changed.empty()) return;
    c.kind = ChangeKind::device_changed;
    c.old = *before;
    c.device = *after;
    c.old->addresses.clear();  // the device carries them; no need to say them twice
  }
  c.device->stats.reset();
  note_locked(std::move(c));
}

void Resolver::note_netns_locked(NetnsId netns, const Entry& entry, std::vector<std::string> changed) {
  if (!feed_ || changed.empty()) return;
  Change c;
  c.kind = ChangeKind::netns_changed;
  c.netns = netns;
  c.names = entry.names;
  c.source = entry.discovered_by;
  c.lonely_since = entry.lonely_since;
  c.containers = entry.containers;
  c.processes = entry.processes;
  c.changed = std::move(changed);
  note_locked(std::move(c));
}

void Resolver::index_add_locked(NetnsId netns, const Device& device) {
  if (crosses_namespaces(device)) veth_ends_.emplace(veth_key(device.ifindex, device.peer->ifindex), netns);
}

void Resolver::index_remove_locked(NetnsId netns, const Device& device) {
  if (!crosses_namespaces(device)) return;
  auto [lo, hi] = veth_ends_.equal_range(veth_key(device.ifindex, device.peer->ifindex));
  for (auto it = lo; it != hi; ++it) {
    if (it->second == netns) {
      veth_ends_.erase(it);
      return;
    }
  }
}

void Resolver::erase_locked(std::unordered_map<NetnsId, Entry>::iterator it, Graveyard& graveyard, const char* reason) {
  for (const auto& [ifindex, device] : it->second.devices) {
    index_remove_locked(it->first, device);
    note_device_locked(it->first, &device, nullptr);
  }
  if (feed_) {
    Change c;
    c.kind = ChangeKind::netns_removed;
    c.netns = it->first;
    c.names = it->second.names;
    c.source = it->second.discovered_by;
    c.lonely_since = it->second.lonely_since;
    c.containers = it->second.containers;
    c.processes = it->second.processes;
    c.reason = reason;
    note_locked(std::move(c));
  }
  if (it->second.handle) graveyard.handles.push_back(std::move(it->second.handle));
  graveyard.gone.push_back(it->first);
  lru_.erase(it->second.lru);
  entries_.erase(it);
}

void Resolver::bury(Graveyard& graveyard) {
  if (listener_ && !graveyard.gone.empty()) listener_->on_released(graveyard.gone);
  graveyard.handles.clear();  // the last owner closes the fds, outside the lock
}

void Resolver::touch_locked(Entry& entry) {
  lru_.splice(lru_.begin(), lru_, entry.lru);
}

template <class Pick>
std::unordered_map<NetnsId, Resolver::Entry>::iterator Resolver::oldest_locked(NetnsId except, Pick pick) {
  for (auto it = lru_.rbegin(); it != lru_.rend(); ++it) {
    if (*it == except) continue;
    auto entry = entries_.find(*it);
    if (pick(entry->second)) return entry;
  }
  return entries_.end();
}

std::size_t Resolver::owned_by_locked(std::uint32_t uid) const {
  std::size_t n = 0;
  for (const auto& [netns, entry] : entries_) {
    if (!entry.owner().host && entry.owner().uid == uid) ++n;
  }
  return n;
}

bool Resolver::make_room_locked(NetnsId added, Graveyard& graveyard) {
  const NamespaceOwner owner = entries_.at(added).owner();
  auto lonely = [](const Entry& e) { return e.lonely_since.has_value(); };
  auto unprivileged = [](const Entry& e) { return !e.owner().host; };
  auto same_owner = [&](const Entry& e) { return !e.owner().host && e.owner().uid == owner.uid; };
  const auto none = entries_.end();

  // An owner other than the host competes with itself first: its share.
  if (!owner.host && owned_by_locked(owner.uid) > max_per_owner_) {
    auto victim = oldest_locked(added, [&](const Entry& e) { return same_owner(e) && lonely(e); });
    if (victim == none) victim = oldest_locked(added, same_owner);
    if (victim != none) {
      erase_locked(victim, graveyard, "evicted");
      ++counted_.evictions_owner_share;
    }
  }
  while (entries_.size() > config_.capacity) {
    auto victim = oldest_locked(added, [&](const Entry& e) { return unprivileged(e) && lonely(e); });
    if (owner.host) {
      if (victim == none) victim = oldest_locked(added, lonely);
      if (victim == none) victim = oldest_locked(added, unprivileged);
      if (victim == none) victim = oldest_locked(added, [](const Entry&) { return true; });
    } else if (victim == none) {
      victim = oldest_locked(added, same_owner);
    }
    if (victim == none) return false;
    erase_locked(victim, graveyard, "evicted");
    ++counted_.evictions_capacity;
  }
  return true;
}

bool Resolver::has_room_for(const NamespaceOwner& owner) const {
  std::lock_guard lock(mutex_);
  if (!owner.host && owned_by_locked(owner.uid) >= max_per_owner_) return false;
  if (entries_.size() < config_.capacity) return true;
  for (const auto& [netns, entry] : entries_) {
    const bool unprivileged = !entry.owner().host;
    if (owner.host ? unprivileged || entry.lonely_since : unprivileged && entry.lonely_since) return true;
  }
  return false;
}

bool Resolver::capture(NetnsId netns, NamespaceHandle handle, Source source) {
  Graveyard graveyard;
  auto owned = std::make_shared<const NamespaceHandle>(std::move(handle));
  bool added = false;
  {
    Mutation lock(*this);
    auto [it, inserted] = entries_.try_emplace(netns);
    Entry& entry = it->second;
    if (!inserted) {
      graveyard.handles.push_back(std::move(owned));  // it has one already
      entry.last_active = clock_.now();
      touch_locked(entry);
    } else {
      entry.handle = owned;
      entry.discovered_by = source;
      entry.first_seen = clock_.now();
      entry.last_active = entry.first_seen;
      lru_.push_front(netns);
      entry.lru = lru_.begin();
      added = make_room_locked(netns, graveyard);
      if (!added) {
        // Refused: out again at once, announced to nobody.
        lru_.erase(entry.lru);
        graveyard.handles.push_back(std::move(entry.handle));
        entries_.erase(it);
        ++counted_.refusals_capacity;
      } else if (feed_) {
        Change c;
        c.kind = ChangeKind::netns_added;
        c.netns = netns;
        c.source = source;
        c.owner = entry.handle->owner;
        c.cookie = entry.handle->cookie;
        note_locked(std::move(c));
      }
    }
  }
  bury(graveyard);
  if (added && listener_) listener_->on_captured(netns, owned);
  return added;
}

namespace {

// A listing knows a veth peer's ifindex and nsid but not its namespace; keep
// what was resolved before while the peer is the same one.
void keep_resolved_peer(const std::map<std::uint32_t, Device>& old, Device& device) {
  if (auto it = old.find(device.ifindex); it != old.end()) inherit_peer(it->second, device);
}

}  // namespace

std::vector<Device> Resolver::set_devices(NetnsId netns, std::vector<Device> devices) {
  std::vector<Device> replaced;
  Mutation lock(*this);
  auto it = entries_.find(netns);
  if (it == entries_.end()) return replaced;
  std::map<std::uint32_t, Device> fresh;
  for (auto& device : devices) {
    device.stats.reset();  // counters are read live, never cached
    keep_resolved_peer(it->second.devices, device);
    std::uint32_t ifindex = device.ifindex;
    fresh.insert_or_assign(ifindex, std::move(device));
  }
  it->second.devices_over_cap = fresh.size() > config_.max_devices;
  if (it->second.devices_over_cap) {
    counted_.devices_refused += fresh.size() - config_.max_devices;
    fresh.erase(std::next(fresh.begin(), static_cast<std::ptrdiff_t>(config_.max_devices)), fresh.end());
  }
  for (const auto& [ifindex, device] : it->second.devices) index_remove_locked(netns, device);
  for (const auto& [ifindex, device] : fresh) index_add_locked(netns, device);
  if (feed_) {
    const auto& old = it->second.devices;
    for (const auto& [ifindex, device] : old) {
      if (!fresh.count(ifindex)) note_device_locked(netns, &device, nullptr);
    }
    for (const auto& [ifindex, device] : fresh) {
      auto before = old.find(ifindex);
      note_device_locked(netns, before == old.end() ? nullptr : &before->second, &device);
    }
  }
  it->second.devices.swap(fresh);
  replaced.reserve(fresh.size());
  for (auto& [ifindex, device] : fresh) replaced.push_back(std::move(device));
  return replaced;
}

bool Resolver::upsert_device(NetnsId netns, Device device) {
  Mutation lock(*this);
  auto it = entries_.find(netns);
  if (it == entries_.end()) return false;
  auto old = it->second.devices.find(device.ifindex);
  if (old == it->second.devices.end() && it->second.devices.size() >= config_.max_devices) {
    ++counted_.devices_refused;
    it->second.devices_over_cap = true;
    return false;
  }
  keep_resolved_peer(it->second.devices, device);
  device.stats.reset();
  // A link message carries no addresses: the device keeps its own.
  if (old != it->second.devices.end()) device.addresses = old->second.addresses;
  const bool unresolved = links_unresolved(device);
  note_device_locked(netns, old == it->second.devices.end() ? nullptr : &old->second, &device);
  if (old != it->second.devices.end()) index_remove_locked(netns, old->second);
  index_add_locked(netns, device);
  std::uint32_t ifindex = device.ifindex;
  it->second.devices.insert_or_assign(ifindex, std::move(device));
  touch_locked(it->second);
  return unresolved;
}

std::optional<Device> Resolver::remove_device(NetnsId netns, std::uint32_t ifindex, std::optional<LinkRef> moved_to) {
  Mutation lock(*this);
  auto it = entries_.find(netns);
  if (it == entries_.end()) return std::nullopt;
  auto dev = it->second.devices.find(ifindex);
  if (dev == it->second.devices.end()) return std::nullopt;
  index_remove_locked(netns, dev->second);
  note_device_locked(netns, &dev->second, nullptr);
  if (moved_to && !changes_.empty()) changes_.back().moved_to = moved_to;
  Device removed = std::move(dev->second);
  it->second.devices.erase(dev);
  return removed;
}

Device* Resolver::device_locked(NetnsId netns, std::uint32_t ifindex) {
  auto it = entries_.find(netns);
  if (it == entries_.end()) return nullptr;
  auto dev = it->second.devices.find(ifindex);
  return dev == it->second.devices.end() ? nullptr : &dev->second;
}

bool Resolver::upsert_address(NetnsId netns, std::uint32_t ifindex, Address address) {
  Mutation lock(*this);
  Device* device = device_locked(netns, ifindex);
  if (!device) return false;
  std::vector<Address>& list = device->addresses;
  auto same = std::find_if(list.begin(), list.end(), [&](const Address& a) { return a.same_key(address); });
  if (same != list.end() && *same == address) return false;
  note_address_locked(same != list.end() ? ChangeKind::address_changed : ChangeKind::address_added, netns, *device,
                      address);
  if (same != list.end()) {
    *same = std::move(address);  // new flags or scope (DAD done, deprecated, ...)
  } else {
    list.insert(std::upper_bound(list.begin(), list.end(), address, address_order), std::move(address));
  }
  touch_locked(entries_.at(netns));
  return true;
}

bool Resolver::remove_address(NetnsId netns, std::uint32_t ifindex, const Address& address) {
  Mutation lock(*this);
  Device* device = device_locked(netns, ifindex);
  if (!device) return false;
  std::vector<Address>& list = device->addresses;
  auto same = std::find_if(list.begin(), list.end(), [&](const Address& a) { return a.same_key(address); });
  if (same == list.end()) return false;
  note_address_locked(ChangeKind::address_removed, netns, *device, *same);
  list.erase(same);
  return true;
}

std::vector<Device> Resolver::unresolved_links(NetnsId netns) const {
  std::vector<Device> out;
  std::lock_guard lock(mutex_);
  auto it = entries_.find(netns);
  if (it == entries_.end()) return out;
  for (const auto& [ifindex, d] : it->second.devices) {
    if (links_unresolved(d)) out.push_back(d);
  }
  return out;
}

std::vector<std::pair<NetnsId, HandlePtr>> Resolver::holders_of(std::uint32_t ifindex, NetnsId except) const {
  std::vector<std::pair<NetnsId, HandlePtr>> out;
  std::lock_guard lock(mutex_);
  for (const auto& [netns, entry] : entries_) {
    if (netns != except && entry.handle && entry.devices.count(ifindex)) out.emplace_back(netns, entry.handle);
  }
  return out;
}

void Resolver::set_lower_netns(NetnsId netns, std::uint32_t ifindex, const LinkRef& lower) {
  Mutation lock(*this);
  Device* device = device_locked(netns, ifindex);
  if (!device || !device->lower) return;
  LinkRef& now = *device->lower;
  if (now.ifindex != lower.ifindex || now.nsid != lower.nsid || now.netns == lower.netns) return;
  const Device before = feed_ ? *device : Device{};
  now.netns = lower.netns;
  if (feed_) note_device_locked(netns, &before, device);
}

std::vector<std::pair<NetnsId, HandlePtr>> Resolver::veth_ends(std::uint32_t ifindex, std::uint32_t peer_ifindex,
                                                               NetnsId except) const {
  std::vector<std::pair<NetnsId, HandlePtr>> out;
  std::lock_guard lock(mutex_);
  auto [lo, hi] = veth_ends_.equal_range(veth_key(ifindex, peer_ifindex));
  for (auto it = lo; it != hi; ++it) {
    if (it->second == except) continue;
    auto entry = entries_.find(it->second);
    if (entry != entries_.end() && entry->second.handle) out.emplace_back(it->second, entry->second.handle);
  }
  return out;
}

void Resolver::link_veth_pair(NetnsId a, std::uint32_t ai, NetnsId b, std::uint32_t bi) {
  Mutation lock(*this);
  auto point = [&](NetnsId self, std::uint32_t index, NetnsId other, std::uint32_t other_index) {
    Device* dev = device_locked(self, index);
    if (!dev || !dev->peer || dev->peer->ifindex != other_index || dev->peer->netns == other) return;
    const Device before = feed_ ? *dev : Device{};
    dev->peer->netns = other;
    if (feed_) note_device_locked(self, &before, dev);
  };
  point(a, ai, b, bi);
  point(b, bi, a, ai);
}

void Resolver::mark_present(NetnsId netns) {
  Mutation lock(*this);
  auto it = entries_.find(netns);
  if (it == entries_.end()) return;
  if (it->second.lonely_since) {
    it->second.lonely_since.reset();
    note_netns_locked(netns, it->second, {"lonely"});
  }
  it->second.last_active = clock_.now();
  touch_locked(it->second);
}

void Resolver::apply_presence(const PresenceMap& seen, std::optional<WallTime> as_of,
                              std::optional<WallTime> gathered_at) {
  const WallTime now = as_of ? std::min(*as_of, clock_.now()) : clock_.now();
  Mutation lock(*this);
  for (auto& [netns, entry] : entries_) {
    std::vector<std::string> changed;
    auto it = seen.find(netns);
    if (it == seen.end()) {
      // Newer than the scan's reading: the scan could not have seen it.
      if (gathered_at && entry.last_active > *gathered_at) continue;
      entry.pids = 0;
      if (!entry.containers.empty()) changed.emplace_back("containers");
      if (!entry.processes.empty()) changed.emplace_back("processes");
      entry.processes.clear();
      entry.containers.clear();
      if (!entry.names.empty()) changed.emplace_back("names");
      entry.names.clear();
      if (!entry.lonely_since) {
        entry.lonely_since = now;
        changed.emplace_back("lonely");
      }
      note_netns_locked(netns, entry, std::move(changed));
      continue;
    }
    entry.pids = it->second.pids;
    if (!same_containers(entry.containers, it->second.containers)) changed.emplace_back("containers");
    if (entry.processes != it->second.processes) changed.emplace_back("processes");
    entry.processes = it->second.processes;
    entry.containers = it->second.containers;
    std::vector<std::string> names(it->second.names.begin(), it->second.names.end());
    if (names != entry.names) changed.emplace_back("names");
    entry.names = std::move(names);
    if (entry.lonely_since) changed.emplace_back("lonely");
    entry.lonely_since.reset();
    note_netns_locked(netns, entry, std::move(changed));
    // Not touched: a scan sees every namespace; recency is about events.
  }
}

void Resolver::apply_names(const std::map<NetnsId, std::set<std::string>>& names) {
  Mutation lock(*this);
  for (auto& [netns, entry] : entries_) {
    std::vector<std::string> changed;
    std::vector<std::string> now;
    auto it = names.find(netns);
    if (it != names.end()) now.assign(it->second.begin(), it->second.end());
    if (now != entry.names) changed.emplace_back("names");
    entry.names = std::move(now);
    if (!entry.names.empty() && entry.lonely_since) {
      entry.lonely_since.reset();  // a bind mount holds it: never lonely
      changed.emplace_back("lonely");
    }
    note_netns_locked(netns, entry, std::move(changed));
  }
}

std::size_t Resolver::release_lonely() {
  Graveyard graveyard;
  const WallTime now = clock_.now();
  {
    Mutation lock(*this);
    std::vector<NetnsId> expired;
    for (const auto& [netns, entry] : entries_) {
      if (entry.lonely_since && now - *entry.lonely_since >= config_.lonely_timeout) expired.push_back(netns);
    }
    for (NetnsId netns : expired) erase_locked(entries_.find(netns), graveyard, "released");
    counted_.lonely_releases += graveyard.gone.size();
  }
  const std::size_t released = graveyard.gone.size();
  bury(graveyard);
  return released;
}

NamespaceView Resolver::view_locked(NetnsId netns, const Entry& entry) const {
  NamespaceView view;
  view.netns = netns;
  view.handle = entry.handle;
  view.names = entry.names;
  view.discovered_by = entry.discovered_by;
  view.first_seen = entry.first_seen;
  view.lonely_since = entry.lonely_since;
  view.pids = entry.pids;
  view.processes = entry.processes;
  view.containers = entry.containers;
  view.devices_over_cap = entry.devices_over_cap;
  view.devices.reserve(entry.devices.size());
  for (const auto& [ifindex, device] : entry.devices) view.devices.push_back(device);
  return view;
}

std::vector<NamespaceView> Resolver::snapshot(const std::optional<std::vector<NetnsId>>& only) const {
  std::vector<NamespaceView> views;
  {
    std::lock_guard lock(mutex_);
    if (only) {
      views.reserve(only->size());
      for (NetnsId netns : *only) {
        auto it = entries_.find(netns);
        if (it != entries_.end()) views.push_back(view_locked(netns, it->second));
      }
    } else {
      views.reserve(entries_.size());
      for (const auto& [netns, entry] : entries_) views.push_back(view_locked(netns, entry));
    }
  }
  std::sort(views.begin(), views.end(),
            [](const NamespaceView& a, const NamespaceView& b) { return a.netns < b.netns; });
  views.erase(std::unique(views.begin(), views.end(),
                          [](const NamespaceView& a, const NamespaceView& b) { return a.netns == b.netns; }),
              views.end());
  return views;
}

std::pair<std::vector<NamespaceView>, ResolverStats> Resolver::snapshot_with_stats() const {
  std::pair<std::vector<NamespaceView>, ResolverStats> out;
  {
    std::lock_guard lock(mutex_);
    out.first.reserve(entries_.size());
    for (const auto& [netns, entry] : entries_) out.first.push_back(view_locked(netns, entry));
    out.second = stats_locked();
  }
  std::sort(out.first.begin(), out.first.end(),
            [](const NamespaceView& a, const NamespaceView& b) { return a.netns < b.netns; });
  return out;
}

std::optional<NamespaceView> Resolver::find(NetnsId netns) const {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(netns);
  if (it == entries_.end()) return std::nullopt;
  return view_locked(netns, it->second);
}

std::vector<std::pair<NetnsId, std::uint32_t>> Resolver::find_devices(const std::string& name) const {
  std::vector<std::pair<NetnsId, std::uint32_t>> found;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [netns, entry] : entries_) {
      for (const auto& [ifindex, device] : entry.devices) {
        if (device.name == name) found.emplace_back(netns, ifindex);
      }
    }
  }
  std::sort(found.begin(), found.end());
  return found;
}

std::vector<NetnsId> Resolver::find_by_name(const std::string& name) const {
  std::vector<NetnsId> found;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [netns, entry] : entries_) {
      if (std::find(entry.names.begin(), entry.names.end(), name) != entry.names.end()) {
        found.push_back(netns);
      }
    }
  }
  std::sort(found.begin(), found.end());
  return found;
}

bool Resolver::contains(NetnsId netns) const {
  std::lock_guard lock(mutex_);
  return entries_.count(netns) != 0;
}

bool Resolver::has_handle(NetnsId netns) const {
  return handle_of(netns) != nullptr;
}

HandlePtr Resolver::handle_of(NetnsId netns) const {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(netns);
  return it == entries_.end() ? nullptr : it->second.handle;
}

std::vector<std::pair<NetnsId, HandlePtr>> Resolver::handles() const {
  std::vector<std::pair<NetnsId, HandlePtr>> out;
  {
    std::lock_guard lock(mutex_);
    out.reserve(entries_.size());
    for (const auto& [netns, entry] : entries_) {
      if (entry.handle) out.emplace_back(netns, entry.handle);
    }
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  return out;
}

void Resolver::mark_ready() {
  std::lock_guard lock(mutex_);
  ready_ = true;
}

void Resolver::set_degraded(std::string reason) {
  std::lock_guard lock(mutex_);
  degraded_ = true;
  degraded_reason_ = std::move(reason);
}

void Resolver::count_resync() {
  std::lock_guard lock(mutex_);
  ++counted_.resyncs;
}

void Resolver::count_capture_failure() {
  std::lock_guard lock(mutex_);
  ++counted_.handle_capture_failures;
}

void Resolver::set_not_cached(std::size_t count) {
  std::lock_guard lock(mutex_);
  not_cached_ = count;
}

void Resolver::update_live_counters(const LiveCounters& counters) {
  std::lock_guard lock(mutex_);
  live_ = counters;
}

ResolverStats Resolver::stats() const {
  std::lock_guard lock(mutex_);
  return stats_locked();
}

ResolverStats Resolver::stats_locked() const {
  ResolverStats s;
  s.ready = ready_;
  s.degraded = degraded_;
  s.degraded_reason = degraded_reason_;
  s.capacity = config_.capacity;
  s.configured_capacity = config_.configured_capacity ? config_.configured_capacity : config_.capacity;
  s.max_per_owner = max_per_owner_;
  s.max_devices = config_.max_devices;
  s.lonely_timeout_s = std::chrono::duration_cast<std::chrono::seconds>(config_.lonely_timeout).count();
  s.namespaces = entries_.size();
  for (const auto& [netns, entry] : entries_) {
    if (!entry.owner().host) ++s.unprivileged_namespaces;
    if (entry.devices_over_cap) ++s.namespaces_over_device_cap;
  }
  s.not_cached = not_cached_;
  static_cast<CacheCounters&>(s) = counted_;
  s.evictions = counted_.evictions_capacity + counted_.evictions_owner_share;
  s.netlink_rejected_foreign = netlink_.foreign;
  s.netlink_rejected_sequence = netlink_.sequence;
  s.netlink_rejected_policy = netlink_.policy;
  s.live = live_;

  if (!config_.capacity_limit.empty()) s.limits.push_back(config_.capacity_limit);
  if (s.not_cached) {
    s.limits.push_back(std::to_string(s.not_cached) + " namespaces on the host are not cached (capacity " +
                       std::to_string(s.capacity) + ", at most " + std::to_string(max_per_owner_) +
                       " per owner outside the host's user namespace)");
  }
  if (s.namespaces_over_device_cap) {
    s.limits.push_back(std::to_string(s.namespaces_over_device_cap) + " namespaces hold more than " +
                       std::to_string(config_.max_devices) + " devices (--max-devices): the rest are not cached");
  }
  return s;
}

}  // namespace netnsd
