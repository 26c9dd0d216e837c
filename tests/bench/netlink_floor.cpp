// The physical floor of "list every namespace's devices": one rtnetlink
// socket per namespace, opened up front (not timed), then for each an
// RTM_GETLINK dump with counters and an RTM_GETADDR dump (what a snapshot
// asks the kernel), received and walked but not interpreted. Nothing can
// give the same information faster than the kernel produces it.
// --links-only: the link dumps alone, without counters (the old floor).
// --threads T: the namespaces shared by T threads, each taking the next
// (netnsd lists a snapshot's namespaces on two, defaults::kSnapshotListers).
//
// usage: netlink_floor [--rounds R] NETNS_FILE...
//        netlink_floor [--rounds R] --dir DIR [--prefix P]   (every DIR/P* file, e.g. /run/netns)
// Prints one line per round: the round's wall time in microseconds.
#include <dirent.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

int open_route_socket_in(const std::string& netns_path, int home) {
  int ns = open(netns_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (ns < 0 || setns(ns, CLONE_NEWNET) != 0) {
    std::perror(netns_path.c_str());
    std::exit(1);
  }
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  sockaddr_nl local{};
  local.nl_family = AF_NETLINK;
  bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local);
  if (setns(home, CLONE_NEWNET) != 0) std::exit(1);
  close(ns);
  return fd;
}

// Reads a dump's replies to the end; returns how many messages it held.
int receive_dump(int fd, std::vector<char>& buf) {
  int messages = 0;
  for (;;) {
    ssize_t n = recv(fd, buf.data(), buf.size(), 0);
    if (n <= 0) return -1;
    for (auto* h = reinterpret_cast<nlmsghdr*>(buf.data()); NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
      if (h->nlmsg_type == NLMSG_DONE) return messages;
      if (h->nlmsg_type == NLMSG_ERROR) return -1;
      ++messages;
    }
  }
}

// One RTM_GETADDR dump, both families, as netnsd sends it.
int dump_addresses(int fd, std::uint32_t seq, std::vector<char>& buf) {
  struct {
    nlmsghdr h;
    ifaddrmsg i;
  } req{};
  req.h.nlmsg_len = sizeof req;
  req.h.nlmsg_type = RTM_GETADDR;
  req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  req.h.nlmsg_seq = seq;
  req.i.ifa_family = AF_UNSPEC;
  if (send(fd, &req, sizeof req, 0) < 0) return -1;
  return receive_dump(fd, buf);
}

// One RTM_GETLINK dump, the same request netnsd sends: with counters (a
// snapshot's), or without (a scan's).
int dump_links(int fd, std::uint32_t seq, std::vector<char>& buf, bool with_stats) {
  struct {
    nlmsghdr h;
    ifinfomsg i;
    nlattr a;
    std::uint32_t mask;
  } req{};
  req.h.nlmsg_len = with_stats ? NLMSG_LENGTH(sizeof req.i) : sizeof req;
  req.h.nlmsg_type = RTM_GETLINK;
  req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  req.h.nlmsg_seq = seq;
  req.i.ifi_family = AF_UNSPEC;
  req.a.nla_type = IFLA_EXT_MASK;
  req.a.nla_len = sizeof req.a + sizeof req.mask;
  req.mask = RTEXT_FILTER_SKIP_STATS;
  if (send(fd, &req, req.h.nlmsg_len, 0) < 0) return -1;
  return receive_dump(fd, buf);
}

}  // namespace

int main(int argc, char** argv) {
  int rounds = 1;
  int threads = 1;
  bool links_only = false;
  std::vector<std::string> paths;
  std::string dir, prefix;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--rounds" && i + 1 < argc) {
      rounds = std::atoi(argv[++i]);
    } else if (a == "--threads" && i + 1 < argc) {
      threads = std::max(1, std::atoi(argv[++i]));
    } else if (a == "--links-only") {
      links_only = true;
    } else if (a == "--dir" && i + 1 < argc) {
      dir = argv[++i];
    } else if (a == "--prefix" && i + 1 < argc) {
      prefix = argv[++i];
    } else {
      paths.push_back(a);
    }
  }
  if (!dir.empty()) {
    DIR* d = opendir(dir.c_str());
    if (!d) return 1;
    while (dirent* e = readdir(d)) {
      std::string name = e->d_name;
      if (name != "." && name != ".." && name.rfind(prefix, 0) == 0) paths.push_back(dir + "/" + name);
    }
    closedir(d);
  }
  int home = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
  std::vector<int> sockets;
  for (const std::string& p : paths) sockets.push_back(open_route_socket_in(p, home));

  std::uint32_t seq = 1;
  for (int r = 0; r < rounds; ++r) {
    auto start = std::chrono::steady_clock::now();
    std::atomic<std::size_t> next{0};
    std::atomic<long> links{0};
    std::atomic<bool> failed{false};
    const std::uint32_t base = seq;
    auto lister = [&] {
      std::vector<char> buf(64 * 1024);
      for (std::size_t i; (i = next.fetch_add(1)) < sockets.size();) {
        const auto s = base + 2 * static_cast<std::uint32_t>(i);
        int n = dump_links(sockets[i], s, buf, !links_only);
        if (n < 0 || (!links_only && dump_addresses(sockets[i], s + 1, buf) < 0)) failed = true;
        links += n;
      }
    };
    {
      std::vector<std::thread> helpers;
      for (int t = 1; t < threads; ++t) helpers.emplace_back(lister);
      lister();
      for (auto& t : helpers) t.join();
    }
    seq += 2 * static_cast<std::uint32_t>(sockets.size());
    if (failed) return 1;
    auto us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start);
    std::printf("%lld %zu %ld\n", static_cast<long long>(us.count()), sockets.size(), links.load());
  }
  return 0;
}
