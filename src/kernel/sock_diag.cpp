#include "kernel/sock_diag.h"

#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <fstream>
#include <string>

#include "kernel/netns.h"
#include "kernel/sock_diag_parse.h"

namespace netnsd {
namespace {

constexpr std::uint32_t kTcpClose = 7;
constexpr std::uint32_t kTcpListen = 10;

std::uint32_t states_for(std::uint8_t protocol, SocketScope scope) {
  if (scope == SocketScope::all) return ~0u;
  return protocol == IPPROTO_UDP ? 1u << kTcpClose : 1u << kTcpListen;
}

}  // namespace

Result<SockDiagSocket> SockDiagSocket::open(NetnsId netns, NetlinkCounters* counters) {
  auto channel = NetlinkChannel::open(NETLINK_SOCK_DIAG, netns, counters);
  if (!channel) return channel.error();
  return SockDiagSocket(std::move(channel.value()));
}

Result<SockDiagSocket> SockDiagSocket::open_in(int netns_fd, NetnsId netns, NetlinkCounters* counters) {
  auto made = run_in_netns(netns_fd, [&] { return open(netns, counters); });
  if (!made) return made.error();
  return std::move(made.value());
}

Status SockDiagSocket::dump(std::uint8_t family, std::uint8_t protocol, std::uint32_t states,
                            std::vector<InetSocket>& out) {
  struct {
    nlmsghdr header;
    inet_diag_req_v2 request;
  } message{};
  message.header.nlmsg_len = sizeof message;
  message.header.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  message.header.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  message.request.sdiag_family = family;
  message.request.sdiag_protocol = protocol;
  message.request.idiag_states = states;
  if (Status st = channel_.send(&message.header); !st) return st;
  return channel_.request(
      message.header.nlmsg_seq,
      [&](const nlmsghdr& h) {
        SocketMessage m = parse_socket_message(h, family, protocol);
        if (m.kind == SocketMessage::Kind::socket) {
          out.push_back(m.socket);
        } else if (m.kind == SocketMessage::Kind::refused) {
          channel_.refused(&NetlinkCounters::policy, m.refusal);
        }
      },
      nullptr);
}

Result<std::vector<InetSocket>> SockDiagSocket::list(std::uint8_t protocol, SocketScope scope) {
  std::vector<InetSocket> sockets;
  for (std::uint8_t family : {AF_INET, AF_INET6}) {
    if (Status st = dump(family, protocol, states_for(protocol, scope), sockets); !st) {
      return Error{st.error().code, "dump " + protocol_text(protocol) + " sockets: " + st.error().context};
    }
  }
  return sockets;
}

bool kernel_has_sctp(const char* protocols) {
  std::ifstream in(protocols);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("SCTP", 0) == 0) return true;
  }
  return false;
}

}  // namespace netnsd
