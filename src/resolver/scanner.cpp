#include "resolver/scanner.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>

#include "resolver/peers.h"

namespace netnsd {

namespace {

// How long a settled description is trusted before it is read again (a
// process may exec another command).
constexpr std::chrono::minutes kDescriptionAge{5};

// A process outside any container for this long is taken to stay there
// (a runtime places a container's first process in its cgroup before it
// runs); it is read again only when old.
constexpr std::chrono::seconds kSettleTime{2};

// A description worth keeping: its container is known with the names its
// runtime gives (a container being started may not have written its state
// when first read), or there is none and the process is not new.
bool settled(const ProcessInfo& p, std::chrono::steady_clock::duration known_for) {
  if (!p.container) return known_for >= kSettleTime;
  const ContainerRef& c = *p.container;
  return c.cgroup_owner != 0u || !c.name.empty() || !c.pod_name.empty();
}

}  // namespace

void Scanner::describe(const TaskScan& tasks, ScanInput& input) const {
  const auto now = std::chrono::steady_clock::now();
  std::lock_guard lock(described_mutex_);
  std::unordered_map<std::uint32_t, Described> kept;
  // The description of `pid`, kept or read (null when it is gone).
  auto description = [&](std::uint32_t pid, NetnsId netns) -> const ProcessInfo* {
    auto first = now;
    if (auto it = described_.find(pid); it != described_.end() && it->second.netns == netns) {
      first = it->second.first;
      if (it->second.settled && now - it->second.at < kDescriptionAge) {
        return &kept.emplace(pid, std::move(it->second)).first->second.info;
      }
    }
    auto info = host_.describe_process(pid);
    if (!info) return nullptr;  // gone since the walk
    const bool done = settled(*info, now - first);
    return &kept.emplace(pid, Described{std::move(*info), netns, now, first, done}).first->second.info;
  };
  for (const auto& [netns, task] : tasks) {
    std::vector<ProcessInfo>& list = input.processes[netns];
    std::vector<ContainerRef>& containers = input.containers[netns];
    auto add_container = [&](const ProcessInfo& p) {
      if (!p.container) return;
      const bool known = std::any_of(containers.begin(), containers.end(),
                                     [&](const ContainerRef& c) { return c.id == p.container->id; });
      if (!known) containers.push_back(*p.container);
    };
    for (std::uint32_t pid : task.listed) {
      if (const ProcessInfo* p = description(pid, netns)) {
        list.push_back(*p);
        add_container(*p);
      }
    }
    for (std::uint32_t pid : task.unlisted) {
      if (const ProcessInfo* p = description(pid, netns)) add_container(*p);
    }
  }
  described_.swap(kept);  // what this scan did not list is forgotten
}

ScanInput Scanner::gather(ScanMode mode) const {
  ScanInput input;
  input.mode = mode;
  input.started = std::chrono::steady_clock::now();
  input.gathered_at = resolver_.now();
  if (mode != ScanMode::mounts) input.tasks = host_.scan_tasks();
  if (mode != ScanMode::mounts && input.tasks) describe(input.tasks.value(), input);
  input.mounts = host_.scan_mounts();
  if (mode == ScanMode::full) {
    for (const auto& [netns, handle] : resolver_.handles())
      input.listings.emplace(netns, host_.list_links(*handle, netns));
  }
  return input;
}

std::vector<std::string> Scanner::mount_points_of(NetnsId netns) const {
  std::vector<std::string> out;
  auto [lo, hi] = std::equal_range(mounts_.begin(), mounts_.end(), NetnsMount{netns, {}},
                                   [](const NetnsMount& a, const NetnsMount& b) { return a.netns < b.netns; });
  for (auto it = lo; it != hi; ++it) out.push_back(it->mount_point);
  return out;
}

std::vector<NetnsId> Scanner::mounted() const {
  std::vector<NetnsId> out;
  for (const NetnsMount& m : mounts_) {
    if (out.empty() || out.back() != m.netns) out.push_back(m.netns);
  }
  return out;
}

ScanReport Scanner::scan(ScanMode mode, std::optional<WallTime> as_of) {
  return apply(gather(mode), as_of);
}

ScanReport Scanner::apply(ScanInput input, std::optional<WallTime> as_of, const ListingFilter& fresh) {
  ScanReport report;
  TaskScan tasks;
  if (input.tasks) {
    tasks = std::move(input.tasks.value());
  } else {
    report.tasks_ok = false;
    spdlog::warn("cannot walk /proc: {}", input.tasks.error().message());
  }
  if (!input.mounts) {
    report.mounts_ok = false;
    spdlog::warn("cannot read bind mounts: {}", input.mounts.error().message());
  }
  const std::vector<NetnsId> mounted_before = mounted();
  PresenceMap presence = presence_of(tasks, input);
  report.namespaces = presence.size();
  const std::set<NetnsId> captured = capture_new(presence, tasks, mounted_before, report);
  if (report.mounts_ok && report.tasks_ok) {
    if (input.mode != ScanMode::mounts) {
      std::size_t missing = 0;
      for (const auto& [netns, seen] : presence) missing += !resolver_.contains(netns);
      resolver_.set_not_cached(missing);
    }
    if (input.mode == ScanMode::mounts) {
      std::map<NetnsId, std::set<std::string>> names;
      for (auto& [netns, seen] : presence) names.emplace(netns, std::move(seen.names));
      resolver_.apply_names(names);
    } else {
      resolver_.apply_presence(presence, as_of, input.gathered_at);
    }
  }
  const auto listing_began = std::chrono::steady_clock::now();
  list_devices(captured, input, fresh, report);
  report.netlink_took =
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - listing_began);

  if (input.mode == ScanMode::full) resolver_.count_resync();
  scanned_once_ = true;
  report.took = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - input.started);
  return report;
}

PresenceMap Scanner::presence_of(const TaskScan& tasks, ScanInput& input) {
  PresenceMap presence;
  for (const auto& [netns, task] : tasks) {
    Presence& p = presence[netns];
    p.pids = task.pids;
    if (auto described = input.processes.find(netns); described != input.processes.end()) {
      p.processes = std::move(described->second);
    }
    if (auto found = input.containers.find(netns); found != input.containers.end()) {
      p.containers = std::move(found->second);
    }
  }
  if (input.mounts) {
    mounts_ = std::move(input.mounts.value());
    std::sort(mounts_.begin(), mounts_.end(),
              [](const NetnsMount& a, const NetnsMount& b) { return a.netns < b.netns; });
    mounts_.shrink_to_fit();
    for (const NetnsMount& m : mounts_) presence[m.netns].names.insert(mount_name(m.mount_point));
  }
  return presence;
}

std::set<NetnsId> Scanner::capture_new(const PresenceMap& presence, const TaskScan& tasks,
                                       const std::vector<NetnsId>& mounted_before, ScanReport& report) {
  std::set<NetnsId> held, captured;
  for (const auto& [netns, handle] : resolver_.handles()) held.insert(netns);
  for (const auto& [netns, seen] : presence) {
    if (held.count(netns)) continue;
    // A handle first: it says who owns the namespace, and the owner decides
    // whether there is room for it.
    std::optional<NamespaceHandle> handle;
    Source source = Source::procfs;
    std::string last_error;
    if (auto task = tasks.find(netns); task != tasks.end()) {
      if (auto fd = host_.open_netns(task->second.task_path, netns)) {
        handle.emplace(std::move(fd.value()), task->second.task_path);
      } else {
        last_error = fd.error().message();
      }
    }
    for (const std::string& path : mount_points_of(netns)) {
      if (handle) break;
      if (auto fd = host_.open_netns(path, netns)) {
        handle.emplace(std::move(fd.value()), path);
        source = Source::bind_mount;
      } else {
        last_error = fd.error().message();
      }
    }
    if (!handle) {
      ++report.capture_failures;
      resolver_.count_capture_failure();
      spdlog::debug("cannot capture netns {}: {}", netns, last_error);
      continue;
    }
    handle->owner = host_.owner_of(handle->fd.get());
    const bool newly_mounted = scanned_once_ && !seen.names.empty() &&
                               !std::binary_search(mounted_before.begin(), mounted_before.end(), netns);
    if (!newly_mounted && !resolver_.has_room_for(handle->owner)) {
      ++report.capacity_skips;  // found again after an eviction: no churn on rescans
      continue;
    }
    if (Status st = host_.attach(*handle); !st) {
      ++report.capture_failures;
      resolver_.count_capture_failure();
      spdlog::debug("cannot capture netns {}: {}", netns, st.error().message());
      continue;
    }
    if (resolver_.capture(netns, std::move(*handle), source)) {
      ++report.captured;
      captured.insert(netns);
      report.captured_ids.push_back(netns);
    } else {
      ++report.capacity_skips;
    }
  }
  return captured;
}

void Scanner::list_devices(const std::set<NetnsId>& captured, ScanInput& input, const ListingFilter& fresh,
                           ScanReport& report) {
  const ScanMode mode = input.mode;
  std::map<NetnsId, HandlePtr> handles;
  for (auto& [netns, handle] : resolver_.handles()) handles.emplace(netns, std::move(handle));
  Listings listings;
  for (const auto& [netns, handle] : handles) {
    Result<std::vector<Device>> links = Error::logic("not listed");
    if (captured.count(netns)) {
      links = host_.list_links(*handle, netns);
    } else if (mode != ScanMode::full) {
      continue;
    } else if (auto gathered = input.listings.find(netns); gathered == input.listings.end()) {
      continue;  // captured after the reading began: it was listed then
    } else if (fresh && !fresh(netns)) {
      ++report.stale_listings;
      continue;
    } else {
      links = std::move(gathered->second);
    }
    if (!links) {
      ++report.link_failures;
      spdlog::debug("cannot list links of netns {}: {}", netns, links.error().message());
      continue;
    }
    listings.emplace(netns, std::move(links.value()));
  }
  if (mode == ScanMode::full) {
    // Peers already resolved and unchanged are not asked about again.
    std::vector<NamespaceView> cached = resolver_.snapshot();
    std::map<NetnsId, const std::vector<Device>*> known;
    for (const NamespaceView& view : cached) known.emplace(view.netns, &view.devices);
    reuse_resolved_peers(listings, known);
    if (has_unresolved_peers(listings)) resolve_peers(listings, listings, handles, host_);
  }
  for (auto& [netns, devices] : listings) resolver_.set_devices(netns, std::move(devices));
}

}  // namespace netnsd
