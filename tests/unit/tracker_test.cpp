// The Tracker's state machine without privileges: the real tracker, event
// loop and gatherer threads over a scripted host (FakeHost), scripted event
// sources (FakeSources) and a fake clock. tests/privileged/live_test.cpp
// checks the same behaviours on the real kernel.
#include "live/tracker.h"

#include <gtest/gtest.h>

#include <future>
#include <thread>

#include "fake_sources.h"
#include "fakes.h"
#include "system.h"

namespace netnsd {
namespace {

using namespace std::chrono_literals;
using testing::eventually;
using testing::plain;
using testing::veth;

constexpr NetnsId kHost = 1;

NetnsEvent event(NetnsEventKind kind, std::uint32_t tid, NetnsId netns) {
  NetnsEvent e;
  e.kind = kind;
  e.tgid = tid;
  e.tid = tid;
  e.netns = netns;
  return e;
}

class TrackerTest : public ::testing::Test {
 protected:
  TrackerTest() {
    host_.tasks[kHost] = {100, "/proc/1/task/1/ns/net", {}, {}};
    host_.links[kHost] = {plain(1, "lo")};
    config_.resync_interval = 0ms;  // the tests say when
    config_.flush_period = 100ms;
  }
  ~TrackerTest() override {
    if (tracker_) tracker_->stop();
  }

  void start(ResolverConfig resolver_config = {}) {
    resolver_ = std::make_unique<Resolver>(resolver_config, clock_);
    tracker_ = std::make_unique<Tracker>(*resolver_, host_, sources_, clock_, config_);
    ASSERT_TRUE(tracker_->start());
    ASSERT_TRUE(eventually([&] { return tracker_->not_ready_reasons().empty(); }));
    ASSERT_TRUE(tracker_->sync());  // boot has finished: its timers are set
  }
  // A namespace with a task in it and only lo, on the host before start().
  void add_namespace(NetnsId netns, std::uint32_t pid) {
    auto hold = host_.lock();
    host_.tasks[netns] = {1, "/proc/" + std::to_string(pid) + "/task/" + std::to_string(pid) + "/ns/net", {}, {}};
    host_.links[netns] = {plain(1, "lo")};
  }
  // Moves the clock, then lets the event thread run what fell due.
  void advance(std::chrono::milliseconds by) {
    clock_.advance(by);
    ASSERT_TRUE(tracker_->sync());
  }
  std::vector<std::string> device_names(NetnsId netns) {
    std::vector<std::string> out;
    if (auto view = resolver_->find(netns)) {
      for (const Device& d : view->devices) out.push_back(d.name);
    }
    return out;
  }
  // Nothing more happens for a while (the gatherer and the event thread are idle).
  void quiet() {
    std::this_thread::sleep_for(50ms);
    ASSERT_TRUE(tracker_->sync());
  }

  testing::FakeClock clock_;
  testing::FakeHost host_;
  testing::FakeSources sources_;
  TrackerConfig config_;
  std::unique_ptr<Resolver> resolver_;
  std::unique_ptr<Tracker> tracker_;
};

TEST_F(TrackerTest, BootScansOnceMonitorsEveryNamespaceAndFiltersItsOwnNamespace) {
  add_namespace(50, 9);
  start();
  EXPECT_EQ(host_.task_scans, 1);
  EXPECT_TRUE(resolver_->stats().ready);
  EXPECT_TRUE(sources_.monitoring(kHost));
  EXPECT_TRUE(sources_.monitoring(50));
  EXPECT_EQ(sources_.options().host_netns, kHost) << "exits in the host namespace are filtered in the kernel";
  EXPECT_EQ(sources_.options().ignored_tgid, ::getpid());
  EXPECT_FALSE(resolver_->stats().degraded);
}

TEST_F(TrackerTest, ATaskEnteringANamespaceCapturesItAndListsItsLinks) {
  start();
  {
    auto hold = host_.lock();
    host_.links[50] = {plain(1, "lo"), plain(2, "eth0")};
  }
  sources_.emit(event(NetnsEventKind::unshare, 9, 50));
  ASSERT_TRUE(eventually([&] { return device_names(50).size() == 2; }));
  auto view = resolver_->find(50);
  EXPECT_EQ(view->discovered_by, Source::ebpf);
  EXPECT_EQ(view->handle->path, "/proc/9/task/9/ns/net");
  EXPECT_TRUE(sources_.monitoring(50));
  EXPECT_EQ(resolver_->stats().live.events, 1u);
}

TEST_F(TrackerTest, PresenceRequestsAreCoalescedIntoOnePass) {
  config_.presence_delay = 20ms;
  config_.presence_min_interval = 250ms;
  start();
  const int after_boot = host_.task_scans;
  // 50 processes exit; they are gone at once (no exit watch needed), and
  // each asks for a presence pass.
  for (std::uint32_t tid = 100; tid < 150; ++tid) {
    sources_.task_gone(static_cast<pid_t>(tid));
    sources_.emit(event(NetnsEventKind::exit, tid, 50));
  }
  ASSERT_TRUE(eventually([&] { return resolver_->stats().live.events == 50; }));
  quiet();
  EXPECT_EQ(host_.task_scans, after_boot) << "the pass waits presence_delay, gathering requests";
  advance(20ms);
  ASSERT_TRUE(eventually([&] { return host_.task_scans == after_boot + 1; }));
  quiet();
  EXPECT_EQ(host_.task_scans, after_boot + 1) << "50 requests, one walk of /proc";

  // The next request waits out the minimum interval since the last pass.
  sources_.task_gone(200);
  sources_.emit(event(NetnsEventKind::exit, 200, 50));
  ASSERT_TRUE(eventually([&] { return resolver_->stats().live.events == 51; }));
  advance(20ms);
  quiet();
  EXPECT_EQ(host_.task_scans, after_boot + 1) << "passes are at least presence_min_interval apart";
  advance(250ms);
  EXPECT_TRUE(eventually([&] { return host_.task_scans == after_boot + 2; }));
}

TEST_F(TrackerTest, AnExitCountsOnlyOnceTheTaskIsGoneAndTheLonelyClockStartsAtTheExit) {
  add_namespace(50, 9);
  start(testing::resolver_config(defaults::kCapacity, 5s));
  ASSERT_TRUE(resolver_->contains(50));
  {
    auto hold = host_.lock();
    host_.tasks.erase(50);  // what /proc will say once the task has gone
  }
  const WallTime exited = clock_.now();
  sources_.emit(event(NetnsEventKind::exit, 9, 50));
  ASSERT_TRUE(eventually([&] { return sources_.exit_watches() == 1; }));
  const int scans = host_.task_scans;
  advance(1s);
  quiet();
  EXPECT_EQ(host_.task_scans, scans) << "no pass while the exiting task is still there";
  EXPECT_FALSE(resolver_->find(50)->lonely_since);

  sources_.task_gone(9);
  // The watch fires on the event thread, which then asks for a pass
  // presence_delay later: move the clock until it has run.
  ASSERT_TRUE(eventually([&] {
    advance(config_.presence_delay);
    return resolver_->find(50) && resolver_->find(50)->lonely_since;
  }));
  EXPECT_EQ(*resolver_->find(50)->lonely_since, exited) << "the lonely clock starts at the exit event";

  // Released on the first flush at or after exited + 5 s, not before.
  for (int step = 0; step < 60 && resolver_->contains(50); ++step) {
    advance(config_.flush_period);
    const auto since = clock_.now() - exited;
    if (since < 5s) {
      ASSERT_TRUE(resolver_->contains(50)) << "released early, " << (since / 1ms) << " ms after the exit";
    }
  }
  const auto released_after = clock_.now() - exited;
  EXPECT_FALSE(resolver_->contains(50));
  EXPECT_LT(released_after, 5s + config_.flush_period + config_.flush_period);
  EXPECT_EQ(resolver_->stats().lonely_releases, 1u);
  EXPECT_TRUE(eventually([&] { return !sources_.monitoring(50); })) << "the link monitor pins the namespace";
}

TEST_F(TrackerTest, LinkEventsAreAppliedAsTheyCome) {
  add_namespace(50, 9);
  start();
  auto links = sources_.links(50);
  ASSERT_TRUE(links);
  links->push(LinkEvent{false, plain(2, "eth0"), {}, {}});
  ASSERT_TRUE(eventually([&] { return device_names(50) == std::vector<std::string>{"lo", "eth0"}; }));
  Device renamed = plain(2, "wan0");
  renamed.up = true;
  links->push(LinkEvent{false, renamed, {}, {}});
  ASSERT_TRUE(eventually([&] { return device_names(50) == std::vector<std::string>{"lo", "wan0"}; }));
  EXPECT_TRUE(resolver_->find(50)->devices[1].up);
  links->push(LinkEvent{true, renamed, {}, {}});
  ASSERT_TRUE(eventually([&] { return device_names(50) == std::vector<std::string>{"lo"}; }));
  EXPECT_EQ(resolver_->stats().live.link_events, 3u);
}

TEST_F(TrackerTest, AnOverflowRelistsTheNamespaceAndIsCounted) {
  add_namespace(50, 9);
  start();
  {
    auto hold = host_.lock();
    host_.links[50] = {plain(1, "lo"), plain(2, "eth0"), plain(3, "eth1")};
  }
  const int listings = host_.link_listings;
  sources_.links(50)->push(LinkEvent{false, plain(9, "lost-with-the-overflow"), {}, {}});
  sources_.links(50)->overflow();
  ASSERT_TRUE(eventually([&] { return device_names(50).size() == 3; }));
  EXPECT_EQ(device_names(50), (std::vector<std::string>{"lo", "eth0", "eth1"}));
  EXPECT_EQ(resolver_->stats().live.netlink_resyncs, 1u);
  EXPECT_EQ(host_.link_listings, listings + 1) << "only the overflowed namespace is listed again";
}

TEST_F(TrackerTest, ANewVethIsLinkedToItsPeerAcrossNamespaces) {
  add_namespace(50, 9);
  add_namespace(60, 10);
  {
    auto hold = host_.lock();
    host_.nsid_table[{50, 60}] = 3;  // 50 calls 60 "3"
    host_.nsid_table[{60, 50}] = 4;
  }
  start();
  // `ip link add v60 netns 60 type veth peer v50 netns 50`, as each side hears it.
  sources_.links(60)->push(LinkEvent{false, veth(5, "v60", 7, 4), {}, {}});
  sources_.links(50)->push(LinkEvent{false, veth(7, "v50", 5, 3), {}, {}});
  auto peer_of = [&](NetnsId netns, std::size_t i) -> std::optional<NetnsId> {
    auto view = resolver_->find(netns);
    if (!view || view->devices.size() <= i || !view->devices[i].peer) return std::nullopt;
    return view->devices[i].peer->netns;
  };
  ASSERT_TRUE(eventually([&] { return peer_of(60, 1) == NetnsId{50} && peer_of(50, 1) == NetnsId{60}; }))
      << "v60's peer: " << peer_of(60, 1).value_or(0) << ", v50's peer: " << peer_of(50, 1).value_or(0);
}

TEST_F(TrackerTest, AnEvictionClosesTheEvictedNamespacesMonitor) {
  add_namespace(50, 9);
  start(testing::resolver_config(2, defaults::kLonelyTimeout));
  ASSERT_TRUE(sources_.monitoring(kHost) && sources_.monitoring(50));
  {
    auto hold = host_.lock();
    host_.links[60] = {plain(1, "lo")};
  }
  sources_.emit(event(NetnsEventKind::fork, 11, 60));
  ASSERT_TRUE(eventually([&] { return resolver_->contains(60); }));
  EXPECT_EQ(resolver_->stats().evictions, 1u);
  const NetnsId evicted = resolver_->contains(kHost) ? 50 : kHost;
  EXPECT_FALSE(resolver_->contains(evicted));
  EXPECT_TRUE(eventually([&] { return !sources_.monitoring(evicted); }));
  EXPECT_TRUE(sources_.monitoring(60));
}

TEST_F(TrackerTest, ANewBindMountIsCapturedFromTheMountTable) {
  start();
  {
    auto hold = host_.lock();
    host_.mounts.push_back({70, "/run/netns/blue"});
    host_.links[70] = {plain(1, "lo")};
  }
  sources_.mounts_changed();
  ASSERT_TRUE(eventually([&] { return resolver_->contains(70); }));
  auto view = resolver_->find(70);
  EXPECT_EQ(view->discovered_by, Source::bind_mount);
  EXPECT_EQ(view->names, std::vector<std::string>{"blue"});
}

TEST_F(TrackerTest, WithoutNamespaceEventsItRunsDegradedAndSaysWhy) {
  sources_.namespace_events_fail = true;
  start();
  ResolverStats stats = resolver_->stats();
  EXPECT_TRUE(stats.degraded);
  EXPECT_NE(stats.degraded_reason.find("cannot use eBPF"), std::string::npos) << stats.degraded_reason;
  EXPECT_TRUE(stats.ready) << "degraded still serves";
}

TEST_F(TrackerTest, LostEbpfEventsTriggerOneRescan) {
  sources_.ebpf_counters.ringbuf_drops = 3;
  start();
  EXPECT_EQ(resolver_->stats().resyncs, 1u);
  advance(config_.flush_period);
  ASSERT_TRUE(eventually([&] { return resolver_->stats().resyncs == 2; }));
  EXPECT_EQ(resolver_->stats().live.ringbuf_drops, 3u);
  advance(config_.flush_period);
  quiet();
  EXPECT_EQ(resolver_->stats().resyncs, 2u) << "no new loss, no new rescan";
}

TEST_F(TrackerTest, PastTheExitWatchBoundAnExitIsLeftToATimedPass) {
  config_.max_exit_watches = 2;
  config_.exit_fallback_delay = 500ms;
  start();
  for (std::uint32_t tid = 300; tid < 305; ++tid) sources_.emit(event(NetnsEventKind::exit, tid, 50));
  ASSERT_TRUE(eventually([&] { return resolver_->stats().live.events == 5; }));
  EXPECT_EQ(sources_.exit_watches(), 2) << "two descriptors, no more";
  EXPECT_EQ(resolver_->stats().live.exit_watch_fallbacks, 3u);
  const int scans = host_.task_scans;
  advance(config_.presence_delay);
  quiet();
  EXPECT_EQ(host_.task_scans, scans) << "the fallback waits exit_fallback_delay";
  advance(config_.exit_fallback_delay);    // the fallback asks for a pass...
  advance(config_.presence_min_interval);  // ...which runs once its interval allows
  EXPECT_TRUE(eventually([&] { return host_.task_scans == scans + 1; })) << "one pass for the three";
}

TEST_F(TrackerTest, AListingOvertakenByEventsIsDoneAgainNotApplied) {
  add_namespace(50, 9);
  start();
  // The re-listing after an overflow blocks until the test has applied a
  // newer event: what it read is then older than the cache.
  std::promise<void> listing_started, event_applied;
  auto started = listing_started.get_future();
  auto applied = event_applied.get_future().share();
  std::atomic<int> listings{0};
  host_.before_listing = [&](NetnsId netns) {
    if (netns != 50) return;
    if (listings++ == 0) {
      listing_started.set_value();
      applied.wait();  // then reads "old"
    } else {
      auto hold = host_.lock();
      host_.links[50] = {plain(1, "lo"), plain(2, "new")};  // what a second listing reads
    }
  };
  {
    auto hold = host_.lock();
    host_.links[50] = {plain(1, "lo"), plain(2, "old")};
  }
  sources_.links(50)->overflow();
  ASSERT_EQ(started.wait_for(3s), std::future_status::ready);
  sources_.links(50)->push(LinkEvent{false, plain(2, "new"), {}, {}});
  ASSERT_TRUE(eventually([&] { return device_names(50) == std::vector<std::string>{"lo", "new"}; }));
  event_applied.set_value();
  ASSERT_TRUE(eventually([&] { return listings == 2; })) << "the stale listing is done again";
  quiet();
  EXPECT_EQ(device_names(50), (std::vector<std::string>{"lo", "new"})) << "the stale listing was applied";
  host_.before_listing = nullptr;
}

}  // namespace
}  // namespace netnsd
