// Resolver: the cache of network namespaces, keyed by namespace inode.
//
// Threading: every method is safe to call from any thread. One mutex guards
// the cache; nothing under it does I/O. Handles that leave the cache
// (eviction, lonely release, a duplicate capture) are destroyed after the lock
// is dropped, and a reader holding a view keeps its handle open until done.
//
// The resolver owns no kernel access: callers (the Scanner, event sources)
// open handles and list devices, then hand the results in. Time comes from an
// injected Clock so the lonely and LRU rules are unit-testable.
#pragma once

#include <chrono>
#include <cstddef>
#include <list>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "resolver/changes.h"
#include "resolver/model.h"
#include "resolver/stats.h"
#include "util/clock.h"
#include "util/defaults.h"

namespace netnsd {

struct ResolverConfig {
  std::size_t capacity = defaults::kCapacity;  // what the cache may hold (after the fd budget)
  std::chrono::milliseconds lonely_timeout = defaults::kLonelyTimeout;
  // Namespaces not owned by the host's user namespace, per owner uid; 0 for
  // the default, capacity / kOwnerShareDivisor (at least 1).
  std::size_t max_per_owner = 0;
  std::size_t max_devices = defaults::kMaxDevices;  // devices kept per namespace
  // What was asked for, when the fd budget (plan_fd_budget) shrank it, and why.
  std::size_t configured_capacity = 0;  // 0: the same as capacity
  std::string capacity_limit;
};

// How many namespaces fit in `fd_limit` descriptors (RLIMIT_NOFILE) once
// `reserve` are kept for the rest of the process: `capacity`, or fewer, with
// a sentence saying why.
struct FdBudget {
  std::size_t capacity = 0;
  std::string limit;  // empty when capacity is what was asked for
};
FdBudget plan_fd_budget(std::size_t capacity, std::uint64_t fd_limit, std::size_t reserve);

// What a full scan saw of one namespace.
struct Presence {
  std::uint32_t pids = 0;                // processes with a task inside
  std::set<std::string> names;           // bind-mount names
  std::vector<ProcessInfo> processes;    // the first few of them, described
  std::vector<ContainerRef> containers;  // of all of them, each once
};
using PresenceMap = std::unordered_map<NetnsId, Presence>;

// Told when namespaces enter and leave the cache, on the thread that caused
// it and after the resolver's lock is released. on_captured runs before the
// capturing call returns, so a listener can subscribe to the namespace's
// events before anyone lists its devices.
class ResolverListener {
 public:
  virtual ~ResolverListener() = default;
  virtual void on_captured(NetnsId netns, const HandlePtr& handle) = 0;
  virtual void on_released(const std::vector<NetnsId>& gone) = 0;
};

class Resolver {
 public:
  Resolver(ResolverConfig config, const Clock& clock);
  Resolver(const Resolver&) = delete;
  Resolver& operator=(const Resolver&) = delete;

  // At most one listener; set it before events flow (not thread-safe itself).
  void set_listener(ResolverListener* listener) { listener_ = listener; }
  // Where every change the cache applies is published (null: nowhere); set
  // it before events flow. The feed must outlive the resolver's use of it.
  void set_feed(ChangeFeed* feed) { feed_ = feed; }
  // Publishes changes to namespaces' routes, rules and neighbours (kept
  // beside the cache, in a FactStore) in order with the cache's own, each
  // with the names of the devices it names as the cache knows them.
  void publish_facts(std::vector<Change> changes);

  // Adds a namespace with its handle. Returns false (and drops `handle`) when
  // the namespace already has one, or when it may not take a place.
  //
  // Places (capacity) go by owner (handle.owner). A namespace of the host's
  // user namespace may push out anything: a lonely namespace first (it is on
  // its way out), then the least recently active one not owned by the host,
  // then the least recently active one. One owned by another user namespace
  // competes only with its own kind: at most max_per_owner per owner uid (a
  // newer one pushes out the same owner's least recently active), and when
  // the cache is full it may push out a lonely unprivileged namespace or one
  // of its owner's, never a host namespace; if neither exists it is refused.
  // Evictions and refusals are counted by reason.
  bool capture(NetnsId netns, NamespaceHandle handle, Source source);
  // Whether a namespace of `owner` would find a place without pushing out
  // anyone it competes with (rescans only take what fits: no churn).
  bool has_room_for(const NamespaceOwner& owner) const;

  // Replaces the device list of a cached namespace (no-op if not cached);
  // returns the list it replaced. Counters (Device::stats) are dropped: the
  // cache never holds them. Keeps at most max_devices (the lowest
  // ifindexes); the rest are counted and the namespace is marked over the cap.
  std::vector<Device> set_devices(NetnsId netns, std::vector<Device> devices);
  // One device appeared or changed (RTM_NEWLINK); no-op if not cached, and a
  // new device past max_devices is refused (counted). A changed device keeps
  // its addresses (link messages carry none). Returns true when it
  // is a veth whose peer namespace is still unknown.
  bool upsert_device(NetnsId netns, Device device);
  // One address of device `ifindex` appeared or changed (RTM_NEWADDR): added,
  // or its flags and scope replaced. No-op (false) when the device is not
  // cached or nothing changed.
  bool upsert_address(NetnsId netns, std::uint32_t ifindex, Address address);
  // One address went away (RTM_DELADDR). False when it was not cached.
  bool remove_address(NetnsId netns, std::uint32_t ifindex, const Address& address);
  // One device went away (RTM_DELLINK); `moved_to` when the kernel said it
  // moved to another namespace. Returns it, if it was cached.
  std::optional<Device> remove_device(NetnsId netns, std::uint32_t ifindex,
                                      std::optional<LinkRef> moved_to = std::nullopt);

  // Veth peers. The cache indexes cross-namespace veth ends by (ifindex, peer
  // ifindex) so a new end finds its candidate partners without a scan.
  // Devices of `netns` whose veth peer or lower link namespace is still unknown.
  std::vector<Device> unresolved_links(NetnsId netns) const;
  // Namespaces other than `except` holding a device at `ifindex`, with their
  // handles (candidates for a lower link; a walk of the cache, for the rare
  // device stacked across namespaces).
  std::vector<std::pair<NetnsId, HandlePtr>> holders_of(std::uint32_t ifindex, NetnsId except) const;
  // Device `ifindex` of `netns` is stacked on `lower` (its namespace now
  // known), if it still names that link.
  void set_lower_netns(NetnsId netns, std::uint32_t ifindex, const LinkRef& lower);
  // Namespaces other than `except` holding a veth at `ifindex` whose peer is
  // `peer_ifindex`, with their handles.
  std::vector<std::pair<NetnsId, HandlePtr>> veth_ends(std::uint32_t ifindex, std::uint32_t peer_ifindex,
                                                       NetnsId except) const;
  // `a`:ai and `b`:bi are the two ends of one veth pair (the kernel said so):
  // each end gets the other's namespace.
  void link_veth_pair(NetnsId a, std::uint32_t ai, NetnsId b, std::uint32_t bi);

  // A task was seen entering the namespace: it is not lonely.
  void mark_present(NetnsId netns);

  // Applies a complete scan of tasks and bind mounts: namespaces in `seen`
  // get their pids and names refreshed and stop being lonely; cached ones not
  // in it become lonely (lonely_since = now) if they were not already.
  // Capacity: evictions take a lonely namespace first, then the least
  // recently active one (captures, device events, tasks entering); a scan
  // seeing a namespace does not count as activity.
  // `as_of` is when the caller learnt of the change (a process exit), so
  // that the lonely clock starts then rather than when the scan ran.
  // `gathered_at` is when the scan began reading the host: a namespace
  // captured or entered by a task after that is not judged by it.
  void apply_presence(const PresenceMap& seen, std::optional<WallTime> as_of = std::nullopt,
                      std::optional<WallTime> gathered_at = std::nullopt);

  // Applies a complete read of the bind mounts only: names change, presence
  // (pids, the lonely clock) is left to the next full scan.
  void apply_names(const std::map<NetnsId, std::set<std::string>>& names);

  // Releases namespaces that have been lonely for at least lonely_timeout.
  // Returns how many were released.
  std::size_t release_lonely();

  // A consistent copy, sorted by inode; restricted to `only` when given
  // (unknown inodes are skipped).
  std::vector<NamespaceView> snapshot(const std::optional<std::vector<NetnsId>>& only = {}) const;
  // Every namespace and the stats, copied under one lock: a consistent dump.
  std::pair<std::vector<NamespaceView>, ResolverStats> snapshot_with_stats() const;
  std::optional<NamespaceView> find(NetnsId netns) const;
  // Namespaces by bind-mount name.
  std::vector<NetnsId> find_by_name(const std::string& name) const;
  // Namespaces holding a device called `name`, with its ifindex there, by inode.
  std::vector<std::pair<NetnsId, std::uint32_t>> find_devices(const std::string& name) const;

  bool contains(NetnsId netns) const;
  bool has_handle(NetnsId netns) const;
  // The namespace's handle, or null when it is not cached.
  HandlePtr handle_of(NetnsId netns) const;
  // Every captured handle, sorted by inode.
  std::vector<std::pair<NetnsId, HandlePtr>> handles() const;

  // The resolver's clock.
  WallTime now() const { return clock_.now(); }

  void mark_ready();
  void set_degraded(std::string reason);
  void count_resync();
  void count_capture_failure();
  // Namespaces the last scan saw that the cache does not hold.
  void set_not_cached(std::size_t count);
  // Where the kernel adapters count the netlink messages they refuse.
  NetlinkCounters& netlink_counters() { return netlink_; }
  void update_live_counters(const LiveCounters& counters);
  ResolverStats stats() const;

 private:
  struct Entry {
    HandlePtr handle;
    std::vector<std::string> names;
    Source discovered_by = Source::procfs;
    WallTime first_seen;
    std::optional<WallTime> lonely_since;
    WallTime last_active;  // captured, or a task seen entering
    std::uint32_t pids = 0;
    std::vector<ProcessInfo> processes;
    std::vector<ContainerRef> containers;
    std::map<std::uint32_t, Device> devices;
    bool devices_over_cap = false;
    std::list<NetnsId>::iterator lru;  // position in lru_ (front = most recent)
    const NamespaceOwner& owner() const { return handle->owner; }
  };

  // The lock of a call that changes the cache: the changes it noted are
  // published (in order, still under the lock) when it ends.
  class Mutation;
  void note_locked(Change change);
  // The device-level changes from `before` to `after` (either null).
  void note_device_locked(NetnsId netns, const Device* before, const Device* after);
  // One address_added, _changed or _removed on `device`.
  void note_address_locked(ChangeKind kind, NetnsId netns, const Device& device, const Address& address);
  // A namespace's names, containers or lonely state changed: one netns_changed.
  void note_netns_locked(NetnsId netns, const Entry& entry, std::vector<std::string> changed);

  // What leaves the cache under the lock: handles to close and ids to
  // announce, both dealt with after the lock is released.
  struct Graveyard {
    std::vector<HandlePtr> handles;
    std::vector<NetnsId> gone;
  };
  void bury(Graveyard& graveyard);

  void touch_locked(Entry& entry);
  // Device `ifindex` of cached namespace `netns`, or null.
  Device* device_locked(NetnsId netns, std::uint32_t ifindex);
  // The least recently active entry, other than `except`, that `pick` accepts.
  template <class Pick>
  std::unordered_map<NetnsId, Entry>::iterator oldest_locked(NetnsId except, Pick pick);
  // Makes room for the entry just inserted at `added`; false when there is none for it.
  bool make_room_locked(NetnsId added, Graveyard& graveyard);
  std::size_t owned_by_locked(std::uint32_t uid) const;
  NamespaceView view_locked(NetnsId netns, const Entry& entry) const;
  ResolverStats stats_locked() const;
  void index_add_locked(NetnsId netns, const Device& device);
  void index_remove_locked(NetnsId netns, const Device& device);
  // `reason`: "evicted" or "released", for the change stream.
  void erase_locked(std::unordered_map<NetnsId, Entry>::iterator it, Graveyard& graveyard, const char* reason);

  const ResolverConfig config_;
  const std::size_t max_per_owner_;
  const Clock& clock_;
  NetlinkCounters netlink_;

  mutable std::mutex mutex_;
  std::unordered_map<NetnsId, Entry> entries_;
  std::list<NetnsId> lru_;
  std::unordered_multimap<std::uint64_t, NetnsId> veth_ends_;  // see veth_ends()
  bool ready_ = false;
  bool degraded_ = false;
  std::string degraded_reason_;
  LiveCounters live_;
  ResolverListener* listener_ = nullptr;
  ChangeFeed* feed_ = nullptr;
  std::vector<Change> changes_;  // noted, not yet published (see Mutation)
  CacheCounters counted_;
  std::size_t not_cached_ = 0;
};

}  // namespace netnsd
