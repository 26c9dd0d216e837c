// Which way should netnsd hear link changes in every namespace?
//
//   A) one RTNLGRP_LINK socket per namespace (created inside it), or
//   B) one socket in the host namespace with NETLINK_LISTEN_ALL_NSID, which
//      hears every namespace that has an nsid in the host namespace.
//
// For N fresh namespaces this measures, side by side in one run: the time to
// set each up, the kernel slab memory it costs, and the latency from a link
// change (lo up/down, requested over rtnetlink) to its notification.
//
// usage: netlink_listen_bench [N=500] [changes=200]     (root)
#include <fcntl.h>
#include <linux/net_namespace.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "kernel/netns.h"
#include "kernel/rtnl.h"
#include "util/fd.h"

using namespace netnsd;
using Steady = std::chrono::steady_clock;

namespace {

std::vector<std::string> g_names;

void cleanup() {
  for (const std::string& name : g_names) {
    std::string cmd = "ip netns del " + name + " 2>/dev/null";
    if (std::system(cmd.c_str())) {
    }
  }
  g_names.clear();
}

void on_signal(int) {
  cleanup();
  _exit(130);
}

long slab_kib() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  long value;
  std::string unit;
  while (in >> key >> value >> unit) {
    if (key == "Slab:") return value;
  }
  return 0;
}

double ms_since(Steady::time_point t) {
  return std::chrono::duration<double, std::milli>(Steady::now() - t).count();
}

// A raw request on a NETLINK_ROUTE socket; waits for the ack.
bool request(int fd, nlmsghdr* msg) {
  static std::uint32_t seq = 1;
  msg->nlmsg_seq = ++seq;
  msg->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
  if (send(fd, msg, msg->nlmsg_len, 0) < 0) return false;
  char buf[8192];
  for (;;) {
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return false;
    for (auto* h = reinterpret_cast<nlmsghdr*>(buf); NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
      if (h->nlmsg_seq != msg->nlmsg_seq) continue;
      if (h->nlmsg_type == NLMSG_ERROR) return static_cast<nlmsgerr*>(NLMSG_DATA(h))->error == 0;
    }
  }
}

// Sets lo up or down through `fd` (a socket inside the namespace).
bool set_lo(int fd, bool up) {
  struct {
    nlmsghdr h;
    ifinfomsg i;
  } msg{};
  msg.h.nlmsg_len = sizeof msg;
  msg.h.nlmsg_type = RTM_NEWLINK;
  msg.i.ifi_family = AF_UNSPEC;
  msg.i.ifi_index = 1;
  msg.i.ifi_change = IFF_UP;
  msg.i.ifi_flags = up ? IFF_UP : 0;
  return request(fd, &msg.h);
}

// Gives the namespace behind netns_fd an nsid in the caller's namespace.
bool assign_nsid(int host_fd, int netns_fd) {
  struct {
    nlmsghdr h;
    rtgenmsg g;
    char attrs[64];
  } msg{};
  msg.h.nlmsg_type = RTM_NEWNSID;
  msg.g.rtgen_family = AF_UNSPEC;
  auto* a = reinterpret_cast<nlattr*>(reinterpret_cast<char*>(&msg) + NLMSG_ALIGN(NLMSG_LENGTH(sizeof(rtgenmsg))));
  a->nla_type = NETNSA_FD;
  a->nla_len = NLA_HDRLEN + sizeof(std::uint32_t);
  *reinterpret_cast<std::uint32_t*>(reinterpret_cast<char*>(a) + NLA_HDRLEN) = static_cast<std::uint32_t>(netns_fd);
  auto* b = reinterpret_cast<nlattr*>(reinterpret_cast<char*>(a) + NLA_ALIGN(a->nla_len));
  b->nla_type = NETNSA_NSID;
  b->nla_len = NLA_HDRLEN + sizeof(std::int32_t);
  *reinterpret_cast<std::int32_t*>(reinterpret_cast<char*>(b) + NLA_HDRLEN) = -1;  // kernel picks
  msg.h.nlmsg_len =
      static_cast<std::uint32_t>(reinterpret_cast<char*>(b) + NLA_ALIGN(b->nla_len) - reinterpret_cast<char*>(&msg));
  return request(host_fd, &msg.h);
}

Fd route_socket() {
  Fd fd(socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
  sockaddr_nl local{};
  local.nl_family = AF_NETLINK;
  bind(fd.get(), reinterpret_cast<sockaddr*>(&local), sizeof local);
  return fd;
}

// An epoll set over `fds`, as netnsd's event loop has.
Fd epoll_over(const std::vector<int>& fds) {
  Fd ep(epoll_create1(EPOLL_CLOEXEC));
  for (int fd : fds) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    epoll_ctl(ep.get(), EPOLL_CTL_ADD, fd, &ev);
  }
  return ep;
}

// Waits for a notification on any socket of the set and drains it.
void wait_event(int ep) {
  epoll_event ev{};
  if (epoll_wait(ep, &ev, 1, 5000) <= 0) {
    std::fprintf(stderr, "no notification within 5 s\n");
    return;
  }
  char buf[65536];
  while (recv(ev.data.fd, buf, sizeof buf, MSG_DONTWAIT) > 0) {
  }
}

struct Stats {
  double p50, p99;
};

Stats percentiles(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return {v[v.size() / 2], v[std::min(v.size() - 1, v.size() * 99 / 100)]};
}

}  // namespace

int main(int argc, char** argv) {
  const int n = argc > 1 ? std::atoi(argv[1]) : 500;
  const int changes = argc > 2 ? std::atoi(argv[2]) : 200;
  if (geteuid() != 0) {
    std::fprintf(stderr, "needs root\n");
    return 2;
  }
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  std::atexit(cleanup);

  std::vector<Fd> handles;
  std::vector<Fd> in_ns;  // a request socket inside each namespace, to cause changes
  for (int i = 0; i < n; ++i) {
    std::string name = "nlb" + std::to_string(getpid()) + "-" + std::to_string(i);
    std::string cmd = "ip netns add " + name;
    if (std::system(cmd.c_str()) != 0) return 1;
    g_names.push_back(name);
    handles.emplace_back(open(("/run/netns/" + name).c_str(), O_RDONLY | O_CLOEXEC));
    in_ns.push_back(std::move(run_in_netns(handles.back().get(), [] { return route_socket(); }).value()));
  }

  // A) one subscribed socket per namespace.
  long slab0 = slab_kib();
  auto t0 = Steady::now();
  std::vector<RtnlSocket> per_ns;
  for (const Fd& h : handles) {
    auto sock = RtnlSocket::open_in(h.get());
    if (!sock || !sock->subscribe_links()) return 1;
    per_ns.push_back(std::move(sock.value()));
  }
  double setup_a = ms_since(t0);
  long slab_a = slab_kib() - slab0;
  std::vector<int> socks_a;
  for (const RtnlSocket& s : per_ns) socks_a.push_back(s.fd());
  Fd ep_a = epoll_over(socks_a);
  std::vector<char> lo_up(static_cast<std::size_t>(n), 0);  // each change flips lo
  std::vector<double> lat_a;
  for (int k = 0; k < changes; ++k) {
    int i = k % n;
    lo_up[i] = !lo_up[i];
    auto t = Steady::now();
    set_lo(in_ns[i].get(), lo_up[i]);
    wait_event(ep_a.get());
    lat_a.push_back(ms_since(t) * 1000.0);
  }
  per_ns.clear();

  // B) one socket listening to every namespace with an nsid.
  slab0 = slab_kib();
  t0 = Steady::now();
  Fd host = route_socket();
  int one = 1;
  setsockopt(host.get(), SOL_NETLINK, NETLINK_LISTEN_ALL_NSID, &one, sizeof one);
  unsigned group = RTNLGRP_LINK;
  setsockopt(host.get(), SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &group, sizeof group);
  int big = 1 << 20;
  setsockopt(host.get(), SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
  Fd control = route_socket();
  int assigned = 0;
  for (const Fd& h : handles) assigned += assign_nsid(control.get(), h.get());
  double setup_b = ms_since(t0);
  long slab_b = slab_kib() - slab0;
  Fd ep_b = epoll_over({host.get()});
  std::vector<double> lat_b;
  for (int k = 0; k < changes; ++k) {
    int i = k % n;
    lo_up[i] = !lo_up[i];
    auto t = Steady::now();
    set_lo(in_ns[i].get(), lo_up[i]);
    wait_event(ep_b.get());
    lat_b.push_back(ms_since(t) * 1000.0);
  }

  Stats a = percentiles(lat_a), b = percentiles(lat_b);
  std::printf("%d namespaces, %d link changes\n", n, changes);
  std::printf("| | per-namespace sockets | one LISTEN_ALL_NSID socket | ratio A/B |\n|---|---|---|---|\n");
  std::printf("| setup | %.1f ms | %.1f ms (%d nsids assigned) | %.2f |\n", setup_a, setup_b, assigned,
              setup_a / setup_b);
  std::printf("| kernel slab | %ld KiB | %ld KiB | - |\n", slab_a, slab_b);
  std::printf("| descriptors | %d | 1 | %d |\n", n, n);
  std::printf("| change -> notification p50 | %.1f us | %.1f us | %.2f |\n", a.p50, b.p50, a.p50 / b.p50);
  std::printf("| change -> notification p99 | %.1f us | %.1f us | %.2f |\n", a.p99, b.p99, a.p99 / b.p99);
  return 0;
}
