// Fakes for unit-testing the resolver's state machine without privileges:
// a settable clock and a scripted host. They stand beside the privileged
// tests, which exercise the same behaviour against the real kernel.
#pragma once

#include <fcntl.h>
#include <sys/eventfd.h>

#include <atomic>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "resolver/host.h"
#include "resolver/resolver.h"
#include "util/clock.h"

namespace netnsd::testing {

// Wall and steady time move together, only when the test says so. Safe to
// read from other threads (the tracker's) while the test advances it.
class FakeClock final : public Clock {
 public:
  WallTime now() const override { return WallTime(std::chrono::seconds(1'800'000'000)) + elapsed(); }
  SteadyTime steady() const override { return SteadyTime(std::chrono::hours(1)) + elapsed(); }
  void advance(std::chrono::milliseconds d) { elapsed_ms_ += d.count(); }

 private:
  std::chrono::milliseconds elapsed() const { return std::chrono::milliseconds(elapsed_ms_.load()); }
  std::atomic<std::int64_t> elapsed_ms_{0};
};

// A resolver configuration: capacity, lonely timeout and, optionally, the
// share per owner outside the host's user namespace.
inline ResolverConfig resolver_config(std::size_t capacity, std::chrono::milliseconds lonely_timeout,
                                      std::size_t max_per_owner = 0) {
  ResolverConfig config;
  config.capacity = capacity;
  config.lonely_timeout = lonely_timeout;
  config.max_per_owner = max_per_owner;
  return config;
}

// A real but meaningless descriptor, to watch handles being closed.
inline Fd dummy_fd() {
  return Fd(::eventfd(0, EFD_CLOEXEC));
}
inline bool fd_is_open(int fd) {
  return ::fcntl(fd, F_GETFD) != -1;
}

// A host whose tasks, mounts, links and nsids are whatever the test says.
// Not thread-safe by itself: tests that run a tracker change it under lock().
class FakeHost final : public HostView {
 public:
  // Held by every method; a test takes it to change the host while a
  // tracker's threads read it.
  std::unique_lock<std::recursive_mutex> lock() { return std::unique_lock(mutex_); }

  TaskScan tasks;
  std::vector<NetnsMount> mounts;
  std::map<NetnsId, std::vector<Device>> links;
  std::set<std::string> unopenable;  // paths whose open fails
  // nsids[(in, target)] = id that `in` assigns to `target`.
  std::map<std::pair<NetnsId, NetnsId>, std::int32_t> nsid_table;
  std::vector<std::string> opened;  // paths opened, in order
  int nsid_queries = 0;
  std::uint64_t cookies_handed_out = 0;

  HostInfo info{"fakehost", "6.1.0-fake", 1, 2};
  std::map<NetnsId, NamespaceOwner> owners;  // owner_of(); the host's when not listed
  bool tasks_fail = false;
  std::atomic<int> task_scans{0};     // scan_tasks() calls
  std::atomic<int> link_listings{0};  // list_links() calls

  Result<TaskScan> scan_tasks() override {
    auto hold = lock();
    ++task_scans;
    if (tasks_fail) return Error::os("open /proc", EMFILE);
    return tasks;
  }
  Result<std::vector<NetnsMount>> scan_mounts() override {
    auto hold = lock();
    return mounts;
  }

  Result<Fd> open_netns(const std::string& path, NetnsId expected) override {
    auto hold = lock();
    if (unopenable.count(path)) return Error::os("open " + path, ENOENT);
    opened.push_back(path);
    Fd fd = dummy_fd();
    inode_of_fd_[fd.get()] = expected;
    return fd;
  }

  // Called at the start of every list_links(), without the lock held: a test
  // can make a listing slow (block here) to let events overtake it.
  std::function<void(NetnsId)> before_listing;

  Result<std::vector<Device>> list_links(const NamespaceHandle& ns, NetnsId self, bool with_stats = false) override {
    if (before_listing) before_listing(self);
    auto hold = lock();
    ++link_listings;
    auto it = links.find(self);
    if (it == links.end()) return Error::os("no such namespace", ENOENT);
    (void)ns;
    std::vector<Device> out = it->second;
    // Counters exist only in live listings that ask for them.
    for (Device& d : out) {
      if (!with_stats) d.stats.reset();
    }
    return out;
  }

  Result<std::vector<std::int32_t>> nsids(const NamespaceHandle& in,
                                          const std::vector<const NamespaceHandle*>& targets) override {
    auto hold = lock();
    std::vector<std::int32_t> out;
    NetnsId from = inode_of_fd_.at(in.fd.get());
    for (const NamespaceHandle* t : targets) {
      ++nsid_queries;
      auto it = nsid_table.find({from, inode_of_fd_.at(t->fd.get())});
      out.push_back(it == nsid_table.end() ? -1 : it->second);
    }
    return out;
  }

  NamespaceOwner owner_of(int netns_fd) override {
    auto hold = lock();
    auto it = owners.find(inode_of_fd_.at(netns_fd));
    return it == owners.end() ? NamespaceOwner{2, 0, true} : it->second;
  }

  // Never 0, and new for every capture, as the kernel's are for every
  // namespace: a reused inode gets a new one.
  std::uint64_t cookie_of(const NamespaceHandle&) override {
    auto hold = lock();
    return (std::uint64_t{1} << 40) + ++cookies_handed_out;
  }

  HostInfo host_info() override {
    auto hold = lock();
    return info;
  }

  std::map<std::uint32_t, ProcessInfo> processes;  // describe_process(); gone when not listed
  std::atomic<int> process_reads{0};
  std::optional<ProcessInfo> describe_process(std::uint32_t pid) override {
    auto hold = lock();
    ++process_reads;
    auto it = processes.find(pid);
    if (it == processes.end()) return std::nullopt;
    return it->second;
  }

 private:
  std::recursive_mutex mutex_;
  std::map<int, NetnsId> inode_of_fd_;
};

inline Device veth(std::uint32_t ifindex, std::string name, std::uint32_t peer_ifindex,
                   std::optional<std::int32_t> nsid, std::optional<NetnsId> same_ns = {}) {
  Device d;
  d.ifindex = ifindex;
  d.name = std::move(name);
  d.kind = "veth";
  d.mtu = 1500;
  d.peer = LinkRef{peer_ifindex, same_ns, nsid};
  return d;
}

inline Device plain(std::uint32_t ifindex, std::string name, std::string kind = "") {
  Device d;
  d.ifindex = ifindex;
  d.name = std::move(name);
  d.kind = std::move(kind);
  d.mtu = 1500;
  return d;
}

}  // namespace netnsd::testing
