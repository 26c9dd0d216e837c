#include "kernel/rtnl.h"

#include <fcntl.h>
#include <linux/fib_rules.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/net_namespace.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <netlink/attr.h>
#include <netlink/msg.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <memory>
#include <random>

#include "kernel/netns.h"
#include "kernel/route_parse.h"
#include "kernel/rtnl_parse.h"
#include "util/defaults.h"
#include "util/log_limiter.h"

namespace netnsd {
namespace {

struct MsgFree {
  void operator()(nl_msg* m) const { nlmsg_free(m); }
};
using MsgPtr = std::unique_ptr<nl_msg, MsgFree>;

constexpr int kDumpAttempts = defaults::kNetlinkDumpAttempts;

}  // namespace

// A route, rule or neighbour notification to `on_fact` (a refused one
// counted); false when `h` is none of those.
bool RtnlSocket::read_fact(const nlmsghdr& h, const std::function<void(const FactEvent&)>& on_fact) {
  auto deliver = [&](auto& m, auto& fact, bool partial) {
    if (m.kind == FactKind::fact) on_fact(FactEvent{m.deleted, partial, std::move(fact)});
    if (m.kind == FactKind::refused) channel_.refused(&NetlinkCounters::policy, m.refusal);
    return true;
  };
  switch (h.nlmsg_type) {
    case RTM_NEWROUTE:
    case RTM_DELROUTE: {
      RouteMessage m = parse_route_message(h);
      return deliver(m, m.route, m.append);
    }
    case RTM_NEWRULE:
    case RTM_DELRULE: {
      RuleMessage m = parse_rule_message(h);
      return deliver(m, m.rule, false);
    }
    case RTM_NEWNEIGH:
    case RTM_DELNEIGH: {
      NeighbourMessage m = parse_neighbour_message(h);
      return deliver(m, m.neighbour, false);
    }
    default:
      return false;
  }
}

RtnlSocket::RtnlSocket(NetlinkChannel channel) : channel_(std::move(channel)) {}

Result<RtnlSocket> RtnlSocket::open(NetnsId netns, NetlinkCounters* counters) {
  auto channel = NetlinkChannel::open(NETLINK_ROUTE, netns, counters);
  if (!channel) return channel.error();
  return RtnlSocket(std::move(channel.value()));
}

Result<RtnlSocket> RtnlSocket::open_in(int netns_fd, NetnsId netns, NetlinkCounters* counters) {
  auto made = run_in_netns(netns_fd, [&] { return open(netns, counters); });
  if (!made) return made.error();
  return std::move(made.value());
}

Result<std::vector<Device>> RtnlSocket::list_links(std::optional<NetnsId> self, bool with_stats) {
  for (int attempt = 0; attempt < kDumpAttempts; ++attempt) {
    MsgPtr msg(nlmsg_alloc_simple(RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP));
    if (!msg) return Error::os("allocate netlink message", ENOMEM);
    ifinfomsg ifi{};
    ifi.ifi_family = AF_UNSPEC;
    if (nlmsg_append(msg.get(), &ifi, sizeof ifi, NLMSG_ALIGNTO) < 0 ||
        // Statistics are most of each RTM_NEWLINK: only when asked for.
        (!with_stats && nla_put_u32(msg.get(), IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS) < 0)) {
      return Error::os("build RTM_GETLINK", ENOMEM);
    }
    nlmsghdr* hdr = nlmsg_hdr(msg.get());
    if (Status st = channel_.send(hdr); !st) return st.error();

    // Not reserved: most namespaces hold one or two devices, and a scan
    // holds every namespace's listing at once.
    std::vector<Device> devices;
    bool interrupted = false;
    Status st = channel_.request(
        hdr->nlmsg_seq,
        [&](const nlmsghdr& h) {
          LinkMessage link = parse_link_message(h, self, with_stats);
          if (link.kind == LinkMessage::Kind::device && !link.deleted) {
            devices.push_back(std::move(link.device));
          } else if (link.kind == LinkMessage::Kind::refused) {
            channel_.refused(&NetlinkCounters::policy, link.refusal);
          }
        },
        &interrupted);
    if (!st) return Error{st.error().code, "dump links: " + st.error().context};
    if (!interrupted) return devices;
  }
  return Error::os("dump links: kept changing while being dumped", EAGAIN);
}

Result<std::vector<std::pair<std::uint32_t, Address>>> RtnlSocket::list_addresses() {
  for (int attempt = 0; attempt < kDumpAttempts; ++attempt) {
    MsgPtr msg(nlmsg_alloc_simple(RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP));
    if (!msg) return Error::os("allocate netlink message", ENOMEM);
    ifaddrmsg ifa{};
    ifa.ifa_family = AF_UNSPEC;  // both IPv4 and IPv6
    if (nlmsg_append(msg.get(), &ifa, sizeof ifa, NLMSG_ALIGNTO) < 0) return Error::os("build RTM_GETADDR", ENOMEM);
    nlmsghdr* hdr = nlmsg_hdr(msg.get());
    if (Status st = channel_.send(hdr); !st) return st.error();

    std::vector<std::pair<std::uint32_t, Address>> addresses;
    bool interrupted = false;
    Status st = channel_.request(
        hdr->nlmsg_seq,
        [&](const nlmsghdr& h) {
          AddressMessage a = parse_address_message(h);
          if (a.kind == AddressMessage::Kind::address && !a.deleted) {
            addresses.emplace_back(a.ifindex, std::move(a.address));
          } else if (a.kind == AddressMessage::Kind::refused) {
            channel_.refused(&NetlinkCounters::policy, a.refusal);
          }
        },
        &interrupted);
    if (!st) return Error{st.error().code, "dump addresses: " + st.error().context};
    if (!interrupted) return addresses;
  }
  return Error::os("dump addresses: kept changing while being dumped", EAGAIN);
}

Result<std::vector<Device>> RtnlSocket::list_devices(std::optional<NetnsId> self, bool with_stats) {
  auto links = list_links(self, with_stats);
  if (!links) return links.error();
  auto addresses = list_addresses();
  if (!addresses) return addresses.error();
  std::vector<Device>& devices = links.value();
  std::sort(devices.begin(), devices.end(), [](const Device& a, const Device& b) { return a.ifindex < b.ifindex; });
  // A device created between the two dumps may have addresses and no
  // entry: its RTM_NEWLINK (and theirs) reach the monitor afterwards.
  for (auto& [ifindex, address] : addresses.value()) {
    auto it = std::lower_bound(devices.begin(), devices.end(), ifindex,
                               [](const Device& d, std::uint32_t i) { return d.ifindex < i; });
    if (it != devices.end() && it->ifindex == ifindex) it->addresses.push_back(std::move(address));
  }
  for (Device& d : devices) std::sort(d.addresses.begin(), d.addresses.end(), address_order);
  return std::move(links.value());
}

Status RtnlSocket::dump(std::uint16_t type, const void* header, std::size_t size,
                        const std::function<void(const nlmsghdr&)>& on_message, const std::function<void()>& restart) {
  for (int attempt = 0; attempt < kDumpAttempts; ++attempt) {
    MsgPtr msg(nlmsg_alloc_simple(type, NLM_F_REQUEST | NLM_F_DUMP));
    if (!msg) return Error::os("allocate netlink message", ENOMEM);
    if (nlmsg_append(msg.get(), const_cast<void*>(header), size, NLMSG_ALIGNTO) < 0) {
      return Error::os("build a dump request", ENOMEM);
    }
    nlmsghdr* hdr = nlmsg_hdr(msg.get());
    if (Status st = channel_.send(hdr); !st) return st.error();
    restart();
    bool interrupted = false;
    if (Status st = channel_.request(hdr->nlmsg_seq, on_message, &interrupted); !st) return st;
    if (!interrupted) return {};
  }
  return Error::os("kept changing while being dumped", EAGAIN);
}

Result<FactListing> RtnlSocket::list_facts(const FactBudgets& budgets) {
  FactListing out;
  // Kept up to the budget, counted beyond it.
  auto keep = [](auto& into, std::uint64_t& beyond, std::size_t cap, auto&& fact) {
    if (into.size() < cap) {
      into.push_back(std::move(fact));
    } else {
      ++beyond;
    }
  };
  auto refused = [this](const std::string& why) { channel_.refused(&NetlinkCounters::policy, why); };
  rtmsg rtm{};
  rtm.rtm_family = AF_UNSPEC;
  Status st = dump(
      RTM_GETROUTE, &rtm, sizeof rtm,
      [&](const nlmsghdr& h) {
        RouteMessage m = parse_route_message(h);
        if (m.kind == FactKind::fact) keep(out.routes, out.routes_beyond, budgets.routes_per_namespace, m.route);
        if (m.kind == FactKind::refused) refused(m.refusal);
      },
      [&] {
        out.routes.clear();
        out.routes_beyond = 0;
      });
  if (!st) return Error{st.error().code, "dump routes: " + st.error().context};
  fib_rule_hdr frh{};
  frh.family = AF_UNSPEC;
  st = dump(
      RTM_GETRULE, &frh, sizeof frh,
      [&](const nlmsghdr& h) {
        RuleMessage m = parse_rule_message(h);
        if (m.kind == FactKind::fact) keep(out.rules, out.rules_beyond, budgets.rules_per_namespace, m.rule);
        if (m.kind == FactKind::refused) refused(m.refusal);
      },
      [&] {
        out.rules.clear();
        out.rules_beyond = 0;
      });
  if (!st) return Error{st.error().code, "dump rules: " + st.error().context};
  ndmsg ndm{};
  ndm.ndm_family = AF_UNSPEC;
  st = dump(
      RTM_GETNEIGH, &ndm, sizeof ndm,
      [&](const nlmsghdr& h) {
        NeighbourMessage m = parse_neighbour_message(h);
        if (m.kind == FactKind::fact && !m.deleted) {
          keep(out.neighbours, out.neighbours_beyond, budgets.neighbours_per_namespace, m.neighbour);
        }
        if (m.kind == FactKind::refused) refused(m.refusal);
      },
      [&] {
        out.neighbours.clear();
        out.neighbours_beyond = 0;
      });
  if (!st) return Error{st.error().code, "dump neighbours: " + st.error().context};
  return out;
}

namespace {

// The groups a monitor joins, as bind()'s nl_groups mask (bit g-1 for group
// g; all of them are below 32).
std::uint32_t monitor_groups(bool facts) {
  std::vector<unsigned> groups{RTNLGRP_LINK, RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV6_IFADDR};
  if (facts) {
    groups.insert(groups.end(),
                  {RTNLGRP_IPV4_ROUTE, RTNLGRP_IPV6_ROUTE, RTNLGRP_IPV4_RULE, RTNLGRP_IPV6_RULE, RTNLGRP_NEIGH});
  }
  std::uint32_t mask = 0;
  for (unsigned group : groups) mask |= 1u << (group - 1);
  return mask;
}

}  // namespace

// The groups are joined with one bind() on the port the socket has, not one
// NETLINK_ADD_MEMBERSHIP each: the kernel recomputes the family's listener
// masks on every change of membership by walking every socket that has
// joined one, in every namespace (netlink_update_listeners), with the
// table's lock held, so each namespace's monitor costs a walk over all the
// others' (the square of the namespaces, over the initial scan). One walk
// per namespace instead of eight: the initial scan of 10,000 namespaces
// takes 3.2 s on the project's 2-core machine. Leaving (unsubscribe_links)
// is one call too.
Status RtnlSocket::join_groups(std::uint32_t mask) {
  sockaddr_nl local{};
  local.nl_family = AF_NETLINK;
  local.nl_pid = channel_.port();
  local.nl_groups = mask;
  if (::bind(channel_.fd(), reinterpret_cast<sockaddr*>(&local), sizeof local) != 0) {
    return Error::os("join rtnetlink groups");
  }
  return {};
}

Status RtnlSocket::subscribe_links(int rcvbuf, bool facts) {
  if (Status st = join_groups(monitor_groups(facts)); !st) return st;
  // Room for a burst (a bridge with many ports going down) before ENOBUFS.
  // SO_RCVBUF is capped by net.core.rmem_max (often 208 KiB); with
  // CAP_NET_ADMIN, SO_RCVBUFFORCE is not.
  if (::setsockopt(channel_.fd(), SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) != 0) {
    ::setsockopt(channel_.fd(), SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  }
  int flags = ::fcntl(channel_.fd(), F_GETFL);
  if (flags < 0 || ::fcntl(channel_.fd(), F_SETFL, flags | O_NONBLOCK) != 0)
    return Error::os("make monitor non-blocking");
  channel_.hear_notifications(NetlinkChannel::Notifications::held);
  return {};
}

void RtnlSocket::unsubscribe_links() {
  (void)join_groups(0);
  channel_.take_held([](const char*, std::size_t) {});
  channel_.hear_notifications(NetlinkChannel::Notifications::dropped);
}

Status RtnlSocket::read_link_events(const std::function<void(const LinkEvent&)>& on_event, std::optional<NetnsId> self,
                                    const std::function<void(const FactEvent&)>& on_fact, std::size_t max_datagrams) {
  thread_local std::unique_ptr<char[]> buffer(new char[defaults::kNetlinkReadBuffer]);
  // After a loss what is read is discarded (the caller re-dumps); the
  // kernel reports the next overflow (ENOBUFS) only once the queue has been
  // emptied. At most `max_datagrams` are read per call, loss or not: a
  // storm's queue is emptied over several turns of the caller's loop.
  bool lost = false;
  auto read_datagram = [&](const char* data, std::size_t size) {
    if (size >= sizeof(nlmsghdr)) {
      // A reply to one of our requests (our port id) that its request gave
      // up on: not a notification.
      nlmsghdr first;
      std::memcpy(&first, data, sizeof first);
      if (first.nlmsg_pid == channel_.port()) {
        channel_.refused(&NetlinkCounters::sequence, "a reply left over from an abandoned request");
        return;
      }
    }
    const bool well_formed = for_each_message(data, size, [&](const nlmsghdr& h) {
      if (h.nlmsg_type == NLMSG_ERROR || h.nlmsg_type == NLMSG_OVERRUN) {
        lost = true;
        return false;
      }
      if (on_fact && read_fact(h, on_fact)) return true;
      if (h.nlmsg_type == RTM_NEWADDR || h.nlmsg_type == RTM_DELADDR) {
        AddressMessage a = parse_address_message(h);
        if (a.kind == AddressMessage::Kind::address) {
          LinkEvent event{a.deleted, Device{}, std::move(a.address), std::nullopt};
          event.device.ifindex = a.ifindex;
          on_event(event);
        } else if (a.kind == AddressMessage::Kind::refused) {
          channel_.refused(&NetlinkCounters::policy, a.refusal);
        }
        return true;
      }
      LinkMessage link = parse_link_message(h, self);
      if (link.kind == LinkMessage::Kind::device) {
        on_event(LinkEvent{link.deleted, std::move(link.device), std::nullopt, link.moved_to});
      } else if (link.kind == LinkMessage::Kind::refused) {
        channel_.refused(&NetlinkCounters::policy, link.refusal);
      }
      return true;
    });
    if (!well_formed) channel_.refused(&NetlinkCounters::policy, "a notification whose lengths overrun the datagram");
  };
  // What requests took in came first.
  if (channel_.take_held([&](const char* data, std::size_t size) {
        if (!lost) read_datagram(data, size);
      })) {
    lost = true;
  }
  for (std::size_t datagrams = 0; datagrams < max_datagrams; ++datagrams) {
    bool truncated = false;
    ssize_t n = channel_.receive_from_kernel(buffer.get(), defaults::kNetlinkReadBuffer, &truncated);
    if (n < 0) {
      if (errno == ENOBUFS) {
        lost = true;
        continue;
      }
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      return Error::os("receive link notifications");
    }
    if (n == 0) break;
    // A notification cut short, or one the kernel says it could not
    // deliver, is lost state too.
    if (truncated) lost = true;
    if (lost) continue;
    read_datagram(buffer.get(), static_cast<std::size_t>(n));
  }
  if (lost) return Error::os("link notifications lost", ENOBUFS);
  return {};
}

Result<std::uint64_t> RtnlSocket::netns_cookie() const {
#ifndef SO_NETNS_COOKIE
  constexpr int SO_NETNS_COOKIE = 71;  // asm-generic/socket.h, Linux 5.14
#endif
  std::uint64_t cookie = 0;
  socklen_t size = sizeof cookie;
  if (::getsockopt(channel_.fd(), SOL_SOCKET, SO_NETNS_COOKIE, &cookie, &size) != 0) {
    return Error::os("getsockopt SO_NETNS_COOKIE");
  }
  return cookie;
}

Result<std::int32_t> RtnlSocket::nsid_of(int netns_fd) {
  MsgPtr msg(nlmsg_alloc_simple(RTM_GETNSID, NLM_F_REQUEST));
  if (!msg) return Error::os("allocate netlink message", ENOMEM);
  rtgenmsg gen{};
  gen.rtgen_family = AF_UNSPEC;
  if (nlmsg_append(msg.get(), &gen, sizeof gen, NLMSG_ALIGNTO) < 0 ||
      nla_put_u32(msg.get(), NETNSA_FD, static_cast<std::uint32_t>(netns_fd)) < 0) {
    return Error::os("build RTM_GETNSID", ENOMEM);
  }
  nlmsghdr* hdr = nlmsg_hdr(msg.get());
  if (Status st = channel_.send(hdr); !st) return st.error();

  std::int32_t nsid = NETNSA_NSID_NOT_ASSIGNED;
  Status st = channel_.request(
      hdr->nlmsg_seq,
      [&](const nlmsghdr& h) {
        if (auto id = parse_nsid_message(h)) {
          nsid = *id;
        } else {
          channel_.refused(&NetlinkCounters::policy, "an RTM_NEWNSID reply without a 4-byte NETNSA_NSID");
        }
      },
      nullptr);
  if (!st) return Error{st.error().code, "get nsid: " + st.error().context};
  return nsid;
}

}  // namespace netnsd
