// rtnetlink: listing a namespace's links and asking it for namespace ids.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <utility>
#include <vector>

#include "kernel/netlink_channel.h"
#include "resolver/facts.h"
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
// The socket is ours (a NetlinkChannel) rather than libnl's nl_sock: libnl
// hands out local port ids from a per-process bitmap of 1024 and fails past
// it, while netnsd may hold a socket per namespace at thousands of
// namespaces; the kernel's autobind has no such limit. Requests are built
// with libnl's nlmsg API; what comes back is read as the channel's trust
// rules allow (kernel-sent, sequence-checked; netlink_channel.h) and parsed
// as untrusted input (rtnl_parse.h).
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

  // Every route (all tables, IPv4 and IPv6), policy rule and ARP/NDP
  // neighbour: three dumps, each retried when the kernel marks it
  // interrupted. Beyond a namespace's budget of each (`budgets`), they are
  // counted, not kept.
  Result<FactListing> list_facts(const FactBudgets& budgets);

  // The id this namespace has assigned to the namespace behind `netns_fd`,
  // or -1 when it has none (RTM_GETNSID with NETNSA_FD).
  Result<std::int32_t> nsid_of(int netns_fd);

  // The cookie of the socket's namespace (SO_NETNS_COOKIE, Linux 5.14).
  Result<std::uint64_t> netns_cookie() const;

  // Turns this socket into a monitor of devices and addresses too: joins
  // RTNLGRP_LINK, RTNLGRP_IPV4_IFADDR and RTNLGRP_IPV6_IFADDR, asks for a
  // receive buffer of `rcvbuf` bytes and makes it non-blocking. With
  // `facts`, it also joins the route, rule and neighbour groups (IPv4 and
  // IPv6): one receive queue for all of it, so an overflow in a route storm
  // means listing that namespace's devices and facts again (never another
  // namespace's). Requests still work: what they read that is not theirs is
  // held for read_link_events (NetlinkChannel::hear_notifications).
  Status subscribe_links(int rcvbuf = 1 << 20, bool facts = false);
  // Leaves the groups again; a notification still queued is dropped.
  void unsubscribe_links();

  // Reads the notifications a request held, then those waiting on the
  // socket: all of them, or at most `max_datagrams` of the socket's (the
  // rest stay queued for the next call). Returns ENOBUFS when the kernel
  // dropped some: what followed the loss is discarded too, the socket stays
  // usable, and the caller must re-dump (list_devices, list_facts). Route,
  // rule and neighbour notifications go to `on_fact` (when given).
  Status read_link_events(const std::function<void(const LinkEvent&)>& on_event, std::optional<NetnsId> self,
                          const std::function<void(const FactEvent&)>& on_fact = nullptr,
                          std::size_t max_datagrams = SIZE_MAX);
  // Whether a request left notifications (or their loss) for read_link_events.
  bool holds_notifications() const { return channel_.holds_notifications(); }

  int fd() const { return channel_.fd(); }
  // The port id the kernel gave this socket.
  std::uint32_t port() const { return channel_.port(); }

 private:
  explicit RtnlSocket(NetlinkChannel channel);
  // One dump of `type` with `header` (the request's fixed header), retried
  // while the kernel marks it interrupted; `restart` clears what an
  // interrupted attempt collected.
  Status dump(std::uint16_t type, const void* header, std::size_t size,
              const std::function<void(const nlmsghdr&)>& on_message, const std::function<void()>& restart);
  bool read_fact(const nlmsghdr& h, const std::function<void(const FactEvent&)>& on_fact);
  // Makes `mask` (bind()'s nl_groups) the socket's groups, in one call.
  Status join_groups(std::uint32_t mask);

  NetlinkChannel channel_;
};

}  // namespace netnsd
