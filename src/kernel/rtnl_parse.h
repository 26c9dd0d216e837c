// rtnetlink messages as untrusted input.
//
// Anybody may own a network namespace (`unshare -rn`) and, with it, send
// netlink messages to the sockets netnsd keeps there. rtnl.cpp drops what
// does not come from the kernel; these parsers check what does, before
// reading it: every message's length against its datagram, every attribute's
// length against its type's policy, and names as the kernel itself accepts
// them. A message that fails a check is refused whole, with the reason, and
// never applied in part. No libnl here: the parsers are small enough to read,
// and they are fuzzed (tests/fuzz/rtnl_fuzz.cpp).
#pragma once

#include <linux/netlink.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "resolver/model.h"

namespace netnsd {

// What one message of a datagram is.
struct LinkMessage {
  enum class Kind {
    device,   // RTM_NEWLINK / RTM_DELLINK describing a device: `device` holds it
    other,    // something else (another type, a bridge port's AF_BRIDGE message): ignore it
    refused,  // it broke a policy: drop it, count it, and say `refusal`
  };
  Kind kind = Kind::other;
  bool deleted = false;  // RTM_DELLINK
  Device device;
  // An RTM_DELLINK for a device that moved to another namespace says where
  // (IFLA_NEW_NETNSID as seen from this one, IFLA_NEW_IFINDEX).
  std::optional<LinkRef> moved_to;
  std::string refusal;
};

// What one RTM_NEWADDR/RTM_DELADDR message is.
struct AddressMessage {
  enum class Kind {
    address,  // an IPv4 or IPv6 address of device `ifindex`
    other,    // another type or family: ignore it
    refused,  // it broke a policy: drop it, count it, and say `refusal`
  };
  Kind kind = Kind::other;
  bool deleted = false;  // RTM_DELADDR
  std::uint32_t ifindex = 0;
  Address address;
  std::string refusal;
};

// Parses one RTM_NEWADDR/RTM_DELADDR message (length known to lie within
// its datagram). Addresses must be 4 (IPv4) or 16 (IPv6) bytes with a
// prefix length that fits them.
AddressMessage parse_address_message(const nlmsghdr& message);

// Parses one RTM_NEWLINK/RTM_DELLINK message. `message.nlmsg_len` must
// already be known to lie within the datagram (for_each_message checks it).
// A veth whose peer (or a device whose lower link) is in the same namespace
// gets `self` as that link's netns. Counters (IFLA_STATS64) are read only
// with `with_stats`: notifications carry them too, but the cache keeps none.
LinkMessage parse_link_message(const nlmsghdr& message, std::optional<NetnsId> self, bool with_stats = false);

// The NETNSA_NSID of an RTM_NEWNSID reply; nullopt when the message breaks
// the policy (missing, or not exactly 4 bytes).
std::optional<std::int32_t> parse_nsid_message(const nlmsghdr& message);

// The error code of an NLMSG_ERROR message (0 is an acknowledgement);
// nullopt when it is too short to hold one.
std::optional<int> parse_error_message(const nlmsghdr& message);

// Calls `fn` for each message of a datagram of `length` bytes at `data`, in
// order, as long as `fn` returns true. Returns false when the datagram is
// malformed (a header that overruns it, or is shorter than a header):
// messages before the bad one have been seen, nothing after it.
bool for_each_message(const void* data, std::size_t length, const std::function<bool(const nlmsghdr&)>& fn);

// valid_interface_name() (resolver/model.h) is the policy names are checked against.

}  // namespace netnsd
