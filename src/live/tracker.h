// Tracker: keeps the resolver live from kernel events.
//
// Sources (LiveSources), all handled on one event-loop thread:
// - eBPF tracepoints: a task entered a namespace (fork, unshare, setns) ->
//   capture its handle from /proc/PID/task/TID/ns/net (or a known bind
//   mount); a process outside the host namespace exited -> once it is gone,
//   check presence;
// - the mount table: bind mounts came or went -> check presence;
// - one link monitor per cached namespace -> devices; an overflow -> list
//   that namespace's links again;
// - timers: the periodic full rescan (the safety net) and the lonely flush.
// A presence check is a /proc + mountinfo pass that captures what is new and
// starts or stops each namespace's lonely clock; requests for it are
// coalesced. Heavy reading runs on a gatherer thread while the event thread
// keeps applying events: presence and mount passes, full rescans (every
// namespace's links) and re-listings after an overflow. The event thread
// only applies what was read, and a listing that events have overtaken in
// the meantime is not applied (an overflowed namespace is listed again).
//
// Without eBPF (no BTF, no privilege, --no-ebpf) it runs degraded on the
// other sources and says so in /readyz and in the dump.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "live/event_loop.h"
#include "live/sources.h"
#include "resolver/host.h"
#include "resolver/resolver.h"
#include "resolver/scanner.h"
#include "util/clock.h"
#include "util/defaults.h"

namespace netnsd {

struct TrackerConfig {
  std::chrono::milliseconds resync_interval = defaults::kResyncInterval;  // 0: no periodic rescan
  std::chrono::milliseconds flush_period = defaults::kFlushPeriod;
  bool use_ebpf = true;
  // See defaults.h.
  std::chrono::milliseconds presence_delay = defaults::kPresenceDelay;
  std::chrono::milliseconds presence_min_interval = defaults::kPresenceMinInterval;
  int link_rcvbuf = defaults::kLinkReceiveBuffer;
  // Where each namespace's routes, rules and neighbours are kept live (the
  // sources must then carry them); null: not kept (--no-routes).
  FactStore* facts = nullptr;
  std::size_t max_exit_watches = defaults::kMaxExitWatches;
  std::chrono::milliseconds exit_fallback_delay = defaults::kExitFallbackDelay;
  // Called on the event thread every heartbeat_interval (0: never): a loop
  // that stalls stops calling it (systemd's watchdog listens for it).
  std::chrono::milliseconds heartbeat_interval{0};
  std::function<void()> heartbeat;
};

// Threading: start() and stop() from one controlling thread; the accessors
// from any thread. Everything else runs on the tracker's own thread.
class Tracker final : public ResolverListener {
 public:
  // Every argument must outlive the tracker. `clock` drives the timers
  // (resync, flush, presence passes) and the times handed to the resolver.
  Tracker(Resolver& resolver, HostView& host, LiveSources& sources, const Clock& clock, TrackerConfig config);
  ~Tracker() override;
  Tracker(const Tracker&) = delete;
  Tracker& operator=(const Tracker&) = delete;

  // Starts the event thread: event sources first, then the initial scan.
  Status start();
  void stop();

  // Why the service is not ready yet (empty once it is).
  std::vector<std::string> not_ready_reasons() const;
  // Waits up to `timeout` for readiness (the initial scan done, the event
  // sources running); true once ready.
  bool wait_ready(std::chrono::milliseconds timeout);
  // A full rescan, soon (SIGHUP asks for one). Any thread.
  void request_resync();

  // Waits until the event thread has handled everything queued before the
  // call and every timer due by the clock (see EventLoop::sync). For tests
  // that drive a fake clock.
  bool sync();

  // ResolverListener (called on the tracker's thread).
  void on_captured(NetnsId netns, const HandlePtr& handle) override;
  void on_released(const std::vector<NetnsId>& gone) override;

 private:
  struct LinkWatch {
    std::unique_ptr<LinkMonitor> monitor;
    EventLoop::WatchId id;
    std::uint64_t last_event = 0;  // link_events_applied_ when its last event was applied
    NamespaceOwner owner;          // whose budget its routes and neighbours count in
    bool paused = false;           // its socket was busy: not watched until the wake
  };
  // What the gatherer is asked to read next; requests pile up while it reads.
  struct GatherRequest {
    std::optional<ScanMode> scan;  // a presence or mounts pass, or a full rescan
    WallTime as_of{};              // the earliest change the pass answers
    std::set<NetnsId> relists;     // namespaces whose links must be listed again
    std::set<NetnsId> fact_lists;  // namespaces whose routes, rules and neighbours must be listed
  };
  // What it read, for the event thread to apply.
  struct Gathered {
    std::optional<ScanInput> scan;
    WallTime as_of{};
    std::map<NetnsId, Result<std::vector<Device>>> relists;
    std::map<NetnsId, Result<FactListing>> fact_lists;
    std::uint64_t events_before = 0;  // link_events_applied_ when the reading began
  };
  struct ExitWatch {
    Fd fd;
    EventLoop::WatchId id;
  };

  void boot();
  void start_namespace_events();
  void start_mount_watch();
  void on_namespace_event(const NetnsEvent& event);
  void on_task_exit(const NetnsEvent& event);
  void capture_from_event(const NetnsEvent& event);
  void on_links_readable(NetnsId netns);
  void watch_links(NetnsId netns, const HandlePtr& handle);
  void unwatch_links(NetnsId netns);
  void relist(NetnsId netns);
  // Replaces the namespace's devices with a fresh listing; returns the other
  // namespaces whose veth ends it changed behind the kernel's back.
  std::set<NetnsId> apply_listing(NetnsId netns, std::vector<Device> links);
  void on_mounts_changed();
  void request_presence_pass(WallTime as_of);
  void request_gather(ScanMode mode, WallTime as_of);
  void request_relist(NetnsId netns);
  void request_fact_list(NetnsId netns);
  void on_fact(NetnsId netns, const NamespaceOwner& owner, const FactEvent& event);
  void gatherer_main();
  void apply_gathered(Gathered gathered);
  // No link event applied to `netns` since `events_before`.
  bool listing_fresh(NetnsId netns, std::uint64_t events_before) const;
  void resync();
  void flush();
  void publish_counters();
  void schedule_resync();
  void schedule_flush();
  void schedule_heartbeat();

  Resolver& resolver_;
  HostView& host_;
  LiveSources& sources_;
  const Clock& clock_;
  const TrackerConfig config_;
  Scanner scanner_;

  std::unique_ptr<EventLoop> loop_;
  std::thread thread_;

  // Event-thread state.
  std::unique_ptr<NamespaceEvents> events_;
  Watchable mounts_;
  std::unordered_map<NetnsId, LinkWatch> link_watches_;
  // Exited tasks not yet gone, by descriptor (see on_task_exit).
  std::unordered_map<int, ExitWatch> exiting_;
  bool presence_pending_ = false;
  bool exit_fallback_pending_ = false;
  WallTime presence_as_of_{};  // earliest change the pending pass answers
  SteadyTime last_presence_pass_{};
  LiveCounters counters_;
  // When each namespace's routes were last asked to be listed, and those
  // whose next listing waits for kFactListMinInterval.
  std::unordered_map<NetnsId, SteadyTime> fact_listed_;
  std::unordered_set<NetnsId> fact_list_deferred_;
  std::uint64_t seen_ebpf_drops_ = 0;  // ring buffer + inflight, at the last check
  SteadyTime last_pass_trim_{};        // the heap given back after a gathered pass

  // The gatherer thread reads /proc and mountinfo for presence and mount
  // passes (milliseconds at thousands of namespaces), so the event thread
  // keeps applying link events meanwhile; it posts what it read back.
  std::thread gatherer_;
  std::mutex gather_mutex_;
  std::condition_variable gather_wake_;
  GatherRequest gather_pending_;  // guarded by gather_mutex_
  bool gather_stop_ = false;      // guarded by gather_mutex_
  // Link events applied so far: a listing begun before the count moved for
  // its namespace is stale. Written by the event thread, read by the gatherer.
  std::atomic<std::uint64_t> link_events_applied_{0};

  // Read by not_ready_reasons() from any thread.
  std::atomic<bool> scanned_{false};
  std::atomic<bool> mounts_watched_{false};
  std::mutex ready_mutex_;
  std::condition_variable ready_cv_;  // notified once scanned_
};

}  // namespace netnsd
