#include "dump/interface_snapshot.h"

#include <algorithm>
#include <atomic>
#include <optional>
#include <thread>

#include "resolver/peers.h"
#include "util/defaults.h"

namespace netnsd {

std::map<NetnsId, InterfaceSnapshot> snapshot_interfaces(const std::vector<NamespaceView>& targets,
                                                         const std::vector<NamespaceView>& all, HostView& host) {
  std::map<NetnsId, InterfaceSnapshot> out;
  std::map<NetnsId, HandlePtr> handles;
  for (const NamespaceView& ns : all) {
    if (ns.handle) handles.emplace(ns.netns, ns.handle);
  }
  for (const NamespaceView& ns : targets) {
    if (ns.handle) handles.emplace(ns.netns, ns.handle);
  }

  // The listings run on kSnapshotListers threads, the caller's among them,
  // each taking the next namespace. Link dumps take the kernel's rtnl mutex
  // (rtnl_dumpit, still on 6.18), address dumps do not: one lister's
  // address dumps and parsing overlap the other's link dumps. Measured at
  // 1000 namespaces (tests/bench, 2 cores): 72 -> 48-53 ms, with 17.7% of
  // netnsd's CPU spinning on rtnl meanwhile; the floor itself on two
  // threads is 0.87x the floor on one. The threads inherit the dump's
  // lowered priority.
  std::vector<const NamespaceView*> listable;
  for (const NamespaceView& ns : targets) {
    if (ns.handle) {
      listable.push_back(&ns);
    } else {
      out[ns.netns].error = "no handle captured for this namespace";
    }
  }
  std::vector<std::optional<Result<std::vector<Device>>>> listed(listable.size());
  std::atomic<std::size_t> next{0};
  auto lister = [&] {
    for (std::size_t i; (i = next.fetch_add(1)) < listable.size();) {
      listed[i].emplace(host.list_links(*listable[i]->handle, listable[i]->netns, /*with_stats=*/true));
    }
  };
  {
    std::vector<std::jthread> helpers;
    // No second thread for a handful of namespaces: it would cost more to start than it saves.
    const std::size_t threads = std::min<std::size_t>(defaults::kSnapshotListers, listable.size() / 16 + 1);
    for (std::size_t t = 1; t < threads; ++t) helpers.emplace_back(lister);
    lister();
  }
  Listings live;
  for (std::size_t i = 0; i < listable.size(); ++i) {
    auto& links = *listed[i];
    if (!links) {
      out[listable[i]->netns].error = links.error().message();
      continue;
    }
    live.emplace(listable[i]->netns, std::move(links.value()));
  }

  // What the cache already resolved, and is unchanged, needs no question to
  // the kernel; the rest is resolved against the live listings and, for
  // namespaces outside `targets`, the cache.
  std::map<NetnsId, const std::vector<Device>*> known;
  for (const NamespaceView& ns : targets) known.emplace(ns.netns, &ns.devices);
  reuse_resolved_peers(live, known);
  if (has_unresolved_peers(live)) {
    Listings candidates = live;
    for (const NamespaceView& ns : all) {
      if (!candidates.count(ns.netns)) candidates.emplace(ns.netns, ns.devices);
    }
    resolve_peers(live, candidates, handles, host);
  }

  for (const NamespaceView& ns : targets) {
    auto it = live.find(ns.netns);
    if (it == live.end()) continue;
    InterfaceSnapshot& snap = out[ns.netns];
    snap.devices = std::move(it->second);
    std::sort(snap.devices.begin(), snap.devices.end(),
              [](const Device& a, const Device& b) { return a.ifindex < b.ifindex; });
    // Both lists are sorted by ifindex (the cache keeps them so).
    std::vector<std::uint32_t> cached, seen;
    cached.reserve(ns.devices.size());
    seen.reserve(snap.devices.size());
    for (const Device& d : ns.devices) cached.push_back(d.ifindex);
    for (const Device& d : snap.devices) seen.push_back(d.ifindex);
    std::set_difference(seen.begin(), seen.end(), cached.begin(), cached.end(),
                        std::back_inserter(snap.missing_from_cache));
    std::set_difference(cached.begin(), cached.end(), seen.begin(), seen.end(),
                        std::back_inserter(snap.stale_in_cache));
  }
  return out;
}

Status read_live_counters(NamespaceView& ns, HostView& host) {
  if (!ns.handle) return Error::os("no handle captured for this namespace", EBADF);
  auto links = host.list_links(*ns.handle, ns.netns, /*with_stats=*/true);
  if (!links) return links.error();
  std::map<std::uint32_t, LinkStats> now;
  for (Device& d : links.value()) {
    if (d.stats) now.emplace(d.ifindex, *d.stats);
  }
  for (Device& d : ns.devices) {
    auto it = now.find(d.ifindex);
    if (it != now.end()) d.stats = it->second;
  }
  return {};
}

}  // namespace netnsd
