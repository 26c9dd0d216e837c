#include "live/tracker.h"

#include <spdlog/spdlog.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <set>
#include <type_traits>
#include <variant>

#include "resolver/peers.h"
#include "util/heap.h"

namespace netnsd {

Tracker::Tracker(Resolver& resolver, HostView& host, LiveSources& sources, const Clock& clock, TrackerConfig config)
    : resolver_(resolver),
      host_(host),
      sources_(sources),
      clock_(clock),
      config_(std::move(config)),
      scanner_(resolver, host) {}

Tracker::~Tracker() {
  stop();
}

Status Tracker::start() {
  auto loop = EventLoop::create(clock_);
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
  for (auto& [fd, exiting] : exiting_) loop_->unwatch(exiting.id);
  exiting_.clear();
  events_.reset();
  mounts_.fd.reset();
}

bool Tracker::sync() {
  return loop_ && loop_->sync();
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
  start_namespace_events();
  start_mount_watch();
  ScanReport report = scanner_.scan(ScanMode::full);
  for (const auto& [netns, handle] : resolver_.handles()) {
    if (!link_watches_.count(netns)) watch_links(netns, handle);
  }
  trim_heap();  // the scan's temporaries are gone: keep only the cache
  publish_counters();
  spdlog::info("initial scan: {} namespaces, {} captured, {} not opened, {} ms", report.namespaces, report.captured,
               report.capture_failures, report.took.count() / 1000);
  schedule_resync();
  schedule_flush();
  schedule_heartbeat();
  resolver_.mark_ready();
  {
    std::lock_guard lock(ready_mutex_);
    scanned_ = true;
  }
  ready_cv_.notify_all();
}

bool Tracker::wait_ready(std::chrono::milliseconds timeout) {
  std::unique_lock lock(ready_mutex_);
  return ready_cv_.wait_for(lock, timeout, [this] { return not_ready_reasons().empty(); });
}

void Tracker::start_namespace_events() {
  std::string why;
  if (!config_.use_ebpf) {
    why = "eBPF disabled by --no-ebpf";
  } else {
    NetnsEventOptions options;
    options.ignored_tgid = ::getpid();
    options.host_netns = host_.host_info().netns;
    auto source = sources_.namespace_events(options, [this](const NetnsEvent& e) { on_namespace_event(e); });
    if (source) {
      events_ = std::move(source.value());
      auto id = loop_->watch(events_->ready_fd(), EPOLLIN, [this](std::uint32_t) {
        if (auto n = events_->consume(); !n) spdlog::warn("{}", n.error().message());
        publish_counters();
      });
      if (id) {
        spdlog::info("eBPF namespace events attached (fork, unshare, setns, exit tracepoints)");
        return;
      }
      events_.reset();
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
  auto watch = sources_.mount_watch();
  if (!watch) {
    spdlog::error("cannot watch bind mounts: {}", watch.error().message());
    return;
  }
  mounts_ = std::move(watch.value());
  auto id = loop_->watch(mounts_.fd.get(), mounts_.events, [this](std::uint32_t) { on_mounts_changed(); });
  if (!id) {
    spdlog::error("cannot watch bind mounts: {}", id.error().message());
    return;
  }
  mounts_watched_ = true;
}

void Tracker::on_namespace_event(const NetnsEvent& event) {
  ++counters_.events;
  switch (event.kind) {
    case NetnsEventKind::exit:
      on_task_exit(event);
      break;
    case NetnsEventKind::unshare:
    case NetnsEventKind::setns:
      request_presence_pass(clock_.now());  // the namespace it left may have no task now
      [[fallthrough]];
    case NetnsEventKind::fork:
      capture_from_event(event);
      break;
  }
}

// The exit event comes before the task has left /proc (see
// LiveSources::exit_watch): wait until it is really gone, then look for who
// is left.
void Tracker::on_task_exit(const NetnsEvent& event) {
  const WallTime now = clock_.now();
  if (exiting_.size() >= config_.max_exit_watches) {
    // A descriptor per exiting task would outgrow the fd budget in an exit
    // storm: past the bound, a timed pass (the task is most likely gone by
    // then; the periodic rescan catches it if not).
    ++counters_.exit_watch_fallbacks;
    if (!exit_fallback_pending_) {
      exit_fallback_pending_ = true;
      loop_->post_after(config_.exit_fallback_delay, [this, now] {
        exit_fallback_pending_ = false;
        request_presence_pass(now);
      });
    }
    return;
  }
  auto watch = sources_.exit_watch(static_cast<pid_t>(event.tgid), static_cast<pid_t>(event.tid));
  if (!watch) {
    request_presence_pass(now);  // already gone, or no pidfd support
    return;
  }
  const int fd = watch->get();
  auto id = loop_->watch(fd, EPOLLIN, [this, fd, now](std::uint32_t) {
    auto it = exiting_.find(fd);
    if (it == exiting_.end()) return;
    loop_->unwatch(it->second.id);
    exiting_.erase(it);  // closes the descriptor
    request_presence_pass(now);
  });
  if (!id) {
    request_presence_pass(now);
    return;
  }
  exiting_.emplace(fd, ExitWatch{std::move(watch.value()), *id});
}

namespace {

// Times netlink requests the event thread makes itself (LiveCounters).
class LoopNetlink {
 public:
  // `before`: time spent already in requests of the same call (a scan's
  // listings, say), counted with what follows.
  explicit LoopNetlink(LiveCounters& counters, std::chrono::microseconds before = {})
      : counters_(counters), began_(std::chrono::steady_clock::now() - before) {}
  ~LoopNetlink() {
    ++counters_.loop_netlink_calls;
    counters_.loop_netlink_us += static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - began_).count());
  }
  LoopNetlink(const LoopNetlink&) = delete;
  LoopNetlink& operator=(const LoopNetlink&) = delete;

 private:
  LiveCounters& counters_;
  std::chrono::steady_clock::time_point began_;
};

}  // namespace

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
    request_presence_pass(clock_.now());
    return;
  }
  const NamespaceOwner owner = host_.owner_of(fd->get());
  NamespaceHandle handle(std::move(fd.value()), path, owner);
  if (Status st = host_.attach(handle); !st) {
    resolver_.count_capture_failure();
    spdlog::debug("netns {} from pid {}: {}", event.netns, event.tgid, st.error().message());
    return;
  }
  if (!resolver_.capture(event.netns, std::move(handle), Source::ebpf)) {  // subscribes
    request_presence_pass(clock_.now());
    return;  // cached already, or no room for its owner
  }
  {
    LoopNetlink timed(counters_);
    relist(event.netns);
    resolve_cached_peers(resolver_, host_, event.netns);
  }
  request_presence_pass(clock_.now());  // pids and names
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

void Tracker::watch_links(NetnsId netns, const HandlePtr& handle) {
  if (link_watches_.count(netns) || !handle) return;
  // A request on the namespace's socket (a dump, from any thread) may take
  // its notifications in, or turn a read away: then it wakes the monitor.
  auto wake = [this, netns] {
    loop_->post([this, netns] {
      auto it = link_watches_.find(netns);
      if (it == link_watches_.end()) return;
      if (it->second.paused) {
        loop_->resume(it->second.id);
        it->second.paused = false;
      }
      on_links_readable(netns);
    });
  };
  auto monitor = sources_.link_monitor(*handle, netns, config_.link_rcvbuf, std::move(wake));
  if (!monitor) {
    spdlog::warn("netns {}: no link events: {}", netns, monitor.error().message());
    return;
  }
  auto id = loop_->watch((*monitor)->fd(), EPOLLIN, [this, netns](std::uint32_t) { on_links_readable(netns); });
  if (!id) {
    spdlog::warn("netns {}: no link events: {}", netns, id.error().message());
    return;
  }
  // A request on the socket (a dump's listing, from another thread) reads
  // its own replies: they must not wake this loop, only for it to be turned
  // away (EBUSY), paused and woken again; per namespace of a snapshot dump
  // that round trip cost more than the dump itself.
  (*monitor)->quiet_during_requests([loop = loop_.get(), id = *id, fd = (*monitor)->fd()](bool quiet) {
    loop->set_interest(id, fd, quiet ? 0u : static_cast<std::uint32_t>(EPOLLIN));
  });
  link_watches_.emplace(netns, LinkWatch{std::move(monitor.value()), *id, 0, handle->owner, false});
  // Listed after the monitor joined: a change between the two is in both.
  if (config_.facts) request_fact_list(netns);
}

void Tracker::unwatch_links(NetnsId netns) {
  auto it = link_watches_.find(netns);
  if (it == link_watches_.end()) return;
  loop_->unwatch(it->second.id);
  link_watches_.erase(it);  // closes the monitor
  if (config_.facts) config_.facts->forget(netns);
  fact_listed_.erase(netns);
}

void Tracker::on_links_readable(NetnsId netns) {
  auto it = link_watches_.find(netns);
  if (it == link_watches_.end()) return;
  bool peers_pending = false;
  bool relist_self = false;
  std::vector<NetnsId> relist_peers;
  LinkWatch& watch = it->second;
  std::function<void(const FactEvent&)> facts;
  if (config_.facts) {
    facts = [&](const FactEvent& event) {
      ++counters_.link_events;
      watch.last_event = ++link_events_applied_;
      on_fact(netns, watch.owner, event);
    };
  }
  bool devices_changed = false;
  auto links = [&](const LinkEvent& event) {
    ++counters_.link_events;
    if (!event.address) devices_changed = true;
    watch.last_event = ++link_events_applied_;
    if (event.address) {
      if (event.deleted) {
        resolver_.remove_address(netns, event.device.ifindex, *event.address);
      } else {
        resolver_.upsert_address(netns, event.device.ifindex, *event.address);
      }
    } else if (event.deleted) {
      // Moved to another namespace: which one, when netnsd holds it.
      std::optional<LinkRef> moved = event.moved_to;
      if (moved) moved->netns = namespace_called(resolver_, host_, netns, *moved);
      auto old = resolver_.remove_device(netns, event.device.ifindex, moved);
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
  };
  Status st = watch.monitor->read(links, facts, defaults::kMonitorDatagramsPerTurn);
  if (!st && st.error().code == EBUSY) {
    // A request holds the socket; it wakes us when it lets go. Until then
    // its readiness would only spin this loop.
    loop_->pause(watch.id);
    watch.paused = true;
    return;
  }
  if (!st) {
    if (st.error().code == ENOBUFS) {
      ++counters_.netlink_resyncs;
      spdlog::info("netns {}: link events overflowed, re-dumping", netns);
    } else {
      spdlog::warn("netns {}: {}", netns, st.error().message());
    }
    // Listed on the gatherer: an overflow comes with a burst, and the event
    // thread has the rest of the burst (and other namespaces) to apply.
    // One queue carries the namespace's links and facts: both are listed.
    request_relist(netns);
    if (config_.facts) request_fact_list(netns);
  } else if (devices_changed && config_.facts) {
    // A device going down or away takes its IPv4 routes with it without a
    // word (the kernel flushes them silently), and a lost carrier flags
    // them: a device change means listing the namespace's routes again.
    request_fact_list(netns);
  }
  if (relist_self || !relist_peers.empty() || peers_pending) {
    LoopNetlink timed(counters_);
    if (relist_self) relist(netns);
    for (NetnsId other : relist_peers) {
      relist(other);
      resolve_cached_peers(resolver_, host_, other);
    }
    if (peers_pending || relist_self) resolve_cached_peers(resolver_, host_, netns);
  }
  publish_counters();
}

void Tracker::relist(NetnsId netns) {
  HandlePtr handle = resolver_.handle_of(netns);
  if (!handle) return;
  auto links = host_.list_links(*handle, netns);
  if (!links) {
    spdlog::debug("netns {}: cannot list links: {}", netns, links.error().message());
    return;
  }
  for (NetnsId other : apply_listing(netns, std::move(links.value()))) {
    HandlePtr other_handle = resolver_.handle_of(other);
    if (!other_handle) continue;
    if (auto peer_links = host_.list_links(*other_handle, other)) {
      resolver_.set_devices(other, std::move(peer_links.value()));
    }
  }
}

std::set<NetnsId> Tracker::apply_listing(NetnsId netns, std::vector<Device> links) {
  std::map<std::uint32_t, std::uint32_t> now;  // ifindex -> peer ifindex (0: none)
  for (const Device& d : links) now[d.ifindex] = d.peer ? d.peer->ifindex : 0;
  std::vector<Device> before = resolver_.set_devices(netns, std::move(links));
  // A veth end that went away or changed while we were not listening (an
  // overflow): the kernel never tells the other end's namespace, so look
  // there too, once.
  std::set<NetnsId> others;
  for (const Device& d : before) {
    if (!d.peer || !d.peer->netns || *d.peer->netns == netns) continue;
    auto it = now.find(d.ifindex);
    if (it == now.end() || it->second != d.peer->ifindex) others.insert(*d.peer->netns);
  }
  return others;
}

// A bind mount came or went. New ones are captured at once (mountinfo only,
// no /proc walk); a namespace that lost a mount may have lost its last
// holder, which only a presence pass can tell (see apply_gathered).
void Tracker::on_mounts_changed() {
  request_gather(ScanMode::mounts, clock_.now());
}

void Tracker::request_presence_pass(WallTime as_of) {
  if (presence_pending_) {
    presence_as_of_ = std::min(presence_as_of_, as_of);
    return;
  }
  presence_pending_ = true;
  presence_as_of_ = as_of;
  auto delay = config_.presence_delay;
  auto rest = std::chrono::ceil<std::chrono::milliseconds>(last_presence_pass_ + config_.presence_min_interval -
                                                           clock_.steady());
  if (rest > delay) delay = rest;
  loop_->post_after(delay, [this] {
    presence_pending_ = false;
    last_presence_pass_ = clock_.steady();
    request_gather(ScanMode::presence, presence_as_of_);
  });
}

// Requests for a reading pile up while one is in progress: a full rescan
// covers a presence pass, which covers a mounts-only one.
void Tracker::request_gather(ScanMode mode, WallTime as_of) {
  auto weight = [](ScanMode m) { return m == ScanMode::full ? 2 : m == ScanMode::presence ? 1 : 0; };
  {
    std::lock_guard lock(gather_mutex_);
    GatherRequest& next = gather_pending_;
    if (next.scan) {
      if (weight(mode) > weight(*next.scan)) next.scan = mode;
      next.as_of = std::min(next.as_of, as_of);
    } else {
      next.scan = mode;
      next.as_of = as_of;
    }
  }
  gather_wake_.notify_one();
}

namespace {

// The change stream's record of a route, rule or neighbour that was added,
// changed or removed; nothing for any other outcome.
std::optional<Change> fact_change(NetnsId netns, FactOutcome outcome,
                                  const std::variant<Route, Rule, Neighbour>& fact) {
  if (outcome != FactOutcome::added && outcome != FactOutcome::changed && outcome != FactOutcome::removed) {
    return std::nullopt;
  }
  const bool added = outcome == FactOutcome::added, removed = outcome == FactOutcome::removed;
  Change c;
  c.netns = netns;
  std::visit(
      [&](const auto& f) {
        using T = std::decay_t<decltype(f)>;
        if constexpr (std::is_same_v<T, Route>) {
          c.kind = added ? ChangeKind::route_added : removed ? ChangeKind::route_removed : ChangeKind::route_changed;
          c.route = f;
        } else if constexpr (std::is_same_v<T, Rule>) {
          c.kind = removed ? ChangeKind::rule_removed : ChangeKind::rule_added;
          c.rule = f;
        } else {
          c.kind = added     ? ChangeKind::neighbour_added
                   : removed ? ChangeKind::neighbour_removed
                             : ChangeKind::neighbour_changed;
          c.neighbour = f;
        }
      },
      fact);
  return c;
}

}  // namespace

void Tracker::on_fact(NetnsId netns, const NamespaceOwner& owner, const FactEvent& event) {
  if (event.partial) {
    // A next hop appended to a route the message does not give whole.
    request_fact_list(netns);
    return;
  }
  const FactOutcome outcome = config_.facts->apply(netns, owner, event);
  if (auto change = fact_change(netns, outcome, event.fact)) {
    std::vector<Change> changes;
    changes.push_back(std::move(*change));
    resolver_.publish_facts(std::move(changes));
  }
  // Room freed in a namespace that dropped some: a listing finds them.
  if ((outcome == FactOutcome::removed && config_.facts->truncated(netns)) || outcome == FactOutcome::needs_listing) {
    request_fact_list(netns);
  }
}

void Tracker::request_fact_list(NetnsId netns) {
  if (!fact_list_deferred_.insert(netns).second) return;  // one is due already
  const SteadyTime now = clock_.steady();
  auto last = fact_listed_.find(netns);
  if (last != fact_listed_.end() && now - last->second < defaults::kFactListMinInterval) {
    const auto wait =
        std::chrono::duration_cast<std::chrono::milliseconds>(defaults::kFactListMinInterval - (now - last->second));
    loop_->post_after(wait, [this, netns] {
      fact_list_deferred_.erase(netns);
      if (link_watches_.count(netns)) request_fact_list(netns);
    });
    return;
  }
  fact_list_deferred_.erase(netns);
  fact_listed_[netns] = now;
  {
    std::lock_guard lock(gather_mutex_);
    gather_pending_.fact_lists.insert(netns);
  }
  gather_wake_.notify_one();
}

void Tracker::request_relist(NetnsId netns) {
  {
    std::lock_guard lock(gather_mutex_);
    gather_pending_.relists.insert(netns);
  }
  gather_wake_.notify_one();
}

void Tracker::gatherer_main() {
  for (;;) {
    GatherRequest request;
    {
      std::unique_lock lock(gather_mutex_);
      gather_wake_.wait(lock, [this] {
        return gather_stop_ || gather_pending_.scan || !gather_pending_.relists.empty() ||
               !gather_pending_.fact_lists.empty();
      });
      if (gather_stop_) return;
      request = std::exchange(gather_pending_, GatherRequest{});
      // Listings of routes are many and can wait: a round takes some, the
      // next round the rest (after whatever pass was asked for meanwhile).
      while (request.fact_lists.size() > defaults::kFactListsPerRound) {
        gather_pending_.fact_lists.insert(request.fact_lists.extract(std::prev(request.fact_lists.end())));
      }
    }
    auto gathered = std::make_shared<Gathered>();
    gathered->events_before = link_events_applied_.load();
    gathered->as_of = request.as_of;
    if (request.scan) gathered->scan = scanner_.gather(*request.scan);
    for (NetnsId netns : request.relists) {
      if (gathered->scan && gathered->scan->listings.count(netns)) continue;  // the rescan listed it
      if (HandlePtr handle = resolver_.handle_of(netns)) {
        gathered->relists.emplace(netns, host_.list_links(*handle, netns));
      }
    }
    for (NetnsId netns : request.fact_lists) {
      if (HandlePtr handle = resolver_.handle_of(netns)) {
        gathered->fact_lists.emplace(netns, host_.list_facts(*handle, config_.facts->budgets()));
      }
    }
    loop_->post([this, gathered] { apply_gathered(std::move(*gathered)); });
  }
}

bool Tracker::listing_fresh(NetnsId netns, std::uint64_t events_before) const {
  auto it = link_watches_.find(netns);
  return it == link_watches_.end() || it->second.last_event <= events_before;
}

void Tracker::apply_gathered(Gathered gathered) {
  auto fresh = [&](NetnsId netns) { return listing_fresh(netns, gathered.events_before); };
  if (gathered.scan) {
    const ScanMode mode = gathered.scan->mode;
    std::vector<NetnsId> mounted_before;
    if (mode == ScanMode::mounts) mounted_before = scanner_.mounted();
    ScanReport report = scanner_.apply(std::move(*gathered.scan), gathered.as_of, fresh);
    if (report.captured || report.netlink_took.count() > 0) {
      LoopNetlink timed(counters_, report.netlink_took);
      for (NetnsId netns : report.captured_ids) resolve_cached_peers(resolver_, host_, netns);
    }
    if (mode == ScanMode::mounts) {
      const std::vector<NetnsId> now = scanner_.mounted();
      if (!std::includes(now.begin(), now.end(), mounted_before.begin(), mounted_before.end())) {
        request_presence_pass(gathered.as_of);  // a mount went away
      }
    }
    spdlog::debug("{} pass: {} namespaces, {} captured, {} not opened, {} stale listings, {} us",
                  mode == ScanMode::mounts     ? "mount"
                  : mode == ScanMode::presence ? "presence"
                                               : "full",
                  report.namespaces, report.captured, report.capture_failures, report.stale_listings,
                  report.took.count());
  }
  for (auto& [netns, links] : gathered.relists) {
    if (!resolver_.contains(netns)) continue;
    if (!fresh(netns)) {
      request_relist(netns);  // events overtook the listing: list again
      continue;
    }
    if (!links) {
      spdlog::debug("netns {}: cannot list links: {}", netns, links.error().message());
      continue;
    }
    for (NetnsId other : apply_listing(netns, std::move(links.value()))) request_relist(other);
    LoopNetlink timed(counters_);
    resolve_cached_peers(resolver_, host_, netns);
  }
  for (auto& [netns, listing] : gathered.fact_lists) {
    auto watch = link_watches_.find(netns);
    if (watch == link_watches_.end() || !config_.facts) continue;  // gone meanwhile
    if (!fresh(netns)) {
      request_fact_list(netns);  // notifications overtook the listing: list again
      continue;
    }
    if (!listing) {
      spdlog::debug("netns {}: cannot list routes: {}", netns, listing.error().message());
      continue;
    }
    // What the listing found changed (a route the kernel flushed with its
    // device without a word, what an overflow hid) is on the stream too.
    std::vector<FactStore::Difference> differences;
    config_.facts->replace(netns, watch->second.owner, std::move(listing.value()), &differences);
    std::vector<Change> changes;
    for (const FactStore::Difference& d : differences) {
      if (auto change = fact_change(netns, d.outcome, d.fact)) changes.push_back(std::move(*change));
    }
    if (!changes.empty()) resolver_.publish_facts(std::move(changes));
  }
  publish_counters();
  // A pass allocates and frees per-namespace maps; give the pages back so
  // RSS follows the cache. At most once per kPassTrimInterval: a trim walks
  // the whole heap (milliseconds at 10,000 namespaces), and after the
  // initial scan the fact listings of every namespace come in thousands of
  // small passes.
  if (const SteadyTime now = clock_.steady(); now - last_pass_trim_ >= defaults::kPassTrimInterval) {
    last_pass_trim_ = now;
    trim_heap();
  }
}

// The safety net: everything read again, on the gatherer (every
// namespace's links at thousands of namespaces is tens of milliseconds).
void Tracker::resync() {
  request_gather(ScanMode::full, clock_.now());
}

void Tracker::request_resync() {
  if (loop_) loop_->post([this] { resync(); });
}

void Tracker::flush() {
  if (std::size_t released = resolver_.release_lonely()) spdlog::info("released {} lonely namespaces", released);
  if (events_) {
    // What the eBPF side lost cannot be replayed: rescan instead.
    NetnsEventCounters c = events_->counters();
    counters_.ringbuf_drops = c.ringbuf_drops;
    counters_.inflight_drops = c.inflight_drops;
    if (c.ringbuf_drops + c.inflight_drops > seen_ebpf_drops_) {
      spdlog::warn("{} eBPF events lost; rescanning", c.ringbuf_drops + c.inflight_drops - seen_ebpf_drops_);
      seen_ebpf_drops_ = c.ringbuf_drops + c.inflight_drops;
      resync();
    }
  }
  publish_counters();
  // What other threads freed since (the journal's batches after the initial
  // scan, dumps, fact listings) goes back to the system too: RSS follows
  // the cache within a flush period.
  trim_heap();
}

void Tracker::publish_counters() {
  resolver_.update_live_counters(counters_);
}

void Tracker::schedule_resync() {
  if (config_.resync_interval.count() <= 0) return;
  loop_->post_after(config_.resync_interval, [this] {
    resync();
    schedule_resync();
  });
}

void Tracker::schedule_heartbeat() {
  if (config_.heartbeat_interval.count() <= 0 || !config_.heartbeat) return;
  config_.heartbeat();
  loop_->post_after(config_.heartbeat_interval, [this] { schedule_heartbeat(); });
}

void Tracker::schedule_flush() {
  loop_->post_after(config_.flush_period, [this] {
    flush();
    schedule_flush();
  });
}

}  // namespace netnsd
