// Tracker: keeps the resolver live from kernel events.
//
// Sources, all on one event-loop thread:
// - eBPF tracepoints: a task entered a namespace (fork, unshare, setns) ->
//   capture its handle from /proc/PID/task/TID/ns/net (or a known bind
//   mount); a process outside the host namespace exited -> check presence;
// - /proc/self/mountinfo (POLLPRI): bind mounts came or went -> check presence;
// - one rtnetlink socket per cached namespace on RTNLGRP_LINK -> devices;
//   ENOBUFS -> re-dump that namespace;
// - timers: the periodic full rescan (the safety net) and the lonely flush.
// A presence check is a /proc + mountinfo pass that captures what is new and
// starts or stops each namespace's lonely clock; requests for it are
// coalesced.
//
// Without eBPF (no BTF, no privilege, --no-ebpf) it runs degraded on the
// other sources and says so in /readyz and in the dump.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <optional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "kernel/bpf_events.h"
#include "kernel/event_loop.h"
#include "kernel/rtnl.h"
#include "resolver/host.h"
#include "resolver/resolver.h"
#include "resolver/scanner.h"

namespace netnsd {

struct TrackerConfig {
  std::chrono::milliseconds resync_interval{30000};  // 0: no periodic rescan
  std::chrono::milliseconds flush_period{10000};
  bool use_ebpf = true;
  // How long presence-check requests are gathered before one pass runs, and
  // the least time between two passes (each walks all of /proc).
  std::chrono::milliseconds presence_delay{20};
  std::chrono::milliseconds presence_min_interval{250};
  std::string mountinfo = "/proc/self/mountinfo";
  // Receive buffer of each namespace's link socket: a burst past it is an
  // ENOBUFS, answered by re-dumping that namespace.
  int link_rcvbuf = 1 << 20;
};

// Threading: start() and stop() from one controlling thread; the accessors
// from any thread. Everything else runs on the tracker's own thread.
class Tracker final : public ResolverListener {
 public:
  Tracker(Resolver& resolver, HostView& host, TrackerConfig config);
  ~Tracker() override;
  Tracker(const Tracker&) = delete;
  Tracker& operator=(const Tracker&) = delete;

  // Starts the event thread: event sources first, then the initial scan.
  Status start();
  void stop();

  // Why the service is not ready yet (empty once it is).
  std::vector<std::string> not_ready_reasons() const;

  // ResolverListener (called on the tracker's thread).
  void on_captured(NetnsId netns, const HandlePtr& handle) override;
  void on_released(const std::vector<NetnsId>& gone) override;

 private:
  struct LinkWatch {
    RtnlSocket socket;
    EventLoop::WatchId id;
  };

  void boot();
  void start_bpf();
  void start_mount_watch();
  void on_bpf_event(const NetnsEvent& event);
  void on_task_exit(const NetnsEvent& event);
  void capture_from_event(const NetnsEvent& event);
  void on_links_readable(NetnsId netns);
  void watch_links(NetnsId netns, const HandlePtr& handle);
  void unwatch_links(NetnsId netns);
  void relist(NetnsId netns);
  void resolve_peers_of(NetnsId netns);
  void on_mounts_changed();
  void request_presence_pass(WallTime as_of);
  void presence_pass();
  void request_gather(ScanMode mode, WallTime as_of);
  void gatherer_main();
  void apply_gathered(ScanInput input, WallTime as_of);
  void resync();
  void flush();
  void publish_counters();
  void schedule_resync();
  void schedule_flush();

  Resolver& resolver_;
  HostView& host_;
  const TrackerConfig config_;
  Scanner scanner_;

  std::unique_ptr<EventLoop> loop_;
  std::thread thread_;

  // Event-thread state.
  std::unique_ptr<NetnsEventSource> bpf_;
  Fd mountinfo_;
  std::unordered_map<NetnsId, LinkWatch> link_watches_;
  // Exited tasks not yet gone from /proc, by pidfd (see on_task_exit).
  std::unordered_map<int, std::pair<Fd, EventLoop::WatchId>> exiting_;
  bool presence_pending_ = false;
  WallTime presence_as_of_{};  // earliest change the pending pass answers
  EventLoop::Clock::time_point last_presence_pass_{};
  SystemClock wall_;
  LiveCounters counters_;
  std::uint64_t seen_ebpf_drops_ = 0;  // ring buffer + inflight, at the last check

  // The gatherer thread reads /proc and mountinfo for presence and mount
  // passes (milliseconds at thousands of namespaces), so the event thread
  // keeps applying link events meanwhile; it posts what it read back.
  std::thread gatherer_;
  std::mutex gather_mutex_;
  std::condition_variable gather_wake_;
  std::optional<ScanMode> gather_pending_;  // guarded by gather_mutex_
  WallTime gather_as_of_{};                 // guarded by gather_mutex_
  bool gather_stop_ = false;                // guarded by gather_mutex_

  // Read by not_ready_reasons() from any thread.
  std::atomic<bool> scanned_{false};
  std::atomic<bool> mounts_watched_{false};
};

}  // namespace netnsd
