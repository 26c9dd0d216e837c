// NetlinkChannel: a netlink socket that believes only the kernel.
//
// Every netlink family netnsd speaks (rtnetlink for devices, sock_diag for
// sockets) reads through one of these, so the trust rules are written once:
// a socket lives in a namespace that anybody may own, and whoever holds
// CAP_NET_ADMIN there may send to it. Only datagrams whose sender is the
// kernel (nl_pid 0 in msg_name) are read; replies must carry the request's
// sequence number, which starts at a random value per socket; what a parser
// refuses is dropped whole. Each refusal is counted in the NetlinkCounters
// given at open, and logged at most once per namespace per minute.
//
// Not thread-safe: one thread uses a channel at a time.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "resolver/model.h"
#include "resolver/stats.h"
#include "util/fd.h"
#include "util/result.h"

struct nlmsghdr;

namespace netnsd {

class NetlinkChannel {
 public:
  // A socket of netlink `protocol` (NETLINK_ROUTE, NETLINK_SOCK_DIAG) in the
  // calling thread's namespace, `netns` (for logs).
  static Result<NetlinkChannel> open(int protocol, NetnsId netns = 0, NetlinkCounters* counters = nullptr);

  // Sends `message` to the kernel with the next sequence number (which it
  // writes into the message).
  Status send(nlmsghdr* message);
  // Reads the replies to request `seq` until NLMSG_DONE, an error, or (for
  // a non-dump request) the single answer. on_message sees every data
  // message that belongs to the request; `interrupted` (when given) is set
  // when the kernel marks the dump NLM_F_DUMP_INTR. A reply that does not
  // come within kNetlinkReplyTimeout fails with ETIMEDOUT.
  Status request(std::uint32_t seq, const std::function<void(const nlmsghdr&)>& on_message, bool* interrupted);

  // A socket that has joined multicast groups hears notifications between
  // the replies to its requests. request() tells them apart by the port id
  // every reply carries (ours; a notification carries its originator's, or
  // 0 for the kernel's own) and, as told here, keeps them in order for the
  // monitor to take (up to kHeldNotificationBytes; beyond that, or when the
  // kernel dropped some (ENOBUFS) meanwhile, they count as lost) or drops
  // them (a socket whose monitor has gone). By default a socket hears none:
  // what is not a reply is refused and counted.
  enum class Notifications { none, held, dropped };
  void hear_notifications(Notifications how) { notifications_ = how; }
  Notifications notifications() const { return notifications_; }
  bool holds_notifications() const { return !held_.empty() || held_lost_; }
  // Hands the held datagrams to `fn` in order and forgets them; true when
  // some were lost (then none are handed: the monitor lists again).
  bool take_held(const std::function<void(const char* data, std::size_t size)>& fn);
  // One datagram from the kernel: what anybody else sent is dropped (and
  // counted) on the way. Returns its length, or -1 with errno. `flags` go
  // to recvmsg (MSG_DONTWAIT).
  ssize_t receive_from_kernel(char* buffer, std::size_t size, bool* truncated, int flags = 0);
  // Counts a refusal and logs it (rate-limited).
  void refused(std::atomic<std::uint64_t> NetlinkCounters::*counter, const std::string& what);

  int fd() const { return fd_.get(); }
  // The port id the kernel gave this socket.
  std::uint32_t port() const { return port_; }

 private:
  NetlinkChannel(Fd fd, std::uint32_t port, NetnsId netns, NetlinkCounters* counters);
  // Waits (poll) until a non-blocking socket has something to read.
  Status wait_readable(std::chrono::steady_clock::time_point deadline) const;
  void hold(const char* data, std::size_t size, bool truncated);
  // Holds (or drops) every notification waiting on the socket, at once.
  void drain();

  Fd fd_;
  std::uint32_t port_ = 0;
  std::uint32_t seq_ = 0;
  NetnsId netns_ = 0;
  NetlinkCounters* counters_ = nullptr;
  Notifications notifications_ = Notifications::none;
  std::vector<std::string> held_;
  std::size_t held_bytes_ = 0;
  bool held_lost_ = false;
};

}  // namespace netnsd
