#include "resolver/resolver.h"

#include <algorithm>
#include <utility>

namespace netnsd {

std::string_view to_string(Source source) {
  switch (source) {
    case Source::procfs:
      return "procfs";
    case Source::bind_mount:
      return "bind_mount";
    case Source::ebpf:
      return "ebpf";
    case Source::netlink:
      return "netlink";
  }
  return "unknown";
}

Resolver::Resolver(ResolverConfig config, const Clock& clock) : config_(config), clock_(clock) {}

Resolver::Entry& Resolver::insert_locked(NetnsId netns, Source source, Graveyard& graveyard) {
  auto [it, inserted] = entries_.try_emplace(netns);
  Entry& entry = it->second;
  if (inserted) {
    entry.discovered_by = source;
    entry.first_seen = clock_.now();
    lru_.push_front(netns);
    entry.lru = lru_.begin();
    evict_over_capacity_locked(graveyard);
  }
  return entry;
}

void Resolver::touch_locked(Entry& entry) { lru_.splice(lru_.begin(), lru_, entry.lru); }

void Resolver::evict_over_capacity_locked(Graveyard& graveyard) {
  while (entries_.size() > config_.capacity && !lru_.empty()) {
    NetnsId victim = lru_.back();
    lru_.pop_back();
    auto it = entries_.find(victim);
    if (it->second.handle) graveyard.push_back(std::move(it->second.handle));
    entries_.erase(it);
    ++evictions_;
  }
}

bool Resolver::capture(NetnsId netns, NamespaceHandle handle, Source source) {
  Graveyard graveyard;  // destroyed after the lock is released
  auto owned = std::make_shared<const NamespaceHandle>(std::move(handle));
  std::lock_guard lock(mutex_);
  Entry& entry = insert_locked(netns, source, graveyard);
  if (entry.handle) {
    graveyard.push_back(std::move(owned));
    touch_locked(entry);
    return false;
  }
  entry.handle = std::move(owned);
  for (auto& [ifindex, device] : entry.queued) entry.devices.insert_or_assign(ifindex, std::move(device));
  entry.queued.clear();
  touch_locked(entry);
  return true;
}

void Resolver::queue_device(NetnsId netns, Device device) {
  Graveyard graveyard;
  std::lock_guard lock(mutex_);
  Entry& entry = insert_locked(netns, Source::netlink, graveyard);
  auto& target = entry.handle ? entry.devices : entry.queued;
  std::uint32_t ifindex = device.ifindex;
  target.insert_or_assign(ifindex, std::move(device));
  touch_locked(entry);
}

void Resolver::set_devices(NetnsId netns, std::vector<Device> devices) {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(netns);
  if (it == entries_.end()) return;
  auto& target = it->second.devices;
  target.clear();
  for (auto& device : devices) {
    std::uint32_t ifindex = device.ifindex;
    target.insert_or_assign(ifindex, std::move(device));
  }
}

void Resolver::apply_presence(const PresenceMap& seen) {
  const WallTime now = clock_.now();
  std::lock_guard lock(mutex_);
  for (auto& [netns, entry] : entries_) {
    auto it = seen.find(netns);
    if (it == seen.end()) {
      entry.pids = 0;
      entry.names.clear();
      if (!entry.lonely_since) entry.lonely_since = now;
      continue;
    }
    entry.pids = it->second.pids;
    entry.names.assign(it->second.names.begin(), it->second.names.end());
    entry.lonely_since.reset();
    touch_locked(entry);
  }
}

std::size_t Resolver::release_lonely() {
  Graveyard graveyard;
  const WallTime now = clock_.now();
  std::lock_guard lock(mutex_);
  std::size_t released = 0;
  for (auto it = entries_.begin(); it != entries_.end();) {
    const Entry& entry = it->second;
    if (entry.lonely_since && now - *entry.lonely_since >= config_.lonely_timeout) {
      if (entry.handle) graveyard.push_back(entry.handle);
      lru_.erase(entry.lru);
      it = entries_.erase(it);
      ++released;
    } else {
      ++it;
    }
  }
  lonely_releases_ += released;
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
  view.devices.reserve(entry.devices.size());
  for (const auto& [ifindex, device] : entry.devices) view.devices.push_back(device);
  for (const auto& [ifindex, device] : entry.queued) view.queued_devices.push_back(device);
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
                          [](const NamespaceView& a, const NamespaceView& b) {
                            return a.netns == b.netns;
                          }),
              views.end());
  return views;
}

std::optional<NamespaceView> Resolver::find(NetnsId netns) const {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(netns);
  if (it == entries_.end()) return std::nullopt;
  return view_locked(netns, it->second);
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

std::vector<NetnsId> Resolver::ids() const {
  std::vector<NetnsId> out;
  {
    std::lock_guard lock(mutex_);
    out.reserve(entries_.size());
    for (const auto& [netns, entry] : entries_) out.push_back(netns);
  }
  std::sort(out.begin(), out.end());
  return out;
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

void Resolver::count_resync() {
  std::lock_guard lock(mutex_);
  ++resyncs_;
}

void Resolver::count_capture_failure() {
  std::lock_guard lock(mutex_);
  ++capture_failures_;
}

ResolverStats Resolver::stats() const {
  std::lock_guard lock(mutex_);
  ResolverStats s;
  s.ready = ready_;
  s.capacity = config_.capacity;
  s.lonely_timeout_s = config_.lonely_timeout.count();
  s.namespaces = entries_.size();
  s.evictions = evictions_;
  s.lonely_releases = lonely_releases_;
  s.resyncs = resyncs_;
  s.handle_capture_failures = capture_failures_;
  return s;
}

}  // namespace netnsd
