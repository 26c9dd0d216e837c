// The journal over a real SQLite file: what it records from a feed of
// changes, what the reader answers at an instant, across restarts, under
// its size cap, from the first schema version on, and when it cannot write.
#include "history/journal.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "history/history_reader.h"
#include "history/records.h"
#include "history/schema.h"
#include "system.h"

namespace netnsd::history {
namespace {

using namespace std::chrono_literals;

// Wall time set by the test; steady time real (the writer's pacing).
class TestClock final : public Clock {
 public:
  WallTime now() const override { return WallTime(std::chrono::milliseconds(now_ms_.load())); }
  SteadyTime steady() const override { return std::chrono::steady_clock::now(); }
  void set(WallTime t) {
    now_ms_ = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  }

 private:
  std::atomic<std::int64_t> now_ms_{1'800'000'000'000};
};

WallTime at_s(int seconds) {
  return WallTime(std::chrono::seconds(1'800'000'000 + seconds));
}

Address v4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d, std::uint8_t prefix = 24) {
  Address x;
  x.family = AF_INET;
  x.prefix_len = prefix;
  x.local = {a, b, c, d};
  return x;
}

Device veth(std::uint32_t ifindex, std::string name, NetnsId peer_netns, std::uint32_t peer_ifindex) {
  Device d;
  d.ifindex = ifindex;
  d.name = std::move(name);
  d.kind = "veth";
  d.mac = "02:00:00:00:00:" + std::to_string(10 + ifindex % 80);
  d.mtu = 1500;
  d.up = true;
  d.operstate = OperState::up;
  d.peer = LinkRef{peer_ifindex, peer_netns, 0};
  return d;
}

Change netns_added(NetnsId netns, std::uint64_t cookie, std::vector<std::string> names = {}) {
  Change c;
  c.kind = ChangeKind::netns_added;
  c.netns = netns;
  c.cookie = cookie;
  c.names = std::move(names);
  return c;
}

Change netns_removed(NetnsId netns) {
  Change c;
  c.kind = ChangeKind::netns_removed;
  c.netns = netns;
  c.reason = "released";
  return c;
}

Change device(ChangeKind kind, NetnsId netns, const Device& d) {
  Change c;
  c.kind = kind;
  c.netns = netns;
  c.device = d;
  return c;
}

Change address(ChangeKind kind, NetnsId netns, const Device& d, const Address& a) {
  Change c;
  c.kind = kind;
  c.netns = netns;
  c.ifindex = d.ifindex;
  c.device_name = d.name;
  c.address = a;
  return c;
}

class JournalTest : public ::testing::Test {
 protected:
  JournalOptions options() const {
    JournalOptions o;
    o.path = dir_.path() + "/state/journal.db";
    o.boot_id = "boot-a";
    o.version = "test";
    o.flush_period = 20ms;
    o.heartbeat = 100ms;
    o.retry = 100ms;
    return o;
  }

  // Publishes `changes` at `t` and waits until the journal has them.
  void publish(ChangeFeed& feed, Journal& journal, std::vector<Change> changes, WallTime t) {
    clock_.set(t);
    feed.publish(std::move(changes), t);
    ASSERT_TRUE(journal.wait_written(feed.last_seq(), 5s)) << journal.stats().degraded.value_or("");
  }

  const NamespaceView* find(const PointInTime& p, NetnsId netns) {
    for (const NamespaceView& v : p.namespaces) {
      if (v.netns == netns) return &v;
    }
    return nullptr;
  }

  testing::TempDir dir_;
  TestClock clock_;
};

TEST(JournalRecords, EveryFieldReadsBackTheSameEvenFromBytesThatAreNotUtf8) {
  Device d = veth(7,
                  std::string("v\xff\xfe"
                              "eth",
                              6),
                  4026532000, 3);
  d.master = 4;
  d.carrier = false;
  d.lower = LinkRef{2, std::nullopt, 5};
  d.operstate = OperState::lowerlayerdown;
  auto back = device_from_record(device_record(d));
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, d);

  Address a = v4(10, 244, 3, 17, 32);
  a.peer = std::array<std::uint8_t, 16>{10, 244, 3, 1};
  a.label = "eth0:\x80x";
  a.scope = 253;
  a.flags = 0x80;
  auto a_back = address_from_record(address_record(a));
  ASSERT_TRUE(a_back);
  EXPECT_EQ(*a_back, a);

  ContainerRef c{"containerd", std::string(64, 'a'), "uid-1", 0, "web\xc0", "pod-1", "default"};
  EXPECT_EQ(containers_from_record(containers_record({c})), std::vector<ContainerRef>{c});
  const std::vector<std::string> names = {"blue", std::string("r\xe9"
                                                              "d")};
  EXPECT_EQ(names_from_record(names_record(names)), names);
  ProcessInfo in_container{4242, "nginx\xff", c};
  ProcessInfo alone{7, "sleep", std::nullopt};
  EXPECT_EQ(processes_from_record(processes_record({in_container, alone}), {c}),
            (std::vector<ProcessInfo>{in_container, alone}));
  EXPECT_TRUE(processes_from_record("", {}).empty()) << "a row of schema version 1 has none";
  EXPECT_FALSE(device_from_record("{\"i\":1}"));
  EXPECT_FALSE(address_from_record("not json"));
}

TEST_F(JournalTest, WhatWasTrueAtAnInstantIsAnsweredAfterItStoppedBeingTrue) {
  const NetnsId pod = 4026532100, host = 4026531992;
  Device host_end = veth(12, "veth1a2b", pod, 2);
  Device pod_end = veth(2, "eth0", host, 12);
  Device pod_with = pod_end;
  pod_with.addresses = {v4(10, 244, 3, 17)};
  {
    Journal journal(options(), clock_);
    ChangeFeed feed(FeedOptions{.after_seq = journal.last_seq()});
    journal.start(feed, [] { return std::vector<NamespaceView>{}; });
    publish(feed, journal,
            {netns_added(host, 1), device(ChangeKind::device_added, host, host_end), netns_added(pod, 2, {"blue"}),
             device(ChangeKind::device_added, pod, pod_with)},
            at_s(10));
    Device renamed = pod_end;
    renamed.name = "eth1";
    Change rename = device(ChangeKind::device_changed, pod, renamed);
    rename.old = pod_end;
    rename.changed = {"name"};
    publish(feed, journal, {rename, address(ChangeKind::address_added, pod, renamed, v4(10, 244, 3, 18))}, at_s(20));
    publish(feed, journal,
            {device(ChangeKind::device_removed, pod, renamed), device(ChangeKind::device_removed, host, host_end),
             netns_removed(pod)},
            at_s(30));
    EXPECT_EQ(journal.stats().written, 9u);
    EXPECT_FALSE(journal.stats().degraded);
    journal.stop();
  }
  HistoryReader reader(options().path);
  auto before = reader.state_at(at_s(5));
  ASSERT_TRUE(before) << before.error().message();
  EXPECT_TRUE(before->namespaces.empty());

  auto first = reader.state_at(at_s(15));
  ASSERT_TRUE(first) << first.error().message();
  EXPECT_TRUE(first->observed);
  ASSERT_EQ(first->namespaces.size(), 2u);
  const NamespaceView* p = find(*first, pod);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->names, std::vector<std::string>{"blue"});
  EXPECT_EQ(p->handle->cookie, 2u);
  ASSERT_EQ(p->devices.size(), 1u);
  EXPECT_EQ(p->devices[0], pod_with);

  auto second = reader.state_at(at_s(25));
  ASSERT_TRUE(second);
  p = find(*second, pod);
  ASSERT_TRUE(p);
  ASSERT_EQ(p->devices.size(), 1u);
  EXPECT_EQ(p->devices[0].name, "eth1");
  ASSERT_EQ(p->devices[0].addresses.size(), 2u) << "the address kept across the rename, and the new one";

  auto gone = reader.state_at(at_s(35));
  ASSERT_TRUE(gone);
  EXPECT_FALSE(find(*gone, pod));
  ASSERT_TRUE(find(*gone, host)) << "the host's namespace is open until the stop";
  EXPECT_TRUE(find(*gone, host)->devices.empty());

  // Who had 10.244.3.17 at 15 s, and for how long.
  auto held = reader.holders_at({SubjectKind::address, "10.244.3.17"}, at_s(15));
  ASSERT_TRUE(held) << held.error().message();
  ASSERT_EQ(held->size(), 1u);
  EXPECT_EQ((*held)[0].netns, pod);
  EXPECT_EQ((*held)[0].ifindex, 2u);
  EXPECT_EQ((*held)[0].from, at_s(10));
  ASSERT_TRUE((*held)[0].to);
  EXPECT_EQ(*(*held)[0].to, at_s(30));
  auto nobody = reader.holders_at({SubjectKind::address, "10.244.3.17"}, at_s(31));
  ASSERT_TRUE(nobody);
  EXPECT_TRUE(nobody->empty());
  auto by_name = reader.holders_at({SubjectKind::device, "eth0"}, at_s(15));
  ASSERT_TRUE(by_name);
  ASSERT_EQ(by_name->size(), 1u);
  EXPECT_EQ((*by_name)[0].netns, pod);
  EXPECT_TRUE(reader.holders_at({SubjectKind::device, "eth0"}, at_s(25))->empty()) << "renamed by then";

  // Its history, oldest first: the device that came with it, and went.
  auto lines = reader.changes(Subject{SubjectKind::address, "10.244.3.17"}, at_s(0), at_s(100), 0, 100);
  ASSERT_TRUE(lines) << lines.error().message();
  ASSERT_EQ(lines->size(), 2u);
  EXPECT_NE((*lines)[0].json.find("\"device_added\""), std::string::npos) << (*lines)[0].json;
  EXPECT_NE((*lines)[1].json.find("\"device_removed\""), std::string::npos) << (*lines)[1].json;
  auto all = reader.changes(std::nullopt, at_s(0), at_s(100), 0, 4);
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), 4u) << "paged";
  auto rest = reader.changes(std::nullopt, at_s(0), at_s(100), all->back().seq, 100);
  ASSERT_TRUE(rest);
  EXPECT_EQ(rest->size(), 5u);
}

TEST_F(JournalTest, SequenceNumbersContinueAcrossRestartsAndTheDowntimeIsAGap) {
  std::uint64_t last = 0;
  {
    Journal journal(options(), clock_);
    EXPECT_EQ(journal.last_seq(), 0u);
    ChangeFeed feed(FeedOptions{.after_seq = journal.last_seq()});
    journal.start(feed, [] { return std::vector<NamespaceView>{}; });
    publish(feed, journal, {netns_added(100, 7), netns_added(200, 8)}, at_s(10));
    last = feed.last_seq();
    clock_.set(at_s(11));
    journal.stop();
  }
  clock_.set(at_s(40));
  Journal again(options(), clock_);
  EXPECT_EQ(again.last_seq(), last);
  ChangeFeed feed(FeedOptions{.after_seq = again.last_seq()});
  again.start(feed, [] { return std::vector<NamespaceView>{}; });
  publish(feed, again, {netns_added(100, 7)}, at_s(41));
  EXPECT_EQ(feed.last_seq(), last + 1);

  HistoryReader reader(options().path);
  auto gap = reader.gap_at(at_s(20));
  ASSERT_TRUE(gap && *gap);
  EXPECT_EQ((*gap)->reason, "stopped");
  EXPECT_EQ((*gap)->from, at_s(11));
  EXPECT_EQ((*gap)->to, at_s(40));
  auto inside = reader.state_at(at_s(20));
  ASSERT_TRUE(inside);
  EXPECT_FALSE(inside->observed) << "nobody looked while netnsd was stopped";
  EXPECT_EQ(inside->namespaces.size(), 2u) << "the last state known before the gap";
  auto after = reader.state_at(at_s(42));
  ASSERT_TRUE(after);
  EXPECT_TRUE(after->observed);
  EXPECT_EQ(after->namespaces.size(), 1u) << "200 was not seen again";
}

TEST_F(JournalTest, AFlappingDeviceIsRecordedWithinItsRateAndItsLastVersionIsNotLost) {
  JournalOptions o = options();
  o.device_changes_per_minute = 5;
  Journal journal(o, clock_);
  ChangeFeed feed(FeedOptions{.after_seq = journal.last_seq()});
  journal.start(feed, [] { return std::vector<NamespaceView>{}; });
  Device d = veth(3, "flap0", 1, 4);
  publish(feed, journal, {netns_added(1, 1), device(ChangeKind::device_added, 1, d)}, at_s(1));
  for (int i = 0; i < 40; ++i) {
    d.up = !d.up;
    d.operstate = d.up ? OperState::up : OperState::down;
    Change c = device(ChangeKind::device_changed, 1, d);
    c.changed = {"up"};
    publish(feed, journal, {c}, at_s(2 + i));
  }
  EXPECT_EQ(journal.stats().rate_limited, 35u);
  EXPECT_EQ(journal.stats().written, 2u + 5u);
}

TEST_F(JournalTest, UnderASizeCapTheOldestChangesGoFirstAndTheFilesStayWithinIt) {
  JournalOptions o = options();
  o.max_bytes = 1 << 20;
  Journal journal(o, clock_);
  ChangeFeed feed(FeedOptions{.after_seq = journal.last_seq()});
  journal.start(feed, [] { return std::vector<NamespaceView>{}; });
  std::uint64_t peak = 0;
  for (int round = 0; round < 60; ++round) {
    std::vector<Change> batch;
    for (int i = 0; i < 50; ++i) {
      const NetnsId netns = 1000 + static_cast<NetnsId>(round * 50 + i);
      batch.push_back(netns_added(netns, netns));
      batch.push_back(device(ChangeKind::device_added, netns, veth(2, "eth0", 1, 9)));
      batch.push_back(device(ChangeKind::device_removed, netns, veth(2, "eth0", 1, 9)));
      batch.push_back(netns_removed(netns));
    }
    publish(feed, journal, std::move(batch), at_s(round));
    std::uint64_t size = 0;
    for (const char* suffix : {"", "-wal", "-shm"}) {
      struct stat st {};
      if (::stat((o.path + suffix).c_str(), &st) == 0) size += static_cast<std::uint64_t>(st.st_size);
    }
    peak = std::max(peak, size);
  }
  std::this_thread::sleep_for(200ms);  // the retention pass after the last batch
  EXPECT_GT(journal.stats().retention_runs, 0u);
  HistoryReader reader(o.path);
  auto span = reader.span();
  ASSERT_TRUE(span);
  EXPECT_GT(span->first, at_s(0)) << "the oldest went";
  auto newest = reader.changes(std::nullopt, at_s(59), at_s(60), 0, 1000);
  ASSERT_TRUE(newest);
  EXPECT_EQ(newest->size(), 200u) << "the newest stay";
  std::printf("1 MiB cap: peak %llu bytes on disk, %llu retention passes, retained from %+.0f s\n",
              static_cast<unsigned long long>(peak), static_cast<unsigned long long>(journal.stats().retention_runs),
              std::chrono::duration<double>(span->first - at_s(0)).count());
  EXPECT_LE(peak, o.max_bytes + (1 << 20)) << "the cap and one batch";
}

TEST_F(JournalTest, TheProcessesOfANamespaceAreItsAttributionAtAnInstant) {
  const NetnsId ns = 4026532100;
  ContainerRef c;
  c.runtime = "containerd";
  c.id = std::string(64, 'c');
  c.name = "web";
  const ProcessInfo first{4242, "nginx", c}, second{4300, "sh", c};
  {
    Journal journal(options(), clock_);
    ChangeFeed feed(FeedOptions{.after_seq = journal.last_seq()});
    journal.start(feed, [] { return std::vector<NamespaceView>{}; });
    Change started;
    started.kind = ChangeKind::netns_changed;
    started.netns = ns;
    started.containers = {c};
    started.processes = {first};
    started.changed = {"containers", "processes"};
    publish(feed, journal, {netns_added(ns, 9), started}, at_s(10));
    Change exec = started;
    exec.processes = {first, second};
    exec.changed = {"processes"};
    publish(feed, journal, {exec}, at_s(20));
    publish(feed, journal, {netns_removed(ns)}, at_s(30));
    journal.stop();
  }
  HistoryReader reader(options().path);
  auto at = [&](int s) -> std::vector<ProcessInfo> {
    auto state = reader.state_at(at_s(s));
    if (!state || state->namespaces.empty()) return {};
    return state->namespaces[0].processes;
  };
  EXPECT_EQ(at(15), std::vector<ProcessInfo>{first});
  EXPECT_EQ(at(25), (std::vector<ProcessInfo>{first, second}));
  EXPECT_TRUE(at(35).empty()) << "gone with its namespace";
  // Asked for a few namespaces (as whois does), the same.
  auto few = reader.state_at(at_s(25), std::vector<NetnsId>{ns});
  ASSERT_TRUE(few && few->namespaces.size() == 1);
  EXPECT_EQ(few->namespaces[0].processes.size(), 2u);
  EXPECT_EQ(few->namespaces[0].processes[1].container->name, "web") << "each process with its container";
}

TEST_F(JournalTest, AJournalWrittenByTheFirstSchemaVersionOpensAndAnswers) {
  // The first version's tables, as netnsd 0.3 made them, from a fixture
  // that never changes with the code.
  const std::string path = options().path;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ifstream fixture(NETNSD_TEST_DATA "/journal_v1.sql");
  ASSERT_TRUE(fixture) << "tests/data/journal_v1.sql";
  const std::string script((std::istreambuf_iterator<char>(fixture)), std::istreambuf_iterator<char>());
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &raw), SQLITE_OK);
  char* err = nullptr;
  const int rc = sqlite3_exec(raw, script.c_str(), nullptr, nullptr, &err);
  const std::string message = err ? err : "";
  sqlite3_free(err);
  sqlite3_close(raw);
  ASSERT_EQ(rc, SQLITE_OK) << message;

  clock_.set(at_s(100));
  Journal journal(options(), clock_);
  EXPECT_FALSE(journal.stats().degraded) << *journal.stats().degraded;
  EXPECT_EQ(journal.last_seq(), 3u) << "numbers go on from the old journal's";
  HistoryReader reader(path);
  auto then = reader.state_at(at_s(5));
  ASSERT_TRUE(then) << then.error().message();
  ASSERT_EQ(then->namespaces.size(), 1u);
  EXPECT_EQ(then->namespaces[0].netns, 4026532500u);
  ASSERT_EQ(then->namespaces[0].devices.size(), 1u);
  EXPECT_EQ(then->namespaces[0].devices[0].name, "eth0");
  ASSERT_EQ(then->namespaces[0].devices[0].addresses.size(), 1u);
  EXPECT_TRUE(then->namespaces[0].processes.empty()) << "version 1 recorded no processes";
  auto crashed = reader.gap_at(at_s(50));
  ASSERT_TRUE(crashed && *crashed);
  EXPECT_EQ((*crashed)->reason, "crashed") << "the old run never said it stopped";
  auto version = testing::run(
      {"sqlite3", path,
       "PRAGMA user_version; SELECT count(*) FROM pragma_table_info('attributions') WHERE name = 'processes';"});
  EXPECT_EQ(version.out, std::to_string(schema_version()) + "\n1\n") << "migrated forward, every step";
}

TEST_F(JournalTest, AJournalThatCannotBeOpenedIsDegradedAndTheFeedGoesOn) {
  JournalOptions o = options();
  const std::string blocker = dir_.path() + "/file";
  std::ofstream(blocker) << "x";
  o.path = blocker + "/journal.db";  // under a file: never creatable
  Journal journal(o, clock_);
  ASSERT_TRUE(journal.stats().degraded);
  EXPECT_NE(journal.stats().degraded->find(o.path), std::string::npos) << *journal.stats().degraded;
  ChangeFeed feed(FeedOptions{.after_seq = journal.last_seq()});
  journal.start(feed, [] { return std::vector<NamespaceView>{}; });
  feed.publish({netns_added(1, 1)}, at_s(1));
  EXPECT_FALSE(journal.wait_written(1, 300ms));
  journal.stop();
  EXPECT_EQ(journal.stats().lost, 1u);
}

}  // namespace
}  // namespace netnsd::history
