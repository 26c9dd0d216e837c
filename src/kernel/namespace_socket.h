// NamespaceSocket: the one descriptor a cached namespace costs.
//
// A netlink socket holds a reference to the namespace it was made in, so
// the rtnetlink socket netnsd needs there anyway is also what keeps the
// namespace alive: it answers requests (link, address and fact dumps,
// nsids), carries the namespace's notifications once the tracker
// subscribes it, and hands back a namespace file on demand (SIOCGSKNS) for
// what must enter the namespace (sock_diag, nfnetlink, legacy iptables).
//
// Measured with tests/bench/pin_bench on the project's 2-core VM, per
// namespace held, over what the namespace itself costs (its file alone:
// ~190-200 KiB of slab), in two runs:
//
//                             descriptors  kernel slab      our heap
//                                          1000 ns / 6000   6000 ns
//   0.2: namespace file +
//     monitor + request socket  3          +7.7 / +5.3 KiB  1.5 KiB
//   now: this socket alone      1          +2.3 / +0.4 KiB  ~0
//
// (slab is read host-wide, so a KiB or two either way is noise.)
//
// The three-descriptor design capped the shipped unit (LimitNOFILE=16384)
// near 5,000 namespaces; this one fits 10,000 with room to spare. What
// neither changes: every subscribed netlink socket is on one host-wide list
// that the kernel walks for each notification of its family in any
// namespace (netlink_broadcast), so holding N namespaces makes every
// rtnetlink notification on the host O(N): making 6,000 namespaces took
// 1.4 s holding their files, 14.8 s holding a subscribed socket in each.
// Only NETLINK_LISTEN_ALL_NSID avoids that (kernel_sources.cpp says why it
// was not taken).
//
// This design's own price is that requests and notifications share one
// receive queue: request() tells them apart by port id (NetlinkChannel) and
// holds the notifications it reads for the monitor, and the monitor never
// waits for a request: read_events() fails with EBUSY while one runs, and
// the socket calls the monitor's wake when the request lets go.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <utility>

#include "kernel/rtnl.h"
#include "resolver/model.h"
#include "util/fd.h"
#include "util/result.h"

namespace netnsd {

class NamespaceSocket final : public HandleAttachment {
 public:
  explicit NamespaceSocket(RtnlSocket socket) : socket_(std::move(socket)) {}
  ~NamespaceSocket() override = default;
  NamespaceSocket(const NamespaceSocket&) = delete;
  NamespaceSocket& operator=(const NamespaceSocket&) = delete;

  int fd() const override { return socket_.fd(); }

  // Runs fn(socket) for a request, holding the socket: other requests wait
  // their turn, the monitor does not wait at all. Notifications the request
  // took in, or a monitor turned away meanwhile, mean a wake afterwards.
  template <class F>
  auto request(F&& fn) -> decltype(fn(std::declval<RtnlSocket&>())) {
    std::unique_lock lock(mutex_);
    quiet(true);
    auto result = fn(socket_);
    quiet(false);
    const bool held = socket_.holds_notifications();
    lock.unlock();
    if (wanted_.exchange(false) || held) wake();
    return result;
  }

  // Makes the socket a monitor too (RtnlSocket::subscribe_links); `wake` is
  // called, from whichever thread ends a request, when the monitor should
  // read again (read_events()).
  Status subscribe(int rcvbuf, bool facts, std::function<void()> wake);
  // Called with true before each request and false after it, under the
  // socket: the monitor's watcher stops looking meanwhile (each request's
  // replies would otherwise wake it only to be turned away). Cleared by
  // unsubscribe().
  void quiet_during_requests(std::function<void(bool quiet)> quiet);
  // The monitor has gone: no wakes, no groups, nothing held.
  void unsubscribe();

  // RtnlSocket::read_link_events, or EBUSY at once while a request holds
  // the socket: the wake follows when it lets go. The events are delivered
  // once the socket is free again, so the callbacks may make requests.
  Status read_events(const std::function<void(const LinkEvent&)>& on_event, std::optional<NetnsId> self,
                     const std::function<void(const FactEvent&)>& on_fact, std::size_t max_datagrams);

  // A namespace file for the socket's namespace (SIOCGSKNS), to enter it.
  Result<Fd> namespace_file() const;

 private:
  void wake();
  void quiet(bool on);

  std::mutex mutex_;  // held for each request and each read
  RtnlSocket socket_;
  std::atomic<bool> wanted_{false};  // a read was turned away
  std::mutex wake_mutex_;            // guards the monitor's two hooks
  std::function<void()> wake_;
  std::function<void(bool)> quiet_;
};

// The handle's socket, made in its namespace (through the handle's
// namespace file) and attached to it on first use.
Result<std::shared_ptr<NamespaceSocket>> namespace_socket(const NamespaceHandle& ns, NetlinkCounters* counters);

// A namespace file for the handle's namespace, to enter it: the handle's
// own while it has one (borrowed), else one asked of its socket (owned).
class NetnsFile {
 public:
  static Result<NetnsFile> of(const NamespaceHandle& ns);
  int get() const { return owned_ ? owned_.get() : borrowed_; }

 private:
  int borrowed_ = -1;
  Fd owned_;
};

}  // namespace netnsd
