// nfnetlink (NETLINK_NETFILTER) replies as untrusted input: ctnetlink's
// statistics and nf_tables' tables, chains and rules.
//
// The same rules as rtnl_parse.h: the socket lives in a namespace anybody
// may own, netlink_channel drops what the kernel did not send, and this
// parser checks what it did before reading it: the nfgenmsg header, each
// attribute's length against its policy, each attribute once, names within
// the kernel's limits. A message that fails a check is refused whole, with
// the reason. Fuzzed (tests/fuzz/nfnetlink_fuzz.cpp).
#pragma once

#include <linux/netlink.h>

#include <cstdint>
#include <string>
#include <vector>

#include "resolver/netfilter.h"

namespace netnsd {

// One rule as the firewall summary needs it: where it is, and the
// transport destination ports it matches for equality.
struct NftRuleFacts {
  std::uint8_t family = 0;
  std::string table;
  std::string chain;
  std::uint64_t handle = 0;
  struct Port {
    std::uint8_t protocol = 0;  // 0: the rule does not name one before the port
    std::uint16_t port = 0;
  };
  std::vector<Port> ports;
};

struct NetfilterMessage {
  enum class Kind {
    conntrack_stats,  // `entries` and `max`
    table,            // `table` (without chains)
    chain,            // `chain`, in table `chain_table`
    rule,             // `rule`
    other,            // another message type: ignore it
    refused,          // it broke a policy: drop it, count it, and say `refusal`
  };
  Kind kind = Kind::other;
  std::uint8_t family = 0;  // nfgenmsg's: the nf_tables family
  std::uint32_t entries = 0;
  std::uint32_t max = 0;
  NftTable table;
  NftChain chain;
  std::string chain_table;
  NftRuleFacts rule;
  std::string refusal;
};

// Parses one nfnetlink message. `message.nlmsg_len` must already be known to
// lie within the datagram (for_each_message checks it).
NetfilterMessage parse_netfilter_message(const nlmsghdr& message);

}  // namespace netnsd
