// The per-namespace series (api/namespace_metrics.h) over a scripted host:
// what each series says, the refresh interval shared by every scraper, the
// series cap's order, and label values from hostile names. The real kernel,
// promtool and a real Prometheus check the same in tests/privileged and
// tests/e2e.
#include "api/namespace_metrics.h"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <map>
#include <random>
#include <set>
#include <thread>

#include "api/telemetry.h"
#include "fakes.h"
#include "util/text.h"

namespace netnsd {
namespace {

using namespace std::chrono_literals;
using testing::dummy_fd;
using testing::FakeClock;
using testing::FakeHost;

// The samples of an exposition: series (name and labels) -> value.
std::map<std::string, std::string> samples(const std::string& text) {
  std::map<std::string, std::string> out;
  for (std::string_view line : split_lines(text)) {
    if (line.empty() || line[0] == '#') continue;
    const auto space = line.rfind(' ');
    const bool repeated = !out.emplace(std::string(line.substr(0, space)), std::string(line.substr(space + 1))).second;
    EXPECT_FALSE(repeated) << "a series written twice: " << line;
  }
  return out;
}

std::size_t count_of(const std::map<std::string, std::string>& s, std::string_view prefix) {
  std::size_t n = 0;
  for (const auto& [series, value] : s) n += series.rfind(prefix, 0) == 0;
  return n;
}

Device device(std::uint32_t ifindex, std::string name, std::uint64_t rx_bytes) {
  Device d = testing::plain(ifindex, std::move(name), "veth");
  d.up = true;
  d.operstate = OperState::up;
  d.mac = "02:00:00:00:00:0" + std::to_string(ifindex % 10);
  d.stats = LinkStats{.rx_packets = 3,
                      .tx_packets = 4,
                      .rx_bytes = rx_bytes,
                      .tx_bytes = 6,
                      .rx_errors = 7,
                      .tx_errors = 8,
                      .rx_dropped = 9,
                      .tx_dropped = 10};
  return d;
}

Address address(std::uint8_t last, std::uint8_t prefix = 24) {
  Address a;
  a.family = AF_INET;
  a.prefix_len = prefix;
  a.local[0] = 10, a.local[1] = 1, a.local[2] = 2, a.local[3] = last;
  return a;
}

// A host of three namespaces: the host's own (1), a pod's (10, host-owned,
// a veth to the host) and one owned by uid 1000 (20).
class NamespaceMetricsTest : public ::testing::Test {
 protected:
  NamespaceMetricsTest() : resolver_({}, clock_) {
    add(1, {1, 0, true}, {device(1, "lo", 100), device(5, "veth10", 200)});
    Device eth0 = device(2, "eth0", 300);
    eth0.peer = LinkRef{5, 1, 0};
    eth0.addresses = {address(7)};
    add(10, {1, 0, true}, {eth0});
    ContainerRef pod{"containerd", std::string(64, 'a'), "uid-1", 0, "app", "web-0", "shop"};
    PresenceMap seen;
    seen[10].pids = 1;
    seen[10].containers = {pod};
    resolver_.apply_presence(seen);
    add(20, {900, 1000, false}, {device(2, "tap0", 400), device(3, "tap1", 500)});
  }

  void add(NetnsId id, NamespaceOwner owner, std::vector<Device> devices) {
    ASSERT_TRUE(resolver_.capture(id, NamespaceHandle{dummy_fd(), "/p", owner}, Source::procfs));
    host_.links[id] = devices;
    for (Device& d : devices) d.stats.reset();  // the cache never keeps counters
    resolver_.set_devices(id, devices);
  }

  NamespaceMetrics metrics(NamespaceMetricsOptions options = {}) {
    return NamespaceMetrics(resolver_, host_, clock_, 1, "n1", options);
  }

  FakeClock clock_;
  FakeHost host_;
  Resolver resolver_;
};

TEST_F(NamespaceMetricsTest, EachNamespaceDeviceAndAddressIsASeriesWithItsLabels) {
  NamespaceMetrics m = metrics();
  const auto s = samples(*m.exposition());
  EXPECT_EQ(s.at(R"(netnsd_netns_info{node="n1",netns="10",netns_cookie="",netns_name="",owner_uid="0",)"
                 R"(host_owned="true",pod="web-0",namespace="shop"})"),
            "1");
  EXPECT_EQ(s.at(R"(netnsd_netns_info{node="n1",netns="20",netns_cookie="",netns_name="",owner_uid="1000",)"
                 R"(host_owned="false",pod="",namespace=""})"),
            "1");
  EXPECT_EQ(count_of(s, "netnsd_netns_info{"), 3u) << "exactly one per namespace";
  EXPECT_EQ(s.at(R"(netnsd_netns_container_info{node="n1",netns="10",container="app",container_id=")" +
                 std::string(64, 'a') + R"(",runtime="containerd",pod="web-0",namespace="shop"})"),
            "1");
  EXPECT_EQ(s.at(R"(netnsd_device_info{node="n1",netns="10",device="eth0",ifindex="2",kind="veth",)"
                 R"(mac="02:00:00:00:00:02",master="",peer_netns="1",peer_device="veth10"})"),
            "1");
  EXPECT_EQ(s.at(R"(netnsd_device_receive_bytes_total{node="n1",netns="10",device="eth0"})"), "300");
  EXPECT_EQ(s.at(R"(netnsd_device_transmit_drops_total{node="n1",netns="20",device="tap1"})"), "10");
  EXPECT_EQ(s.at(R"(netnsd_device_up{node="n1",netns="1",device="lo"})"), "1");
  EXPECT_EQ(s.at(R"(netnsd_device_mtu_bytes{node="n1",netns="1",device="lo"})"), "1500");
  EXPECT_EQ(s.at(R"(netnsd_address_info{node="n1",netns="10",device="eth0",address="10.1.2.7",prefix_length="24",)"
                 R"(family="inet",pod="web-0",namespace="shop"})"),
            "1");
  // 3 namespaces, 1 container, 5 devices of 11 series each, 1 address.
  EXPECT_EQ(s.size(), 3u + 1 + 5 * 11 + 1);
  EXPECT_EQ(m.stats().series, s.size());
  EXPECT_EQ(m.stats().link_dumps, 3u) << "one link dump per namespace";
}

TEST_F(NamespaceMetricsTest, ScrapersShareOneRefreshPerInterval) {
  NamespaceMetrics m = metrics({.min_interval = 10s});
  const int before = host_.link_listings;
  std::vector<std::thread> scrapers;
  std::vector<std::shared_ptr<const std::string>> got(10);
  for (int i = 0; i < 10; ++i) scrapers.emplace_back([&, i] { got[i] = m.exposition(); });
  for (auto& t : scrapers) t.join();
  EXPECT_EQ(host_.link_listings - before, 3) << "ten concurrent scrapers: one link dump per namespace in all";
  for (const auto& text : got) EXPECT_EQ(*text, *got[0]);

  // Counters move; within the interval the scrape says what it said.
  host_.links[10][0].stats->rx_bytes = 999;
  clock_.advance(9s);
  EXPECT_EQ(samples(*m.exposition()).at(R"(netnsd_device_receive_bytes_total{node="n1",netns="10",device="eth0"})"),
            "300");
  clock_.advance(1s);
  EXPECT_EQ(samples(*m.exposition()).at(R"(netnsd_device_receive_bytes_total{node="n1",netns="10",device="eth0"})"),
            "999");
  EXPECT_EQ(host_.link_listings - before, 6);
  EXPECT_EQ(m.stats().refreshes, 2u);
}

TEST_F(NamespaceMetricsTest, ANamespaceThatCannotBeListedKeepsItsInfoWithoutCounters) {
  host_.links.erase(20);
  NamespaceMetrics m = metrics();
  const auto s = samples(*m.exposition());
  EXPECT_EQ(count_of(s, R"(netnsd_device_info{node="n1",netns="20")"), 2u);
  EXPECT_EQ(count_of(s, R"(netnsd_device_receive_bytes_total{node="n1",netns="20")"), 0u);
  EXPECT_EQ(m.stats().link_dump_errors, 1u);
}

TEST_F(NamespaceMetricsTest, OverTheCapUnprivilegedNamespacesGoFirstThenTheLargestNeverTheHosts) {
  // Namespace 30: host-owned and the largest (four devices).
  add(30, {1, 0, true}, {device(2, "a", 1), device(3, "b", 1), device(4, "c", 1), device(5, "d", 1)});
  // Sizes: 1 -> 23, 10 -> 14, 20 -> 23, 30 -> 45; 105 in all.
  struct Case {
    std::size_t cap;
    std::set<std::string> kept;
  };
  for (const Case& c : {Case{105, {"1", "10", "20", "30"}}, Case{104, {"1", "10", "30"}}, Case{82, {"1", "10", "30"}},
                        Case{81, {"1", "10"}}, Case{37, {"1", "10"}}, Case{36, {"1"}}, Case{1, {"1"}}}) {
    NamespaceMetrics m = metrics({.max_series = c.cap});
    const auto s = samples(*m.exposition());
    std::set<std::string> kept;
    for (const auto& [series, value] : s) {
      if (series.rfind("netnsd_netns_info{", 0) == 0) {
        const auto at = series.find("netns=\"") + 7;
        kept.insert(series.substr(at, series.find('"', at) - at));
      }
    }
    EXPECT_EQ(kept, c.kept) << "cap " << c.cap;
    EXPECT_EQ(m.stats().series, s.size());
    EXPECT_EQ(m.stats().series + m.stats().series_dropped, 105u) << "cap " << c.cap;
    EXPECT_TRUE(s.size() <= c.cap || c.kept == std::set<std::string>{"1"}) << "the host's own is never dropped";
    EXPECT_EQ(m.stats().namespaces_dropped, 4 - c.kept.size());
  }
}

TEST(LabelValues, AnyBytesBecomeValidUtf8LosslesslyAndEscaped) {
  EXPECT_EQ(label_text("eth0"), "eth0");
  EXPECT_EQ(label_text("caf\xc3\xa9"), "caf\xc3\xa9") << "valid UTF-8 stays";
  EXPECT_EQ(label_text("a\xff"), "a\\xff");
  EXPECT_EQ(label_text("a\\xff"), "a\\\\xff") << "a backslash doubles, so the two differ";
  EXPECT_EQ(label_text("\xc3"), "\\xc3") << "a truncated sequence";
  EXPECT_EQ(label_value("q\"\n\\"), "q\\\"\\n\\\\\\\\");
  // Random names: always valid UTF-8, and no two the same.
  std::mt19937 random(7);
  std::set<std::string> names, texts;
  for (int i = 0; i < 20000; ++i) {
    std::string name(1 + random() % 15, '\0');
    for (char& ch : name) ch = static_cast<char>(random() % 8 == 0 ? '\\' : 0x78 + random() % 0x88);
    const std::string text = label_text(name);
    EXPECT_EQ(sanitize_utf8(text), text) << "not UTF-8: " << escape_for_log(name);
    if (names.insert(name).second) {
      EXPECT_TRUE(texts.insert(text).second) << "two names, one label: " << escape_for_log(name);
    }
  }
}

TEST(MetricsWriterLabels, TheConstantLabelsComeFirstOnEverySample) {
  MetricsWriter out("node=\"n1\"");
  out.sample("a", "", "gauge", "A.", 1);
  out.sample("b", "{x=\"y\"}", "counter", "B.", 2);
  out.integer("b", "{x=\"z\"}", 18446744073709551615u);
  EXPECT_EQ(out.take(),
            "# HELP a A.\n# TYPE a gauge\na{node=\"n1\"} 1\n# HELP b B.\n# TYPE b counter\nb{node=\"n1\",x=\"y\"} 2\n"
            "b{node=\"n1\",x=\"z\"} 18446744073709551615\n");
}

}  // namespace
}  // namespace netnsd
