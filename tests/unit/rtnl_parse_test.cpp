// The rtnetlink parsers on messages built byte by byte: what the kernel
// sends is read exactly, and what a hostile sender could send is refused
// whole, never read past its end.
#include "kernel/rtnl_parse.h"

#include <gtest/gtest.h>
#include <linux/if.h>
#include <linux/net_namespace.h>

#include "netlink_builder.h"

namespace netnsd {
namespace {

using testing::NetlinkMessage;

NetlinkMessage veth_end(int index, const std::string& name) {
  NetlinkMessage m(RTM_NEWLINK);
  m.ifinfo(index, IFF_UP)
      .str(IFLA_IFNAME, name)
      .u32(IFLA_MTU, 1500)
      .attr(IFLA_ADDRESS, "\x02\x00\x00\x00\x00\x07", 6)
      .u32(IFLA_MASTER, 3)
      .u32(IFLA_LINK, 9)
      .u32(IFLA_LINK_NETNSID, 2)
      .nested_str(IFLA_LINKINFO, IFLA_INFO_KIND, "veth");
  return m;
}

TEST(RtnlParse, AKernelLinkMessageIsReadWhole) {
  NetlinkMessage m = veth_end(5, "veth0");
  LinkMessage link = parse_link_message(m.header(), NetnsId{77});
  ASSERT_EQ(link.kind, LinkMessage::Kind::device) << link.refusal;
  EXPECT_FALSE(link.deleted);
  EXPECT_EQ(link.device.ifindex, 5u);
  EXPECT_EQ(link.device.name, "veth0");
  EXPECT_EQ(link.device.mtu, 1500u);
  EXPECT_EQ(link.device.mac, "02:00:00:00:00:07");
  EXPECT_EQ(link.device.master, 3u);
  EXPECT_TRUE(link.device.up);
  EXPECT_EQ(link.device.kind, "veth");
  ASSERT_TRUE(link.device.peer);
  EXPECT_EQ(link.device.peer->ifindex, 9u);
  EXPECT_EQ(link.device.peer->nsid, 2);
  EXPECT_FALSE(link.device.peer->netns) << "another namespace: known by nsid only";
}

TEST(RtnlParse, AVethPeerInTheSameNamespaceGetsItsInode) {
  NetlinkMessage m(RTM_NEWLINK);
  m.ifinfo(5).str(IFLA_IFNAME, "a").u32(IFLA_LINK, 6).nested_str(IFLA_LINKINFO, IFLA_INFO_KIND, "veth");
  LinkMessage link = parse_link_message(m.header(), NetnsId{77});
  ASSERT_EQ(link.kind, LinkMessage::Kind::device);
  ASSERT_TRUE(link.device.peer);
  EXPECT_EQ(link.device.peer->netns, NetnsId{77});
  EXPECT_FALSE(link.device.peer->nsid);
}

TEST(RtnlParse, OtherMessagesAreIgnoredNotRefused) {
  NetlinkMessage port(RTM_NEWLINK);
  port.ifinfo(4, 0, AF_BRIDGE).str(IFLA_IFNAME, "p0");  // a bridge port's own announcement
  EXPECT_EQ(parse_link_message(port.header(), {}).kind, LinkMessage::Kind::other);
  NetlinkMessage addr(RTM_NEWADDR);
  addr.ifinfo(4);
  EXPECT_EQ(parse_link_message(addr.header(), {}).kind, LinkMessage::Kind::other);
}

TEST(RtnlParse, ADeletionNeedsOnlyTheIndex) {
  NetlinkMessage m(RTM_DELLINK);
  m.ifinfo(8);
  LinkMessage link = parse_link_message(m.header(), {});
  ASSERT_EQ(link.kind, LinkMessage::Kind::device) << link.refusal;
  EXPECT_TRUE(link.deleted);
  EXPECT_EQ(link.device.ifindex, 8u);
}

TEST(RtnlParse, ADeviceThatMovedSaysWhere) {
  NetlinkMessage m(RTM_DELLINK);
  m.ifinfo(8).str(IFLA_IFNAME, "vp1").u32(IFLA_NEW_NETNSID, 3).u32(IFLA_NEW_IFINDEX, 12);
  LinkMessage link = parse_link_message(m.header(), {});
  ASSERT_EQ(link.kind, LinkMessage::Kind::device) << link.refusal;
  ASSERT_TRUE(link.moved_to);
  EXPECT_EQ(link.moved_to->nsid, 3);
  EXPECT_EQ(link.moved_to->ifindex, 12u);

  NetlinkMessage bad(RTM_DELLINK);
  const std::uint8_t one = 1;
  bad.ifinfo(8).attr(IFLA_NEW_NETNSID, &one, 1);
  EXPECT_EQ(parse_link_message(bad.header(), {}).kind, LinkMessage::Kind::refused);
  NetlinkMessage deleted(RTM_DELLINK);
  deleted.ifinfo(8);
  EXPECT_FALSE(parse_link_message(deleted.header(), {}).moved_to);
}

// Each of these breaks one rule; each is refused whole, with a reason.
TEST(RtnlParse, HostileMessagesAreRefusedWhole) {
  const std::uint8_t one = 1;
  const std::string long_name(4000, 'x');
  std::vector<std::pair<std::string, NetlinkMessage>> cases;
  auto add = [&](std::string why, NetlinkMessage m) { cases.emplace_back(std::move(why), std::move(m)); };
  add("a 1-byte MTU", std::move(NetlinkMessage(RTM_NEWLINK).ifinfo(5).str(IFLA_IFNAME, "a").attr(IFLA_MTU, &one, 1)));
  add("a 1-byte master",
      std::move(NetlinkMessage(RTM_NEWLINK).ifinfo(5).str(IFLA_IFNAME, "a").attr(IFLA_MASTER, &one, 1)));
  add("a 2-byte netnsid",
      std::move(NetlinkMessage(RTM_NEWLINK).ifinfo(5).str(IFLA_IFNAME, "a").attr(IFLA_LINK_NETNSID, "ab", 2)));
  add("a name with a newline", std::move(NetlinkMessage(RTM_NEWLINK).ifinfo(5).str(IFLA_IFNAME, "evil\nname")));
  add("a name of 4000 bytes", std::move(NetlinkMessage(RTM_NEWLINK).ifinfo(5).str(IFLA_IFNAME, long_name)));
  add("a name of 16 bytes", std::move(NetlinkMessage(RTM_NEWLINK).ifinfo(5).str(IFLA_IFNAME, "0123456789abcdef")));
  add("a name without its NUL", std::move(NetlinkMessage(RTM_NEWLINK).ifinfo(5).attr(IFLA_IFNAME, "abc", 3)));
  add("a name with a slash", std::move(NetlinkMessage(RTM_NEWLINK).ifinfo(5).str(IFLA_IFNAME, "a/b")));
  add("a name with a colon", std::move(NetlinkMessage(RTM_NEWLINK).ifinfo(5).str(IFLA_IFNAME, "a:b")));
  add("the name ..", std::move(NetlinkMessage(RTM_NEWLINK).ifinfo(5).str(IFLA_IFNAME, "..")));
  add("an empty name", std::move(NetlinkMessage(RTM_NEWLINK).ifinfo(5).str(IFLA_IFNAME, "")));
  add("no name at all", std::move(NetlinkMessage(RTM_NEWLINK).ifinfo(5).u32(IFLA_MTU, 1500)));
  add("the name twice", std::move(NetlinkMessage(RTM_NEWLINK).ifinfo(5).str(IFLA_IFNAME, "a").str(IFLA_IFNAME, "b")));
  add("a 40-byte address", std::move(NetlinkMessage(RTM_NEWLINK)
                                         .ifinfo(5)
                                         .str(IFLA_IFNAME, "a")
                                         .attr(IFLA_ADDRESS, std::string(40, 'a').data(), 40)));
  add("ifindex 0", std::move(NetlinkMessage(RTM_NEWLINK).ifinfo(0).str(IFLA_IFNAME, "a")));
  add("a negative ifindex", std::move(NetlinkMessage(RTM_NEWLINK).ifinfo(-3).str(IFLA_IFNAME, "a")));
  add("a kind with a quote", std::move(NetlinkMessage(RTM_NEWLINK)
                                           .ifinfo(5)
                                           .str(IFLA_IFNAME, "a")
                                           .nested_str(IFLA_LINKINFO, IFLA_INFO_KIND, "ve\"th")));
  add("a header only", std::move(NetlinkMessage(RTM_NEWLINK)));
  for (auto& [why, message] : cases) {
    LinkMessage link = parse_link_message(message.header(), {});
    EXPECT_EQ(link.kind, LinkMessage::Kind::refused) << why << " was accepted as " << link.device.name;
    EXPECT_FALSE(link.refusal.empty()) << why;
    EXPECT_TRUE(link.device.name.empty() || link.device.name == "a") << why;
  }
}

TEST(RtnlParse, LinkStateAndTheLowerDeviceAreRead) {
  NetlinkMessage m(RTM_NEWLINK);
  m.ifinfo(7, IFF_UP)
      .str(IFLA_IFNAME, "mv0")
      .u8(IFLA_OPERSTATE, IF_OPER_LOWERLAYERDOWN)
      .u8(IFLA_CARRIER, 0)
      .u32(IFLA_LINK, 2)
      .nested_str(IFLA_LINKINFO, IFLA_INFO_KIND, "macvlan");
  LinkMessage link = parse_link_message(m.header(), NetnsId{77});
  ASSERT_EQ(link.kind, LinkMessage::Kind::device) << link.refusal;
  EXPECT_EQ(link.device.operstate, OperState::lowerlayerdown);
  EXPECT_EQ(to_string(link.device.operstate), "lowerlayerdown");
  EXPECT_EQ(link.device.carrier, false);
  EXPECT_FALSE(link.device.peer) << "not a veth";
  ASSERT_TRUE(link.device.lower);
  EXPECT_EQ(link.device.lower->ifindex, 2u);
  EXPECT_EQ(link.device.lower->netns, NetnsId{77}) << "no nsid: the same namespace";

  // Stacked on a device of another namespace: known by nsid until resolved.
  NetlinkMessage far(RTM_NEWLINK);
  far.ifinfo(3)
      .str(IFLA_IFNAME, "eth0")
      .u32(IFLA_LINK, 4)
      .u32(IFLA_LINK_NETNSID, 0)
      .nested_str(IFLA_LINKINFO, IFLA_INFO_KIND, "ipvlan");
  link = parse_link_message(far.header(), NetnsId{77});
  ASSERT_TRUE(link.device.lower);
  EXPECT_EQ(link.device.lower->nsid, 0);
  EXPECT_FALSE(link.device.lower->netns);

  // A NIC naming itself in IFLA_LINK has no lower device.
  NetlinkMessage nic(RTM_NEWLINK);
  nic.ifinfo(2).str(IFLA_IFNAME, "eth0").u32(IFLA_LINK, 2).u8(IFLA_OPERSTATE, IF_OPER_UP);
  link = parse_link_message(nic.header(), NetnsId{77});
  EXPECT_FALSE(link.device.lower);
  EXPECT_EQ(link.device.operstate, OperState::up);
  EXPECT_FALSE(link.device.carrier) << "not said, not assumed";
}

TEST(RtnlParse, CountersAreReadOnlyWhenAskedFor) {
  std::uint64_t stats[24] = {};
  for (int i = 0; i < 24; ++i) stats[i] = 1000 + static_cast<std::uint64_t>(i);
  NetlinkMessage m(RTM_NEWLINK);
  m.ifinfo(2).str(IFLA_IFNAME, "eth0").attr(IFLA_STATS64, stats, sizeof stats);
  EXPECT_FALSE(parse_link_message(m.header(), {}).device.stats) << "notifications carry counters; the cache keeps none";
  LinkMessage link = parse_link_message(m.header(), {}, /*with_stats=*/true);
  ASSERT_TRUE(link.device.stats);
  // rtnl_link_stats64: rx_packets, tx_packets, rx_bytes, tx_bytes, rx_errors, tx_errors, rx_dropped, tx_dropped.
  EXPECT_EQ(link.device.stats->rx_packets, 1000u);
  EXPECT_EQ(link.device.stats->tx_packets, 1001u);
  EXPECT_EQ(link.device.stats->rx_bytes, 1002u);
  EXPECT_EQ(link.device.stats->tx_bytes, 1003u);
  EXPECT_EQ(link.device.stats->rx_errors, 1004u);
  EXPECT_EQ(link.device.stats->tx_errors, 1005u);
  EXPECT_EQ(link.device.stats->rx_dropped, 1006u);
  EXPECT_EQ(link.device.stats->tx_dropped, 1007u);

  NetlinkMessage short_stats(RTM_NEWLINK);
  short_stats.ifinfo(2).str(IFLA_IFNAME, "eth0").attr(IFLA_STATS64, stats, 40);
  EXPECT_EQ(parse_link_message(short_stats.header(), {}, true).kind, LinkMessage::Kind::refused)
      << "five counters where eight are promised";
  NetlinkMessage wide_state(RTM_NEWLINK);
  wide_state.ifinfo(2).str(IFLA_IFNAME, "eth0").u32(IFLA_OPERSTATE, IF_OPER_UP);
  EXPECT_EQ(parse_link_message(wide_state.header(), {}).kind, LinkMessage::Kind::refused) << "a 4-byte operstate";
}

TEST(RtnlParse, AddressesAreReadAsIpShowsThem) {
  const std::uint8_t v4[4] = {192, 0, 2, 7};
  NetlinkMessage m(RTM_NEWADDR);
  m.ifaddr(3, AF_INET, 24, IFA_F_PERMANENT).attr(IFA_LOCAL, v4, 4).attr(IFA_ADDRESS, v4, 4).str(IFA_LABEL, "eth0:1");
  AddressMessage a = parse_address_message(m.header());
  ASSERT_EQ(a.kind, AddressMessage::Kind::address) << a.refusal;
  EXPECT_FALSE(a.deleted);
  EXPECT_EQ(a.ifindex, 3u);
  EXPECT_EQ(address_text(a.address), "192.0.2.7");
  EXPECT_EQ(a.address.prefix_len, 24);
  EXPECT_EQ(scope_text(a.address.scope), "global");
  EXPECT_FALSE(a.address.peer) << "IFA_ADDRESS equal to IFA_LOCAL is no peer";
  EXPECT_EQ(a.address.label, "eth0:1");
  EXPECT_EQ(address_flag_names(a.address), std::vector<std::string>{"permanent"});

  // IPv6: IFA_FLAGS carries the bits past the first byte; bit 0x01 is "temporary" here.
  std::uint8_t v6[16] = {0xfe, 0x80};
  v6[15] = 1;
  NetlinkMessage m6(RTM_DELADDR);
  m6.ifaddr(4, AF_INET6, 64, IFA_F_TENTATIVE, 253)
      .attr(IFA_ADDRESS, v6, 16)
      .u32(IFA_FLAGS, IFA_F_TENTATIVE | IFA_F_SECONDARY | IFA_F_NOPREFIXROUTE | 0x10000);
  a = parse_address_message(m6.header());
  ASSERT_EQ(a.kind, AddressMessage::Kind::address) << a.refusal;
  EXPECT_TRUE(a.deleted);
  EXPECT_EQ(address_text(a.address), "fe80::1");
  EXPECT_EQ(scope_text(a.address.scope), "link");
  EXPECT_EQ(address_flag_names(a.address),
            (std::vector<std::string>{"temporary", "tentative", "noprefixroute", "0x10000"}));

  // Point to point: IFA_ADDRESS is the far end.
  const std::uint8_t far[4] = {10, 9, 9, 9};
  NetlinkMessage ptp(RTM_NEWADDR);
  ptp.ifaddr(5, AF_INET, 32).attr(IFA_LOCAL, v4, 4).attr(IFA_ADDRESS, far, 4);
  a = parse_address_message(ptp.header());
  ASSERT_TRUE(a.address.peer);
  EXPECT_EQ(address_text(a.address, /*peer=*/true), "10.9.9.9");
  EXPECT_EQ(address_text(a.address), "192.0.2.7");

  // Not an IP family, not an address message: ignored, not refused.
  NetlinkMessage mpls(RTM_NEWADDR);
  mpls.ifaddr(5, AF_MPLS, 20).attr(IFA_ADDRESS, v4, 4);
  EXPECT_EQ(parse_address_message(mpls.header()).kind, AddressMessage::Kind::other);
  EXPECT_EQ(parse_address_message(veth_end(5, "x").header()).kind, AddressMessage::Kind::other);
}

TEST(RtnlParse, HostileAddressMessagesAreRefusedWhole) {
  const std::uint8_t v4[4] = {192, 0, 2, 7};
  const std::uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8};
  std::vector<std::pair<std::string, NetlinkMessage>> cases;
  auto add = [&](std::string why, NetlinkMessage m) { cases.emplace_back(std::move(why), std::move(m)); };
  add("an IPv4 prefix of 33", std::move(NetlinkMessage(RTM_NEWADDR).ifaddr(3, AF_INET, 33).attr(IFA_LOCAL, v4, 4)));
  add("an IPv6 prefix of 129",
      std::move(NetlinkMessage(RTM_NEWADDR).ifaddr(3, AF_INET6, 129).attr(IFA_ADDRESS, v6, 16)));
  add("16 bytes for IPv4", std::move(NetlinkMessage(RTM_NEWADDR).ifaddr(3, AF_INET, 24).attr(IFA_LOCAL, v6, 16)));
  add("4 bytes for IPv6", std::move(NetlinkMessage(RTM_NEWADDR).ifaddr(3, AF_INET6, 64).attr(IFA_ADDRESS, v4, 4)));
  add("no address", std::move(NetlinkMessage(RTM_NEWADDR).ifaddr(3, AF_INET, 24).u32(IFA_FLAGS, 0)));
  add("ifindex 0", std::move(NetlinkMessage(RTM_NEWADDR).ifaddr(0, AF_INET, 24).attr(IFA_LOCAL, v4, 4)));
  add("the address twice",
      std::move(NetlinkMessage(RTM_NEWADDR).ifaddr(3, AF_INET, 24).attr(IFA_LOCAL, v4, 4).attr(IFA_LOCAL, v4, 4)));
  add("2-byte flags",
      std::move(NetlinkMessage(RTM_NEWADDR).ifaddr(3, AF_INET, 24).attr(IFA_LOCAL, v4, 4).attr(IFA_FLAGS, "ab", 2)));
  add("a label without its NUL",
      std::move(NetlinkMessage(RTM_NEWADDR).ifaddr(3, AF_INET, 24).attr(IFA_LOCAL, v4, 4).attr(IFA_LABEL, "lab", 3)));
  add("a header only", std::move(NetlinkMessage(RTM_NEWADDR)));
  for (auto& [why, message] : cases) {
    AddressMessage a = parse_address_message(message.header());
    EXPECT_EQ(a.kind, AddressMessage::Kind::refused) << why << " was accepted";
    EXPECT_FALSE(a.refusal.empty()) << why;
  }
}

TEST(RtnlParse, AnAttributeOverrunningItsMessageIsRefused) {
  NetlinkMessage m(RTM_NEWLINK);
  m.ifinfo(5).str(IFLA_IFNAME, "a");
  std::vector<std::uint8_t> bytes = m.bytes();
  // A last attribute that claims 200 bytes in a message that has 8.
  nlattr lying{200, IFLA_MTU};
  bytes.insert(bytes.end(), reinterpret_cast<std::uint8_t*>(&lying), reinterpret_cast<std::uint8_t*>(&lying) + 4);
  bytes.insert(bytes.end(), 4, 0);
  auto len = static_cast<std::uint32_t>(bytes.size());
  std::memcpy(bytes.data(), &len, sizeof len);
  LinkMessage link = parse_link_message(*reinterpret_cast<const nlmsghdr*>(bytes.data()), {});
  EXPECT_EQ(link.kind, LinkMessage::Kind::refused);
}

TEST(RtnlParse, NamesAreCheckedAsTheKernelChecksThem) {
  EXPECT_TRUE(valid_interface_name("eth0"));
  EXPECT_TRUE(valid_interface_name("caf\xc3\xa9"));
  EXPECT_TRUE(
      valid_interface_name("a\x01"
                           "b"))
      << "the kernel accepts control bytes other than whitespace";
  EXPECT_TRUE(valid_interface_name("0123456789abcde")) << "15 bytes fit";
  EXPECT_FALSE(valid_interface_name("0123456789abcdef"));
  EXPECT_FALSE(valid_interface_name("a b"));
  EXPECT_FALSE(valid_interface_name("a\tb"));
  EXPECT_FALSE(valid_interface_name("a\xa0z")) << "the kernel's isspace includes 0xa0";
  EXPECT_FALSE(valid_interface_name("."));
  EXPECT_FALSE(valid_interface_name(std::string("a\0b", 3)));
}

TEST(RtnlParse, DatagramsAreWalkedWithinTheirBounds) {
  auto bytes = testing::datagram({veth_end(1, "a"), veth_end(2, "b")});
  std::vector<std::string> names;
  EXPECT_TRUE(for_each_message(bytes.data(), bytes.size(), [&](const nlmsghdr& h) {
    names.push_back(parse_link_message(h, {}).device.name);
    return true;
  }));
  EXPECT_EQ(names, (std::vector<std::string>{"a", "b"}));

  // The second message claims more than the datagram holds.
  auto second = veth_end(2, "b").bytes();
  const std::size_t first_size = bytes.size() - second.size();
  std::uint32_t lying = static_cast<std::uint32_t>(second.size() + 100);
  std::memcpy(bytes.data() + first_size, &lying, sizeof lying);
  names.clear();
  EXPECT_FALSE(for_each_message(bytes.data(), bytes.size(), [&](const nlmsghdr& h) {
    names.push_back(parse_link_message(h, {}).device.name);
    return true;
  }));
  EXPECT_EQ(names, std::vector<std::string>{"a"}) << "what came before is seen, nothing after";

  std::uint8_t tiny[7] = {};
  EXPECT_FALSE(for_each_message(tiny, sizeof tiny, [](const nlmsghdr&) { return true; }));
}

TEST(RtnlParse, NsidAndErrorRepliesFollowTheirPolicies) {
  NetlinkMessage good(RTM_NEWNSID);
  rtgenmsg gen{};
  good.raw(&gen, sizeof gen).u32(NETNSA_NSID, 7);
  EXPECT_EQ(parse_nsid_message(good.header()), 7);
  NetlinkMessage short_id(RTM_NEWNSID);
  short_id.raw(&gen, sizeof gen).attr(NETNSA_NSID, "ab", 2);
  EXPECT_FALSE(parse_nsid_message(short_id.header()));

  // Shorter than its padded fixed header (found by tests/fuzz/rtnl_fuzz: it read past the message).
  NetlinkMessage truncated(RTM_NEWNSID);
  truncated.raw("\x00", 1);
  std::vector<std::uint8_t> bytes = truncated.bytes();
  const std::uint32_t len = NLMSG_LENGTH(1);
  std::memcpy(bytes.data(), &len, sizeof len);
  EXPECT_FALSE(parse_nsid_message(*reinterpret_cast<const nlmsghdr*>(bytes.data())));

  NetlinkMessage ack(NLMSG_ERROR);
  int zero = 0;
  ack.raw(&zero, sizeof zero);
  EXPECT_EQ(parse_error_message(ack.header()), 0);
  NetlinkMessage refused(NLMSG_ERROR);
  int eperm = -EPERM;
  refused.raw(&eperm, sizeof eperm);
  EXPECT_EQ(parse_error_message(refused.header()), -EPERM);
  NetlinkMessage empty(NLMSG_ERROR);
  EXPECT_FALSE(parse_error_message(empty.header())) << "too short to hold an error";
}

}  // namespace
}  // namespace netnsd
