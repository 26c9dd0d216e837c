// What does holding a namespace cost netnsd, in descriptors, kernel memory
// and its own memory? Two designs, side by side in one run, each on N fresh
// namespaces made in this process (unshare, no bind mount: what holds them
// is only what the design keeps):
//
//   three   the namespace file, a monitor socket (the link, address, route,
//           rule and neighbour groups joined) and a request socket: 0.2
//   one     one rtnetlink socket, those groups joined, for all of it
//           (kernel/namespace_socket.h): what netnsd does now
//
// and, as the baseline both are measured against, the namespace file alone
// (the namespace's own cost, which neither design can avoid). Kernel memory
// is the growth of Slab in /proc/meminfo, ours the growth of this process's
// RSS, both divided by N; each design's namespaces are let go (and the
// kernel given time to free them) before the next is measured, and the
// designs take turns over several rounds.
//
// usage: pin_bench [N=2000] [rounds=3]     (root)
#include <fcntl.h>
#include <linux/rtnetlink.h>
#include <sched.h>
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
  int n = 0;
  for (int fd = 0; fd < 65536; ++fd) {
    if (::fcntl(fd, F_GETFD) >= 0) ++n;
  }
  return n;
}

enum class Design { file, three, one };

struct Held {
  Fd file;
  std::unique_ptr<RtnlSocket> monitor;
  std::unique_ptr<RtnlSocket> requests;
};

struct Measure {
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
      if (!monitor || !monitor->subscribe_links(1 << 20, /*facts=*/true)) {
        std::fprintf(stderr, "monitor socket failed\n");
        std::exit(1);
      }
      h.monitor = std::make_unique<RtnlSocket>(std::move(monitor.value()));
      if (design == Design::three) {
        auto requests = RtnlSocket::open();
        if (!requests) std::exit(1);
        h.requests = std::make_unique<RtnlSocket>(std::move(requests.value()));
      }
    }
    if (design != Design::one) h.file = std::move(file.value());  // else closed: the socket holds it
    held.push_back(std::move(h));
    if (::setns(home.get(), CLONE_NEWNET) != 0) {
      std::perror("setns");
      std::exit(1);
    }
  }
  Measure m;
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
  auto home = open_netns("/proc/thread-self/ns/net");
  if (!home) return 1;
  const Design designs[] = {Design::file, Design::three, Design::one};
  std::vector<double> slab[3], rss[3], fds[3];
  for (int r = 0; r < rounds; ++r) {
    for (Design d : designs) {
      Measure m = hold(d, n, *home);
      const int k = static_cast<int>(d);
      slab[k].push_back(m.slab_kib);
      rss[k].push_back(m.rss_kib);
      fds[k].push_back(m.fds);
    }
  }
  std::printf("%d namespaces, %d rounds (medians), per namespace:\n\n", n, rounds);
  std::printf("| design | descriptors | kernel slab KiB | over the file alone | our RSS KiB |\n");
  std::printf("|---|---|---|---|---|\n");
  const double base = median(slab[0]);
  for (Design d : designs) {
    const int k = static_cast<int>(d);
    std::printf("| %s | %.2f | %.2f | %+.2f | %.2f |\n", name_of(d), median(fds[k]), median(slab[k]),
                median(slab[k]) - base, median(rss[k]));
  }
  return 0;
}
