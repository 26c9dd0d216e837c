// The route, rule and neighbour parsers on messages built byte by byte:
// what the kernel sends is read exactly; what breaks a policy is refused
// whole.
#include "kernel/route_parse.h"

#include <gtest/gtest.h>
#include <linux/fib_rules.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>

#include "netlink_builder.h"

namespace netnsd {
namespace {

using testing::NetlinkMessage;

NetlinkMessage route(std::uint8_t family, std::uint8_t dst_len, std::uint16_t type = RTM_NEWROUTE) {
  rtmsg rtm{};
  rtm.rtm_family = family;
  rtm.rtm_dst_len = dst_len;
  rtm.rtm_table = RT_TABLE_MAIN;
  rtm.rtm_protocol = RTPROT_STATIC;
  rtm.rtm_type = RTN_UNICAST;
  NetlinkMessage m(type);
  m.raw(&rtm, sizeof rtm);
  return m;
}

TEST(RouteParse, AKernelRouteIsReadWhole) {
  NetlinkMessage m = route(AF_INET, 16);
  m.attr(RTA_DST, "\x0a\x46\x00\x00", 4)
      .attr(RTA_GATEWAY, "\x0a\x3d\x00\x02", 4)
      .u32(RTA_OIF, 3)
      .u32(RTA_PRIORITY, 7)
      .u32(RTA_TABLE, 100);
  RouteMessage got = parse_route_message(m.header());
  ASSERT_EQ(got.kind, FactKind::fact) << got.refusal;
  EXPECT_EQ(ip_text(AF_INET, got.route.dst), "10.70.0.0");
  EXPECT_EQ(got.route.table, 100u);
  EXPECT_EQ(got.route.priority, 7u);
  ASSERT_EQ(got.route.nexthops.size(), 1u);
  EXPECT_EQ(ip_text(AF_INET, *got.route.nexthops[0].gateway), "10.61.0.2");
  EXPECT_EQ(got.route.nexthops[0].ifindex, 3u);
  EXPECT_EQ(route_protocol_text(got.route.protocol), "static");

  // Two next hops, the first weighted.
  NetlinkMessage mp = route(AF_INET, 16);
  std::vector<std::uint8_t> hops;
  auto hop = [&](std::uint8_t weight_minus_one, int ifindex, const char* gateway) {
    rtnexthop nh{};
    nh.rtnh_len = sizeof nh + 8;
    nh.rtnh_hops = weight_minus_one;
    nh.rtnh_ifindex = ifindex;
    const auto* p = reinterpret_cast<const std::uint8_t*>(&nh);
    hops.insert(hops.end(), p, p + sizeof nh);
    nlattr a{8, RTA_GATEWAY};
    p = reinterpret_cast<const std::uint8_t*>(&a);
    hops.insert(hops.end(), p, p + sizeof a);
    hops.insert(hops.end(), gateway, gateway + 4);
  };
  hop(1, 2, "\x0a\x00\x00\x01");
  hop(0, 3, "\x0a\x00\x00\x02");
  mp.attr(RTA_MULTIPATH, hops.data(), hops.size());
  got = parse_route_message(mp.header());
  ASSERT_EQ(got.kind, FactKind::fact) << got.refusal;
  ASSERT_EQ(got.route.nexthops.size(), 2u);
  EXPECT_EQ(got.route.nexthops[0].weight, 2);
  EXPECT_EQ(got.route.nexthops[1].ifindex, 3u);
}

TEST(RouteParse, WhatNoKernelSendsIsRefusedWhole) {
  std::vector<std::pair<const char*, NetlinkMessage>> routes;
  routes.emplace_back("an IPv4 prefix of 33 bits", route(AF_INET, 33));
  routes.emplace_back("a 5-byte RTA_DST", route(AF_INET, 8));
  routes.back().second.attr(RTA_DST, "\x0a\x00\x00\x00\x00", 5);
  routes.emplace_back("RTA_OIF twice", route(AF_INET, 8));
  routes.back().second.u32(RTA_OIF, 1).u32(RTA_OIF, 2);
  routes.emplace_back("an IPv4 gateway on an IPv6 route", route(AF_INET6, 64));
  routes.back().second.attr(RTA_GATEWAY, "\x0a\x00\x00\x01", 4);
  routes.emplace_back("a next hop overrunning RTA_MULTIPATH", route(AF_INET, 8));
  rtnexthop long_hop{};
  long_hop.rtnh_len = 200;
  routes.back().second.attr(RTA_MULTIPATH, &long_hop, sizeof long_hop);
  for (auto& [why, m] : routes) {
    RouteMessage got = parse_route_message(m.header());
    EXPECT_EQ(got.kind, FactKind::refused) << why;
    EXPECT_FALSE(got.refusal.empty()) << why;
  }
  // Multicast routes are another family, not a refusal.
  EXPECT_EQ(parse_route_message(route(128, 8).header()).kind, FactKind::other);

  fib_rule_hdr frh{};
  frh.family = AF_INET;
  NetlinkMessage bad_name(RTM_NEWRULE);
  bad_name.raw(&frh, sizeof frh).str(FRA_IIFNAME, "a/b");
  EXPECT_EQ(parse_rule_message(bad_name.header()).kind, FactKind::refused);
  NetlinkMessage short_priority(RTM_NEWRULE);
  short_priority.raw(&frh, sizeof frh).attr(FRA_PRIORITY, "\x01\x00", 2);
  EXPECT_EQ(parse_rule_message(short_priority.header()).kind, FactKind::refused);
  NetlinkMessage good_rule(RTM_NEWRULE);
  good_rule.raw(&frh, sizeof frh).u32(FRA_PRIORITY, 100).str(FRA_IIFNAME, "v1").u32(FRA_TABLE, 300);
  RuleMessage rule = parse_rule_message(good_rule.header());
  ASSERT_EQ(rule.kind, FactKind::fact) << rule.refusal;
  EXPECT_EQ(rule.rule.iif, "v1");
  EXPECT_EQ(rule.rule.table, 300u);

  ndmsg ndm{};
  ndm.ndm_family = AF_INET;
  ndm.ndm_ifindex = 2;
  ndm.ndm_state = NUD_REACHABLE;
  NetlinkMessage no_dst(RTM_NEWNEIGH);
  no_dst.raw(&ndm, sizeof ndm).attr(NDA_LLADDR, "\x02\x00\x00\x00\x00\x01", 6);
  EXPECT_EQ(parse_neighbour_message(no_dst.header()).kind, FactKind::refused);
  NetlinkMessage good(RTM_NEWNEIGH);
  good.raw(&ndm, sizeof ndm).attr(NDA_DST, "\x0a\x00\x00\x02", 4).attr(NDA_LLADDR, "\x02\x00\x00\x00\x00\x01", 6);
  NeighbourMessage n = parse_neighbour_message(good.header());
  ASSERT_EQ(n.kind, FactKind::fact) << n.refusal;
  EXPECT_EQ(n.neighbour.lladdr, "02:00:00:00:00:01");
  EXPECT_FALSE(n.deleted);
  ndm.ndm_state = NUD_NOARP;
  NetlinkMessage noarp(RTM_NEWNEIGH);
  noarp.raw(&ndm, sizeof ndm).attr(NDA_DST, "\x0a\x00\x00\x02", 4);
  EXPECT_TRUE(parse_neighbour_message(noarp.header()).deleted) << "what ip neigh does not show is none of ours";
  ndm.ndm_family = AF_BRIDGE;
  NetlinkMessage fdb(RTM_NEWNEIGH);
  fdb.raw(&ndm, sizeof ndm).attr(NDA_LLADDR, "\x02\x00\x00\x00\x00\x01", 6);
  EXPECT_EQ(parse_neighbour_message(fdb.header()).kind, FactKind::other);
}

}  // namespace
}  // namespace netnsd
