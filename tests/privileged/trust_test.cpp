// Trust, tried as a hostile user would, against the real netnsd binary:
// a real unprivileged user (made by the test) forging netlink messages in its
// own user and network namespace, flooding the cache with namespaces, and
// netnsd run under a short RLIMIT_NOFILE. CTest runs these alone: they count
// the host's namespaces and netnsd's descriptors.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "api/connections.h"
#include "api_checks.h"
#include "daemon.h"
#include "privileged.h"
#include "system.h"
#include "util/defaults.h"

namespace netnsd {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::Background;
using testing::Daemon;
using testing::eventually;
using testing::NamedNetns;
using testing::TestUser;

class Trust : public ::testing::Test {
 protected:
  void SetUp() override { NETNSD_REQUIRE_ROOT(); }
};

std::set<std::string> device_names(const json& ns) {
  std::set<std::string> out;
  if (ns.is_object()) {
    for (const json& d : ns["devices"]) out.insert(d["name"].get<std::string>());
  }
  return out;
}

TEST_F(Trust, ForgedLinkMessagesFromAnUnprivilegedUserNeverReachTheCache) {
  Daemon netnsd({"--resync-interval", "0"});
  ASSERT_TRUE(netnsd.ready());
  TestUser user;
  ASSERT_TRUE(user.ok());
  testing::SharedCopy forger(NETLINK_FORGER);
  const long rss_before = netnsd.rss_kib();

  // Its own user and network namespace, where it holds CAP_NET_ADMIN.
  Background attack(user.as_user({"unshare", "-rn", forger.path(), "5000"}));
  auto said = attack.read_line(60s);
  ASSERT_TRUE(said && said->rfind("forged ", 0) == 0) << "the forger did not finish:\n" << netnsd.log();
  const int forged = std::stoi(said->substr(7));
  const std::uint64_t netns = testing::inode_of("/proc/" + std::to_string(attack.pid()) + "/ns/net");
  ASSERT_NE(netns, 0u);

  const std::set<std::string> real = {"lo", "real0", "real1", "late0", "late1"};
  json ns;
  ASSERT_TRUE(eventually([&] { return device_names(ns = netnsd.find_netns(netns)) == real; }, 10s))
      << "devices: " << ns.dump();
  EXPECT_EQ(ns["host_owned"], false);
  EXPECT_EQ(ns["owner_uid"], user.uid());
  // Nothing forged got in, and it all was counted.
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(device_names(netnsd.find_netns(netns)), real);
  const double foreign = netnsd.metric("netnsd_netlink_rejected_total{reason=\"foreign\"}");
  EXPECT_GE(foreign, 1000) << forged << " forged datagrams sent";
  const long rss_after = netnsd.rss_kib();
  std::printf("forged %d datagrams; %.0f rejected as foreign; netnsd RSS %ld -> %ld KiB (peak %ld)\n", forged, foreign,
              rss_before, rss_after, netnsd.peak_rss_kib());
#if defined(__SANITIZE_ADDRESS__) || defined(NETNSD_SANITIZED)
  // ASan keeps freed memory in quarantine: RSS measures that, not netnsd.
  (void)rss_after;
#else
  EXPECT_LT(rss_after - rss_before, 8 * 1024) << "RSS grew with the forgeries";
#endif
  const std::string log = netnsd.log();
  EXPECT_NE(log.find("not by the kernel"), std::string::npos) << "the refusal is logged";
  std::size_t refusals_logged = 0;
  for (std::size_t at = 0; (at = log.find("dropped a netlink message", at)) != std::string::npos; ++at) {
    ++refusals_logged;
  }
  EXPECT_EQ(refusals_logged, 1u) << "logged at most once per namespace per minute";
}

TEST_F(Trust, AnUnprivilegedFloodLeavesEveryHostNamespaceCached) {
  Daemon netnsd({"--resync-interval", "0", "--capacity", "16", "--max-per-owner", "4"});
  ASSERT_TRUE(netnsd.ready());
  NamedNetns a(testing::unique_name("fa")), b(testing::unique_name("fb")), c(testing::unique_name("fc"));
  testing::HeldNetns held;
  TestUser user;
  ASSERT_TRUE(user.ok());
  // 40 namespaces, each its own user namespace owned by the user.
  Background flood(user.as_user(
      {"/bin/sh", "-c", "for i in $(seq 40); do unshare -rn sleep 1000 & sleep 0.02; done; echo started; wait"}));
  std::this_thread::sleep_for(400ms);
  NamedNetns during(testing::unique_name("fd"));  // made while the flood runs
  auto started = flood.read_line(30s);
  ASSERT_TRUE(started && *started == "started");

  const std::vector<std::uint64_t> host_owned = {testing::host_netns(), a.inode(),     b.inode(), c.inode(),
                                                 held.inode(),          during.inode()};
  ASSERT_TRUE(eventually(
      [&] {
        for (std::uint64_t id : host_owned) {
          if (!netnsd.find_netns(id).is_object()) return false;
        }
        return netnsd.metric("netnsd_evictions_total{reason=\"owner_share\"}") >= 30;
      },
      10s))
      << netnsd.get("/v1/namespaces")->body;
  json list = netnsd.get_json("/v1/namespaces");
  int theirs = 0;
  for (const json& n : list["namespaces"]) {
    if (n["host_owned"] == false) {
      ++theirs;
      EXPECT_EQ(n["owner_uid"], user.uid());
    }
  }
  EXPECT_LE(theirs, 4) << "one owner's share";
  EXPECT_EQ(list["resolver"]["unprivileged_namespaces"], theirs);
  for (std::uint64_t id : host_owned) EXPECT_TRUE(netnsd.find_netns(id).is_object()) << "evicted: " << id;
  std::printf("40 unprivileged namespaces: %d cached, %.0f evicted for the owner's share, %.0f for capacity\n", theirs,
              netnsd.metric("netnsd_evictions_total{reason=\"owner_share\"}"),
              netnsd.metric("netnsd_evictions_total{reason=\"capacity\"}"));
}

TEST_F(Trust, UnderAShortDescriptorLimitTheCacheShrinksAndSaysSo) {
  // More than 1024 descriptors leave room for, at one each.
  testing::ManyNamespaces many(700);
  Daemon netnsd({"--resync-interval", "0"}, {"prlimit", "--nofile=1024:1024", "--"});
  ASSERT_TRUE(netnsd.ready()) << netnsd.log();

  auto ready = netnsd.get("/readyz");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 200);
  json readyz = json::parse(ready->body);
  EXPECT_EQ(readyz["status"], "degraded");
  EXPECT_NE(readyz["reasons"].dump().find("descriptor budget"), std::string::npos) << readyz;
  EXPECT_NE(readyz["reasons"].dump().find("not cached"), std::string::npos) << readyz;

  // Every kind of dump answers, and says what is missing.
  for (const char* body : {R"({})", R"({"snapshot_interfaces": true})"}) {
    auto files = netnsd.post("/v1/dump", body);
    ASSERT_TRUE(files);
    EXPECT_EQ(files->status, 200) << files->body;
  }
  for (const char* body : {R"({"output": "stream"})", R"({"output": "stream", "snapshot_interfaces": true})"}) {
    auto res = netnsd.post("/v1/dump", body);
    ASSERT_TRUE(res);
    ASSERT_EQ(res->status, 200) << res->body;
    json dump = json::parse(res->body);
    const json& r = dump["resolver"];
    EXPECT_EQ(r["configured_capacity"], defaults::kCapacity);
    EXPECT_LT(r["capacity"].get<int>(), 700);
    EXPECT_EQ(r["namespaces"], r["capacity"]);
    EXPECT_GE(r["not_cached"].get<int>(), 701 - r["capacity"].get<int>()) << r;
    EXPECT_NE(r["limits"].dump().find("RLIMIT_NOFILE 1024"), std::string::npos) << r;
    for (const json& ns : dump["namespaces"]) {
      if (ns["snapshot"].is_object()) {
        EXPECT_TRUE(ns["snapshot"]["error"].is_null()) << ns["snapshot"];
      }
    }
  }
  // The reserve is what clients can hold plus a fixed part, and the cache
  // takes the rest: exactly that many namespaces, one descriptor each.
  const std::size_t reserve = defaults::kFdFixedReserve + ConnectionLimits{}.max_descriptors();
  auto resolver = netnsd.get_json("/v1/namespaces")["resolver"];
  EXPECT_EQ(resolver["capacity"], (1024 - reserve) / defaults::kFdsPerNamespace) << resolver;
  const int fds = netnsd.settled_fd_count();
  std::printf("RLIMIT_NOFILE 1024, 701 namespaces: %d descriptors in use, reserve %zu\n", fds, reserve);
  EXPECT_LE(static_cast<std::size_t>(fds), 1024 - reserve + defaults::kFdFixedReserve) << "the reserve is kept";

  // And the reserve holds: every connection clients may keep open, and
  // more, while the cache is full; no descriptor runs out, probes answer.
  std::vector<std::unique_ptr<testing::RawClient>> flood;
  int most = 0;
  for (std::size_t i = 0; i < ConnectionLimits{}.max_descriptors() + 100; ++i) {
    flood.push_back(std::make_unique<testing::RawClient>(netnsd.socket_path()));
    if (i % 50 == 0) most = std::max(most, netnsd.fd_count());
  }
  std::this_thread::sleep_for(300ms);
  most = std::max(most, netnsd.fd_count());
  auto health = netnsd.get("/healthz");
  EXPECT_TRUE(health && health->status == 200);
  flood.clear();
  std::printf("with %zu connections opened: at most %d descriptors in use\n",
              ConnectionLimits{}.max_descriptors() + 100, most);
  EXPECT_LT(most, 1024);
  EXPECT_EQ(netnsd.log().find("Too many open files"), std::string::npos) << netnsd.log();
  EXPECT_EQ(netnsd.get("/healthz")->status, 200);
}

}  // namespace
}  // namespace netnsd
