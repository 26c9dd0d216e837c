// The per-namespace series (--metrics-namespaces) from the real netnsd binary
// over real namespaces and veths: labelled with the node, following the
// kernel's counters (iproute2 is the oracle), clean for promtool whatever
// the names, and held within --metrics-max-series. tests/e2e/fleet_e2e.py
// takes the same series through a real Prometheus.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <map>
#include <string>

#include "daemon.h"
#include "privileged.h"
#include "system.h"
#include "util/text.h"

namespace netnsd {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::Daemon;
using testing::eventually;
using testing::NamedNetns;
using testing::unique_name;

class Fleet : public ::testing::Test {
 protected:
  void SetUp() override { NETNSD_REQUIRE_ROOT(); }
};

// The samples of a scrape: series -> value; the comment lines are skipped.
std::map<std::string, std::string> samples(const std::string& text) {
  std::map<std::string, std::string> out;
  for (std::string_view line : split_lines(text)) {
    if (line.empty() || line[0] == '#') continue;
    const auto space = line.rfind(' ');
    out[std::string(line.substr(0, space))] = std::string(line.substr(space + 1));
  }
  return out;
}

std::string scrape(const Daemon& d) {
  auto res = d.get("/metrics");
  return res && res->status == 200 ? res->body : std::string();
}

// `promtool check metrics` on a scrape: empty when clean, else what it said.
std::string promtool_says(const std::string& text) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/scrape.txt";
  std::ofstream(path) << text;
  auto r = testing::sh("promtool check metrics < '" + path + "' 2>&1");
  return r.status == 0 ? std::string() : r.out + " (exit " + std::to_string(r.status) + ")";
}

// A counter of device `name` in the kernel's own words (ip -s -j link).
std::uint64_t kernel_counter(const NamedNetns& ns, const std::string& device, const std::string& field) {
  const json links = json::parse(ns.ip({"-s", "-j", "link", "show", "dev", device}));
  return links.at(0).at("stats64").at(field.substr(0, 2)).at(field.substr(3)).get<std::uint64_t>();
}

TEST_F(Fleet, EachNamespaceAndDeviceIsASeriesThatFollowsTheKernelAndScrapesCleanWhateverItsName) {
  NamedNetns a(unique_name("fa"));
  // An ip-netns name with a quote, a backslash, a newline and a byte that is
  // not UTF-8: any bytes but '/' make a name.
  NamedNetns b(unique_name("fq") + "\"\\\n\xff");
  a.ip({"link", "add", "fa0", "type", "veth", "peer", "name", "fb0", "netns", b.target()});
  a.ip({"addr", "add", "10.201.0.1/24", "dev", "fa0"});
  b.ip({"addr", "add", "10.201.0.2/24", "dev", "fb0"});
  a.ip({"link", "set", "fa0", "up"});
  b.ip({"link", "set", "fb0", "up"});
  // Device names of 15 bytes, and with a quote, a backslash and 0xff.
  const std::string hostile = std::string("q\"\\\xff") + "z";
  b.ip({"link", "add", hostile, "type", "veth", "peer", "name", "abcdefghijklmno"});

  Daemon netnsd(
      {"--resync-interval", "0", "--metrics-namespaces", "--node-name", "fleet-a", "--metrics-min-interval", "0.2"});
  ASSERT_TRUE(netnsd.ready()) << netnsd.log();
  const std::string A = std::to_string(a.inode()), B = std::to_string(b.inode());
  ASSERT_TRUE(eventually([&] { return scrape(netnsd).find("device=\"abcdefghijklmno\"") != std::string::npos; }, 3s));
  std::this_thread::sleep_for(300ms);  // past the refresh interval
  const std::string text = scrape(netnsd);
  const auto s = samples(text);

  // The node on every sample, first.
  for (const auto& [series, value] : s) {
    EXPECT_NE(series.find("{node=\"fleet-a\""), std::string::npos) << series;
  }
  // One netnsd_netns_info per cached namespace.
  const json cached = netnsd.get_json("/v1/namespaces")["namespaces"];
  std::size_t infos = 0;
  for (const auto& [series, value] : s) infos += series.rfind("netnsd_netns_info{", 0) == 0;
  EXPECT_EQ(infos, cached.size());
  // Labels: the veth's peer, its address, the hostile names transcoded (a
  // backslash doubled, 0xff as \xff, then escaped for the exposition).
  EXPECT_EQ(s.count("netnsd_device_info{node=\"fleet-a\",netns=\"" + A + "\",device=\"fa0\",ifindex=\"" +
                    std::to_string(json::parse(a.ip({"-j", "link", "show", "fa0"}))[0]["ifindex"].get<int>()) +
                    "\",kind=\"veth\",mac=\"" +
                    json::parse(a.ip({"-j", "link", "show", "fa0"}))[0]["address"].get<std::string>() +
                    "\",master=\"\",peer_netns=\"" + B + "\",peer_device=\"fb0\"}"),
            1u)
      << text.substr(0, 3000);
  EXPECT_NE(text.find("netnsd_address_info{node=\"fleet-a\",netns=\"" + A +
                      "\",device=\"fa0\",address=\"10.201.0.1\",prefix_length=\"24\",family=\"inet\""),
            std::string::npos);
  EXPECT_NE(text.find(R"(device="q\"\\\\\\xffz")"), std::string::npos) << "the hostile device name, losslessly";
  EXPECT_NE(text.find("netns_name=\"" + b.name().substr(0, b.name().size() - 4) + R"(\"\\\\\n\\xff")"),
            std::string::npos)
      << "the hostile ip-netns name, losslessly";
  EXPECT_EQ(promtool_says(text), "") << "promtool check metrics";

  // Counters follow the kernel: ping through the veth, then compare with
  // what iproute2 reads (the series is at most the refresh interval old).
  const std::string tx = "netnsd_device_transmit_bytes_total{node=\"fleet-a\",netns=\"" + A + "\",device=\"fa0\"}";
  const std::string rx = "netnsd_device_receive_packets_total{node=\"fleet-a\",netns=\"" + B + "\",device=\"fb0\"}";
  const std::uint64_t tx_before = std::stoull(s.at(tx)), rx_before = std::stoull(s.at(rx));
  ASSERT_EQ(
      testing::run({"ip", "netns", "exec", a.name(), "ping", "-c", "5", "-i", "0.2", "-W", "1", "-q", "10.201.0.2"})
          .status,
      0);
  std::this_thread::sleep_for(300ms);
  const auto after = samples(scrape(netnsd));
  const std::uint64_t tx_after = std::stoull(after.at(tx)), rx_after = std::stoull(after.at(rx));
  EXPECT_GE(tx_after - tx_before, 5u * 98) << "five echo requests of 98 bytes went out of fa0";
  EXPECT_GE(rx_after - rx_before, 5u) << "and came into fb0";
  EXPECT_LE(tx_after, kernel_counter(a, "fa0", "tx_bytes")) << "never ahead of the kernel";
  EXPECT_LE(rx_after, kernel_counter(b, "fb0", "rx_packets"));
  std::printf("[ figures ] %zu series for %zu namespaces, %zu bytes; fa0 sent %llu bytes during the ping\n", s.size(),
              cached.size(), text.size(), static_cast<unsigned long long>(tx_after - tx_before));
}

TEST_F(Fleet, OverTheSeriesCapTheLargestNamespaceIsLeftOutAndCounted) {
  NamedNetns big(unique_name("fc"));
  for (int i = 0; i < 6; ++i) {
    big.ip({"link", "add", "c" + std::to_string(i), "type", "veth", "peer", "name", "d" + std::to_string(i)});
  }
  const std::string C = std::to_string(big.inode());
  std::size_t total = 0, theirs = 0;
  {
    Daemon netnsd({"--resync-interval", "0", "--metrics-namespaces"});
    ASSERT_TRUE(netnsd.ready()) << netnsd.log();
    const auto s = samples(netnsd.metrics_text());
    for (const auto& [series, value] : s) {
      if (series.rfind("netnsd_netns_", 0) == 0 || series.rfind("netnsd_device_", 0) == 0 ||
          series.rfind("netnsd_address_", 0) == 0) {
        ++total;
        theirs += series.find("netns=\"" + C + "\"") != std::string::npos;
      }
    }
    EXPECT_EQ(netnsd.metric("netnsd_metrics_series"), static_cast<double>(total));
    EXPECT_EQ(netnsd.metric("netnsd_metrics_series_dropped"), 0);
    ASSERT_EQ(theirs, 1u + 13 * 11) << "its info, then lo and 12 veth ends of 11 series each";
  }
  // One series fewer than all: the largest namespace (not the host's) goes.
  Daemon netnsd({"--resync-interval", "0", "--metrics-namespaces", "--metrics-max-series", std::to_string(total - 1)});
  ASSERT_TRUE(netnsd.ready()) << netnsd.log();
  const std::string text = netnsd.metrics_text();
  EXPECT_EQ(text.find("netns=\"" + C + "\""), std::string::npos) << "the largest namespace is left out";
  EXPECT_EQ(netnsd.metric("netnsd_metrics_series_dropped"), static_cast<double>(theirs));
  EXPECT_EQ(netnsd.metric("netnsd_metrics_namespaces_dropped"), 1);
  EXPECT_LE(netnsd.metric("netnsd_metrics_series"), static_cast<double>(total - 1));
}

// The event log's lines in a file: each a JSON object.
std::vector<json> log_lines(const std::string& path) {
  std::vector<json> out;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) out.push_back(json::parse(line));
  return out;
}

TEST_F(Fleet, EveryChangeIsALogEntryAndAStormIsSummarisedWithinTheRate) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/events.ndjson";
  auto netnsd =
      std::make_unique<Daemon>(std::vector<std::string>{"--resync-interval", "0", "--event-log", "file:" + path});
  ASSERT_TRUE(netnsd->ready()) << netnsd->log();
  NamedNetns a(unique_name("fe"));
  a.ip({"link", "add", "ev0", "type", "veth", "peer", "name", "ev1"});
  const auto entry_for = [&](const std::string& type, const std::string& device) {
    for (const json& e : log_lines(path)) {
      if (e["type"] == type && e.value("device", "") == device && e["netns"] == a.inode()) return e;
    }
    return json();
  };
  ASSERT_TRUE(eventually([&] { return !entry_for("device_added", "ev0").is_null(); }, 3s));
  const json added = entry_for("device_added", "ev0");
  EXPECT_GT(added["seq"].get<std::uint64_t>(), 0u);
  EXPECT_EQ(added["message"], "device ev0 (veth) appeared in network namespace " + std::to_string(a.inode()));
  EXPECT_TRUE(added.contains("time"));

  // 5000 address changes in five bursts over about 8 s.
  const auto started = std::chrono::steady_clock::now();
  for (int burst = 0; burst < 5; ++burst) {
    std::string batch;
    for (const char* verb : {"add", "del"}) {
      for (int i = 0; i < 500; ++i) {
        batch += std::string("addr ") + verb + " 10.203." + std::to_string(2 * burst + i / 250) + "." +
                 std::to_string(i % 250) + "/32 dev ev0\n";
      }
    }
    ASSERT_EQ(testing::sh("ip -n " + a.name() + " -batch - <<'EOF'\n" + batch + "EOF").status, 0);
    if (burst < 4) std::this_thread::sleep_for(2s);
  }
  const double storm_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  auto health = netnsd->get("/healthz");
  EXPECT_TRUE(health && health->status == 200) << "it answers after the storm";
  // Every change recorded by the cache, then a clean stop writes what is
  // still counted.
  ASSERT_TRUE(eventually([&] { return netnsd->metric("netnsd_event_log_changes_total") >= 5001; }, 10s));
  EXPECT_EQ(netnsd->stop(), 0);

  std::uint64_t entries = 0, summarised = 0;
  for (const json& e : log_lines(path)) {
    const std::string type = e["type"];
    if (type == "summary") {
      if (e.value("summary_of", "").rfind("address_", 0) == 0 && e.value("netns", 0ull) == a.inode()) {
        summarised += e["count"].get<std::uint64_t>();
      }
    } else if (type.rfind("address_", 0) == 0 && e["netns"] == a.inode()) {
      ++entries;
    }
  }
  EXPECT_EQ(entries + summarised, 5000u) << "entries and summaries account for every address change";
  const double allowed = 1000 + 200 * (storm_s + 1);
  EXPECT_LE(entries, allowed) << "no more entries than the burst and 200 a second allow";
  EXPECT_LT(allowed, 10000) << "below journald's own default limit (10,000 per 30 s)";
  EXPECT_GT(summarised, 0u);
  std::printf("[ figures ] 5000 address changes in %.1f s: %llu entries, %llu summarised (allowed %.0f)\n", storm_s,
              static_cast<unsigned long long>(entries), static_cast<unsigned long long>(summarised), allowed);
}

}  // namespace
}  // namespace netnsd
