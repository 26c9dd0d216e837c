// sock_diag (NETLINK_SOCK_DIAG) replies as untrusted input.
//
// The same rules as rtnl_parse.h: a sock_diag socket lives in a namespace
// anybody may own, netlink_channel drops what the kernel did not send, and
// this parser checks what it did before reading it: the message's length
// against the fixed header, the family against the request's, the state
// against the kernel's numbering, each attribute's length against its
// policy. A message that fails a check is refused whole, with the reason.
// Fuzzed (tests/fuzz/sock_diag_fuzz.cpp).
#pragma once

#include <linux/netlink.h>

#include <cstdint>
#include <string>

#include "resolver/sockets.h"

namespace netnsd {

struct SocketMessage {
  enum class Kind {
    socket,   // one socket: `socket` holds it
    other,    // another message type: ignore it
    refused,  // it broke a policy: drop it, count it, and say `refusal`
  };
  Kind kind = Kind::other;
  InetSocket socket;
  std::string refusal;
};

// Parses one SOCK_DIAG_BY_FAMILY reply to a request for `family` (AF_INET,
// AF_INET6) and `protocol` (which the reply does not repeat).
// `message.nlmsg_len` must already be known to lie within the datagram
// (for_each_message checks it).
SocketMessage parse_socket_message(const nlmsghdr& message, std::uint8_t family, std::uint8_t protocol);

}  // namespace netnsd
