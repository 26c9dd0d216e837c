// The change feed on its own (ordering, filters, slow subscribers, history,
// the cap) and the changes the resolver publishes for each way the cache
// changes.
#include "resolver/changes.h"

#include <gtest/gtest.h>
#include <linux/if_addr.h>
#include <sys/socket.h>

#include <thread>

#include "fakes.h"
#include "resolver/resolver.h"

namespace netnsd {
namespace {

using namespace std::chrono_literals;
using testing::dummy_fd;
using testing::FakeClock;
using testing::plain;
using testing::veth;

Change device_added(NetnsId netns, std::uint32_t ifindex) {
  Change c;
  c.kind = ChangeKind::device_added;
  c.netns = netns;
  c.device = plain(ifindex, "d" + std::to_string(ifindex));
  return c;
}

void publish(ChangeFeed& feed, std::vector<Change> changes) {
  feed.publish(std::move(changes), WallTime(std::chrono::seconds(1'800'000'000)));
}

// "3 4 lost:2 7": what a subscriber read, compactly.
std::string read_all(ChangeFeed::Subscription& s) {
  std::string out;
  for (const FeedItem& item : s.next(0ms)) {
    if (!out.empty()) out += ' ';
    out += item.change ? std::to_string(item.change->seq) : "lost:" + std::to_string(item.lost);
  }
  return out;
}

TEST(ChangeFeed, NumbersChangesInOrderAndFiltersByNamespaceAndType) {
  ChangeFeed feed;
  auto all = feed.subscribe({});
  auto ns2 = feed.subscribe({{2}, {}});
  auto families = change_kinds("netns");
  ASSERT_TRUE(families);
  auto netns_only = feed.subscribe({{}, *families});
  Change added;
  added.kind = ChangeKind::netns_added;
  added.netns = 2;
  publish(feed, {device_added(1, 5), added, device_added(2, 6)});
  EXPECT_EQ(read_all(*all), "1 2 3");
  EXPECT_EQ(read_all(*ns2), "2 3");
  EXPECT_EQ(read_all(*netns_only), "2");
  EXPECT_EQ(feed.last_seq(), 3u);
  EXPECT_EQ(read_all(*all), "") << "read once";
}

TEST(ChangeFeed, TypeNamesAndFamilies) {
  EXPECT_EQ(change_kinds("device")->size(), 3u);
  EXPECT_EQ(change_kinds("address")->size(), 3u);
  EXPECT_EQ(*change_kinds("device_removed"), std::set<ChangeKind>{ChangeKind::device_removed});
  EXPECT_FALSE(change_kinds("dev"));
  EXPECT_FALSE(change_kinds("device_"));
  EXPECT_FALSE(change_kinds(""));
  EXPECT_EQ(to_string(ChangeKind::address_changed), "address_changed");
}

TEST(ChangeFeed, ASlowSubscriberLosesChangesWhereTheGapIsAndNobodyElseDoes) {
  FeedOptions options;
  options.queue = 3;
  ChangeFeed feed(options);
  auto slow = feed.subscribe({});
  auto keeping_up = feed.subscribe({});
  for (std::uint32_t i = 1; i <= 5; ++i) {
    publish(feed, {device_added(1, i)});
    if (i == 2) {
      EXPECT_EQ(read_all(*keeping_up), "1 2");
    } else if (i == 4) {
      EXPECT_EQ(read_all(*keeping_up), "3 4");
    }
  }
  publish(feed, {device_added(1, 6)});  // still full: lost too
  EXPECT_EQ(read_all(*keeping_up), "5 6");
  // The slow one read nothing: 1 2 3 fit, 4 5 6 did not.
  EXPECT_EQ(read_all(*slow), "1 2 3 lost:3");
  publish(feed, {device_added(1, 7)});
  EXPECT_EQ(read_all(*slow), "7") << "the stream goes on";
  EXPECT_EQ(feed.stats().lost, 3u);

  // The gap sits where it was: changes queued after it come after it.
  for (std::uint32_t i = 8; i <= 12; ++i) publish(feed, {device_added(1, i)});
  auto first = slow->next(0ms);  // 8 9 10, then 11 and 12 lost
  publish(feed, {device_added(1, 13)});
  std::string got;
  for (const FeedItem& item : first) got += item.change ? std::to_string(item.change->seq) + " " : "lost ";
  EXPECT_EQ(got, "8 9 10 lost ");
  EXPECT_EQ(read_all(*slow), "13");
}

TEST(ChangeFeed, SinceReplaysWhatTheHistoryStillHolds) {
  FeedOptions options;
  options.history = 4;
  ChangeFeed feed(options);
  for (std::uint32_t i = 1; i <= 8; ++i) publish(feed, {device_added(1, i)});
  auto recent = feed.subscribe({}, 6);
  EXPECT_EQ(read_all(*recent), "7 8");
  auto older = feed.subscribe({}, 1);  // 2 and 3 are gone: the history holds 5..8
  EXPECT_EQ(read_all(*older), "lost:3 5 6 7 8");
  auto future = feed.subscribe({}, 8);
  EXPECT_EQ(read_all(*future), "");
  publish(feed, {device_added(1, 9)});
  EXPECT_EQ(read_all(*future), "9");
}

TEST(ChangeFeed, CapsSubscribersAndFreesThePlaceOfOneThatLeaves) {
  FeedOptions options;
  options.max_subscribers = 2;
  ChangeFeed feed(options);
  auto a = feed.subscribe({});
  auto b = feed.subscribe({});
  ASSERT_TRUE(a && b);
  EXPECT_FALSE(feed.subscribe({}));
  EXPECT_EQ(feed.stats().refused, 1u);
  b.reset();
  EXPECT_EQ(feed.stats().subscribers, 1u);
  EXPECT_TRUE(feed.subscribe({}));
}

TEST(ChangeFeed, CloseWakesAWaitingReader) {
  ChangeFeed feed;
  auto s = feed.subscribe({});
  const auto start = std::chrono::steady_clock::now();
  std::thread closer([&] {
    std::this_thread::sleep_for(50ms);
    feed.close();
  });
  EXPECT_TRUE(s->next(10s).empty());
  closer.join();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  EXPECT_TRUE(s->closed());
  EXPECT_FALSE(feed.subscribe({})) << "a closed feed takes no one";
}

TEST(ChangeFeed, ChangedFieldsNameWhatDiffers) {
  Device a = veth(4, "v0", 5, 0);
  Device b = a;
  EXPECT_TRUE(changed_fields(a, b).empty());
  b.name = "v1";
  b.mtu = 9000;
  b.addresses.push_back(Address{});  // addresses have their own changes
  EXPECT_EQ(changed_fields(a, b), (std::vector<std::string>{"name", "mtu"}));
  b = a;
  b.peer->netns = 77;
  EXPECT_EQ(changed_fields(a, b), std::vector<std::string>{"peer"});
}

// The resolver, with a feed: every way the cache changes is published.
class ResolverChanges : public ::testing::Test {
 protected:
  ResolverChanges() : resolver_(testing::resolver_config(2, 30s), clock_) {
    resolver_.set_feed(&feed_);
    sub_ = feed_.subscribe({});
  }

  // "device_added 100/1" ..., one per change read.
  std::vector<std::string> read() {
    std::vector<std::string> out;
    for (const FeedItem& item : sub_->next(0ms)) {
      const Change& c = *item.change;
      std::string line = std::string(to_string(c.kind)) + " " + std::to_string(c.netns);
      if (c.device) line += "/" + std::to_string(c.device->ifindex);
      if (c.address) line += "/" + std::to_string(c.ifindex) + " " + address_text(*c.address);
      for (const std::string& f : c.changed) line += " " + f;
      if (!c.reason.empty()) line += " " + c.reason;
      out.push_back(line);
      last_.push_back(item.change);
    }
    return out;
  }

  static Address v4(std::uint8_t last, std::uint32_t flags = 0) {
    Address a;
    a.family = AF_INET;
    a.prefix_len = 24;
    a.local = {10, 0, 0, last};
    a.flags = flags;
    return a;
  }

  FakeClock clock_;
  ChangeFeed feed_;
  Resolver resolver_;
  std::unique_ptr<ChangeFeed::Subscription> sub_;
  std::vector<ChangePtr> last_;
};

using Lines = std::vector<std::string>;

TEST_F(ResolverChanges, NamespacesDevicesAndAddresses) {
  ASSERT_TRUE(resolver_.capture(100, NamespaceHandle{dummy_fd(), "/run/netns/a"}, Source::bind_mount));
  EXPECT_EQ(read(), Lines{"netns_added 100"});
  EXPECT_EQ(last_.back()->source, Source::bind_mount);

  resolver_.set_devices(100, {plain(1, "lo"), plain(2, "eth0")});
  EXPECT_EQ(read(), (Lines{"device_added 100/1", "device_added 100/2"}));
  resolver_.set_devices(100, {plain(1, "lo"), plain(2, "eth0")});
  EXPECT_EQ(read(), Lines{}) << "a relist that changes nothing says nothing";

  Device renamed = plain(2, "wan0");
  renamed.mtu = 9000;
  resolver_.upsert_device(100, renamed);
  EXPECT_EQ(read(), Lines{"device_changed 100/2 name mtu"});
  EXPECT_EQ(last_.back()->old->name, "eth0");
  EXPECT_EQ(last_.back()->device->name, "wan0");

  resolver_.upsert_address(100, 2, v4(1, IFA_F_TENTATIVE));
  resolver_.upsert_address(100, 2, v4(1, IFA_F_TENTATIVE));  // the same: nothing
  resolver_.upsert_address(100, 2, v4(1));                   // DAD done
  resolver_.upsert_address(100, 9, v4(3));                   // no such device: nothing
  EXPECT_EQ(read(), (Lines{"address_added 100/2 10.0.0.1", "address_changed 100/2 10.0.0.1"}));
  EXPECT_EQ(last_.back()->device_name, "wan0");
  // A link message carries no addresses: the device keeps its own, and says
  // nothing about them.
  renamed.up = true;
  resolver_.upsert_device(100, renamed);
  EXPECT_EQ(read(), Lines{"device_changed 100/2 up"});
  resolver_.remove_address(100, 2, v4(1));
  resolver_.remove_address(100, 2, v4(1));
  EXPECT_EQ(read(), Lines{"address_removed 100/2 10.0.0.1"});

  // A relist after an overflow says what was missed, addresses included.
  resolver_.upsert_address(100, 1, v4(7));
  read();
  Device lo = plain(1, "lo");
  lo.addresses = {v4(8)};
  resolver_.set_devices(100, {lo, plain(3, "new")});
  // Removals first, then the rest by ifindex.
  EXPECT_EQ(read(), (Lines{"device_removed 100/2", "address_added 100/1 10.0.0.8", "address_removed 100/1 10.0.0.7",
                           "device_added 100/3"}));

  LinkRef moved;
  moved.nsid = 4;
  moved.ifindex = 12;
  resolver_.remove_device(100, 3, moved);
  EXPECT_EQ(read(), Lines{"device_removed 100/3"});
  ASSERT_TRUE(last_.back()->moved_to);
  EXPECT_EQ(last_.back()->moved_to->ifindex, 12u);
}

TEST_F(ResolverChanges, PeersResolvedNamesLonelinessAndRemovals) {
  resolver_.capture(100, NamespaceHandle{dummy_fd(), "/proc/1/task/1/ns/net"}, Source::procfs);
  resolver_.capture(200, NamespaceHandle{dummy_fd(), "/run/netns/b"}, Source::bind_mount);
  resolver_.set_devices(100, {veth(4, "v0", 5, 0)});
  resolver_.set_devices(200, {veth(5, "c0", 4, 0)});
  read();
  resolver_.link_veth_pair(100, 4, 200, 5);
  EXPECT_EQ(read(), (Lines{"device_changed 100/4 peer", "device_changed 200/5 peer"}));
  resolver_.link_veth_pair(100, 4, 200, 5);
  EXPECT_EQ(read(), Lines{}) << "known already";

  PresenceMap seen;
  seen[100].pids = 1;
  seen[200].names = {"b"};
  resolver_.apply_presence(seen);
  EXPECT_EQ(read(), Lines{"netns_changed 200 names"});
  seen.erase(100);
  resolver_.apply_presence(seen);
  EXPECT_EQ(read(), Lines{"netns_changed 100 lonely"});
  resolver_.mark_present(100);
  EXPECT_EQ(read(), Lines{"netns_changed 100 lonely"}) << "and back";

  // Room is made: the least recently active goes, with its devices.
  resolver_.capture(300, NamespaceHandle{dummy_fd(), "/proc/3/task/3/ns/net"}, Source::ebpf);
  EXPECT_EQ(read(), (Lines{"device_removed 200/5", "netns_removed 200 evicted", "netns_added 300"}));
  EXPECT_EQ(last_[last_.size() - 2]->names, std::vector<std::string>{"b"});

  resolver_.apply_presence({});
  read();
  clock_.advance(31s);
  EXPECT_EQ(resolver_.release_lonely(), 2u);
  Lines released = read();
  std::sort(released.begin(), released.end());
  EXPECT_EQ(released, (Lines{"device_removed 100/4", "netns_removed 100 released", "netns_removed 300 released"}));

  // Sequence numbers follow the order the cache applied the changes.
  for (std::size_t i = 1; i < last_.size(); ++i) EXPECT_EQ(last_[i]->seq, last_[i - 1]->seq + 1);
}

TEST_F(ResolverChanges, ContainersComingAndGoingAreNamespaceChanges) {
  resolver_.capture(100, NamespaceHandle{dummy_fd(), "/proc/7/task/7/ns/net"}, Source::procfs);
  read();
  auto container = [](const std::string& id, const std::string& name = "") {
    return ContainerRef{"docker", id, "", 0u, name, "", ""};
  };
  PresenceMap seen;
  seen[100].pids = 1;
  resolver_.apply_presence(seen);
  EXPECT_EQ(read(), Lines{}) << "processes outside any container";

  seen[100].pids = 3;
  seen[100].containers = {container("aa")};
  resolver_.apply_presence(seen);
  EXPECT_EQ(read(), Lines{"netns_changed 100 containers"});
  ASSERT_EQ(last_.back()->containers.size(), 1u);
  EXPECT_EQ(last_.back()->containers[0].id, "aa");
  EXPECT_EQ(resolver_.find(100)->containers.size(), 1u);

  // More processes of the same container: nothing.
  seen[100].pids = 9;
  resolver_.apply_presence(seen);
  EXPECT_EQ(read(), Lines{});

  // A second container joins (a pod), listed first; the runtime's state
  // now names the first one.
  seen[100].containers = {container("bb"), container("aa", "web-1")};
  resolver_.apply_presence(seen);
  EXPECT_EQ(read(), Lines{"netns_changed 100 containers"});
  ASSERT_EQ(last_.back()->containers.size(), 2u);
  EXPECT_EQ(last_.back()->containers[1].name, "web-1");
  seen[100].containers = {container("aa", "web-1"), container("bb")};
  resolver_.apply_presence(seen);
  EXPECT_EQ(read(), Lines{}) << "the same containers in another order";

  // Every task gone: lonely, and no container left.
  resolver_.apply_presence({});
  EXPECT_EQ(read(), Lines{"netns_changed 100 containers lonely"});
  EXPECT_TRUE(last_.back()->containers.empty());
}

TEST_F(ResolverChanges, TheListedProcessesComingAndGoingAreNamespaceChanges) {
  resolver_.capture(100, NamespaceHandle{dummy_fd(), "/proc/7/task/7/ns/net"}, Source::procfs);
  read();
  PresenceMap seen;
  seen[100].pids = 1;
  seen[100].processes = {ProcessInfo{7, "sleep", std::nullopt}};
  resolver_.apply_presence(seen);
  EXPECT_EQ(read(), Lines{"netns_changed 100 processes"});
  EXPECT_EQ(last_.back()->processes, seen[100].processes) << "the change carries them";
  resolver_.apply_presence(seen);
  EXPECT_EQ(read(), Lines{}) << "the same processes: nothing";
  seen[100].pids = 2;
  seen[100].processes.push_back(ProcessInfo{9, "sh", std::nullopt});
  resolver_.apply_presence(seen);
  EXPECT_EQ(read(), Lines{"netns_changed 100 processes"});
  seen[100].processes[1].comm = "bash";  // exec'd
  resolver_.apply_presence(seen);
  EXPECT_EQ(read(), Lines{"netns_changed 100 processes"});
  resolver_.apply_presence({});
  EXPECT_EQ(read(), Lines{"netns_changed 100 processes lonely"});
  EXPECT_TRUE(last_.back()->processes.empty());
}

// Changes are built only for a feed: none are held for one that may come.
// A feed attached later sees what changes after it, never what came before.
TEST_F(ResolverChanges, WithoutAFeedNothingIsKept) {
  Resolver quiet({}, clock_);
  quiet.capture(1, NamespaceHandle{dummy_fd(), "/run/netns/q"}, Source::bind_mount);
  quiet.set_devices(1, {plain(1, "lo")});
  ChangeFeed later;
  auto subscriber = later.subscribe({});
  quiet.set_feed(&later);
  quiet.set_devices(1, {plain(1, "lo"), plain(2, "eth0")});
  const std::vector<FeedItem> items = subscriber->next(0ms);
  ASSERT_EQ(items.size(), 1u) << "only the change made with the feed there";
  ASSERT_TRUE(items[0].change);
  EXPECT_EQ(items[0].change->kind, ChangeKind::device_added);
  EXPECT_EQ(items[0].change->device->name, "eth0");
  EXPECT_EQ(later.last_seq(), 1u);
  quiet.set_feed(nullptr);
}

}  // namespace
}  // namespace netnsd
