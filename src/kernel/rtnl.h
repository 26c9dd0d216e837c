// rtnetlink: listing a namespace's links and asking it for namespace ids.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "resolver/model.h"
#include "util/fd.h"
#include "util/result.h"

struct nlmsghdr;

namespace netnsd {

// One RTM_NEWLINK (device new or changed) or RTM_DELLINK notification.
struct LinkEvent {
  bool deleted = false;
  Device device;
};

// A NETLINK_ROUTE socket, bound for life to the network namespace it was
// created in.
//
// The socket is ours (an Fd) rather than libnl's nl_sock: libnl hands out
// local port ids from a per-process bitmap of 1024 and fails past it, while
// netnsd may hold a socket per namespace at thousands of namespaces; the
// kernel's autobind has no such limit. Requests are still built, and replies
// parsed, with libnl's nlmsg/nla API.
//
// Not thread-safe: one thread uses a socket at a time.
class RtnlSocket {
 public:
  // A socket in the calling thread's namespace.
  static Result<RtnlSocket> open();
  // A socket in the namespace behind `netns_fd` (entered on this thread only
  // for the socket() call).
  static Result<RtnlSocket> open_in(int netns_fd);

  // Dumps every link. Veth peers come back with their ifindex and, when the
  // peer is in another namespace, the nsid as this namespace sees it; a peer
  // in the same namespace gets `self` as its netns. Retries a dump the kernel
  // marks as interrupted (NLM_F_DUMP_INTR).
  Result<std::vector<Device>> list_links(std::optional<NetnsId> self);

  // The id this namespace has assigned to the namespace behind `netns_fd`,
  // or -1 when it has none (RTM_GETNSID with NETNSA_FD).
  Result<std::int32_t> nsid_of(int netns_fd);

  // Turns this socket into a link monitor: joins RTNLGRP_LINK, asks for a
  // receive buffer of `rcvbuf` bytes and makes it non-blocking. Use it for
  // events only (no requests) from then on.
  Status subscribe_links(int rcvbuf = 1 << 20);

  // Drains the link notifications waiting on a monitor socket. Returns
  // ENOBUFS when the kernel dropped some: what followed the loss is
  // discarded too, the socket stays usable, and the caller must re-dump.
  Status read_link_events(const std::function<void(const LinkEvent&)>& on_event, std::optional<NetnsId> self);

  int fd() const { return fd_.get(); }

 private:
  explicit RtnlSocket(Fd fd) : fd_(std::move(fd)) {}

  template <class OnMessage>
  Status request(std::uint32_t seq, OnMessage&& on_message, bool* interrupted);
  Status send_message(const nlmsghdr* message);

  Fd fd_;
  std::uint32_t seq_ = 0;
};

}  // namespace netnsd
