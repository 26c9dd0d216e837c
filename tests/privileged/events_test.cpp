// GET /v1/events on the real netnsd binary: real namespaces and devices
// appear on the stream within their latency budgets, removals follow a
// deleted namespace, and a subscriber that stops reading slows nobody (not
// /healthz, not another subscriber) and is told what it lost.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "api_checks.h"
#include "daemon.h"
#include "event_stream.h"
#include "privileged.h"
#include "system.h"

namespace netnsd {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using Clock = std::chrono::steady_clock;
using testing::Daemon;
using testing::EventStream;
using testing::eventually;
using testing::NamedNetns;
using testing::RawClient;
using testing::unique_name;

auto of_type(const std::string& type, std::uint64_t netns) {
  return [type, netns](const json& e) { return e["type"] == type && e["netns"] == netns; };
}

auto device_event(const std::string& type, std::uint64_t netns, const std::string& name) {
  return [type, netns, name](const json& e) {
    return e["type"] == type && e["netns"] == netns && e["device"]["name"] == name;
  };
}

double ms_since(Clock::time_point start, Clock::time_point end) {
  return std::chrono::duration<double, std::milli>(end - start).count();
}

class Events : public ::testing::Test {
 protected:
  void SetUp() override { NETNSD_REQUIRE_ROOT(); }
};

TEST_F(Events, NamespacesAndDevicesAreOnTheStreamWithinTheirBudgets) {
  Daemon netnsd({"--resync-interval", "0", "--lonely-timeout", "1", "--flush-period", "1"});
  ASSERT_TRUE(netnsd.ready());
  EventStream stream(netnsd.socket_path());
  ASSERT_EQ(stream.status(), 200) << stream.head();
  EXPECT_NE(stream.head().find("application/x-ndjson"), std::string::npos) << stream.head();
  auto hello = stream.wait_for([](const json& e) { return e["type"] == "subscribed"; }, 2s);
  ASSERT_TRUE(hello);
  EXPECT_TRUE(hello->body["seq"].is_number_unsigned());

  // A new `ip netns add` namespace: within 200 ms.
  const auto made = Clock::now();
  auto a = std::make_unique<NamedNetns>(unique_name("ev"));
  auto added = stream.wait_for(of_type("netns_added", a->inode()), 2s);
  ASSERT_TRUE(added) << "no netns_added for " << a->inode();
  const double ns_ms = ms_since(made, added->arrived);
  EXPECT_LT(ns_ms, 200.0);
  std::uint64_t last_seq = added->body["seq"];

  // A veth made in it, ten times: each on the stream within 100 ms.
  double worst = 0;
  for (int i = 0; i < 10; ++i) {
    const std::string name = "ve" + std::to_string(i);
    const auto t0 = Clock::now();
    a->ip({"link", "add", name, "type", "veth", "peer", "name", "vp" + std::to_string(i)});
    auto e = stream.wait_for(device_event("device_added", a->inode(), name), 2s);
    ASSERT_TRUE(e) << "no device_added for " << name;
    worst = std::max(worst, ms_since(t0, e->arrived));
    EXPECT_GT(e->body["seq"].get<std::uint64_t>(), last_seq) << "sequence numbers only grow";
    last_seq = e->body["seq"];
    EXPECT_EQ(e->body["device"]["kind"], "veth");
  }
  EXPECT_LT(worst, 100.0);
  std::printf("[ figures ] netns_added after %.1f ms; device_added worst of 10 after %.1f ms\n", ns_ms, worst);

  // A rename: old and new name.
  a->ip({"link", "set", "ve0", "name", "renamed0"});
  auto renamed = stream.wait_for(device_event("device_changed", a->inode(), "renamed0"), 2s);
  ASSERT_TRUE(renamed);
  EXPECT_EQ(renamed->body["old"]["name"], "ve0");
  EXPECT_NE(std::find(renamed->body["changed"].begin(), renamed->body["changed"].end(), "name"),
            renamed->body["changed"].end());

  // An address, then a device moved to another cached namespace.
  a->ip({"addr", "add", "192.0.2.9/24", "dev", "renamed0"});
  auto addr = stream.wait_for(
      [&](const json& e) { return e["type"] == "address_added" && e["address"]["address"] == "192.0.2.9"; }, 2s);
  ASSERT_TRUE(addr);
  EXPECT_EQ(addr->body["device"]["name"], "renamed0");
  NamedNetns b(unique_name("ev"));
  ASSERT_TRUE(stream.wait_for(of_type("netns_added", b.inode()), 2s));
  a->ip({"link", "set", "vp1", "netns", b.name()});
  auto moved = stream.wait_for(device_event("device_removed", a->inode(), "vp1"), 2s);
  ASSERT_TRUE(moved);
  ASSERT_TRUE(moved->body["moved_to"].is_object()) << moved->body.dump();
  EXPECT_EQ(moved->body["moved_to"]["netns"], b.inode()) << moved->body.dump();
  ASSERT_TRUE(stream.wait_for(device_event("device_added", b.inode(), "vp1"), 2s));

  // Deleted: its devices and then the namespace leave, as removals.
  const std::uint64_t gone = a->inode();
  a.reset();
  std::vector<std::string> removed_devices;
  auto removed = stream.wait_for(
      [&](const json& e) {
        if (e["type"] == "device_removed" && e["netns"] == gone) removed_devices.push_back(e["device"]["name"]);
        return e["type"] == "netns_removed" && e["netns"] == gone;
      },
      10s);
  ASSERT_TRUE(removed) << "no netns_removed for the deleted namespace";
  EXPECT_EQ(removed->body["reason"], "released");
  std::sort(removed_devices.begin(), removed_devices.end());
  EXPECT_TRUE(std::binary_search(removed_devices.begin(), removed_devices.end(), "lo"));
  EXPECT_TRUE(std::binary_search(removed_devices.begin(), removed_devices.end(), "renamed0"));
  EXPECT_TRUE(std::binary_search(removed_devices.begin(), removed_devices.end(), "ve9"));
}

TEST_F(Events, FiltersBadQueriesAndTheSubscriberCap) {
  NamedNetns a(unique_name("ev")), b(unique_name("ev"));
  Daemon netnsd({"--resync-interval", "0", "--max-subscribers", "2"});
  ASSERT_TRUE(netnsd.ready());
  EventStream only_a(netnsd.socket_path(), "?netns=" + std::to_string(a.inode()) + "&type=device");
  ASSERT_EQ(only_a.status(), 200);
  EventStream all(netnsd.socket_path());
  ASSERT_EQ(all.status(), 200);
  EventStream third(netnsd.socket_path());
  EXPECT_EQ(third.status(), 503) << third.head();

  b.ip({"link", "add", "vb", "type", "veth", "peer", "name", "vb1"});
  a.ip({"addr", "add", "192.0.2.1/32", "dev", "lo"});
  a.ip({"link", "add", "va", "type", "veth", "peer", "name", "va1"});
  ASSERT_TRUE(all.wait_for(device_event("device_added", a.inode(), "va"), 2s));
  for (const json& e : only_a.drain(300ms)) {
    if (e["type"] == "subscribed") continue;
    EXPECT_EQ(e["netns"], a.inode()) << e.dump();
    EXPECT_EQ(e["type"].get<std::string>().rfind("device_", 0), 0u) << e.dump();
  }

  for (const char* query : {"?type=bogus", "?netns=0", "?netns=abc", "?since=x", "?colour=red"}) {
    auto res = netnsd.get(std::string("/v1/events") + query);
    ASSERT_TRUE(res) << query;
    EXPECT_EQ(res->status, 400) << query << " " << res->body;
    EXPECT_TRUE(json::parse(res->body, nullptr, false).contains("code")) << res->body;
  }
  // Stopping ends the open streams: netnsd exits at once.
  const auto t0 = Clock::now();
  EXPECT_EQ(netnsd.stop(), 0);
  EXPECT_LT(ms_since(t0, Clock::now()), 3000.0);
}

TEST_F(Events, ASubscriberThatStopsReadingSlowsNobodyAndIsToldWhatItLost) {
  NamedNetns a(unique_name("ev"));
  Daemon netnsd({"--resync-interval", "0"});
  ASSERT_TRUE(netnsd.ready());
  // The stalled one follows addresses only, so that what it got and lost
  // can be counted exactly: `ip -n` runs inside the namespace, and a
  // presence pass may see it there (a netns_changed with "processes").
  EventStream stalled(netnsd.socket_path(), "?type=address");
  ASSERT_EQ(stalled.status(), 200);
  EventStream reader(netnsd.socket_path());
  ASSERT_EQ(reader.status(), 200);

  // The reader reads on its own thread; the stalled one reads nothing.
  std::atomic<bool> done{false};
  std::atomic<int> reader_addresses{0}, reader_lost{0};
  std::thread reading([&] {
    while (!done) {
      for (const json& e : reader.drain(50ms)) {
        if (e["type"] == "address_added") ++reader_addresses;
        if (e["type"] == "lost") ++reader_lost;
      }
    }
  });
  // And health checks keep coming.
  std::atomic<double> worst_probe_ms{0};
  std::atomic<int> probe_failures{0}, probes{0};
  std::thread probing([&] {
    while (!done) {
      const auto t0 = Clock::now();
      auto res = netnsd.get("/healthz");
      const double took = ms_since(t0, Clock::now());
      if (!res || res->status != 200) ++probe_failures;
      ++probes;
      if (took > worst_probe_ms) worst_probe_ms = took;
      std::this_thread::sleep_for(20ms);
    }
  });

  // 4000 addresses in batches of 500: far more than the stalled
  // subscriber's queue (1024) and socket buffer hold.
  constexpr int kAddresses = 4000;
  testing::TempDir dir;
  for (int batch = 0; batch < kAddresses / 500; ++batch) {
    const std::string file = dir.path() + "/batch" + std::to_string(batch);
    std::ofstream out(file);
    for (int i = 0; i < 500; ++i) {
      const int n = batch * 500 + i;
      out << "addr add 10.77." << n / 250 << "." << n % 250 + 1 << "/32 dev lo\n";
    }
    out.close();
    testing::must({"ip", "-n", a.name(), "-batch", file});
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_TRUE(eventually([&] { return reader_addresses.load() >= kAddresses; }, 10s))
      << "the reader got " << reader_addresses.load() << " of " << kAddresses;
  done = true;
  reading.join();
  probing.join();
  EXPECT_EQ(reader_lost.load(), 0) << "a subscriber that keeps up loses nothing";
  EXPECT_EQ(probe_failures.load(), 0);
  EXPECT_LT(worst_probe_ms.load(), 250.0);

  // The stalled one resumes: what fitted, then how many it lost, where the
  // gap is; then the stream goes on.
  int got = 0;
  std::uint64_t lost = 0;
  auto gap = stalled.wait_for(
      [&](const json& e) {
        if (e["type"] == "address_added") ++got;
        if (e["type"] == "lost") lost = e["count"];
        return e["type"] == "lost";
      },
      5s);
  ASSERT_TRUE(gap) << "no lost event after " << got << " addresses";
  EXPECT_GT(lost, 0u);
  EXPECT_EQ(got + static_cast<int>(lost), kAddresses) << "every change is either delivered or counted as lost\n"
                                                      << netnsd.log();
  a.ip({"addr", "add", "10.78.250.1/32", "dev", "lo"});
  ASSERT_TRUE(stalled.wait_for(
      [&](const json& e) { return e["type"] == "address_added" && e["address"]["address"] == "10.78.250.1"; }, 2s))
      << "the stalled subscriber's stream did not go on";
  EXPECT_NE(netnsd.metrics_text().find("netnsd_events_lost_total " + std::to_string(lost)), std::string::npos);
  std::printf("[ figures ] %d probes during the burst, worst %.1f ms; stalled subscriber got %d, lost %lu\n",
              probes.load(), worst_probe_ms.load(), got, static_cast<unsigned long>(lost));
}

TEST_F(Events, NetnsctlWatchPrintsOneLinePerChangeAndEndsOnCtrlC) {
  Daemon netnsd({"--resync-interval", "0"});
  ASSERT_TRUE(netnsd.ready());
  testing::Background raw({NETNSCTL_BINARY, "--socket", netnsd.socket_path(), "watch", "--json"});
  auto first = raw.read_line(3s);
  ASSERT_TRUE(first);
  EXPECT_EQ(json::parse(*first)["type"], "subscribed") << *first;

  testing::Background watch({NETNSCTL_BINARY, "--socket", netnsd.socket_path(), "watch", "--type", "netns,device"});
  auto subscribers = [&] { return netnsd.metrics_text().find("netnsd_event_subscribers 2") != std::string::npos; };
  ASSERT_TRUE(eventually(subscribers, 3s));
  NamedNetns a(unique_name("ev"));
  a.ip({"link", "add", "wv0", "type", "veth", "peer", "name", "wv1"});
  a.ip({"addr", "add", "192.0.2.5/24", "dev", "wv0"});
  a.ip({"link", "set", "wv0", "mtu", "1400"});
  const std::string inode = std::to_string(a.inode());
  std::vector<std::string> lines;
  auto saw = [&](const std::vector<std::string>& parts) {
    return std::any_of(lines.begin(), lines.end(), [&](const std::string& l) {
      return std::all_of(parts.begin(), parts.end(),
                         [&](const std::string& p) { return l.find(p) != std::string::npos; });
    });
  };
  // The namespace's bind-mount name comes with netns_added, or with the
  // netns_changed that follows when the mount is seen after the namespace.
  const std::string named = "[" + a.name() + "]";
  auto named_seen = [&] { return saw({"netns_added", inode, named}) || saw({"netns_changed", inode, named}); };
  while (!saw({"device_changed", "wv0", "mtu 1500 -> 1400"}) || !named_seen()) {
    auto line = watch.read_line(3s);
    ASSERT_TRUE(line) << "netnsctl watch printed:\n" << ::testing::PrintToString(lines);
    lines.push_back(*line);
  }
  EXPECT_TRUE(saw({"netns_added", inode})) << ::testing::PrintToString(lines);
  EXPECT_TRUE(named_seen()) << ::testing::PrintToString(lines);
  EXPECT_TRUE(saw({"device_added", inode, "wv0", "veth"})) << ::testing::PrintToString(lines);
  EXPECT_FALSE(saw({"address_added"})) << "--type netns,device leaves addresses out";

  ASSERT_EQ(::kill(watch.pid(), SIGINT), 0);
  int status = -1;
  ASSERT_EQ(::waitpid(watch.pid(), &status, 0), watch.pid());
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;

  auto refused = testing::run({NETNSCTL_BINARY, "--socket", netnsd.socket_path(), "watch", "--type", "bogus"});
  EXPECT_EQ(refused.status, 1);
  EXPECT_NE(refused.err.find("unknown event type"), std::string::npos) << refused.err;
}

}  // namespace
}  // namespace netnsd
