// sock_diag: a namespace's TCP, UDP and SCTP sockets, read on demand.
#pragma once

#include <cstdint>
#include <vector>

#include "kernel/netlink_channel.h"
#include "resolver/sockets.h"
#include "util/result.h"

namespace netnsd {

// A NETLINK_SOCK_DIAG socket, bound to the namespace it was created in.
// Replies go through the NetlinkChannel's trust rules (kernel-sent,
// sequence-checked) and sock_diag_parse.h's policies; refusals are counted
// in the NetlinkCounters given at open.
//
// Not thread-safe: one thread uses a socket at a time.
class SockDiagSocket {
 public:
  // A socket in the calling thread's namespace, `netns` (for logs).
  static Result<SockDiagSocket> open(NetnsId netns = 0, NetlinkCounters* counters = nullptr);
  // A socket in the namespace behind `netns_fd` (entered on this thread only
  // for the socket() call).
  static Result<SockDiagSocket> open_in(int netns_fd, NetnsId netns = 0, NetlinkCounters* counters = nullptr);

  // The namespace's sockets of `protocol` (IPPROTO_TCP, IPPROTO_UDP,
  // IPPROTO_SCTP), IPv4 then IPv6: the listening ones, or all. One dump per
  // family, of only the states asked for.
  Result<std::vector<InetSocket>> list(std::uint8_t protocol, SocketScope scope);

 private:
  explicit SockDiagSocket(NetlinkChannel channel) : channel_(std::move(channel)) {}
  Status dump(std::uint8_t family, std::uint8_t protocol, std::uint32_t states, std::vector<InetSocket>& out);

  NetlinkChannel channel_;
};

// Whether the kernel has SCTP loaded (/proc/net/protocols lists it). Asking
// sock_diag for SCTP would load its modules; a listing never does, and
// without them no SCTP socket exists to list.
bool kernel_has_sctp(const char* protocols = "/proc/net/protocols");

}  // namespace netnsd
