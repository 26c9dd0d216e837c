#include "kernel/rtnl.h"

#include <fcntl.h>
#include <linux/if_link.h>
#include <linux/net_namespace.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netlink/attr.h>
#include <netlink/msg.h>
#include <sys/socket.h>

#include <cstring>
#include <memory>

#include "kernel/netns.h"

namespace netnsd {
namespace {

struct MsgFree {
  void operator()(nl_msg* m) const { nlmsg_free(m); }
};
using MsgPtr = std::unique_ptr<nl_msg, MsgFree>;

constexpr std::size_t kReceiveBuffer = 64 * 1024;
constexpr int kDumpAttempts = 5;

std::string attr_string(const nlattr* attr) {
  const char* data = static_cast<const char*>(nla_data(attr));
  return std::string(data, ::strnlen(data, static_cast<std::size_t>(nla_len(attr))));
}

std::string format_mac(const nlattr* attr) {
  const auto* bytes = static_cast<const unsigned char*>(nla_data(attr));
  int len = nla_len(attr);
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  for (int i = 0; i < len; ++i) {
    if (i) out.push_back(':');
    out.push_back(hex[bytes[i] >> 4]);
    out.push_back(hex[bytes[i] & 0xf]);
  }
  return out;
}

// One datagram into `buffer` (EINTR retried). Returns its length, or -1
// with errno; *truncated says whether it was cut to fit.
ssize_t receive(int fd, char* buffer, std::size_t size, bool* truncated) {
  for (;;) {
    iovec iov{buffer, size};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    ssize_t n = ::recvmsg(fd, &msg, 0);
    if (n < 0 && errno == EINTR) continue;
    *truncated = n >= 0 && (msg.msg_flags & MSG_TRUNC);
    return n;
  }
}

// Parses one RTM_NEWLINK or RTM_DELLINK message into a Device.
std::optional<Device> parse_link_message(const nlmsghdr* message, std::optional<NetnsId> self) {
  auto* hdr = const_cast<nlmsghdr*>(message);
  if ((hdr->nlmsg_type != RTM_NEWLINK && hdr->nlmsg_type != RTM_DELLINK) ||
      hdr->nlmsg_len < NLMSG_LENGTH(sizeof(ifinfomsg))) {
    return std::nullopt;
  }
  const auto* ifi = static_cast<const ifinfomsg*>(nlmsg_data(hdr));
  // The bridge also announces its ports on RTNLGRP_LINK, as AF_BRIDGE
  // messages with port attributes only (and an RTM_DELLINK when a port
  // leaves the bridge, not the namespace). Only AF_UNSPEC ones describe a device.
  if (ifi->ifi_family != AF_UNSPEC) return std::nullopt;
  nlattr* tb[IFLA_MAX + 1] = {};
  if (nlmsg_parse(hdr, sizeof(ifinfomsg), tb, IFLA_MAX, nullptr) < 0) return std::nullopt;

  Device device;
  device.ifindex = static_cast<std::uint32_t>(ifi->ifi_index);
  device.up = (ifi->ifi_flags & IFF_UP) != 0;
  if (tb[IFLA_IFNAME]) device.name = attr_string(tb[IFLA_IFNAME]);
  if (tb[IFLA_ADDRESS]) device.mac = format_mac(tb[IFLA_ADDRESS]);
  if (tb[IFLA_MTU]) device.mtu = nla_get_u32(tb[IFLA_MTU]);
  if (tb[IFLA_MASTER] && nla_get_u32(tb[IFLA_MASTER]) != 0) device.master = nla_get_u32(tb[IFLA_MASTER]);
  if (tb[IFLA_LINKINFO]) {
    nlattr* info[IFLA_INFO_MAX + 1] = {};
    if (nla_parse_nested(info, IFLA_INFO_MAX, tb[IFLA_LINKINFO], nullptr) == 0 && info[IFLA_INFO_KIND]) {
      device.kind = attr_string(info[IFLA_INFO_KIND]);
    }
  }
  // For a veth, IFLA_LINK is the peer's ifindex in the peer's namespace, and
  // IFLA_LINK_NETNSID is present exactly when that namespace is another one.
  if (device.kind == "veth" && tb[IFLA_LINK]) {
    std::uint32_t peer_index = nla_get_u32(tb[IFLA_LINK]);
    if (peer_index != 0) {
      PeerRef peer;
      peer.ifindex = peer_index;
      if (tb[IFLA_LINK_NETNSID]) {
        peer.nsid = static_cast<std::int32_t>(nla_get_s32(tb[IFLA_LINK_NETNSID]));
      } else {
        peer.netns = self;
      }
      device.peer = peer;
    }
  }
  return device;
}

}  // namespace

Result<RtnlSocket> RtnlSocket::open() {
  Fd fd(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
  if (!fd) return Error::os("socket(NETLINK_ROUTE)");
  sockaddr_nl local{};
  local.nl_family = AF_NETLINK;  // nl_pid 0: the kernel picks a free port id
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&local), sizeof local) != 0) {
    return Error::os("bind netlink socket");
  }
  int one = 1;
  // Extended ACKs carry the kernel's reason for a refused request.
  ::setsockopt(fd.get(), SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof one);
  return RtnlSocket(std::move(fd));
}

Result<RtnlSocket> RtnlSocket::open_in(int netns_fd) {
  auto made = run_in_netns(netns_fd, [] { return open(); });
  if (!made) return made.error();
  return std::move(made.value());
}

Status RtnlSocket::send_message(const nlmsghdr* message) {
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
// non-dump request) the single answer. on_message sees every data message.
template <class OnMessage>
Status RtnlSocket::request(std::uint32_t seq, OnMessage&& on_message, bool* interrupted) {
  // Per call, not per thread: dozens of HTTP workers each keeping 64 KiB
  // resident would outweigh the cache itself. The allocator hands the same
  // block back call after call.
  std::unique_ptr<char[]> buffer(new char[kReceiveBuffer]);
  for (;;) {
    bool truncated = false;
    ssize_t n = receive(fd_.get(), buffer.get(), kReceiveBuffer, &truncated);
    if (n < 0) return Error::os("receive netlink reply");
    if (truncated) return Error::os("receive netlink reply", EMSGSIZE);
    int len = static_cast<int>(n);
    for (auto* h = reinterpret_cast<nlmsghdr*>(buffer.get()); NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
      if (h->nlmsg_seq != seq) continue;  // a late reply to an earlier request
      if (interrupted && (h->nlmsg_flags & NLM_F_DUMP_INTR)) *interrupted = true;
      if (h->nlmsg_type == NLMSG_DONE) {
        // A dump that failed part-way says so in DONE's payload.
        if (h->nlmsg_len >= NLMSG_LENGTH(sizeof(int))) {
          int error = *static_cast<const int*>(NLMSG_DATA(h));
          if (error < 0) return Error::os("netlink dump failed", -error);
        }
        return {};
      }
      if (h->nlmsg_type == NLMSG_ERROR) {
        const auto* err = static_cast<const nlmsgerr*>(NLMSG_DATA(h));
        if (err->error == 0) return {};
        return Error::os("netlink request refused", -err->error);
      }
      on_message(h);
      if (!(h->nlmsg_flags & NLM_F_MULTI)) return {};
    }
  }
}

Result<std::vector<Device>> RtnlSocket::list_links(std::optional<NetnsId> self) {
  for (int attempt = 0; attempt < kDumpAttempts; ++attempt) {
    MsgPtr msg(nlmsg_alloc_simple(RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP));
    if (!msg) return Error::os("allocate netlink message", ENOMEM);
    ifinfomsg ifi{};
    ifi.ifi_family = AF_UNSPEC;
    if (nlmsg_append(msg.get(), &ifi, sizeof ifi, NLMSG_ALIGNTO) < 0 ||
        // Statistics are most of each RTM_NEWLINK; we never read them.
        nla_put_u32(msg.get(), IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS) < 0) {
      return Error::os("build RTM_GETLINK", ENOMEM);
    }
    nlmsghdr* hdr = nlmsg_hdr(msg.get());
    hdr->nlmsg_seq = ++seq_;
    if (Status st = send_message(hdr); !st) return st.error();

    std::vector<Device> devices;
    devices.reserve(8);
    bool interrupted = false;
    Status st = request(
        hdr->nlmsg_seq,
        [&](const nlmsghdr* h) {
          if (auto device = parse_link_message(h, self)) devices.push_back(std::move(*device));
        },
        &interrupted);
    if (!st) return Error{st.error().code, "dump links: " + st.error().context};
    if (!interrupted) return devices;
  }
  return Error::os("dump links: kept changing while being dumped", EAGAIN);
}

Status RtnlSocket::subscribe_links(int rcvbuf) {
  unsigned group = RTNLGRP_LINK;
  if (::setsockopt(fd_.get(), SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &group, sizeof group) != 0) {
    return Error::os("join RTNLGRP_LINK");
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
    ssize_t n = receive(fd_.get(), buffer.get(), kReceiveBuffer, &truncated);
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
    int len = static_cast<int>(n);
    for (auto* h = reinterpret_cast<nlmsghdr*>(buffer.get()); NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
      if (h->nlmsg_type == NLMSG_ERROR || h->nlmsg_type == NLMSG_OVERRUN) {
        lost = true;
        break;
      }
      if (h->nlmsg_type != RTM_NEWLINK && h->nlmsg_type != RTM_DELLINK) continue;
      auto device = parse_link_message(h, self);
      if (!device) continue;
      on_event(LinkEvent{h->nlmsg_type == RTM_DELLINK, std::move(*device)});
    }
  }
  if (lost) return Error::os("link notifications lost", ENOBUFS);
  return {};
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
  hdr->nlmsg_seq = ++seq_;
  if (Status st = send_message(hdr); !st) return st.error();

  std::int32_t nsid = NETNSA_NSID_NOT_ASSIGNED;
  Status st = request(
      hdr->nlmsg_seq,
      [&](const nlmsghdr* h) {
        if (h->nlmsg_type != RTM_NEWNSID) return;
        nlattr* tb[NETNSA_MAX + 1] = {};
        if (nlmsg_parse(const_cast<nlmsghdr*>(h), sizeof(rtgenmsg), tb, NETNSA_MAX, nullptr) == 0 && tb[NETNSA_NSID]) {
          nsid = nla_get_s32(tb[NETNSA_NSID]);
        }
      },
      nullptr);
  if (!st) return Error{st.error().code, "get nsid: " + st.error().context};
  return nsid;
}

}  // namespace netnsd
