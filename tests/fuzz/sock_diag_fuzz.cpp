// Fuzzes the sock_diag parser with whole datagrams, as a socket would read
// them: every message goes through it as a reply to IPv4 and to IPv6
// requests. Nothing may read outside the buffer (ASan), overflow or
// misalign (UBSan), and what is accepted must obey the policy.
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <cstdlib>
#include <vector>

#include "kernel/rtnl_parse.h"
#include "kernel/sock_diag_parse.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // A buffer of exactly `size` bytes, so any read past the end is caught.
  std::vector<std::uint8_t> datagram(data, data + size);
  netnsd::for_each_message(datagram.data(), datagram.size(), [](const nlmsghdr& h) {
    for (std::uint8_t family : {AF_INET, AF_INET6}) {
      netnsd::SocketMessage m = netnsd::parse_socket_message(h, family, IPPROTO_TCP);
      if (m.kind != netnsd::SocketMessage::Kind::socket) continue;
      const netnsd::InetSocket& s = m.socket;
      if (s.family != family || s.state == 0 || s.state > 12) std::abort();
      if (s.v6only && family != AF_INET6) std::abort();
      if (netnsd::socket_address_text(s).empty()) std::abort();
      (void)netnsd::socket_state_text(s.protocol, s.state);
    }
    return true;
  });
  return 0;
}
