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
