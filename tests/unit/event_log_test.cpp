// The event log (history/event_log.h): its rate limit and summaries alone,
// journald's native protocol through a datagram socket the test binds
// where journald's would be, and a file that rotates. Entries plus the
// counts in summaries always equal the changes. The real journald reads
// the same entries in tests/deploy/systemd_inside.sh.
#include "history/event_log.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "fakes.h"
#include "system.h"
#include "util/fd.h"
#include "util/text.h"

namespace netnsd::history {
namespace {

using namespace std::chrono_literals;
using Fields = std::map<std::string, std::string>;

Change address_change(NetnsId netns, std::uint8_t last) {
  Change c;
  c.kind = ChangeKind::address_added;
  c.netns = netns;
  c.device_name = "eth0";
  Address a;
  a.family = AF_INET;
  a.prefix_len = 32;
  a.local[0] = 10, a.local[3] = last;
  c.address = a;
  return c;
}

// journald's native protocol, read back: NAME=value lines, or NAME, a
// 64-bit little-endian length and the value.
Fields parse_datagram(const std::string& d) {
  Fields f;
  std::size_t at = 0;
  while (at < d.size()) {
    const std::size_t eol = d.find('\n', at);
    const std::size_t eq = d.find('=', at);
    if (eq != std::string::npos && eq < eol) {
      f[d.substr(at, eq - at)] = d.substr(eq + 1, eol - eq - 1);
      at = eol + 1;
      continue;
    }
    const std::string name = d.substr(at, eol - at);
    std::uint64_t n = 0;
    for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(d[eol + 1 + i]);
    f[name] = d.substr(eol + 9, n);
    at = eol + 9 + n + 1;
  }
  return f;
}

TEST(EventLimiter, ABurstThenTheRateThenSummariesPerTypeAndNamespace) {
  EventLogOptions o;
  o.rate = 10;
  o.burst = 5;
  o.summary_period = 1s;
  o.summary_keys = 3;
  SteadyTime t{};
  EventLimiter limiter(o, t);
  int admitted = 0;
  for (int i = 0; i < 8; ++i) admitted += limiter.admit(address_change(1, 1), t);
  EXPECT_EQ(admitted, 5) << "the burst";
  EXPECT_TRUE(limiter.due(t).empty()) << "not before a period";
  t += 100ms;
  EXPECT_TRUE(limiter.admit(address_change(1, 1), t)) << "a token a tenth of a second";
  EXPECT_FALSE(limiter.admit(address_change(1, 1), t));
  t += 1s;
  auto due = limiter.due(t);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ((due[{ChangeKind::address_added, 1}]), 4u);
  EXPECT_TRUE(limiter.due(t + 5s).empty()) << "taken";

  // Past summary_keys pairs a type is counted for every namespace at once,
  // and the counts are due at once.
  for (int i = 0; i < 20; ++i) limiter.admit(address_change(1, 1), t);  // spends the tokens
  for (NetnsId n : {2, 3, 4, 5}) limiter.admit(address_change(n, 1), t);
  limiter.count({std::nullopt, 0}, 7);
  due = limiter.due(t);
  std::uint64_t total = 0;
  for (const auto& [key, count] : due) total += count;
  EXPECT_GE(due.size(), 3u);
  EXPECT_EQ((due[{ChangeKind::address_added, 0}]), 2u) << "namespaces 4 and 5, past three pairs";
  EXPECT_EQ((due[{std::nullopt, 0}]), 7u);
  EXPECT_EQ(total, 20u - 5u + 4u + 7u) << "each change in exactly one count (the second past refilled the burst)";
}

TEST(EventLogFormat, ADatagramCarriesNewlinesInLengthPrefixedValues) {
  const std::string d = journal_datagram({{"MESSAGE", "a\nb"}, {"NETNSD_SEQ", "7"}});
  EXPECT_EQ(d, std::string("MESSAGE\n\x03\0\0\0\0\0\0\0a\nb\nNETNSD_SEQ=7\n", 33));
  EXPECT_EQ(parse_datagram(d), (Fields{{"MESSAGE", "a\nb"}, {"NETNSD_SEQ", "7"}}));
  const auto line = nlohmann::json::parse(
      ndjson_line({{"MESSAGE", "m"}, {"PRIORITY", "6"}, {"NETNSD_SEQ", "7"}, {"NETNSD_DEVICE", "a\xff"}}, {}));
  EXPECT_EQ(line["seq"], 7);
  EXPECT_EQ(line["message"], "m");
  EXPECT_EQ(line["device"], "a\xef\xbf\xbd") << "valid UTF-8, as the JSON everywhere";
  EXPECT_FALSE(line.contains("priority"));
}

// A datagram socket where journald's would be, read on a thread of its own
// (a datagram socket holds few unread datagrams).
class FakeJournald {
 public:
  FakeJournald() : path_(dir_.path() + "/journal.sock") {
    fd_ = Fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path_.c_str());
    EXPECT_EQ(::bind(fd_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    timeval wait{0, 100'000};
    ::setsockopt(fd_.get(), SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof wait);
    reader_ = std::thread([this] {
      char buf[65536];
      while (!stop_) {
        const ssize_t n = ::recv(fd_.get(), buf, sizeof buf, 0);
        if (n <= 0) continue;
        std::lock_guard lock(mutex_);
        got_.push_back(parse_datagram(std::string(buf, static_cast<std::size_t>(n))));
      }
    });
  }
  ~FakeJournald() {
    stop_ = true;
    reader_.join();
  }
  const std::string& path() const { return path_; }
  std::vector<Fields> got() {
    std::lock_guard lock(mutex_);
    return got_;
  }

 private:
  testing::TempDir dir_;
  std::string path_;
  Fd fd_;
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::vector<Fields> got_;
  std::thread reader_;
};

TEST(EventLog, EachChangeIsAJournalEntryWithItsFieldsAndAStormIsSummarised) {
  FakeJournald journald;
  testing::FakeClock clock;
  ChangeFeed feed;
  EventLogOptions o;
  o.target = EventLogTarget::journald;
  o.path = journald.path();
  o.rate = 50;
  o.burst = 100;
  EventLog log(o, clock, [](NetnsId) { return EventContext{"app", "shop/web-0"}; });
  ASSERT_TRUE(log.start(feed));

  Change device;
  device.kind = ChangeKind::device_added;
  device.netns = 4026532000;
  device.device = Device{};
  device.device->name = "veth\n1";
  device.device->kind = "veth";
  feed.publish({device}, clock.now());
  ASSERT_TRUE(testing::eventually([&] { return !journald.got().empty(); }, 2s));
  const Fields first = journald.got()[0];
  EXPECT_EQ(first.at("NETNSD_TYPE"), "device_added");
  EXPECT_EQ(first.at("NETNSD_SEQ"), "1");
  EXPECT_EQ(first.at("NETNSD_NETNS"), "4026532000");
  EXPECT_EQ(first.at("NETNSD_DEVICE"), "veth\n1") << "any bytes, length-prefixed";
  EXPECT_EQ(first.at("NETNSD_CONTAINER"), "app");
  EXPECT_EQ(first.at("NETNSD_POD"), "shop/web-0");
  EXPECT_EQ(first.at("SYSLOG_IDENTIFIER"), "netnsd");
  EXPECT_EQ(first.at("MESSAGE"), "device veth\\x0a1 (veth) appeared in network namespace 4026532000 [pod shop/web-0]");

  // 3000 address changes at once, in three namespaces: the burst goes out
  // (the clock stands still: no token comes back), the rest is summarised.
  for (int i = 0; i < 3000; i += 100) {
    std::vector<Change> batch;
    for (int k = 0; k < 100; ++k) batch.push_back(address_change(1 + (i + k) % 3, static_cast<std::uint8_t>(k)));
    feed.publish(std::move(batch), clock.now());
  }
  ASSERT_TRUE(testing::eventually([&] { return log.stats().changes == 3001; }, 5s));
  log.stop();
  ASSERT_TRUE(
      testing::eventually([&] { return journald.got().size() == log.stats().entries + log.stats().summaries; }, 2s));
  std::uint64_t entries = 0, summarised = 0;
  for (const Fields& f : journald.got()) {
    if (f.at("NETNSD_TYPE") == "summary") {
      summarised += std::stoull(f.at("NETNSD_COUNT"));
      EXPECT_EQ(f.at("NETNSD_SUMMARY_OF"), "address_added");
      EXPECT_EQ(f.count("NETNSD_NETNS"), 1u);
    } else {
      ++entries;
    }
  }
  EXPECT_EQ(entries, 100u) << "the burst, no more";
  EXPECT_EQ(entries + summarised, 3001u) << "entries and summaries account for every change";
  EXPECT_EQ(log.stats().entries + log.stats().summarised, 3001u);
}

TEST(EventLog, NeighboursAppearingAndVanishingAreEntriesAndRoutesAndStateChangesAreNot) {
  FakeJournald journald;
  testing::FakeClock clock;
  ChangeFeed feed;
  EventLogOptions o;
  o.target = EventLogTarget::journald;
  o.path = journald.path();
  EventLog log(o, clock, [](NetnsId) { return EventContext{}; });
  ASSERT_TRUE(log.start(feed));
  Neighbour n;
  n.family = AF_INET;
  n.ifindex = 3;
  n.dst[0] = 10, n.dst[3] = 9;
  n.lladdr = "02:00:00:00:00:09";
  std::vector<Change> changes;
  for (ChangeKind kind : {ChangeKind::route_added, ChangeKind::neighbour_added, ChangeKind::neighbour_changed,
                          ChangeKind::rule_removed, ChangeKind::neighbour_removed}) {
    Change c;
    c.kind = kind;
    c.netns = 4026532001;
    if (kind == ChangeKind::route_added) c.route = Route{};
    if (kind == ChangeKind::rule_removed) c.rule = Rule{};
    if (kind >= ChangeKind::neighbour_added) {
      c.neighbour = n;
      c.device_names = {{3, "eth0"}};
    }
    changes.push_back(std::move(c));
  }
  feed.publish(std::move(changes), clock.now());
  ASSERT_TRUE(testing::eventually([&] { return journald.got().size() >= 2; }, 2s));
  log.stop();
  const auto got = journald.got();
  ASSERT_EQ(got.size(), 2u) << "only the neighbour's appearing and vanishing";
  EXPECT_EQ(got[0].at("NETNSD_TYPE"), "neighbour_added");
  EXPECT_EQ(got[0].at("NETNSD_ADDRESS"), "10.0.0.9");
  EXPECT_EQ(got[0].at("NETNSD_DEVICE"), "eth0");
  EXPECT_EQ(got[0].at("MESSAGE"),
            "neighbour 10.0.0.9 at 02:00:00:00:00:09 appeared on eth0 in network namespace 4026532001");
  EXPECT_EQ(got[1].at("NETNSD_TYPE"), "neighbour_removed");
  EXPECT_EQ(got[1].at("MESSAGE"),
            "neighbour 10.0.0.9 at 02:00:00:00:00:09 vanished from eth0 in network namespace 4026532001");
}

TEST(EventLog, AFileTargetIsNdjsonRotatedBySizeKeepingTheNewest) {
  testing::TempDir dir;
  testing::FakeClock clock;
  ChangeFeed feed;
  EventLogOptions o;
  o.target = EventLogTarget::file;
  o.path = dir.path() + "/events.ndjson";
  o.file_max_bytes = 4096;
  o.file_keep = 2;
  EventLog log(o, clock);
  ASSERT_TRUE(log.start(feed));
  for (int i = 0; i < 200; ++i) feed.publish({address_change(7, static_cast<std::uint8_t>(i))}, clock.now());
  ASSERT_TRUE(testing::eventually([&] { return log.stats().entries == 200; }, 5s));
  log.stop();
  std::uint64_t last_seq = 0;
  std::size_t lines = 0;
  for (const std::string& name : {o.path + ".2", o.path + ".1", o.path}) {
    struct stat st {};
    ASSERT_EQ(::stat(name.c_str(), &st), 0) << name;
    EXPECT_LE(st.st_size, 4096) << name;
    std::ifstream in(name);
    for (std::string line; std::getline(in, line); ++lines) {
      const auto j = nlohmann::json::parse(line);
      EXPECT_EQ(j["type"], "address_added");
      EXPECT_GT(j["seq"].get<std::uint64_t>(), last_seq) << "oldest file first, in order";
      last_seq = j["seq"];
    }
  }
  EXPECT_EQ(last_seq, 200u) << "the newest kept";
  EXPECT_LT(lines, 200u) << "the oldest rotated away";
  struct stat st {};
  EXPECT_NE(::stat((o.path + ".3").c_str(), &st), 0) << "two older files kept, no more";
}

TEST(EventLogOptions, ParsesEachTarget) {
  EXPECT_EQ(parse_event_log("off")->target, EventLogTarget::off);
  EXPECT_EQ(parse_event_log("journald")->path, "/run/systemd/journal/socket");
  EXPECT_EQ(parse_event_log("stdout")->target, EventLogTarget::stdout_lines);
  EXPECT_EQ(parse_event_log("file:/var/log/netnsd.ndjson")->path, "/var/log/netnsd.ndjson");
  for (const char* bad : {"", "file:", "file:relative", "syslog", "journald "}) {
    EXPECT_FALSE(parse_event_log(bad)) << bad;
  }
}

}  // namespace
}  // namespace netnsd::history
