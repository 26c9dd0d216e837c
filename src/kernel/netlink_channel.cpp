#include "kernel/netlink_channel.h"

#include <linux/netlink.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <chrono>
#include <cstring>
#include <memory>
#include <optional>
#include <random>

#include "kernel/rtnl_parse.h"
#include "util/defaults.h"
#include "util/log_limiter.h"

namespace netnsd {
namespace {

constexpr std::size_t kReceiveBuffer = defaults::kNetlinkReadBuffer;

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

NetlinkChannel::NetlinkChannel(Fd fd, std::uint32_t port, NetnsId netns, NetlinkCounters* counters)
    : fd_(std::move(fd)), port_(port), seq_(random_sequence()), netns_(netns), counters_(counters) {}

void NetlinkChannel::refused(std::atomic<std::uint64_t> NetlinkCounters::*counter, const std::string& what) {
  if (counters_) ++(counters_->*counter);
  if (refusal_log().allow(netns_)) {
    spdlog::warn("netns {}: dropped a netlink message: {} (further ones this minute are only counted)", netns_, what);
  }
}

ssize_t NetlinkChannel::receive_from_kernel(char* buffer, std::size_t size, bool* truncated, int flags) {
  for (;;) {
    iovec iov{buffer, size};
    sockaddr_nl from{};
    msghdr msg{};
    msg.msg_name = &from;
    msg.msg_namelen = sizeof from;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    ssize_t n = ::recvmsg(fd_.get(), &msg, flags);
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

Result<NetlinkChannel> NetlinkChannel::open(int protocol, NetnsId netns, NetlinkCounters* counters) {
  Fd fd(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, protocol));
  if (!fd) return Error::os("socket(AF_NETLINK, " + std::to_string(protocol) + ")");
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
  return NetlinkChannel(std::move(fd), local.nl_pid, netns, counters);
}

void NetlinkChannel::drain() {
  // Mostly there is nothing: asked for without a buffer.
  char probe = 0;
  if (::recv(fd_.get(), &probe, sizeof probe, MSG_PEEK | MSG_DONTWAIT) < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return;
    if (errno == ENOBUFS) hold(nullptr, 0, /*truncated=*/true);
  }
  std::unique_ptr<char[]> buffer(new char[kReceiveBuffer]);
  for (;;) {
    bool truncated = false;
    ssize_t n = receive_from_kernel(buffer.get(), kReceiveBuffer, &truncated, MSG_DONTWAIT);
    if (n < 0 && errno == ENOBUFS) {
      hold(nullptr, 0, /*truncated=*/true);
      continue;
    }
    if (n <= 0) return;
    hold(buffer.get(), static_cast<std::size_t>(n), truncated);
  }
}

Status NetlinkChannel::send(nlmsghdr* message) {
  // Kernels that check the queue against the receive buffer before each
  // part of a dump (netlink_dump) start none on a queue a burst has filled:
  // on a socket that hears notifications, take them off first.
  if (notifications_ != Notifications::none) drain();
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

Status NetlinkChannel::wait_readable(std::chrono::steady_clock::time_point deadline) const {
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return Error::os("wait for a netlink reply", ETIMEDOUT);
    pollfd p{fd_.get(), POLLIN, 0};
    int n = ::poll(&p, 1, static_cast<int>(left.count()) + 1);
    if (n > 0) return {};
    if (n < 0 && errno != EINTR) return Error::os("poll netlink socket");
  }
}

void NetlinkChannel::hold(const char* data, std::size_t size, bool truncated) {
  // Dropped, or what follows a loss: of no use.
  if (notifications_ != Notifications::held || held_lost_) return;
  if (truncated || held_bytes_ + size > defaults::kHeldNotificationBytes) {
    held_lost_ = true;
    held_.clear();
    held_bytes_ = 0;
    return;
  }
  held_.emplace_back(data, size);
  held_bytes_ += size;
}

bool NetlinkChannel::take_held(const std::function<void(const char* data, std::size_t size)>& fn) {
  const bool lost = held_lost_;
  std::vector<std::string> taken;
  taken.swap(held_);
  held_bytes_ = 0;
  held_lost_ = false;
  if (lost) return true;
  for (const std::string& datagram : taken) fn(datagram.data(), datagram.size());
  return false;
}

Status NetlinkChannel::request(std::uint32_t seq, const std::function<void(const nlmsghdr&)>& on_message,
                               bool* interrupted) {
  // Per call, not per thread: dozens of HTTP workers each keeping 64 KiB
  // resident would outweigh the cache itself. The allocator hands the same
  // block back call after call.
  std::unique_ptr<char[]> buffer(new char[kReceiveBuffer]);
  const auto deadline = std::chrono::steady_clock::now() + defaults::kNetlinkReplyTimeout;
  for (;;) {
    bool truncated = false;
    ssize_t n = receive_from_kernel(buffer.get(), kReceiveBuffer, &truncated);
    if (n < 0) {
      // A monitor's socket is non-blocking: wait for the next part.
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        if (Status st = wait_readable(deadline); !st) return st;
        continue;
      }
      // Notifications were dropped; the reply goes on.
      if (errno == ENOBUFS && notifications_ != Notifications::none) {
        hold(nullptr, 0, /*truncated=*/true);
        continue;
      }
      return Error::os("receive netlink reply");
    }
    if (notifications_ != Notifications::none && static_cast<std::size_t>(n) >= sizeof(nlmsghdr)) {
      // The kernel never mixes a notification with a reply in a datagram.
      nlmsghdr first;
      std::memcpy(&first, buffer.get(), sizeof first);
      if (first.nlmsg_pid != port_) {
        hold(buffer.get(), static_cast<std::size_t>(n), truncated);
        continue;
      }
    }
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

}  // namespace netnsd
