// Scanner: a full pass over the host that brings the resolver in line with it.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "resolver/host.h"
#include "resolver/resolver.h"

namespace netnsd {

struct ScanReport {
  std::size_t namespaces = 0;        // distinct namespaces with a task or a bind mount
  std::size_t captured = 0;          // handles newly captured
  std::size_t capture_failures = 0;  // namespaces seen but not opened (task gone, EPERM, ...)
  std::size_t link_failures = 0;     // namespaces whose links could not be listed
  bool mounts_ok = true;             // mountinfo was read (presence applied only then)
  bool tasks_ok = true;              // /proc was walked completely (likewise)
  std::size_t capacity_skips = 0;    // not captured: no room for its owner (see Resolver::capture)
  std::size_t stale_listings = 0;    // gathered listings not applied: events had changed the namespace
  std::vector<NetnsId> captured_ids;
  std::chrono::microseconds took{0};
  // Of which: listing the devices of what it captured (and, for a full
  // scan, resolving veth peers), netlink requests made by the applying thread.
  std::chrono::microseconds netlink_took{0};
};

enum class ScanMode {
  full,      // tasks and mounts; re-list every cached namespace's links (a resync)
  presence,  // tasks and mounts; list links of newly captured namespaces only
  mounts,    // bind mounts only (names, new captures); presence is left alone
};

// What a scan reads from the host, before anything is applied.
struct ScanInput {
  ScanMode mode = ScanMode::full;
  std::chrono::steady_clock::time_point started;
  WallTime gathered_at;  // when the reading began
  Result<TaskScan> tasks{TaskScan{}};
  Result<std::vector<NetnsMount>> mounts{std::vector<NetnsMount>{}};
  // ScanMode::full: the links of every namespace the cache held when the
  // reading began (the heavy part of a resync, done off the applying thread).
  std::map<NetnsId, Result<std::vector<Device>>> listings;
  // The processes each namespace lists (TaskNetns::listed), described, and
  // the containers of all its processes, each once, by pid.
  std::unordered_map<NetnsId, std::vector<ProcessInfo>> processes;
  std::unordered_map<NetnsId, std::vector<ContainerRef>> containers;
};

// Whether a listing made during the reading may still replace what the
// cache holds for a namespace (false when newer events have changed it since).
using ListingFilter = std::function<bool(NetnsId)>;

// Threading: gather() may run on any thread, concurrently with anything;
// apply() and scan() on one thread at a time (the one that owns the cache's
// updates). They take the resolver's lock only for short, I/O-free updates.
class Scanner {
 public:
  Scanner(Resolver& resolver, HostView& host) : resolver_(resolver), host_(host) {}

  // Discovers namespaces from /proc tasks and nsfs bind mounts, captures a
  // handle for each new one, refreshes presence (which starts or stops the
  // lonely clock), then lists links (all, or only the new namespaces'). A
  // full scan also resolves veth peers; after the others the caller does
  // (Tracker::resolve_peers_of), for report.captured_ids.
  // `as_of`: when the change that asked for this scan happened (see
  // Resolver::apply_presence).
  ScanReport scan(ScanMode mode = ScanMode::full, std::optional<WallTime> as_of = std::nullopt);

  // scan() in two steps, so the reading (a walk of all of /proc, mountinfo,
  // and for a full scan every namespace's links) can happen off the thread
  // that applies events. apply() lists only namespaces it captures itself,
  // and applies a gathered listing only where `fresh` allows.
  ScanInput gather(ScanMode mode) const;
  ScanReport apply(ScanInput input, std::optional<WallTime> as_of = std::nullopt, const ListingFilter& fresh = {});

  // Capacity: a full cache only takes namespaces that newly appeared (a new
  // bind mount); ones a scan merely finds again (evicted earlier) wait, so
  // rescans do not churn the cache.

  // Where a namespace was bind-mounted at the last scan.
  std::vector<std::string> mount_points_of(NetnsId netns) const;
  // The namespaces bind-mounted at the last scan, sorted.
  std::vector<NetnsId> mounted() const;

 private:
  // Describes the processes a walk of /proc found (input.processes and
  // input.containers), reusing what earlier scans learnt of the same
  // process in the same namespace.
  void describe(const TaskScan& tasks, ScanInput& input) const;
  // apply(), step by step: who is present (tasks and bind mounts; the
  // mounts are kept), a handle for each new namespace with room for it
  // (their ids), and the devices of those and, for a full scan, of every
  // namespace whose gathered listing is still fresh.
  PresenceMap presence_of(const TaskScan& tasks, ScanInput& input);
  std::set<NetnsId> capture_new(const PresenceMap& presence, const TaskScan& tasks,
                                const std::vector<NetnsId>& mounted_before, ScanReport& report);
  void list_devices(const std::set<NetnsId>& captured, ScanInput& input, const ListingFilter& fresh,
                    ScanReport& report);

  Resolver& resolver_;
  HostView& host_;
  // Processes described by earlier scans, by pid: kept while a scan lists
  // them in the same namespace, re-read when they were not settled (no
  // container yet, for a process first seen moments ago, or its names not
  // written yet) or are old.
  struct Described {
    ProcessInfo info;
    NetnsId netns = 0;
    std::chrono::steady_clock::time_point at;
    std::chrono::steady_clock::time_point first;  // first described in this namespace
    bool settled = false;
  };
  mutable std::mutex described_mutex_;
  mutable std::unordered_map<std::uint32_t, Described> described_;
  std::vector<NetnsMount> mounts_;  // the last scan's, sorted by netns: a flat list, no node per namespace
  bool scanned_once_ = false;
};

}  // namespace netnsd
