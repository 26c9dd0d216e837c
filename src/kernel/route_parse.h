// rtnetlink routes, policy rules and neighbours as untrusted input.
//
// The rules of rtnl_parse.h hold here too: netlink_channel drops what the
// kernel did not send, and these parsers check what it did before reading
// it (every attribute's length against its type's policy, each given once,
// prefix lengths within their family, names as the kernel accepts them),
// refusing a message whole, with the reason, rather than reading it in
// part. Fuzzed (tests/fuzz/rtnl_fuzz.cpp takes every datagram through
// these too).
//
// Our own rather than libnl-route-3's (rtnl_route_parse and friends): libnl
// allocates an object per message and per next hop, and checks attribute
// lengths against minimums, not exact sizes; ours reads into the cache's
// own types directly, with the same policies as the device and address
// parsers.
#pragma once

#include <linux/netlink.h>

#include <string>

#include "resolver/routing.h"

namespace netnsd {

enum class FactKind {
  fact,     // the message describes one: read it
  other,    // another type or family (multicast routes, bridge FDB entries, cached clones): ignore it
  refused,  // it broke a policy: drop it, count it, and say `refusal`
};

struct RouteMessage {
  FactKind kind = FactKind::other;
  bool deleted = false;  // RTM_DELROUTE
  // NLM_F_APPEND on an RTM_NEWROUTE: a next hop added to an IPv6 route that
  // the message does not describe whole.
  bool append = false;
  Route route;
  std::string refusal;
};

struct RuleMessage {
  FactKind kind = FactKind::other;
  bool deleted = false;  // RTM_DELRULE
  Rule rule;
  std::string refusal;
};

struct NeighbourMessage {
  FactKind kind = FactKind::other;
  bool deleted = false;  // RTM_DELNEIGH
  Neighbour neighbour;
  std::string refusal;
};

// Each parses one message whose length is known to lie within its
// datagram (for_each_message checks it).
RouteMessage parse_route_message(const nlmsghdr& message);
RuleMessage parse_rule_message(const nlmsghdr& message);
NeighbourMessage parse_neighbour_message(const nlmsghdr& message);

}  // namespace netnsd
