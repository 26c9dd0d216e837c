#include "resolver/resolver.h"

#include <gtest/gtest.h>
#include <linux/if_addr.h>
#include <sys/socket.h>

#include <atomic>
#include <thread>

#include "fakes.h"

namespace netnsd {
namespace {

using namespace std::chrono_literals;
using testing::dummy_fd;
using testing::FakeClock;
using testing::fd_is_open;

NamespaceHandle handle(const std::string& path) {
  return NamespaceHandle{dummy_fd(), path};
}

std::vector<NetnsId> cached_ids(const Resolver& r) {
  std::vector<NetnsId> out;
  for (const NamespaceView& view : r.snapshot()) out.push_back(view.netns);
  return out;
}

TEST(Resolver, CaptureAddsOnceAndClosesTheDuplicateHandle) {
  FakeClock clock;
  Resolver r({}, clock);
  ASSERT_TRUE(r.capture(100, handle("/proc/1/task/1/ns/net"), Source::procfs));

  NamespaceHandle dup = handle("/run/netns/x");
  int dup_fd = dup.fd.get();
  EXPECT_FALSE(r.capture(100, std::move(dup), Source::bind_mount));
  EXPECT_FALSE(fd_is_open(dup_fd)) << "a handle the cache does not keep must be closed";

  auto view = r.find(100);
  ASSERT_TRUE(view);
  EXPECT_EQ(view->handle->path, "/proc/1/task/1/ns/net");
  EXPECT_EQ(view->discovered_by, Source::procfs);
  EXPECT_EQ(view->first_seen, clock.now());
  EXPECT_EQ(r.stats().namespaces, 1u);
}

TEST(Resolver, LonelyNamespacesAreReleasedAfterTheTimeoutOnly) {
  FakeClock clock;
  Resolver r(testing::resolver_config(4096, 30s), clock);
  NamespaceHandle h = handle("/proc/5/task/5/ns/net");
  int fd = h.fd.get();
  r.capture(1, std::move(h), Source::procfs);
  r.capture(2, handle("/run/netns/b"), Source::bind_mount);

  PresenceMap seen;
  seen[1].pids = 3;
  seen[2].names = {"b"};
  r.apply_presence(seen);
  EXPECT_FALSE(r.find(1)->lonely_since);
  EXPECT_EQ(r.find(1)->pids, 3u);
  EXPECT_EQ(r.find(2)->names, std::vector<std::string>{"b"});

  // Namespace 1 loses its last task.
  seen.erase(1);
  r.apply_presence(seen);
  const WallTime lonely_at = clock.now();
  EXPECT_EQ(r.find(1)->lonely_since, lonely_at);
  EXPECT_EQ(r.find(1)->pids, 0u);

  // A later scan does not restart the lonely clock.
  clock.advance(10s);
  r.apply_presence(seen);
  EXPECT_EQ(r.find(1)->lonely_since, lonely_at);

  clock.advance(19s);
  EXPECT_EQ(r.release_lonely(), 0u) << "29 s < 30 s";
  EXPECT_TRUE(fd_is_open(fd));
  clock.advance(1s);
  EXPECT_EQ(r.release_lonely(), 1u);
  EXPECT_FALSE(r.contains(1));
  EXPECT_FALSE(fd_is_open(fd)) << "releasing a namespace closes its handle";
  EXPECT_TRUE(r.contains(2)) << "a namespace with a bind mount is never lonely";
  EXPECT_EQ(r.stats().lonely_releases, 1u);
}

TEST(Resolver, ANamespaceThatRegainsATaskStopsBeingLonely) {
  FakeClock clock;
  Resolver r(testing::resolver_config(4096, 30s), clock);
  r.capture(1, handle("/p"), Source::procfs);
  r.apply_presence({});
  ASSERT_TRUE(r.find(1)->lonely_since);
  clock.advance(20s);
  PresenceMap seen;
  seen[1].pids = 1;
  r.apply_presence(seen);
  EXPECT_FALSE(r.find(1)->lonely_since);
  clock.advance(20s);
  EXPECT_EQ(r.release_lonely(), 0u);
  EXPECT_TRUE(r.contains(1));
}

TEST(Resolver, CapacityEvictsTheLeastRecentlySeenAndClosesItsHandle) {
  FakeClock clock;
  Resolver r(testing::resolver_config(3, 30s), clock);
  std::vector<int> fds;
  for (NetnsId id = 1; id <= 3; ++id) {
    NamespaceHandle h = handle("/p" + std::to_string(id));
    fds.push_back(h.fd.get());
    r.capture(id, std::move(h), Source::procfs);
  }
  // A task entering 1 makes 2 the least recently active.
  r.mark_present(1);
  r.capture(4, handle("/p4"), Source::procfs);

  EXPECT_EQ(cached_ids(r), (std::vector<NetnsId>{1, 3, 4}));
  EXPECT_EQ(r.stats().evictions, 1u);
  EXPECT_FALSE(fd_is_open(fds[1]));
  EXPECT_TRUE(fd_is_open(fds[0]));
  EXPECT_TRUE(fd_is_open(fds[2]));
}

TEST(Resolver, AReaderKeepsItsHandleOpenAfterTheCacheReleasesIt) {
  FakeClock clock;
  Resolver r(testing::resolver_config(1, 30s), clock);
  r.capture(1, handle("/p1"), Source::procfs);
  auto views = r.snapshot();
  ASSERT_EQ(views.size(), 1u);
  int fd = views[0].handle->fd.get();
  r.capture(2, handle("/p2"), Source::procfs);  // evicts 1
  EXPECT_FALSE(r.contains(1));
  EXPECT_TRUE(fd_is_open(fd)) << "a dump in progress must not lose its fd";
  views.clear();
  EXPECT_FALSE(fd_is_open(fd));
}

TEST(Resolver, SnapshotIsSortedFilteredAndDeduplicated) {
  FakeClock clock;
  Resolver r({}, clock);
  for (NetnsId id : {30, 10, 20}) r.capture(id, handle("/p"), Source::procfs);
  auto all = r.snapshot();
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].netns, 10u);
  EXPECT_EQ(all[2].netns, 30u);
  auto some = r.snapshot(std::vector<NetnsId>{30, 99, 10, 30});
  ASSERT_EQ(some.size(), 2u);
  EXPECT_EQ(some[0].netns, 10u);
  EXPECT_EQ(some[1].netns, 30u);
}

TEST(Resolver, SetDevicesReplacesTheListAndIgnoresUnknownNamespaces) {
  FakeClock clock;
  Resolver r({}, clock);
  r.capture(1, handle("/p"), Source::procfs);
  r.set_devices(1, {testing::plain(5, "b"), testing::plain(1, "lo")});
  r.set_devices(1, {testing::plain(1, "lo")});
  r.set_devices(2, {testing::plain(1, "lo")});
  ASSERT_EQ(r.find(1)->devices.size(), 1u);
  EXPECT_FALSE(r.contains(2));
}

TEST(Resolver, FindByNameUsesBindMountNames) {
  FakeClock clock;
  Resolver r({}, clock);
  r.capture(1, handle("/run/netns/red"), Source::bind_mount);
  r.capture(2, handle("/proc/9/task/9/ns/net"), Source::procfs);
  PresenceMap seen;
  seen[1].names = {"red", "red-alias"};
  seen[2].pids = 1;
  r.apply_presence(seen);
  EXPECT_EQ(r.find_by_name("red-alias"), std::vector<NetnsId>{1});
  EXPECT_TRUE(r.find_by_name("blue").empty());
}

// Records what the resolver announces.
struct RecordingListener : ResolverListener {
  std::vector<NetnsId> captured, released;
  void on_captured(NetnsId netns, const HandlePtr& handle) override {
    EXPECT_NE(handle, nullptr);
    captured.push_back(netns);
  }
  void on_released(const std::vector<NetnsId>& gone) override {
    released.insert(released.end(), gone.begin(), gone.end());
  }
};

TEST(Resolver, AnnouncesCapturesEvictionsAndLonelyReleases) {
  FakeClock clock;
  Resolver r(testing::resolver_config(2, 1s), clock);
  RecordingListener listener;
  r.set_listener(&listener);
  r.capture(1, handle("/p1"), Source::procfs);
  r.capture(1, handle("/p1"), Source::procfs);  // a duplicate is not announced
  r.capture(2, handle("/p2"), Source::procfs);
  r.capture(3, handle("/p3"), Source::procfs);  // evicts 1
  EXPECT_EQ(listener.captured, (std::vector<NetnsId>{1, 2, 3}));
  EXPECT_EQ(listener.released, std::vector<NetnsId>{1});
  r.apply_presence({});
  clock.advance(1s);
  r.release_lonely();
  std::sort(listener.released.begin(), listener.released.end());
  EXPECT_EQ(listener.released, (std::vector<NetnsId>{1, 2, 3}));
}

TEST(Resolver, DeviceEventsUpsertAndRemove) {
  FakeClock clock;
  Resolver r({}, clock);
  r.capture(1, handle("/p"), Source::procfs);
  r.upsert_device(1, testing::plain(2, "eth0"));
  Device renamed = testing::plain(2, "wan0");
  renamed.up = true;
  r.upsert_device(1, renamed);
  ASSERT_EQ(r.find(1)->devices.size(), 1u);
  EXPECT_EQ(r.find(1)->devices[0], renamed);
  auto removed = r.remove_device(1, 2);
  ASSERT_TRUE(removed);
  EXPECT_EQ(removed->name, "wan0");
  EXPECT_FALSE(r.remove_device(1, 2));
  EXPECT_TRUE(r.find(1)->devices.empty());
  r.upsert_device(9, testing::plain(2, "x"));  // unknown namespace: ignored
  EXPECT_FALSE(r.contains(9));
}

Address ipv4(std::uint8_t last, std::uint8_t prefix, std::uint32_t flags = 0) {
  Address a;
  a.family = AF_INET;
  a.prefix_len = prefix;
  a.flags = flags;
  a.local = {10, 0, 0, last};
  return a;
}

Address ipv6(std::uint8_t last, std::uint32_t flags = 0) {
  Address a;
  a.family = AF_INET6;
  a.prefix_len = 64;
  a.scope = 253;
  a.flags = flags;
  a.local = {0xfe, 0x80};
  a.local[15] = last;
  return a;
}

TEST(Resolver, AddressEventsKeepEachDevicesAddressesSortedAndCurrent) {
  FakeClock clock;
  Resolver r({}, clock);
  r.capture(1, handle("/p"), Source::procfs);
  r.upsert_device(1, testing::plain(2, "eth0"));

  EXPECT_TRUE(r.upsert_address(1, 2, ipv6(1, IFA_F_TENTATIVE)));
  EXPECT_TRUE(r.upsert_address(1, 2, ipv4(9, 24)));
  EXPECT_TRUE(r.upsert_address(1, 2, ipv4(3, 24)));
  std::vector<Address> got = r.find(1)->devices[0].addresses;
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(address_text(got[0]), "10.0.0.3") << "IPv4 first, in address order";
  EXPECT_EQ(address_text(got[1]), "10.0.0.9");
  EXPECT_EQ(address_text(got[2]), "fe80::1");

  // DAD done: the same address with new flags replaces the old, not a second entry.
  EXPECT_TRUE(r.upsert_address(1, 2, ipv6(1, IFA_F_PERMANENT)));
  EXPECT_FALSE(r.upsert_address(1, 2, ipv6(1, IFA_F_PERMANENT))) << "nothing changed";
  got = r.find(1)->devices[0].addresses;
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(address_flag_names(got[2]), std::vector<std::string>{"permanent"});
  // The same address with another prefix is another address.
  EXPECT_TRUE(r.upsert_address(1, 2, ipv4(3, 16)));
  EXPECT_EQ(r.find(1)->devices[0].addresses.size(), 4u);

  // A link message (a rename, up/down) keeps the device's addresses.
  Device renamed = testing::plain(2, "wan0");
  renamed.up = true;
  r.upsert_device(1, renamed);
  EXPECT_EQ(r.find(1)->devices[0].addresses.size(), 4u);
  EXPECT_EQ(r.find(1)->devices[0].name, "wan0");

  EXPECT_TRUE(r.remove_address(1, 2, ipv4(3, 16)));
  EXPECT_FALSE(r.remove_address(1, 2, ipv4(3, 16)));
  EXPECT_TRUE(r.remove_address(1, 2, ipv6(1)));  // flags do not matter to a removal
  got = r.find(1)->devices[0].addresses;
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(address_text(got[1]), "10.0.0.9");

  // Unknown device or namespace: nothing to attach to.
  EXPECT_FALSE(r.upsert_address(1, 7, ipv4(1, 8)));
  EXPECT_FALSE(r.upsert_address(5, 2, ipv4(1, 8)));
}

TEST(Resolver, TheCacheNeverKeepsCounters) {
  FakeClock clock;
  Resolver r({}, clock);
  r.capture(1, handle("/p"), Source::procfs);
  Device d = testing::plain(2, "eth0");
  d.stats = LinkStats{1, 2, 3, 4, 5, 6, 7, 8};
  r.set_devices(1, {d});
  EXPECT_FALSE(r.find(1)->devices[0].stats) << "a listing's counters are old the moment they are cached";
  r.upsert_device(1, d);
  EXPECT_FALSE(r.find(1)->devices[0].stats);
}

TEST(Resolver, AResolvedPeerSurvivesUpdatesThatDoNotChangeIt) {
  FakeClock clock;
  Resolver r({}, clock);
  r.capture(1, handle("/p"), Source::procfs);
  r.set_devices(1, {testing::veth(5, "v0", 2, 0)});
  r.link_veth_pair(1, 5, 77, 2);  // 77 is not cached: only 1's end changes
  ASSERT_EQ(r.find(1)->devices[0].peer->netns, NetnsId{77});

  // An event or a listing of the same pair: the resolution is kept.
  Device again = testing::veth(5, "v0", 2, 0);
  again.up = true;
  r.upsert_device(1, again);
  EXPECT_EQ(r.find(1)->devices[0].peer->netns, NetnsId{77});
  r.set_devices(1, {testing::veth(5, "v0", 2, 0)});
  EXPECT_EQ(r.find(1)->devices[0].peer->netns, NetnsId{77});

  // The peer moved (another ifindex or nsid): unresolved again.
  r.upsert_device(1, testing::veth(5, "v0", 9, 3));
  EXPECT_FALSE(r.find(1)->devices[0].peer->netns);
  // A pairing only applies to the peer it was found for.
  r.link_veth_pair(1, 5, 77, 2);
  EXPECT_FALSE(r.find(1)->devices[0].peer->netns);
}

TEST(Resolver, IndexesVethEndsToFindPeerCandidates) {
  FakeClock clock;
  Resolver r({}, clock);
  for (NetnsId id : {1, 2, 3}) r.capture(id, handle("/p"), Source::procfs);
  // 1:7 <-> 2:3 across namespaces; 3 has a lookalike 3:3 <-> 7 elsewhere.
  r.set_devices(1, {testing::veth(7, "a", 3, 0)});
  r.set_devices(2, {testing::veth(3, "b", 7, 0)});
  r.upsert_device(3, testing::veth(3, "c", 7, 5));
  auto ends = r.veth_ends(3, 7, 2);  // ends at ifindex 3 pointing at 7, other than 2
  ASSERT_EQ(ends.size(), 1u);
  EXPECT_EQ(ends[0].first, 3u);
  EXPECT_EQ(r.veth_ends(3, 7, 99).size(), 2u);
  EXPECT_EQ(r.unresolved_links(1).size(), 1u);

  r.link_veth_pair(1, 7, 2, 3);
  EXPECT_EQ(r.find(1)->devices[0].peer->netns, NetnsId{2});
  EXPECT_EQ(r.find(2)->devices[0].peer->netns, NetnsId{1});
  EXPECT_TRUE(r.unresolved_links(1).empty());
  // An end whose peer is another ifindex is left alone.
  r.link_veth_pair(1, 7, 3, 9);
  EXPECT_EQ(r.find(1)->devices[0].peer->netns, NetnsId{2});

  // The index follows removals, replacements and releases.
  r.remove_device(3, 3);
  EXPECT_EQ(r.veth_ends(3, 7, 99).size(), 1u);
  r.set_devices(2, {});
  EXPECT_TRUE(r.veth_ends(3, 7, 99).empty());
  r.set_devices(2, {testing::veth(3, "b", 7, 0)});
  r.apply_presence({});
  clock.advance(1h);
  r.release_lonely();
  EXPECT_TRUE(r.veth_ends(3, 7, 99).empty()) << "released namespaces leave the index";
}

TEST(Resolver, PresenceAsOfStartsTheLonelyClockAtTheChange) {
  FakeClock clock;
  Resolver r(testing::resolver_config(4096, 10s), clock);
  r.capture(1, handle("/p"), Source::procfs);
  const WallTime exit_time = clock.now();
  clock.advance(2s);  // the presence pass runs later than the exit it answers
  r.apply_presence({}, exit_time);
  EXPECT_EQ(r.find(1)->lonely_since, exit_time);
  clock.advance(8s);
  EXPECT_EQ(r.release_lonely(), 1u) << "10 s after the exit, not after the pass";
}

TEST(Resolver, EvictionTakesALonelyNamespaceFirst) {
  FakeClock clock;
  Resolver r(testing::resolver_config(3, 30s), clock);
  for (NetnsId id : {1, 2, 3}) r.capture(id, handle("/p"), Source::procfs);
  PresenceMap seen;
  seen[1].pids = 1;
  seen[2].pids = 1;
  r.apply_presence(seen);  // 3 is lonely; 1 is the least recently active
  r.capture(4, handle("/p4"), Source::procfs);
  EXPECT_EQ(cached_ids(r), (std::vector<NetnsId>{1, 2, 4}));
}

TEST(Resolver, ABindMountStopsTheLonelyClock) {
  FakeClock clock;
  Resolver r(testing::resolver_config(4096, 1s), clock);
  r.capture(1, handle("/p"), Source::procfs);
  r.apply_presence({});
  ASSERT_TRUE(r.find(1)->lonely_since);
  r.apply_names({{1, {"now-mounted"}}});
  EXPECT_FALSE(r.find(1)->lonely_since);
  clock.advance(5s);
  EXPECT_EQ(r.release_lonely(), 0u);
}

TEST(Resolver, AScanDoesNotJudgeWhatHappenedAfterItsReading) {
  FakeClock clock;
  Resolver r(testing::resolver_config(4096, 1s), clock);
  r.capture(1, handle("/p1"), Source::procfs);
  const WallTime reading = clock.now();  // the scan reads /proc here...
  clock.advance(5ms);
  r.capture(2, handle("/p2"), Source::ebpf);  // ...a task enters a new namespace...
  clock.advance(5ms);
  r.apply_presence({}, std::nullopt, reading);  // ...and the scan, which saw neither, lands
  EXPECT_TRUE(r.find(1)->lonely_since);
  EXPECT_FALSE(r.find(2)->lonely_since) << "captured after the reading: not the scan's to judge";
}

TEST(Resolver, MountOnlyUpdatesChangeNamesButNotPresence) {
  FakeClock clock;
  Resolver r({}, clock);
  r.capture(1, handle("/p"), Source::procfs);
  PresenceMap seen;
  seen[1].pids = 2;
  r.apply_presence(seen);
  r.apply_names({{1, {"blue"}}});
  EXPECT_EQ(r.find(1)->names, std::vector<std::string>{"blue"});
  EXPECT_EQ(r.find(1)->pids, 2u);
  r.apply_names({});
  EXPECT_TRUE(r.find(1)->names.empty());
  EXPECT_FALSE(r.find(1)->lonely_since) << "only a full presence pass starts the lonely clock";
}

TEST(Resolver, MarkPresentStopsTheLonelyClock) {
  FakeClock clock;
  Resolver r(testing::resolver_config(4096, 1s), clock);
  r.capture(1, handle("/p"), Source::procfs);
  r.apply_presence({});
  ASSERT_TRUE(r.find(1)->lonely_since);
  r.mark_present(1);
  EXPECT_FALSE(r.find(1)->lonely_since);
  clock.advance(5s);
  EXPECT_EQ(r.release_lonely(), 0u);
}

TEST(Resolver, SnapshotWithStatsIsOneConsistentCopy) {
  FakeClock clock;
  Resolver r({}, clock);
  for (NetnsId id : {3, 1, 2}) r.capture(id, handle("/p"), Source::procfs);
  r.set_degraded("eBPF disabled by --no-ebpf");
  auto [views, stats] = r.snapshot_with_stats();
  ASSERT_EQ(views.size(), stats.namespaces);
  EXPECT_EQ(views.front().netns, 1u);
  EXPECT_TRUE(stats.degraded);
  EXPECT_EQ(stats.degraded_reason, "eBPF disabled by --no-ebpf");
}

// Writers capture, relist and release while readers copy: every copy must
// be one state of the cache, never a mix (the stats and the namespaces agree,
// and a namespace's devices are one listing, never part of two).
TEST(Resolver, CopiesAreConsistentWhileWritersRun) {
  FakeClock clock;
  Resolver r(testing::resolver_config(64, 0ms), clock);
  std::atomic<bool> stop{false};
  std::atomic<int> copies{0};
  std::vector<std::thread> threads;
  for (int w = 0; w < 2; ++w) {
    threads.emplace_back([&, w] {
      for (NetnsId round = 0; !stop; ++round) {
        const NetnsId id = 1000 * (w + 1) + round % 50;
        r.capture(id, handle("/p"), Source::procfs);
        // Every listing of a namespace has `size` devices, all named after the size.
        const std::uint32_t size = 1 + round % 7;
        std::vector<Device> devices;
        for (std::uint32_t i = 1; i <= size; ++i) devices.push_back(testing::plain(i, "gen" + std::to_string(size)));
        r.set_devices(id, std::move(devices));
        if (round % 5 == 0) {
          PresenceMap none;
          r.apply_presence(none);  // all lonely: the next release drops them
          r.release_lonely();
        }
      }
    });
  }
  for (int reader = 0; reader < 2; ++reader) {
    threads.emplace_back([&] {
      while (!stop) {
        auto [views, stats] = r.snapshot_with_stats();
        EXPECT_EQ(views.size(), stats.namespaces);
        EXPECT_LE(views.size(), 64u);
        for (const NamespaceView& view : views) {
          for (const Device& d : view.devices) {
            ASSERT_EQ(d.name, "gen" + std::to_string(view.devices.size())) << "two listings mixed";
          }
        }
        ++copies;
      }
    });
  }
  std::this_thread::sleep_for(300ms);
  stop = true;
  for (auto& t : threads) t.join();
  EXPECT_GT(copies, 10);
}

// Fairness: namespaces anybody can make (`unshare -rn`) never push the
// host's out, and share at most max_per_owner places per owner uid.
NamespaceHandle owned_by(std::uint32_t uid) {
  return NamespaceHandle{dummy_fd(), "/p", {900 + uid, uid, false}};
}
NamespaceHandle host_owned() {
  return NamespaceHandle{dummy_fd(), "/p", {1, 0, true}};
}

TEST(Resolver, AnUnprivilegedFloodNeverEvictsTheHostsNamespaces) {
  FakeClock clock;
  Resolver r(testing::resolver_config(8, 30s, 3), clock);
  for (NetnsId id = 1; id <= 5; ++id) ASSERT_TRUE(r.capture(id, host_owned(), Source::procfs));
  // uid 1000 makes 100 namespaces, newest last.
  for (NetnsId id = 100; id < 200; ++id) {
    r.capture(id, owned_by(1000), Source::ebpf);
    clock.advance(1ms);
  }
  for (NetnsId id = 1; id <= 5; ++id) EXPECT_TRUE(r.contains(id)) << "host namespace " << id << " evicted";
  std::vector<NetnsId> theirs;
  for (NetnsId id : cached_ids(r)) {
    if (id >= 100) theirs.push_back(id);
  }
  EXPECT_EQ(theirs, (std::vector<NetnsId>{197, 198, 199})) << "the owner's share: its 3 newest";
  ResolverStats s = r.stats();
  EXPECT_EQ(s.unprivileged_namespaces, 3u);
  EXPECT_EQ(s.evictions_owner_share, 97u);
  EXPECT_EQ(s.evictions_capacity, 0u);
  // A host namespace made during the flood still gets in, pushing out theirs.
  r.capture(6, host_owned(), Source::ebpf);
  r.capture(7, host_owned(), Source::ebpf);
  r.capture(8, host_owned(), Source::ebpf);
  EXPECT_TRUE(r.contains(6) && r.contains(7) && r.contains(8));
  EXPECT_EQ(r.stats().namespaces, 8u);
  EXPECT_EQ(r.stats().unprivileged_namespaces, 0u) << "8 host namespaces fill a capacity of 8";
  EXPECT_EQ(r.stats().evictions_capacity, 3u);
  // Now the cache is the host's: an unprivileged newcomer is refused.
  EXPECT_FALSE(r.capture(300, owned_by(1000), Source::ebpf));
  EXPECT_FALSE(r.contains(300));
  EXPECT_EQ(r.stats().refusals_capacity, 1u);
  for (NetnsId id = 1; id <= 8; ++id) EXPECT_TRUE(r.contains(id));
}

TEST(Resolver, OwnersCompeteOnlyWithThemselves) {
  FakeClock clock;
  Resolver r(testing::resolver_config(6, 30s, 3), clock);
  for (NetnsId id : {10, 11, 12}) r.capture(id, owned_by(1000), Source::ebpf);
  for (NetnsId id : {20, 21, 22}) r.capture(id, owned_by(2000), Source::ebpf);
  // Full; uid 1000 makes another: it pushes out its own oldest, not uid 2000's.
  EXPECT_TRUE(r.capture(13, owned_by(1000), Source::ebpf));
  EXPECT_FALSE(r.contains(10));
  EXPECT_TRUE(r.contains(20) && r.contains(21) && r.contains(22));
  EXPECT_EQ(r.stats().evictions_owner_share, 1u);
}

TEST(Resolver, ALonelyHostNamespaceIsNotEvictedForAnUnprivilegedOne) {
  FakeClock clock;
  Resolver r(testing::resolver_config(2, 30s, 2), clock);
  r.capture(1, host_owned(), Source::procfs);
  r.capture(2, host_owned(), Source::procfs);
  r.apply_presence({});  // both lonely
  EXPECT_FALSE(r.has_room_for({900, 1000, false}));
  EXPECT_FALSE(r.capture(100, owned_by(1000), Source::ebpf));
  EXPECT_TRUE(r.contains(1) && r.contains(2));
  // A host namespace may take a lonely one's place.
  EXPECT_TRUE(r.has_room_for({1, 0, true}));
  EXPECT_TRUE(r.capture(3, host_owned(), Source::ebpf));
  EXPECT_EQ(r.stats().namespaces, 2u);
}

TEST(Resolver, RoomForAnOwnerIsAskedBeforeAnyoneIsPushedOut) {
  FakeClock clock;
  Resolver r(testing::resolver_config(3, 30s, 1), clock);
  EXPECT_TRUE(r.has_room_for({900, 1000, false}));
  r.capture(100, owned_by(1000), Source::ebpf);
  EXPECT_FALSE(r.has_room_for({900, 1000, false})) << "its share (1) is used";
  EXPECT_TRUE(r.has_room_for({901, 1001, false})) << "another owner's is not";
  r.capture(1, host_owned(), Source::procfs);
  r.capture(2, host_owned(), Source::procfs);
  EXPECT_FALSE(r.has_room_for({901, 1001, false})) << "full, and nothing of its kind to push out";
  EXPECT_TRUE(r.has_room_for({1, 0, true})) << "the host's may push out the unprivileged one";
}

TEST(Resolver, TheDeviceCapBoundsEachNamespaceAndIsReported) {
  FakeClock clock;
  ResolverConfig config;
  config.max_devices = 4;
  Resolver r(config, clock);
  r.capture(1, handle("/p"), Source::procfs);
  std::vector<Device> many;
  for (std::uint32_t i = 1; i <= 10; ++i) many.push_back(testing::plain(i, "d" + std::to_string(i)));
  r.set_devices(1, many);
  auto view = r.find(1);
  ASSERT_EQ(view->devices.size(), 4u);
  EXPECT_EQ(view->devices.back().ifindex, 4u) << "the lowest ifindexes are kept";
  EXPECT_TRUE(view->devices_over_cap);
  EXPECT_FALSE(r.upsert_device(1, testing::plain(20, "late")));
  EXPECT_EQ(r.find(1)->devices.size(), 4u);
  r.upsert_device(1, testing::plain(2, "renamed"));  // a known device still changes
  EXPECT_EQ(r.find(1)->devices[1].name, "renamed");
  ResolverStats s = r.stats();
  EXPECT_EQ(s.devices_refused, 7u);
  EXPECT_EQ(s.namespaces_over_device_cap, 1u);
  ASSERT_EQ(s.limits.size(), 1u);
  EXPECT_NE(s.limits[0].find("more than 4 devices"), std::string::npos) << s.limits[0];
  r.set_devices(1, {testing::plain(1, "lo")});
  EXPECT_FALSE(r.find(1)->devices_over_cap);
  EXPECT_TRUE(r.stats().limits.empty());
}

TEST(Resolver, TheDescriptorBudgetShrinksTheCapacityAndSaysWhy) {
  FdBudget ample = plan_fd_budget(4096, 1 << 20, 480);
  EXPECT_EQ(ample.capacity, 4096u);
  EXPECT_TRUE(ample.limit.empty());
  FdBudget tight = plan_fd_budget(4096, 1024, 384);
  ASSERT_LT((1024u - 384u) / defaults::kFdsPerNamespace, 4096u);
  EXPECT_EQ(tight.capacity, (1024u - 384u) / defaults::kFdsPerNamespace);
  EXPECT_NE(tight.limit.find("RLIMIT_NOFILE 1024"), std::string::npos) << tight.limit;
  EXPECT_NE(tight.limit.find("descriptor budget"), std::string::npos) << tight.limit;
  EXPECT_EQ(plan_fd_budget(4096, 100, 384).capacity, 1u) << "never zero: the host's own namespace";
  EXPECT_EQ(plan_fd_budget(10, 1024, 384).capacity, 10u);

  FakeClock clock;
  ResolverConfig config;
  config.capacity = tight.capacity;
  config.configured_capacity = 4096;
  config.capacity_limit = tight.limit;
  Resolver r(config, clock);
  ResolverStats s = r.stats();
  EXPECT_EQ(s.capacity, tight.capacity);
  EXPECT_EQ(s.configured_capacity, 4096u);
  ASSERT_FALSE(s.limits.empty());
  EXPECT_EQ(s.limits[0], tight.limit);
  r.set_not_cached(12);
  EXPECT_NE(r.stats().limits.back().find("12 namespaces on the host are not cached"), std::string::npos);
}

}  // namespace
}  // namespace netnsd
