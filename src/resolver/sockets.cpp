#include "resolver/sockets.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

namespace netnsd {

namespace {
constexpr std::uint8_t kTcpEstablished = 1;
constexpr std::uint8_t kTcpClose = 7;
constexpr std::uint8_t kTcpListen = 10;
}  // namespace

bool is_listening(const InetSocket& socket) {
  if (socket.protocol == IPPROTO_UDP) return socket.state == kTcpClose;
  return socket.state == kTcpListen;
}

std::string protocol_text(std::uint8_t protocol) {
  switch (protocol) {
    case IPPROTO_TCP:
      return "tcp";
    case IPPROTO_UDP:
      return "udp";
    case IPPROTO_SCTP:
      return "sctp";
    default:
      return std::to_string(protocol);
  }
}

std::optional<std::uint8_t> parse_protocol(std::string_view name) {
  if (name == "tcp") return IPPROTO_TCP;
  if (name == "udp") return IPPROTO_UDP;
  if (name == "sctp") return IPPROTO_SCTP;
  return std::nullopt;
}

std::string socket_state_text(std::uint8_t protocol, std::uint8_t state) {
  if (protocol == IPPROTO_UDP && state == kTcpClose) return "unconn";
  if (protocol == IPPROTO_UDP && state == kTcpEstablished) return "established";
  static constexpr const char* names[] = {"",          "established", "syn_sent",    "syn_recv",   "fin_wait1",
                                          "fin_wait2", "time_wait",   "close",       "close_wait", "last_ack",
                                          "listen",    "closing",     "new_syn_recv"};
  if (state > 0 && state < std::size(names)) return names[state];
  return std::to_string(state);
}

std::string socket_address_text(const InetSocket& socket, bool remote) {
  const auto& bytes = remote ? socket.remote : socket.local;
  char text[INET6_ADDRSTRLEN] = {};
  const int family = socket.family == AF_INET ? AF_INET : AF_INET6;
  if (!::inet_ntop(family, bytes.data(), text, sizeof text)) return "";
  return text;
}

}  // namespace netnsd
