#include "live/tracker.h"

#include <fcntl.h>
#include <malloc.h>
#include <spdlog/spdlog.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <set>

#include "kernel/netns.h"
#include "resolver/peers.h"

namespace netnsd {

Tracker::Tracker(Resolver& resolver, HostView& host, TrackerConfig config)
    : resolver_(resolver), host_(host), config_(std::move(config)), scanner_(resolver, host) {}

Tracker::~Tracker() { stop(); }

Status Tracker::start() {
  auto loop = EventLoop::create();
  if (!loop) return loop.error();
  loop_ = std::move(loop.value());
  resolver_.set_listener(this);
  loop_->post([this] { boot(); });
  thread_ = std::thread([this] { loop_->run(); });
  gatherer_ = std::thread([this] { gatherer_main(); });
  return {};
}

void Tracker::stop() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard lock(gather_mutex_);
    gather_stop_ = true;
  }
  gather_wake_.notify_all();
  gatherer_.join();
  loop_->stop();
  thread_.join();
  resolver_.set_listener(nullptr);
  for (auto& [netns, watch] : link_watches_) loop_->unwatch(watch.id);
  link_watches_.clear();
  for (auto& [fd, exiting] : exiting_) loop_->unwatch(exiting.second);
  exiting_.clear();
  bpf_.reset();
  mountinfo_.reset();
}

std::vector<std::string> Tracker::not_ready_reasons() const {
  std::vector<std::string> reasons;
  if (!scanned_) reasons.push_back("initial scan in progress");
  if (!mounts_watched_) reasons.push_back("bind-mount watch (mountinfo) not running");
  return reasons;
}

// Sources first, so nothing that happens during the scan is missed; the scan
// then captures everything (each capture subscribes to the namespace's link
// events before its links are listed).
void Tracker::boot() {
  start_bpf();
  start_mount_watch();
  ScanReport report = scanner_.scan(ScanMode::full);
  for (const auto& [netns, handle] : resolver_.handles()) {
    if (!link_watches_.count(netns)) watch_links(netns, handle);
  }
  resolver_.mark_ready();
  scanned_ = true;
  ::malloc_trim(0);  // the scan's temporaries are gone: keep only the cache
  publish_counters();
  spdlog::info("initial scan: {} namespaces, {} captured, {} not opened, {} ms", report.namespaces,
               report.captured, report.capture_failures, report.took.count() / 1000);
  schedule_resync();
  schedule_flush();
}

void Tracker::start_bpf() {
  std::string why;
  if (!config_.use_ebpf) {
    why = "eBPF disabled by --no-ebpf";
  } else {
    NetnsEventOptions options;
    options.ignored_tgid = ::getpid();
    if (auto self = current_netns()) options.host_netns = *self;
    auto source = NetnsEventSource::create(options, [this](const NetnsEvent& e) { on_bpf_event(e); });
    if (source) {
      bpf_ = std::move(source.value());
      auto id = loop_->watch(bpf_->ready_fd(), EPOLLIN, [this](std::uint32_t) {
        if (auto n = bpf_->consume(); !n) spdlog::warn("{}", n.error().message());
        publish_counters();
      });
      if (id) {
        spdlog::info("eBPF namespace events attached (fork, unshare, setns, exit tracepoints)");
        return;
      }
      bpf_.reset();
      why = "cannot watch the BPF ring buffer: " + id.error().message();
    } else {
      why = "cannot use eBPF: " + source.error().message();
    }
  }
  // Said once: the resolver carries it into /readyz and every dump.
  spdlog::warn("running degraded ({}); namespaces entered by tasks are found by rescans only", why);
  resolver_.set_degraded(why);
}

void Tracker::start_mount_watch() {
  mountinfo_.reset(::open(config_.mountinfo.c_str(), O_RDONLY | O_CLOEXEC));
  if (!mountinfo_) {
    spdlog::error("cannot open {}: {}", config_.mountinfo, std::strerror(errno));
    return;
  }
  // mountinfo signals a change in the mount table with POLLPRI|POLLERR.
  auto id = loop_->watch(mountinfo_.get(), EPOLLPRI | EPOLLERR, [this](std::uint32_t) { on_mounts_changed(); });
  if (!id) {
    spdlog::error("cannot watch {}: {}", config_.mountinfo, id.error().message());
    return;
  }
  mounts_watched_ = true;
}

void Tracker::on_bpf_event(const NetnsEvent& event) {
  ++counters_.events;
  switch (event.kind) {
    case NetnsEventKind::exit:
      on_task_exit(event);
      break;
    case NetnsEventKind::unshare:
    case NetnsEventKind::setns:
      request_presence_pass(wall_.now());  // the namespace it left may have no task now
      [[fallthrough]];
    case NetnsEventKind::fork:
      capture_from_event(event);
      break;
  }
}

// The exit tracepoint fires early in do_exit(): the task still shows in /proc
// with its namespace until it has released its memory, which for a large
// process takes a while. Wait for its pidfd to turn readable (the task is
// gone: it has left its namespaces) before looking for who is left.
void Tracker::on_task_exit(const NetnsEvent& event) {
  const WallTime now = wall_.now();
  // A thread that is not its group's leader needs a thread pidfd
  // (PIDFD_THREAD, Linux 6.9; <linux/pidfd.h> in Debian 12 predates it).
  constexpr unsigned kPidfdThread = O_EXCL;
  const bool leader = event.tid == event.tgid;
  Fd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, static_cast<pid_t>(event.tid), leader ? 0u : kPidfdThread)));
  if (!pidfd) {
    request_presence_pass(now);  // already gone (ESRCH), or no pidfd support
    return;
  }
  const int fd = pidfd.get();
  auto id = loop_->watch(fd, EPOLLIN, [this, fd, now](std::uint32_t) {
    auto it = exiting_.find(fd);
    if (it == exiting_.end()) return;
    loop_->unwatch(it->second.second);
    exiting_.erase(it);  // closes the pidfd
    request_presence_pass(now);
  });
  if (!id) {
    request_presence_pass(now);
    return;
  }
  exiting_.emplace(fd, std::make_pair(std::move(pidfd), *id));
}

void Tracker::capture_from_event(const NetnsEvent& event) {
  if (resolver_.has_handle(event.netns)) {
    resolver_.mark_present(event.netns);
    return;
  }
  std::string path = "/proc/" + std::to_string(event.tgid) + "/task/" + std::to_string(event.tid) + "/ns/net";
  auto fd = host_.open_netns(path, event.netns);
  if (!fd) {
    // The task is gone already (or moved on): a bind mount may still hold it.
    for (const std::string& mount : scanner_.mount_points_of(event.netns)) {
      fd = host_.open_netns(mount, event.netns);
      if (fd) {
        path = mount;
        break;
      }
    }
  }
  if (!fd) {
    resolver_.count_capture_failure();
    spdlog::debug("netns {} from pid {}: {}", event.netns, event.tgid, fd.error().message());
    request_presence_pass(wall_.now());
    return;
  }
  resolver_.capture(event.netns, {std::move(fd.value()), path}, Source::ebpf);  // subscribes (on_captured)
  relist(event.netns);
  resolve_peers_of(event.netns);
  request_presence_pass(wall_.now());  // pids and names
}

void Tracker::on_captured(NetnsId netns, const HandlePtr& handle) {
  if (!loop_->on_loop_thread()) {
    loop_->post([this, netns, handle] {
      if (resolver_.has_handle(netns)) watch_links(netns, handle);
    });
    return;
  }
  watch_links(netns, handle);
}

void Tracker::on_released(const std::vector<NetnsId>& gone) {
  // The monitor socket holds a reference to its namespace: close it now, or
  // the kernel never destroys the namespace.
  auto close_all = [this, gone] {
    for (NetnsId netns : gone) {
      if (!resolver_.contains(netns)) unwatch_links(netns);
    }
  };
  if (loop_->on_loop_thread()) {
    close_all();
  } else {
    loop_->post(close_all);
  }
}

// One socket per namespace, not one NETLINK_LISTEN_ALL_NSID socket in the
// host namespace. Measured with tests/bench/netlink_listen_bench (500
// namespaces, 400 changes, this 2-core VM, epoll like the tracker):
//
//                            per-namespace   LISTEN_ALL_NSID
//   setup                    6.5-6.8 ms      3.9-5.8 ms
//   kernel slab              ~1.6 MiB        ~0
//   descriptors              500             1
//   change -> event p50/p99  100/390 us      44/170 us
//
// LISTEN_ALL_NSID is cheaper, and both are two orders of magnitude inside
// the 10 ms freshness target, so the costs do not decide. Two other things
// do. (1) It only hears namespaces that have an nsid in ours, so netnsd
// would have to assign one to every namespace on the host: a visible,
// lasting change (`ip netns list-id`) from a service that should only
// observe. (2) One ENOBUFS loses events of unknown namespaces and forces a
// re-dump of all of them; a per-namespace socket re-dumps just its own.
// The price is ~3.4 KiB of kernel memory and one descriptor per namespace,
// and the socket, which pins its namespace, must close with the handle
// (on_released does that).
void Tracker::watch_links(NetnsId netns, const HandlePtr& handle) {
  if (link_watches_.count(netns) || !handle) return;
  auto sock = RtnlSocket::open_in(handle->fd.get());
  if (!sock) {
    spdlog::warn("netns {}: no link events: {}", netns, sock.error().message());
    return;
  }
  if (Status st = sock->subscribe_links(config_.link_rcvbuf); !st) {
    spdlog::warn("netns {}: no link events: {}", netns, st.error().message());
    return;
  }
  int fd = sock->fd();
  auto id = loop_->watch(fd, EPOLLIN, [this, netns](std::uint32_t) { on_links_readable(netns); });
  if (!id) {
    spdlog::warn("netns {}: no link events: {}", netns, id.error().message());
    return;
  }
  link_watches_.emplace(netns, LinkWatch{std::move(sock.value()), *id});
}

void Tracker::unwatch_links(NetnsId netns) {
  auto it = link_watches_.find(netns);
  if (it == link_watches_.end()) return;
  loop_->unwatch(it->second.id);
  link_watches_.erase(it);  // closes the socket
}

void Tracker::on_links_readable(NetnsId netns) {
  auto it = link_watches_.find(netns);
  if (it == link_watches_.end()) return;
  bool peers_pending = false;
  bool relist_self = false;
  std::vector<NetnsId> relist_peers;
  Status st = it->second.socket.read_link_events(
      [&](const LinkEvent& event) {
        ++counters_.link_events;
        if (event.deleted) {
          auto old = resolver_.remove_device(netns, event.device.ifindex);
          // A veth end that left (moved or deleted): the other end now points
          // elsewhere, and the kernel does not announce that side.
          if (old && old->peer && old->peer->netns) {
            if (*old->peer->netns == netns) {
              relist_self = true;
            } else {
              relist_peers.push_back(*old->peer->netns);
            }
          }
        } else {
          if (resolver_.upsert_device(netns, event.device)) peers_pending = true;
          // The first end of a new veth pair is announced before its peer
          // exists, and is not announced again once it does.
          if (event.device.kind == "veth" && !event.device.peer) relist_self = true;
        }
      },
      netns);
  if (!st) {
    if (st.error().code == ENOBUFS) {
      ++counters_.netlink_resyncs;
      spdlog::info("netns {}: link events overflowed, re-dumping", netns);
    } else {
      spdlog::warn("netns {}: {}", netns, st.error().message());
    }
    relist_self = true;
  }
  if (relist_self) relist(netns);
  for (NetnsId other : relist_peers) {
    relist(other);
    resolve_peers_of(other);
  }
  if (peers_pending || relist_self) resolve_peers_of(netns);
  publish_counters();
}

void Tracker::relist(NetnsId netns) {
  auto view = resolver_.find(netns);
  if (!view || !view->handle) return;
  auto links = host_.list_links(*view->handle, netns);
  if (!links) {
    spdlog::debug("netns {}: cannot list links: {}", netns, links.error().message());
    return;
  }
  std::map<std::uint32_t, std::uint32_t> now;  // ifindex -> peer ifindex (0: none)
  for (const Device& d : *links) now[d.ifindex] = d.peer ? d.peer->ifindex : 0;
  std::vector<Device> before = resolver_.set_devices(netns, std::move(links.value()));
  // A veth end that went away or changed while we were not listening (an
  // overflow): the kernel never tells the other end's namespace, so look
  // there too, once.
  std::set<NetnsId> others;
  for (const Device& d : before) {
    if (!d.peer || !d.peer->netns || *d.peer->netns == netns) continue;
    auto it = now.find(d.ifindex);
    if (it == now.end() || it->second != d.peer->ifindex) others.insert(*d.peer->netns);
  }
  for (NetnsId other : others) {
    auto peer_view = resolver_.find(other);
    if (!peer_view || !peer_view->handle) continue;
    if (auto peer_links = host_.list_links(*peer_view->handle, other)) {
      resolver_.set_devices(other, std::move(peer_links.value()));
    }
  }
}

// Finds the namespace of each veth end in `netns` whose peer is unknown:
// the candidates are the cached ends at the peer's ifindex pointing back at
// this one (the resolver indexes them), and the kernel says which of them
// this namespace calls by the peer's nsid. Both ends are then linked.
void Tracker::resolve_peers_of(NetnsId netns) {
  std::vector<Device> pending = resolver_.unresolved_veths(netns);
  if (pending.empty()) return;
  auto view = resolver_.find(netns);
  if (!view || !view->handle) return;
  for (const Device& d : pending) {
    auto candidates = resolver_.veth_ends(d.peer->ifindex, d.ifindex, netns);
    if (candidates.empty()) continue;
    std::vector<const NamespaceHandle*> handles;
    for (const auto& [other, handle] : candidates) handles.push_back(handle.get());
    auto ids = host_.nsids(*view->handle, handles);
    if (!ids) continue;
    std::optional<NetnsId> match;
    int matches = 0;
    for (std::size_t i = 0; i < candidates.size(); ++i) {
      if ((*ids)[i] == *d.peer->nsid) {
        match = candidates[i].first;
        ++matches;
      }
    }
    if (matches == 1) resolver_.link_veth_pair(netns, d.ifindex, *match, d.peer->ifindex);
  }
}

// A bind mount came or went. New ones are captured at once (mountinfo only,
// no /proc walk); a namespace that lost a mount may have lost its last
// holder, which only a presence pass can tell (see apply_gathered).
void Tracker::on_mounts_changed() { request_gather(ScanMode::mounts, wall_.now()); }

void Tracker::request_presence_pass(WallTime as_of) {
  if (presence_pending_) {
    presence_as_of_ = std::min(presence_as_of_, as_of);
    return;
  }
  presence_pending_ = true;
  presence_as_of_ = as_of;
  auto delay = config_.presence_delay;
  auto rest = std::chrono::ceil<std::chrono::milliseconds>(last_presence_pass_ + config_.presence_min_interval -
                                                           EventLoop::Clock::now());
  if (rest > delay) delay = rest;
  loop_->post_after(delay, [this] {
    presence_pending_ = false;
    presence_pass();
  });
}

void Tracker::presence_pass() {
  last_presence_pass_ = EventLoop::Clock::now();
  request_gather(ScanMode::presence, presence_as_of_);
}

// Requests for a reading pile up while one is in progress; a presence
// reading covers a mounts-only one.
void Tracker::request_gather(ScanMode mode, WallTime as_of) {
  {
    std::lock_guard lock(gather_mutex_);
    if (gather_pending_) {
      if (mode == ScanMode::presence) gather_pending_ = mode;
      gather_as_of_ = std::min(gather_as_of_, as_of);
    } else {
      gather_pending_ = mode;
      gather_as_of_ = as_of;
    }
  }
  gather_wake_.notify_one();
}

void Tracker::gatherer_main() {
  for (;;) {
    ScanMode mode;
    WallTime as_of;
    {
      std::unique_lock lock(gather_mutex_);
      gather_wake_.wait(lock, [this] { return gather_stop_ || gather_pending_; });
      if (gather_stop_) return;
      mode = *gather_pending_;
      as_of = gather_as_of_;
      gather_pending_.reset();
    }
    ScanInput input = scanner_.gather(mode);
    auto shared = std::make_shared<ScanInput>(std::move(input));
    loop_->post([this, shared, as_of] { apply_gathered(std::move(*shared), as_of); });
  }
}

void Tracker::apply_gathered(ScanInput input, WallTime as_of) {
  const ScanMode mode = input.mode;
  std::vector<NetnsId> mounted_before;
  if (mode == ScanMode::mounts) mounted_before = scanner_.mounted();
  ScanReport report = scanner_.apply(std::move(input), as_of);
  for (NetnsId netns : report.captured_ids) resolve_peers_of(netns);
  if (mode == ScanMode::mounts) {
    const std::vector<NetnsId> now = scanner_.mounted();
    if (!std::includes(now.begin(), now.end(), mounted_before.begin(), mounted_before.end())) {
      request_presence_pass(as_of);  // a mount went away
    }
  }
  spdlog::debug("{} pass: {} namespaces, {} captured, {} us", mode == ScanMode::mounts ? "mount" : "presence",
                report.namespaces, report.captured, report.took.count());
  publish_counters();
  // A pass allocates and frees per-namespace maps; give the pages back so
  // RSS follows the cache (at most a few times a second, ~1 ms).
  ::malloc_trim(0);
}

void Tracker::resync() {
  ScanReport report = scanner_.scan(ScanMode::full);
  ::malloc_trim(0);
  spdlog::debug("resync: {} namespaces, {} captured, {} link failures, {} us", report.namespaces,
                report.captured, report.link_failures, report.took.count());
  publish_counters();
}

void Tracker::flush() {
  if (std::size_t released = resolver_.release_lonely()) spdlog::info("released {} lonely namespaces", released);
  if (bpf_) {
    // What the eBPF side lost cannot be replayed: rescan instead.
    NetnsEventCounters c = bpf_->counters();
    counters_.ringbuf_drops = c.ringbuf_drops;
    counters_.inflight_drops = c.inflight_drops;
    if (c.ringbuf_drops + c.inflight_drops > seen_ebpf_drops_) {
      spdlog::warn("{} eBPF events lost; rescanning", c.ringbuf_drops + c.inflight_drops - seen_ebpf_drops_);
      seen_ebpf_drops_ = c.ringbuf_drops + c.inflight_drops;
      resync();
    }
  }
  publish_counters();
}

void Tracker::publish_counters() { resolver_.update_live_counters(counters_); }

void Tracker::schedule_resync() {
  if (config_.resync_interval.count() <= 0) return;
  loop_->post_after(config_.resync_interval, [this] {
    resync();
    schedule_resync();
  });
}

void Tracker::schedule_flush() {
  loop_->post_after(config_.flush_period, [this] {
    flush();
    schedule_flush();
  });
}

}  // namespace netnsd
