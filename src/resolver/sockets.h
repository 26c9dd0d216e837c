// Sockets: the vocabulary of the on-demand socket listings (sock_diag).
//
// Never cached: sockets come and go far faster than devices, and a listing
// is cheap enough to take when asked (GET /v1/namespaces/{netns}/sockets,
// GET /v1/whois?port=). The kernel adapters produce these (kernel/sock_diag.h,
// kernel/socket_owners.h); the API serialises them.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "resolver/model.h"

namespace netnsd {

// One TCP, UDP or SCTP socket of a namespace.
struct InetSocket {
  std::uint8_t protocol = 0;             // IPPROTO_TCP, IPPROTO_UDP or IPPROTO_SCTP
  std::uint8_t family = 0;               // AF_INET or AF_INET6
  std::uint8_t state = 0;                // the kernel's TCP_* numbering (UDP: 7 unconnected, 1 connected)
  std::array<std::uint8_t, 16> local{};  // IPv4 in the first 4 bytes
  std::uint16_t local_port = 0;
  std::array<std::uint8_t, 16> remote{};
  std::uint16_t remote_port = 0;
  std::uint32_t ifindex = 0;   // bound to one device (SO_BINDTODEVICE); 0: any
  std::optional<bool> v6only;  // IPv6 sockets: IPV6_V6ONLY (INET_DIAG_SKV6ONLY)
  std::uint32_t uid = 0;       // the socket's owner, as its namespace's user namespace maps it
  std::uint64_t inode = 0;     // the socket's inode: what its holders' descriptors name

  bool operator==(const InetSocket&) const = default;
};

// Which sockets a listing asks the kernel for.
enum class SocketScope {
  listening,  // TCP and SCTP in LISTEN, UDP unconnected (what `ss -l` lists)
  all,        // every state
};

// Listening as `ss -l` means it: TCP and SCTP in LISTEN, UDP unconnected.
bool is_listening(const InetSocket& socket);
// "tcp", "udp", "sctp", else the number.
std::string protocol_text(std::uint8_t protocol);
// The protocol a name stands for ("tcp", "udp", "sctp"), else nullopt.
std::optional<std::uint8_t> parse_protocol(std::string_view name);
// The state as `ss` names it, in snake case: "established", "syn_sent",
// "syn_recv", "fin_wait1", "fin_wait2", "time_wait", "close", "close_wait",
// "last_ack", "listen", "closing", "new_syn_recv"; UDP's unconnected state
// (TCP_CLOSE) is "unconn", as `ss` says. Else the number.
std::string socket_state_text(std::uint8_t protocol, std::uint8_t state);
// "192.0.2.1", "::": the local (or remote) address.
std::string socket_address_text(const InetSocket& socket, bool remote = false);

// A process holding a socket in one of its descriptors, in whatever
// namespace the process itself lives.
struct SocketHolder {
  std::uint32_t pid = 0;
  int fd = -1;
  NetnsId netns = 0;  // the process's own network namespace (0: unknown)
};

// Which processes hold which sockets: one walk over every process's
// descriptors (a socket can be held by a process in any namespace).
struct SocketOwners {
  // By socket inode: the first holders in /proc order (at most
  // defaults::kSocketHoldersListed), and how many there are in all.
  struct Held {
    std::vector<SocketHolder> listed;
    std::uint32_t total = 0;
  };
  std::unordered_map<std::uint64_t, Held> by_inode;
  std::uint32_t processes = 0;  // processes whose descriptors were read
  bool complete = true;         // false: the walk ran out of time before the last process
};

}  // namespace netnsd
