#include "dump/dot_encoder.h"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <regex>

#include "fakes.h"

namespace netnsd {
namespace {

DumpDocument two_namespaces() {
  DumpDocument doc;
  doc.host = {"box", "6.18", 100};
  NamespaceView a;
  a.netns = 100;
  a.handle = std::make_shared<const NamespaceHandle>(NamespaceHandle{Fd(), "/p"});
  Device br = testing::plain(3, "br0", "bridge");
  Device port = testing::veth(4, "v0", 2, 0);
  port.master = 3;
  port.peer->netns = 200;
  a.devices = {testing::plain(1, "lo"), br, port};
  NamespaceView b;
  b.netns = 200;
  b.names = {"blue"};
  b.lonely_since = WallTime{};
  Device other = testing::veth(2, "c0", 4, 0);
  other.peer->netns = 100;
  b.devices = {testing::plain(1, "lo"), other};
  doc.namespaces = {a, b};
  return doc;
}

std::size_t count(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (auto pos = text.find(needle); pos != std::string::npos; pos = text.find(needle, pos + 1)) ++n;
  return n;
}

TEST(DotEncoder, UsesStableNodeIdsAndNamespaceToDeviceEdges) {
  std::string dot = dump_to_dot(two_namespaces());
  EXPECT_EQ(dot.rfind("digraph netnsd {", 0), 0u);
  EXPECT_NE(dot.find("ns_100 [shape=box3d"), std::string::npos);
  EXPECT_NE(dot.find("ns_100 -> dev_100_1;"), std::string::npos);
  EXPECT_NE(dot.find("ns_200 -> dev_200_2;"), std::string::npos);
  EXPECT_NE(dot.find("dev_100_4 -> dev_100_3 [style=dotted, label=\"master\"]"), std::string::npos);
  EXPECT_EQ(dump_to_dot(two_namespaces()), dot) << "same input, same graph";
}

TEST(DotEncoder, DrawsOneEdgePerVethPair) {
  std::string dot = dump_to_dot(two_namespaces());
  EXPECT_EQ(count(dot, "label=\"veth\""), 1u);
  EXPECT_NE(dot.find("dev_100_4 -> dev_200_2 [dir=none"), std::string::npos);
}

TEST(DotEncoder, EachNamespaceSaysItsDefaultGatewayAndDevice) {
  DumpDocument doc = two_namespaces();
  Route v4;
  v4.family = AF_INET;
  NextHop hop;
  hop.gateway = IpBytes{10, 0, 0, 1};
  hop.ifindex = 4;
  v4.nexthops = {hop};
  Route v6;
  v6.family = AF_INET6;
  NextHop dev_only;
  dev_only.ifindex = 2;
  v6.nexthops = {dev_only};
  doc.default_routes[100] = {v4};
  doc.default_routes[200] = {v6};
  const std::string dot = dump_to_dot(doc);
  EXPECT_NE(dot.find("default via 10.0.0.1 dev v0"), std::string::npos) << dot;
  EXPECT_NE(dot.find("\\ndefault dev c0"), std::string::npos) << dot;
  EXPECT_EQ(dump_to_dot(two_namespaces()).find("default"), std::string::npos);
}

TEST(DotEncoder, LowerLinksAndAddressesAreDrawn) {
  DumpDocument doc = two_namespaces();
  Device eth = testing::plain(2, "eth0");
  eth.up = true;
  eth.operstate = OperState::up;
  Address a;
  a.family = AF_INET;
  a.prefix_len = 24;
  a.local = {192, 0, 2, 1};
  eth.addresses = {a};
  Device vlan = testing::plain(6, "eth0.7", "vlan");
  vlan.lower = LinkRef{2, NetnsId{100}, std::nullopt};
  vlan.up = true;
  vlan.operstate = OperState::lowerlayerdown;
  doc.namespaces[0].devices = {testing::plain(1, "lo"), eth, vlan};
  Device mv = testing::plain(3, "mv0", "macvlan");
  mv.lower = LinkRef{2, NetnsId{100}, 0};  // the host's eth0, from namespace 200
  Device unknown = testing::plain(4, "ipvl0", "ipvlan");
  unknown.lower = LinkRef{9, std::nullopt, 1};  // not resolved: no edge
  doc.namespaces[1].devices = {testing::plain(1, "lo"), mv, unknown};

  std::string dot = dump_to_dot(doc);
  EXPECT_NE(dot.find("dev_100_6 -> dev_100_2 [style=dashed, color=\"#7c3aed\""), std::string::npos) << dot;
  EXPECT_NE(dot.find("dev_200_3 -> dev_100_2 [style=dashed, color=\"#7c3aed\""), std::string::npos) << dot;
  EXPECT_EQ(count(dot, "label=\"lower\""), 2u);
  EXPECT_NE(dot.find("192.0.2.1/24"), std::string::npos);
  EXPECT_NE(dot.find("vlan up (lowerlayerdown)"), std::string::npos);
}

TEST(DotEncoder, StylesLonelyNamespacesQueuedDevicesAndDrift) {
  DumpDocument doc = two_namespaces();
  InterfaceSnapshot snap;
  snap.devices = {testing::plain(1, "lo"), testing::plain(8, "fresh0")};
  snap.missing_from_cache = {8};
  snap.stale_in_cache = {3};
  doc.snapshots[100] = snap;
  std::string dot = dump_to_dot(doc);
  EXPECT_NE(dot.find("style=\"dashed,filled\""), std::string::npos) << "lonely cluster";
  EXPECT_NE(dot.find("live_100_8 [shape=box, style=\"rounded,dashed\", color=\"#dc2626\""), std::string::npos);
  EXPECT_NE(dot.find("dev_100_3 [shape=box, style=\"rounded,filled,dashed\", fillcolor=\"#fde68a\""),
            std::string::npos);
}

TEST(DotEncoder, QuotesArbitraryNames) {
  EXPECT_EQ(dot_quote("plain"), "\"plain\"");
  EXPECT_EQ(dot_quote("a\"b"), "\"a\\\"b\"");
  EXPECT_EQ(dot_quote("a\\b"), "\"a\\\\b\"");
  EXPECT_EQ(dot_quote(std::string("x\x01y", 3)), "\"x\\\\x01y\"");
  EXPECT_EQ(dot_quote("line\nbreak"), "\"line\\nbreak\"");
  EXPECT_EQ(dot_quote("\xff"), "\"\xEF\xBF\xBD\"");
}

}  // namespace
}  // namespace netnsd
