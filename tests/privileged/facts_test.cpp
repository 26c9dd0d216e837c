// What operators ask of a host, with the real netnsd binary and real
// devices: addresses kept live from the kernel's address events, link state
// and the device a link is stacked on, and counters read live.
//
// The periodic rescan is off (--resync-interval 0): whatever the cache
// shows here, it learnt from events.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "daemon.h"
#include "privileged.h"
#include "system.h"

namespace netnsd {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::Daemon;
using testing::device_in;
using testing::eventually;
using testing::NamedNetns;
using testing::unique_name;

// The address entry `text` of device `name`, or null.
json address_of(const json& ns, const std::string& name, const std::string& text) {
  const json* d = device_in(ns, name);
  if (!d) return json(nullptr);
  for (const json& a : (*d)["addresses"]) {
    if (a["address"] == text) return a;
  }
  return json(nullptr);
}

class Facts : public ::testing::Test {
 protected:
  void SetUp() override { NETNSD_REQUIRE_ROOT(); }
};

TEST_F(Facts, AddressesFollowIpAddrWithinASecond) {
  NamedNetns a(unique_name("fa"));
  // (A veth: the test kernel need not have the dummy driver.)
  a.ip({"link", "add", "d0", "type", "veth", "peer", "name", "d1"});
  a.ip({"link", "set", "d0", "up"});
  a.ip({"addr", "add", "198.51.100.7/24", "dev", "d0"});  // before the start: from the initial listing
  Daemon netnsd({"--resync-interval", "0"});
  ASSERT_TRUE(netnsd.ready());
  auto ns = [&] { return netnsd.find_netns(a.inode()); };
  ASSERT_TRUE(eventually([&] { return !address_of(ns(), "d0", "198.51.100.7").is_null(); }, 1s)) << ns().dump(1);
  json initial = address_of(ns(), "d0", "198.51.100.7");
  EXPECT_EQ(initial["family"], "inet");
  EXPECT_EQ(initial["prefixlen"], 24);
  EXPECT_EQ(initial["scope"], "global");
  EXPECT_EQ(initial["flags"], json::array({"permanent"}));

  // Deleting a primary address then promotes its secondary instead of
  // deleting it too (the kernel's default is to delete it).
  auto promote = testing::run(
      {"ip", "netns", "exec", a.name(), "sh", "-c", "echo 1 >/proc/sys/net/ipv4/conf/d0/promote_secondaries"});
  ASSERT_EQ(promote.status, 0) << promote.err;
  a.ip({"addr", "add", "192.0.2.10/24", "dev", "d0"});
  a.ip({"addr", "add", "192.0.2.11/24", "dev", "d0"});  // same subnet: a secondary
  a.ip({"addr", "add", "2001:db8::10/64", "dev", "d0", "nodad"});
  EXPECT_TRUE(eventually(
      [&] {
        json n = ns();
        return !address_of(n, "d0", "192.0.2.10").is_null() && !address_of(n, "d0", "2001:db8::10").is_null() &&
               !address_of(n, "d0", "192.0.2.11").is_null();
      },
      1s))
      << "ip addr add not reflected within 1 s: " << ns().dump(1);
  json n = ns();
  EXPECT_EQ(address_of(n, "d0", "2001:db8::10")["family"], "inet6");
  EXPECT_EQ(address_of(n, "d0", "2001:db8::10")["prefixlen"], 64);
  EXPECT_EQ(address_of(n, "d0", "2001:db8::10")["flags"], json::array({"nodad", "permanent"}));
  EXPECT_EQ(address_of(n, "d0", "192.0.2.11")["flags"], json::array({"secondary", "permanent"}));

  a.ip({"addr", "del", "192.0.2.10/24", "dev", "d0"});
  a.ip({"addr", "del", "2001:db8::10/64", "dev", "d0"});
  EXPECT_TRUE(eventually(
      [&] {
        json n = ns();
        return address_of(n, "d0", "2001:db8::10").is_null() && address_of(n, "d0", "192.0.2.10").is_null() &&
               !address_of(n, "d0", "198.51.100.7").is_null();
      },
      1s))
      << "ip addr del not reflected within 1 s: " << ns().dump(1);
  // Deleting a primary promotes the secondary (the kernel says so in an event).
  EXPECT_TRUE(
      eventually([&] { return address_of(ns(), "d0", "192.0.2.11")["flags"] == json::array({"permanent"}); }, 1s))
      << ns().dump(1);

  // The link going down takes its IPv6 addresses: the kernel says that too.
  a.ip({"addr", "add", "2001:db8::20/64", "dev", "d0", "nodad"});
  ASSERT_TRUE(eventually([&] { return !address_of(ns(), "d0", "2001:db8::20").is_null(); }, 1s));
  a.ip({"link", "set", "d0", "down"});
  EXPECT_TRUE(eventually([&] { return address_of(ns(), "d0", "2001:db8::20").is_null(); }, 1s)) << ns().dump(1);

  EXPECT_EQ(netnsd.get_json("/v1/namespaces")["resolver"]["resyncs"], 1) << "no rescan: events alone";
}

TEST_F(Facts, AMacvlanIsJoinedToItsLowerDeviceInTheCacheAndTheGraph) {
  NamedNetns a(unique_name("fm"));
  Daemon netnsd({"--resync-interval", "0"});
  ASSERT_TRUE(netnsd.ready());
  a.ip({"link", "add", "lowr0", "type", "veth", "peer", "name", "lowr1"});
  a.ip({"link", "add", "mv0", "link", "lowr0", "type", "macvlan", "mode", "bridge"});
  a.ip({"link", "set", "mv0", "up"});  // its lower device is down
  auto ns = [&] { return netnsd.find_netns(a.inode()); };
  ASSERT_TRUE(eventually([&] {
    json n = ns();
    const json* mv = device_in(n, "mv0");
    const json* lower = device_in(n, "lowr0");
    return mv && lower && (*mv)["lower"].is_object() && (*mv)["lower"]["ifindex"] == (*lower)["ifindex"] &&
           (*mv)["lower"]["netns"] == a.inode() && (*mv)["operstate"] == "lowerlayerdown";
  })) << ns().dump(1);
  EXPECT_EQ((*device_in(ns(), "mv0"))["kind"], "macvlan");
  EXPECT_TRUE((*device_in(ns(), "lowr0"))["lower"].is_null());

  // The lower device comes up: so does the macvlan, as the kernel tells it.
  a.ip({"link", "set", "lowr1", "up"});  // a veth has carrier once both ends are up
  a.ip({"link", "set", "lowr0", "up"});
  EXPECT_TRUE(eventually([&] {
    json n = ns();  // device_in() points into it
    const json* mv = device_in(n, "mv0");
    return mv && (*mv)["operstate"] == "up" && (*mv)["carrier"] == true;
  })) << ns().dump(1);

  // Moved into another namespace, it still names its lower device, now by
  // nsid; netnsd resolves that to namespace a.
  NamedNetns b(unique_name("fn"));
  a.ip({"link", "add", "mv1", "link", "lowr0", "type", "macvlan"});
  a.ip({"link", "set", "mv1", "netns", b.target()});
  EXPECT_TRUE(eventually([&] {
    json in_a = ns();
    json in_b = netnsd.find_netns(b.inode());
    const json* mv1 = device_in(in_b, "mv1");
    const json* lower = device_in(in_a, "lowr0");
    return mv1 && lower && (*mv1)["lower"].is_object() && (*mv1)["lower"]["netns"] == a.inode() &&
           (*mv1)["lower"]["ifindex"] == (*lower)["ifindex"] && (*mv1)["lower"]["nsid"].is_number_integer();
  })) << netnsd.find_netns(b.inode()).dump(1);

  json n = ns();
  const std::string edge = "dev_" + std::to_string(a.inode()) + "_" +
                           std::to_string((*device_in(n, "mv0"))["ifindex"].get<int>()) + " -> dev_" +
                           std::to_string(a.inode()) + "_" +
                           std::to_string((*device_in(n, "lowr0"))["ifindex"].get<int>()) + " [style=dashed";
  auto dot = netnsd.post("/dump", R"({"output":"stream","format":"dot","netns":[)" + std::to_string(a.inode()) + "]}");
  ASSERT_TRUE(dot);
  ASSERT_EQ(dot->status, 200) << dot->body;
  EXPECT_NE(dot->body.find(edge), std::string::npos) << "no lower edge " << edge << " in\n" << dot->body;
}

TEST_F(Facts, CountersAreReadLiveInSnapshotsAndPerNamespaceNeverCached) {
  NamedNetns a(unique_name("fc"));
  NamedNetns b(unique_name("fd"));
  a.ip({"link", "add", "ca", "type", "veth", "peer", "name", "cb", "netns", b.target()});
  a.ip({"addr", "add", "10.77.0.1/24", "dev", "ca"});
  b.ip({"addr", "add", "10.77.0.2/24", "dev", "cb"});
  a.ip({"link", "set", "ca", "up"});
  b.ip({"link", "set", "cb", "up"});
  Daemon netnsd({"--resync-interval", "0"});
  ASSERT_TRUE(netnsd.ready());

  // Five UDP datagrams from a to b, through the veth and nowhere else.
  auto sent = testing::run(
      {"ip", "netns", "exec", a.name(), "bash", "-c", "for i in 1 2 3 4 5; do echo hello >/dev/udp/10.77.0.2/9; done"});
  ASSERT_EQ(sent.status, 0) << sent.err;

  auto snapshot_of = [&](const NamedNetns& which, const std::string& name) -> json {
    auto res = netnsd.post(
        "/dump", R"({"output":"stream","snapshot_interfaces":true,"netns":[)" + std::to_string(which.inode()) + "]}");
    if (!res || res->status != 200) return json(nullptr);
    json doc = json::parse(res->body, nullptr, false);
    if (!doc.is_object() || doc["namespaces"].empty()) return json(nullptr);
    const json* d = device_in(doc["namespaces"][0]["snapshot"], name);
    return d ? *d : json(nullptr);
  };
  json cb;
  EXPECT_TRUE(eventually([&] {
    cb = snapshot_of(b, "cb");
    return cb.is_object() && cb.contains("stats") && cb["stats"]["rx_packets"].get<std::uint64_t>() >= 5;
  })) << cb.dump(1);
  json ca = snapshot_of(a, "ca");
  ASSERT_TRUE(ca.contains("stats")) << ca.dump(1);
  EXPECT_GE(ca["stats"]["tx_packets"].get<std::uint64_t>(), 5u);
  EXPECT_GT(ca["stats"]["tx_bytes"].get<std::uint64_t>(), 5u * 6u);
  for (const char* key : {"rx_errors", "tx_errors", "rx_dropped", "tx_dropped"}) {
    EXPECT_TRUE(ca["stats"][key].is_number_unsigned()) << key;
  }

  // Per namespace: read when asked, so a second question sees new traffic.
  auto counters = [&]() -> std::uint64_t {
    json ns = netnsd.get_json("/v1/namespaces/" + std::to_string(a.inode()));
    const json* d = device_in(ns, "ca");
    return d && d->contains("stats") ? (*d)["stats"]["tx_packets"].get<std::uint64_t>() : 0;
  };
  const std::uint64_t before = counters();
  EXPECT_GE(before, 5u);
  testing::run(
      {"ip", "netns", "exec", a.name(), "bash", "-c", "for i in 1 2 3; do echo more >/dev/udp/10.77.0.2/9; done"});
  EXPECT_TRUE(eventually([&] { return counters() >= before + 3; })) << counters() << " after " << before;

  // The cache itself keeps none: a full dump without a snapshot has no counters.
  auto plain = netnsd.post("/dump", R"({"output":"stream"})");
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->body.find("\"stats\""), std::string::npos) << "counters in a dump of the cache";
}

}  // namespace
}  // namespace netnsd
