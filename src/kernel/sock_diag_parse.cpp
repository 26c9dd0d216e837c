#include "kernel/sock_diag_parse.h"

#include <arpa/inet.h>
#include <linux/inet_diag.h>
#include <linux/sock_diag.h>
#include <sys/socket.h>

#include <cstring>

#include "kernel/netlink_attrs.h"

namespace netnsd {
namespace {

// The kernel's TCP states run from TCP_ESTABLISHED (1) to TCP_NEW_SYN_RECV
// (12); sock_diag reports nothing else.
constexpr std::uint8_t kLastState = 12;

SocketMessage refused_message(std::string why) {
  SocketMessage m;
  m.kind = SocketMessage::Kind::refused;
  m.refusal = std::move(why);
  return m;
}

}  // namespace

SocketMessage parse_socket_message(const nlmsghdr& message, std::uint8_t family, std::uint8_t protocol) {
  if (message.nlmsg_type != SOCK_DIAG_BY_FAMILY) return {};
  const netlink::Bytes payload = netlink::payload_of(message);
  if (payload.size() < sizeof(inet_diag_msg)) return refused_message("a socket message shorter than inet_diag_msg");
  inet_diag_msg diag;
  std::memcpy(&diag, payload.data(), sizeof diag);
  if (diag.idiag_family != family) {
    return refused_message("a socket of family " + std::to_string(diag.idiag_family) + " in a dump of family " +
                           std::to_string(family));
  }
  if (diag.idiag_state == 0 || diag.idiag_state > kLastState) {
    return refused_message("a socket in state " + std::to_string(diag.idiag_state) + ", which no kernel reports");
  }
  SocketMessage out;
  out.kind = SocketMessage::Kind::socket;
  InetSocket& s = out.socket;
  s.protocol = protocol;
  s.family = family;
  s.state = diag.idiag_state;
  const std::size_t address_size = family == AF_INET ? 4 : 16;
  std::memcpy(s.local.data(), diag.id.idiag_src, address_size);
  std::memcpy(s.remote.data(), diag.id.idiag_dst, address_size);
  s.local_port = ntohs(diag.id.idiag_sport);
  s.remote_port = ntohs(diag.id.idiag_dport);
  s.ifindex = diag.id.idiag_if;
  s.uid = diag.idiag_uid;
  s.inode = diag.idiag_inode;

  std::string why;
  const bool well_formed =
      netlink::for_each_attribute(netlink::attributes_after(payload, sizeof diag), [&](std::uint16_t type, auto b) {
        if (type != INET_DIAG_SKV6ONLY) return true;
        if (family != AF_INET6 || b.size() != 1 || s.v6only) {
          why = "INET_DIAG_SKV6ONLY not one byte given once on an IPv6 socket";
          return false;
        }
        s.v6only = b[0] != 0;
        return true;
      });
  if (!why.empty()) return refused_message(why);
  if (!well_formed) return refused_message("a socket message whose attributes overrun it");
  return out;
}

}  // namespace netnsd
