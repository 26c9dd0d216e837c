// rtnetlink: listing a namespace's links and asking it for namespace ids.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <utility>
#include <vector>

#include "resolver/model.h"
#include "resolver/stats.h"
#include "util/fd.h"
#include "util/result.h"

struct nlmsghdr;

namespace netnsd {

// One notification of a namespace's monitor: a device new or changed
// (RTM_NEWLINK) or gone (RTM_DELLINK); or, when `address` is set, one of
// the addresses of device `device.ifindex` added or changed (RTM_NEWADDR) or
// removed (RTM_DELADDR).
struct LinkEvent {
  bool deleted = false;
  Device device;
  std::optional<Address> address;
  std::optional<LinkRef> moved_to;  // a deleted device that moved (see LinkMessage)
};

// A NETLINK_ROUTE socket, bound for life to the network namespace it was
// created in.
//
// The socket is ours (an Fd) rather than libnl's nl_sock: libnl hands out
// local port ids from a per-process bitmap of 1024 and fails past it, while
// netnsd may hold a socket per namespace at thousands of namespaces; the
// kernel's autobind has no such limit. Requests are built with libnl's nlmsg
// API; what comes back is parsed as untrusted input (rtnl_parse.h).
//
// Trust: a socket lives in a namespace that anybody may own, and whoever
// holds CAP_NET_ADMIN there may send to it. Only datagrams whose sender is
// the kernel (nl_pid 0 in msg_name) are read; replies must carry the
// request's sequence number, which starts at a random value per socket; a
// message that breaks a policy is dropped whole. Each refusal is counted in
// the NetlinkCounters given at open, and logged at most once per namespace
// per minute.
//
// Not thread-safe: one thread uses a socket at a time.
class RtnlSocket {
 public:
  // A socket in the calling thread's namespace, `netns` (for logs), counting
  // refusals in `counters` (which must outlive it; null: not counted).
  static Result<RtnlSocket> open(NetnsId netns = 0, NetlinkCounters* counters = nullptr);
  // A socket in the namespace behind `netns_fd` (entered on this thread only
  // for the socket() call).
  static Result<RtnlSocket> open_in(int netns_fd, NetnsId netns = 0, NetlinkCounters* counters = nullptr);

  // Dumps every link. Veth peers come back with their ifindex and, when the
  // peer is in another namespace, the nsid as this namespace sees it; a peer
  // in the same namespace gets `self` as its netns. Retries a dump the kernel
  // marks as interrupted (NLM_F_DUMP_INTR).
  // With `with_stats`, each device carries its counters (IFLA_STATS64).
  Result<std::vector<Device>> list_links(std::optional<NetnsId> self, bool with_stats = false);

  // Dumps every IPv4 and IPv6 address, with the ifindex of its device.
  Result<std::vector<std::pair<std::uint32_t, Address>>> list_addresses();

  // list_links() with each device's addresses (sorted, address_order).
  Result<std::vector<Device>> list_devices(std::optional<NetnsId> self, bool with_stats = false);

  // The id this namespace has assigned to the namespace behind `netns_fd`,
  // or -1 when it has none (RTM_GETNSID with NETNSA_FD).
  Result<std::int32_t> nsid_of(int netns_fd);

  // The cookie of the socket's namespace (SO_NETNS_COOKIE, Linux 5.14).
  Result<std::uint64_t> netns_cookie() const;

  // Turns this socket into a monitor of devices and addresses: joins
  // RTNLGRP_LINK, RTNLGRP_IPV4_IFADDR and RTNLGRP_IPV6_IFADDR, asks for a
  // receive buffer of `rcvbuf` bytes and makes it non-blocking. Use it for
  // events only (no requests) from then on.
  Status subscribe_links(int rcvbuf = 1 << 20);

  // Drains the notifications waiting on a monitor socket. Returns ENOBUFS
  // when the kernel dropped some: what followed the loss is discarded too,
  // the socket stays usable, and the caller must re-dump (list_devices).
  Status read_link_events(const std::function<void(const LinkEvent&)>& on_event, std::optional<NetnsId> self);

  int fd() const { return fd_.get(); }
  // The port id the kernel gave this socket.
  std::uint32_t port() const { return port_; }

 private:
  RtnlSocket(Fd fd, std::uint32_t port, NetnsId netns, NetlinkCounters* counters);

  template <class OnMessage>
  Status request(std::uint32_t seq, OnMessage&& on_message, bool* interrupted);
  Status send_message(nlmsghdr* message);
  // One datagram from the kernel: what anybody else sent is dropped (and
  // counted) on the way. Returns its length, or -1 with errno.
  ssize_t receive_from_kernel(char* buffer, std::size_t size, bool* truncated);
  void refused(std::atomic<std::uint64_t> NetlinkCounters::*counter, const std::string& what);

  Fd fd_;
  std::uint32_t port_ = 0;
  std::uint32_t seq_ = 0;
  NetnsId netns_ = 0;
  NetlinkCounters* counters_ = nullptr;
};

}  // namespace netnsd
