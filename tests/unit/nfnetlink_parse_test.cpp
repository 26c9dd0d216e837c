// The nfnetlink parser and the legacy entry walk on messages built here:
// what the kernel sends is read whole (a chain's hook, a DNAT rule's port
// behind the registers), and what breaks a policy is refused with the
// reason. The real kernel's replies are the fuzzer's seeds and the
// privileged Firewall tests' subject.
#include "kernel/nfnetlink_parse.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/netfilter_ipv4/ip_tables.h>
#include <netinet/in.h>

#include <cstring>
#include <vector>

#include "kernel/iptables_legacy.h"
#include "netlink_builder.h"

namespace netnsd {
namespace {

using testing::NetlinkMessage;
using Kind = NetfilterMessage::Kind;

NetlinkMessage nft(std::uint16_t message, std::uint8_t family) {
  NetlinkMessage m(static_cast<std::uint16_t>(NFNL_SUBSYS_NFTABLES << 8 | message), NLM_F_MULTI);
  nfgenmsg g{family, NFNETLINK_V0, 0};
  m.raw(&g, sizeof g);
  return m;
}

std::uint32_t be(std::uint32_t v) {
  return htonl(v);
}

// A nest built of attributes.
std::vector<std::uint8_t> nest(NetlinkMessage body) {
  auto bytes = body.bytes();
  return std::vector<std::uint8_t>(bytes.begin() + NLMSG_HDRLEN, bytes.end());
}

NetlinkMessage attributes() {
  // A message whose header is dropped by nest(): only its attributes count.
  return NetlinkMessage(0);
}

std::vector<std::uint8_t> expression(const std::string& name, NetlinkMessage data) {
  auto body = nest(std::move(data));
  return nest(
      std::move(attributes().str(NFTA_EXPR_NAME, name).attr(NFTA_EXPR_DATA | NLA_F_NESTED, body.data(), body.size())));
}

TEST(NfnetlinkParse, ConntrackStatisticsAreTheEntriesAndTheMachinesMax) {
  NetlinkMessage m(static_cast<std::uint16_t>(NFNL_SUBSYS_CTNETLINK << 8 | IPCTNL_MSG_CT_GET_STATS), NLM_F_MULTI);
  nfgenmsg g{AF_UNSPEC, NFNETLINK_V0, 0};
  m.raw(&g, sizeof g).u32(CTA_STATS_GLOBAL_ENTRIES, be(12)).u32(CTA_STATS_GLOBAL_MAX_ENTRIES, be(262144));
  const NetfilterMessage p = parse_netfilter_message(m.header());
  ASSERT_EQ(p.kind, Kind::conntrack_stats) << p.refusal;
  EXPECT_EQ(p.entries, 12u);
  EXPECT_EQ(p.max, 262144u);
  NetlinkMessage twice(static_cast<std::uint16_t>(NFNL_SUBSYS_CTNETLINK << 8 | IPCTNL_MSG_CT_GET_STATS));
  twice.raw(&g, sizeof g).u32(CTA_STATS_GLOBAL_ENTRIES, be(1)).u32(CTA_STATS_GLOBAL_ENTRIES, be(2));
  EXPECT_EQ(parse_netfilter_message(twice.header()).kind, Kind::refused);
}

TEST(NfnetlinkParse, ABaseChainIsReadWithItsHookPriorityPolicyAndType) {
  auto hook = nest(std::move(attributes()
                                 .u32(NFTA_HOOK_HOOKNUM, be(NF_INET_PRE_ROUTING))
                                 .u32(NFTA_HOOK_PRIORITY, be(static_cast<std::uint32_t>(-100)))));
  auto m = nft(NFT_MSG_NEWCHAIN, NFPROTO_IPV4);
  m.str(NFTA_CHAIN_TABLE, "nat")
      .str(NFTA_CHAIN_NAME, "PREROUTING")
      .attr(NFTA_CHAIN_HOOK | NLA_F_NESTED, hook.data(), hook.size())
      .u32(NFTA_CHAIN_POLICY, be(NF_ACCEPT))
      .str(NFTA_CHAIN_TYPE, "nat");
  const NetfilterMessage p = parse_netfilter_message(m.header());
  ASSERT_EQ(p.kind, Kind::chain) << p.refusal;
  EXPECT_EQ(p.family, NFPROTO_IPV4);
  EXPECT_EQ(p.chain_table, "nat");
  EXPECT_EQ(p.chain.name, "PREROUTING");
  EXPECT_EQ(p.chain.hook, NF_INET_PRE_ROUTING);
  EXPECT_EQ(p.chain.priority, -100);
  EXPECT_EQ(p.chain.policy, static_cast<std::uint32_t>(NF_ACCEPT));
  EXPECT_EQ(p.chain.type, "nat");
  EXPECT_EQ(nft_hook_text(p.family, *p.chain.hook), "prerouting");
}

TEST(NfnetlinkParse, ADnatRulesPortIsFollowedThroughItsRegisters) {
  // meta l4proto -> reg 1; cmp reg 1 == tcp; payload th 2,2 -> reg 1;
  // cmp reg 1 == 8080; then the nat expression.
  std::uint8_t tcp = IPPROTO_TCP;
  std::uint16_t port = htons(8080);
  auto proto_value = nest(std::move(attributes().attr(NFTA_DATA_VALUE, &tcp, 1)));
  auto port_value = nest(std::move(attributes().attr(NFTA_DATA_VALUE, &port, 2)));
  std::vector<std::vector<std::uint8_t>> exprs{
      expression("meta", std::move(attributes().u32(NFTA_META_KEY, be(NFT_META_L4PROTO)).u32(NFTA_META_DREG, be(1)))),
      expression("cmp", std::move(attributes()
                                      .u32(NFTA_CMP_SREG, be(1))
                                      .u32(NFTA_CMP_OP, be(NFT_CMP_EQ))
                                      .attr(NFTA_CMP_DATA | NLA_F_NESTED, proto_value.data(), proto_value.size()))),
      expression("payload", std::move(attributes()
                                          .u32(NFTA_PAYLOAD_DREG, be(1))
                                          .u32(NFTA_PAYLOAD_BASE, be(NFT_PAYLOAD_TRANSPORT_HEADER))
                                          .u32(NFTA_PAYLOAD_OFFSET, be(2))
                                          .u32(NFTA_PAYLOAD_LEN, be(2)))),
      expression("cmp", std::move(attributes()
                                      .u32(NFTA_CMP_SREG, be(1))
                                      .u32(NFTA_CMP_OP, be(NFT_CMP_EQ))
                                      .attr(NFTA_CMP_DATA | NLA_F_NESTED, port_value.data(), port_value.size()))),
      expression("nat", attributes())};
  NetlinkMessage list = attributes();
  for (const auto& e : exprs) list.attr(NFTA_LIST_ELEM | NLA_F_NESTED, e.data(), e.size());
  auto body = nest(std::move(list));
  std::uint64_t handle = htobe64(7);
  auto m = nft(NFT_MSG_NEWRULE, NFPROTO_IPV4);
  m.str(NFTA_RULE_TABLE, "nat")
      .str(NFTA_RULE_CHAIN, "PREROUTING")
      .attr(NFTA_RULE_HANDLE, &handle, sizeof handle)
      .attr(NFTA_RULE_EXPRESSIONS | NLA_F_NESTED, body.data(), body.size());
  const NetfilterMessage p = parse_netfilter_message(m.header());
  ASSERT_EQ(p.kind, Kind::rule) << p.refusal;
  EXPECT_EQ(p.rule.handle, 7u);
  ASSERT_EQ(p.rule.ports.size(), 1u);
  EXPECT_EQ(p.rule.ports[0].protocol, IPPROTO_TCP);
  EXPECT_EQ(p.rule.ports[0].port, 8080);

  // The same compare on a register the payload did not load says nothing.
  auto m2 = nft(NFT_MSG_NEWRULE, NFPROTO_IPV4);
  exprs.erase(exprs.begin() + 2);
  NetlinkMessage list2 = attributes();
  for (const auto& e : exprs) list2.attr(NFTA_LIST_ELEM | NLA_F_NESTED, e.data(), e.size());
  auto body2 = nest(std::move(list2));
  m2.str(NFTA_RULE_TABLE, "nat")
      .str(NFTA_RULE_CHAIN, "PREROUTING")
      .attr(NFTA_RULE_EXPRESSIONS | NLA_F_NESTED, body2.data(), body2.size());
  const NetfilterMessage p2 = parse_netfilter_message(m2.header());
  ASSERT_EQ(p2.kind, Kind::rule) << p2.refusal;
  EXPECT_TRUE(p2.rule.ports.empty());
}

TEST(NfnetlinkParse, WhatBreaksAPolicyIsRefusedWithItsReason) {
  auto twice = nft(NFT_MSG_NEWTABLE, NFPROTO_INET);
  twice.str(NFTA_TABLE_NAME, "a").str(NFTA_TABLE_NAME, "b");
  auto unterminated = nft(NFT_MSG_NEWTABLE, NFPROTO_INET);
  unterminated.attr(NFTA_TABLE_NAME, "abc", 3);
  auto long_name = nft(NFT_MSG_NEWTABLE, NFPROTO_INET);
  long_name.str(NFTA_TABLE_NAME, std::string(NFT_NAME_MAXLEN, 'x'));
  auto short_flags = nft(NFT_MSG_NEWTABLE, NFPROTO_INET);
  short_flags.str(NFTA_TABLE_NAME, "t").u8(NFTA_TABLE_FLAGS, 1);
  auto no_table = nft(NFT_MSG_NEWCHAIN, NFPROTO_INET);
  no_table.str(NFTA_CHAIN_NAME, "c");
  NetlinkMessage no_header(static_cast<std::uint16_t>(NFNL_SUBSYS_NFTABLES << 8 | NFT_MSG_NEWTABLE));
  for (NetlinkMessage* m : {&twice, &unterminated, &long_name, &short_flags, &no_table, &no_header}) {
    const NetfilterMessage p = parse_netfilter_message(m->header());
    EXPECT_EQ(p.kind, Kind::refused);
    EXPECT_FALSE(p.refusal.empty());
  }
  // Another subsystem's message is not ours to judge.
  NetlinkMessage other(static_cast<std::uint16_t>(NFNL_SUBSYS_QUEUE << 8 | 0));
  EXPECT_EQ(parse_netfilter_message(other.header()).kind, Kind::other);
}

// A legacy table as the kernel lays it out: entries, each with its target
// at target_offset, the last an ERROR target.
std::vector<std::uint8_t> legacy_table(const std::vector<std::string>& targets) {
  std::vector<std::uint8_t> blob;
  for (const std::string& name : targets) {
    const std::size_t size = XT_ALIGN(sizeof(ipt_entry)) + XT_ALIGN(sizeof(xt_entry_target) + 32);
    ipt_entry e{};
    e.target_offset = XT_ALIGN(sizeof(ipt_entry));
    e.next_offset = static_cast<std::uint16_t>(size);
    xt_entry_target t{};
    t.u.user.target_size = static_cast<std::uint16_t>(size - e.target_offset);
    std::strncpy(t.u.user.name, name.c_str(), sizeof t.u.user.name - 1);
    const std::size_t at = blob.size();
    blob.resize(at + size);
    std::memcpy(blob.data() + at, &e, sizeof e);
    std::memcpy(blob.data() + at + e.target_offset, &t, sizeof t);
  }
  return blob;
}

TEST(LegacyEntries, RulesAndUserChainsAreCountedAsIptablesSaveListsThem) {
  // filter: INPUT (1 rule, policy), FORWARD (policy), OUTPUT (policy), a
  // user chain CHK (ERROR head, 2 rules, RETURN), the end.
  auto blob = legacy_table({"", "", "", "", "ERROR", "ACCEPT", "", "", "ERROR"});
  auto counted = count_legacy_rules(AF_INET, blob, 3);
  ASSERT_TRUE(counted) << counted.error().message();
  EXPECT_EQ(counted->rules, 3u);  // INPUT's, and CHK's two
  EXPECT_EQ(counted->user_chains, 1u);
  EXPECT_EQ(counted->family, AF_INET);

  // Without its end, cut short, or an offset past the blob: refused.
  EXPECT_FALSE(count_legacy_rules(AF_INET, legacy_table({"", "", ""}), 3));
  auto cut = blob;
  cut.resize(cut.size() - 8);
  EXPECT_FALSE(count_legacy_rules(AF_INET, cut, 3));
  auto overrun = blob;
  ipt_entry e;
  std::memcpy(&e, overrun.data(), sizeof e);
  e.next_offset = static_cast<std::uint16_t>(overrun.size() + 8);
  std::memcpy(overrun.data(), &e, sizeof e);
  EXPECT_FALSE(count_legacy_rules(AF_INET, overrun, 3));
  // Fewer entries than its chains need.
  EXPECT_FALSE(count_legacy_rules(AF_INET, legacy_table({"", "ERROR"}), 3));
}

}  // namespace
}  // namespace netnsd
