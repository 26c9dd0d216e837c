// What does holding a namespace cost netnsd, in descriptors, kernel memory
// and its own memory? Two designs, side by side in one run, each on N fresh
// namespaces made in this process (unshare, no bind mount: what holds them
// is only what the design keeps):
//
//   three   the namespace file, a monitor socket (the link, address, route,
//           rule and neighbour groups joined) and a request socket: 0.2
//   one     one rtnetlink socket, those groups joined, for all of it
//           (kernel/namespace_socket.h): what netnsd does now
//   one, eight joins   the same, its eight groups joined one
//           NETLINK_ADD_MEMBERSHIP at a time instead of one bind(): the
//           kernel walks every subscribed socket on each join, so this
//           times what that costs as the namespaces add up
//
// and, as the baseline both are measured against, the namespace file alone
// (the namespace's own cost, which neither design can avoid). Kernel memory
// is the growth of Slab in /proc/meminfo, ours the growth of this process's
// RSS, both divided by N; each design's namespaces are let go (and the
// kernel given time to free them) before the next is measured, and the
// designs take turns over several rounds.
//
// usage: pin_bench [N=2000] [rounds=3]     (root)
#include <dirent.h>
#include <fcntl.h>
#include <linux/rtnetlink.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "kernel/netns.h"
#include "kernel/rtnl.h"
#include "util/fd.h"

using namespace netnsd;

namespace {

long meminfo_kib(const std::string& key) {
  std::ifstream in("/proc/meminfo");
  std::string name;
  long value = 0;
  std::string unit;
  while (in >> name >> value) {
    std::getline(in, unit);
    if (name == key + ":") return value;
  }
  return -1;
}

long rss_kib() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  }
  return -1;
}

int open_fds() {
  DIR* dir = ::opendir("/proc/self/fd");
  if (!dir) return -1;
  int n = 0;
  while (::readdir(dir)) ++n;
  ::closedir(dir);
  return n - 3;  // ".", ".." and the directory's own
}

enum class Design { file, three, one, one_joined_singly };

struct Held {
  Fd file;
  std::unique_ptr<RtnlSocket> monitor;
  std::unique_ptr<RtnlSocket> requests;
};

struct Measure {
  double setup_ms = 0;  // making and holding all N
  double slab_kib = 0;
  double rss_kib = 0;
  double fds = 0;
};

// Slab settles a while after namespaces are freed (cleanup_net runs on a
// workqueue): wait until it stops falling.
long settled_slab() {
  long last = meminfo_kib("Slab");
  for (int i = 0; i < 50; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    long now = meminfo_kib("Slab");
    if (std::labs(now - last) < 64) return now;
    last = now;
  }
  return last;
}

Measure hold(Design design, int n, Fd& home) {
  const long slab0 = settled_slab();
  const long rss0 = rss_kib();
  const int fds0 = open_fds();
  std::vector<Held> held;
  held.reserve(static_cast<std::size_t>(n));
  const auto began = std::chrono::steady_clock::now();
  for (int i = 0; i < n; ++i) {
    if (::unshare(CLONE_NEWNET) != 0) {
      std::perror("unshare");
      std::exit(1);
    }
    Held h;
    auto file = open_netns("/proc/thread-self/ns/net");
    if (!file) {
      std::fprintf(stderr, "%s\n", file.error().message().c_str());
      std::exit(1);
    }
    if (design != Design::file) {
      auto monitor = RtnlSocket::open();
      bool joined = static_cast<bool>(monitor);
      if (joined && design == Design::one_joined_singly) {
        for (unsigned group : {RTNLGRP_LINK, RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV6_IFADDR, RTNLGRP_IPV4_ROUTE,
                               RTNLGRP_IPV6_ROUTE, RTNLGRP_IPV4_RULE, RTNLGRP_IPV6_RULE, RTNLGRP_NEIGH}) {
          joined =
              joined && ::setsockopt(monitor->fd(), SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &group, sizeof group) == 0;
        }
      } else if (joined) {
        joined = static_cast<bool>(monitor->subscribe_links(1 << 20, /*facts=*/true));
      }
      if (!joined) {
        std::fprintf(stderr, "monitor socket failed\n");
        std::exit(1);
      }
      h.monitor = std::make_unique<RtnlSocket>(std::move(monitor.value()));
      if (design == Design::three) {
        auto requests = RtnlSocket::open();
        if (!requests) {
          std::fprintf(stderr, "%s\n", requests.error().message().c_str());
          std::exit(1);
        }
        h.requests = std::make_unique<RtnlSocket>(std::move(requests.value()));
      }
    }
    // Else closed: the socket holds the namespace.
    if (design == Design::file || design == Design::three) h.file = std::move(file.value());
    held.push_back(std::move(h));
    if (::setns(home.get(), CLONE_NEWNET) != 0) {
      std::perror("setns");
      std::exit(1);
    }
  }
  Measure m;
  m.setup_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - began).count();
  const long slab1 = settled_slab();
  m.slab_kib = static_cast<double>(slab1 - slab0) / n;
  m.rss_kib = static_cast<double>(rss_kib() - rss0) / n;
  m.fds = static_cast<double>(open_fds() - fds0) / n;
  held.clear();
  return m;
}

const char* name_of(Design d) {
  switch (d) {
    case Design::file:
      return "namespace file alone (baseline)";
    case Design::three:
      return "three: file + monitor + request socket (0.2)";
    case Design::one:
      return "one: a socket for all of it (now)";
    case Design::one_joined_singly:
      return "one, its 8 groups joined one call each";
  }
  return "";
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  const int n = argc > 1 ? std::atoi(argv[1]) : 2000;
  const int rounds = argc > 2 ? std::atoi(argv[2]) : 3;
  if (::geteuid() != 0) {
    std::fprintf(stderr, "pin_bench needs root\n");
    return 77;
  }
  // Three descriptors per namespace: as many as the hard limit allows.
  rlimit files{};
  ::getrlimit(RLIMIT_NOFILE, &files);
  files.rlim_cur = files.rlim_max;
  ::setrlimit(RLIMIT_NOFILE, &files);
  if (files.rlim_cur < static_cast<rlim_t>(3 * n + 64)) {
    std::fprintf(stderr, "RLIMIT_NOFILE %llu is short of 3 x %d\n", static_cast<unsigned long long>(files.rlim_cur), n);
    return 1;
  }
  auto home = open_netns("/proc/thread-self/ns/net");
  if (!home) return 1;
  const Design designs[] = {Design::file, Design::three, Design::one, Design::one_joined_singly};
  std::vector<double> slab[4], rss[4], fds[4], setup[4];
  for (int r = 0; r < rounds; ++r) {
    for (Design d : designs) {
      Measure m = hold(d, n, *home);
      const int k = static_cast<int>(d);
      slab[k].push_back(m.slab_kib);
      rss[k].push_back(m.rss_kib);
      fds[k].push_back(m.fds);
      setup[k].push_back(m.setup_ms);
    }
  }
  std::printf("%d namespaces, %d rounds (medians), per namespace:\n\n", n, rounds);
  std::printf("| design | descriptors | kernel slab KiB | over the file alone | our RSS KiB | making all, ms |\n");
  std::printf("|---|---|---|---|---|---|\n");
  const double base = median(slab[0]);
  for (Design d : designs) {
    const int k = static_cast<int>(d);
    std::printf("| %s | %.2f | %.2f | %+.2f | %.2f | %.0f |\n", name_of(d), median(fds[k]), median(slab[k]),
                median(slab[k]) - base, median(rss[k]), median(setup[k]));
  }
  return 0;
}
