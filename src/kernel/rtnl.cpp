#include "kernel/rtnl.h"

#include <fcntl.h>
#include <linux/if_link.h>
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
#include "kernel/rtnl_parse.h"
#include "util/defaults.h"
#include "util/log_limiter.h"

namespace netnsd {
namespace {

struct MsgFree {
  void operator()(nl_msg* m) const { nlmsg_free(m); }
};
using MsgPtr = std::unique_ptr<nl_msg, MsgFree>;

constexpr std::size_t kReceiveBuffer = defaults::kNetlinkReadBuffer;
constexpr int kDumpAttempts = defaults::kNetlinkDumpAttempts;

// Refusals are logged once per namespace per minute; the rest only counted.
LogLimiter& refusal_log() {
  static LogLimiter limiter(std::chrono::minutes(1));
  return limiter;
}

// A sequence number nobody can guess from outside, per socket.
std::uint32_t random_sequence() {
  thread_local std::mt19937 rng{std::random_device{}()};
  return static_cast<std::uint32_t>(rng());
}

}  // namespace

RtnlSocket::RtnlSocket(Fd fd, std::uint32_t port, NetnsId netns, NetlinkCounters* counters)
    : fd_(std::move(fd)), port_(port), seq_(random_sequence()), netns_(netns), counters_(counters) {}

void RtnlSocket::refused(std::atomic<std::uint64_t> NetlinkCounters::*counter, const std::string& what) {
  if (counters_) ++(counters_->*counter);
  if (refusal_log().allow(netns_)) {
    spdlog::warn("netns {}: dropped a netlink message: {} (further ones this minute are only counted)", netns_, what);
  }
}

ssize_t RtnlSocket::receive_from_kernel(char* buffer, std::size_t size, bool* truncated) {
  for (;;) {
    iovec iov{buffer, size};
    sockaddr_nl from{};
    msghdr msg{};
    msg.msg_name = &from;
    msg.msg_namelen = sizeof from;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    ssize_t n = ::recvmsg(fd_.get(), &msg, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return n;
    if (msg.msg_namelen < sizeof from || from.nl_family != AF_NETLINK || from.nl_pid != 0) {
      // Another socket in this namespace (its owner holds CAP_NET_ADMIN
      // there) sent this, not the kernel.
      refused(&NetlinkCounters::foreign, "sent by port " + std::to_string(from.nl_pid) + ", not by the kernel");
      continue;
    }
    *truncated = (msg.msg_flags & MSG_TRUNC) != 0;
    return n;
  }
}

Result<RtnlSocket> RtnlSocket::open(NetnsId netns, NetlinkCounters* counters) {
  Fd fd(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
  if (!fd) return Error::os("socket(NETLINK_ROUTE)");
  sockaddr_nl local{};
  local.nl_family = AF_NETLINK;  // nl_pid 0: the kernel picks a free port id
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&local), sizeof local) != 0) {
    return Error::os("bind netlink socket");
  }
  socklen_t len = sizeof local;
  if (::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&local), &len) != 0) {
    return Error::os("getsockname netlink socket");
  }
  int one = 1;
  // Extended ACKs carry the kernel's reason for a refused request.
  ::setsockopt(fd.get(), SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof one);
  return RtnlSocket(std::move(fd), local.nl_pid, netns, counters);
}

Result<RtnlSocket> RtnlSocket::open_in(int netns_fd, NetnsId netns, NetlinkCounters* counters) {
  auto made = run_in_netns(netns_fd, [&] { return open(netns, counters); });
  if (!made) return made.error();
  return std::move(made.value());
}

Status RtnlSocket::send_message(nlmsghdr* message) {
  message->nlmsg_seq = ++seq_;
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  for (;;) {
    ssize_t n =
        ::sendto(fd_.get(), message, message->nlmsg_len, 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel);
    if (n >= 0) return {};
    if (errno != EINTR) return Error::os("send netlink request");
  }
}

// Reads replies to request `seq` until NLMSG_DONE, an error, or (for a
// non-dump request) the single answer. on_message sees every data message
// that belongs to the request.
template <class OnMessage>
Status RtnlSocket::request(std::uint32_t seq, OnMessage&& on_message, bool* interrupted) {
  // Per call, not per thread: dozens of HTTP workers each keeping 64 KiB
  // resident would outweigh the cache itself. The allocator hands the same
  // block back call after call.
  std::unique_ptr<char[]> buffer(new char[kReceiveBuffer]);
  for (;;) {
    bool truncated = false;
    ssize_t n = receive_from_kernel(buffer.get(), kReceiveBuffer, &truncated);
    if (n < 0) return Error::os("receive netlink reply");
    if (truncated) return Error::os("receive netlink reply", EMSGSIZE);
    std::optional<Status> finished;
    const bool well_formed = for_each_message(buffer.get(), static_cast<std::size_t>(n), [&](const nlmsghdr& h) {
      if (h.nlmsg_seq != seq) {
        // From the kernel, but not an answer to this request: a leftover of
        // one that failed part-way.
        refused(&NetlinkCounters::sequence,
                "a reply with sequence number " + std::to_string(h.nlmsg_seq) + ", expected " + std::to_string(seq));
        return true;
      }
      if (interrupted && (h.nlmsg_flags & NLM_F_DUMP_INTR)) *interrupted = true;
      if (h.nlmsg_type == NLMSG_DONE) {
        // A dump that failed part-way says so in DONE's payload.
        if (h.nlmsg_len >= NLMSG_LENGTH(sizeof(int))) {
          int error;
          std::memcpy(&error, NLMSG_DATA(&h), sizeof error);
          if (error < 0) {
            finished = Error::os("netlink dump failed", -error);
            return false;
          }
        }
        finished = Status();
        return false;
      }
      if (h.nlmsg_type == NLMSG_ERROR) {
        auto error = parse_error_message(h);
        if (!error) {
          refused(&NetlinkCounters::policy, "an error reply too short to hold an error");
          finished = Error::os("netlink request answered with a malformed error", EPROTO);
        } else if (*error == 0) {
          finished = Status();
        } else {
          finished = Error::os("netlink request refused", -*error);
        }
        return false;
      }
      on_message(h);
      if (!(h.nlmsg_flags & NLM_F_MULTI)) {
        finished = Status();
        return false;
      }
      return true;
    });
    if (!well_formed) refused(&NetlinkCounters::policy, "a reply whose message lengths overrun the datagram");
    if (finished) return *finished;
  }
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
    if (Status st = send_message(hdr); !st) return st.error();

    std::vector<Device> devices;
    devices.reserve(8);
    bool interrupted = false;
    Status st = request(
        hdr->nlmsg_seq,
        [&](const nlmsghdr& h) {
          LinkMessage link = parse_link_message(h, self, with_stats);
          if (link.kind == LinkMessage::Kind::device && !link.deleted) {
            devices.push_back(std::move(link.device));
          } else if (link.kind == LinkMessage::Kind::refused) {
            refused(&NetlinkCounters::policy, link.refusal);
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
    if (Status st = send_message(hdr); !st) return st.error();

    std::vector<std::pair<std::uint32_t, Address>> addresses;
    bool interrupted = false;
    Status st = request(
        hdr->nlmsg_seq,
        [&](const nlmsghdr& h) {
          AddressMessage a = parse_address_message(h);
          if (a.kind == AddressMessage::Kind::address && !a.deleted) {
            addresses.emplace_back(a.ifindex, std::move(a.address));
          } else if (a.kind == AddressMessage::Kind::refused) {
            refused(&NetlinkCounters::policy, a.refusal);
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

Status RtnlSocket::subscribe_links(int rcvbuf) {
  for (unsigned group : {RTNLGRP_LINK, RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV6_IFADDR}) {
    if (::setsockopt(fd_.get(), SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &group, sizeof group) != 0) {
      return Error::os("join rtnetlink group " + std::to_string(group));
    }
  }
  // Room for a burst (a bridge with many ports going down) before ENOBUFS.
  // SO_RCVBUF is capped by net.core.rmem_max (often 208 KiB); with
  // CAP_NET_ADMIN, SO_RCVBUFFORCE is not.
  if (::setsockopt(fd_.get(), SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) != 0) {
    ::setsockopt(fd_.get(), SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  }
  int flags = ::fcntl(fd_.get(), F_GETFL);
  if (flags < 0 || ::fcntl(fd_.get(), F_SETFL, flags | O_NONBLOCK) != 0) return Error::os("make monitor non-blocking");
  return {};
}

Status RtnlSocket::read_link_events(const std::function<void(const LinkEvent&)>& on_event,
                                    std::optional<NetnsId> self) {
  thread_local std::unique_ptr<char[]> buffer(new char[kReceiveBuffer]);
  // After a loss the queue is drained and discarded: the caller re-dumps,
  // and the kernel only reports the next overflow (ENOBUFS) once the queue
  // has been emptied.
  bool lost = false;
  for (;;) {
    bool truncated = false;
    ssize_t n = receive_from_kernel(buffer.get(), kReceiveBuffer, &truncated);
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
    const bool well_formed = for_each_message(buffer.get(), static_cast<std::size_t>(n), [&](const nlmsghdr& h) {
      if (h.nlmsg_type == NLMSG_ERROR || h.nlmsg_type == NLMSG_OVERRUN) {
        lost = true;
        return false;
      }
      if (h.nlmsg_type == RTM_NEWADDR || h.nlmsg_type == RTM_DELADDR) {
        AddressMessage a = parse_address_message(h);
        if (a.kind == AddressMessage::Kind::address) {
          LinkEvent event{a.deleted, Device{}, std::move(a.address), std::nullopt};
          event.device.ifindex = a.ifindex;
          on_event(event);
        } else if (a.kind == AddressMessage::Kind::refused) {
          refused(&NetlinkCounters::policy, a.refusal);
        }
        return true;
      }
      LinkMessage link = parse_link_message(h, self);
      if (link.kind == LinkMessage::Kind::device) {
        on_event(LinkEvent{link.deleted, std::move(link.device), std::nullopt, link.moved_to});
      } else if (link.kind == LinkMessage::Kind::refused) {
        refused(&NetlinkCounters::policy, link.refusal);
      }
      return true;
    });
    if (!well_formed) refused(&NetlinkCounters::policy, "a notification whose lengths overrun the datagram");
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
  if (::getsockopt(fd_.get(), SOL_SOCKET, SO_NETNS_COOKIE, &cookie, &size) != 0) {
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
  if (Status st = send_message(hdr); !st) return st.error();

  std::int32_t nsid = NETNSA_NSID_NOT_ASSIGNED;
  Status st = request(
      hdr->nlmsg_seq,
      [&](const nlmsghdr& h) {
        if (auto id = parse_nsid_message(h)) {
          nsid = *id;
        } else {
          refused(&NetlinkCounters::policy, "an RTM_NEWNSID reply without a 4-byte NETNSA_NSID");
        }
      },
      nullptr);
  if (!st) return Error{st.error().code, "get nsid: " + st.error().context};
  return nsid;
}

}  // namespace netnsd
