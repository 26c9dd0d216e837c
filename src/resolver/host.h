// HostView: the narrow seam between the resolver's logic and the kernel.
//
// The Scanner, the Tracker and the interface snapshot only see the host
// through this interface, and the types below are its vocabulary: the kernel
// adapters (src/kernel) produce them, the resolver consumes them. KernelHost
// (src/kernel/kernel_host.h) is the real host; unit tests substitute
// tests/support/fakes.h to drive the state machine without privileges.
#pragma once

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "resolver/facts.h"
#include "resolver/model.h"
#include "resolver/netfilter.h"
#include "resolver/sockets.h"
#include "util/fd.h"
#include "util/result.h"

namespace netnsd {

// What a walk of /proc saw of one namespace.
struct TaskNetns {
  std::uint32_t pids = 0;  // processes with at least one task in the namespace
  // One task's namespace file, /proc/PID/task/TID/ns/net, to open a handle from.
  std::string task_path;
  // The first of those processes, in /proc order (ascending pids), at most
  // defaults::kProcessesListed, and the others (whose containers are read,
  // so that a namespace's containers are all there, however many processes).
  std::vector<std::uint32_t> listed;
  std::vector<std::uint32_t> unlisted;
};
using TaskScan = std::unordered_map<NetnsId, TaskNetns>;

// An nsfs bind mount of a network namespace (ip netns, docker, CNI).
struct NetnsMount {
  NetnsId netns = 0;
  std::string mount_point;  // unescaped absolute path
};

// The name a bind mount gives its namespace: the mount point's last component
// ("/run/netns/blue" -> "blue").
std::string mount_name(std::string_view mount_point);

// The host netnsd runs on, as a dump describes it.
struct HostInfo {
  std::string hostname;
  std::string kernel;  // uname release
  NetnsId netns = 0;   // netnsd's own (the host's) network namespace
  NetnsId userns = 0;  // netnsd's own (the host's) user namespace
};

// Threading: every method may be called from several threads at once.
class HostView {
 public:
  virtual ~HostView() = default;

  // Every task's network namespace; fails rather than return a partial scan.
  virtual Result<TaskScan> scan_tasks() = 0;
  // nsfs bind mounts of network namespaces.
  virtual Result<std::vector<NetnsMount>> scan_mounts() = 0;
  // Opens a handle and checks it is namespace `expected`.
  virtual Result<Fd> open_netns(const std::string& path, NetnsId expected) = 0;
  // Who owns the namespace behind an open handle. When the kernel will not
  // say, the owner is reported as not the host's (host = false): unknown
  // owners compete for the unprivileged share of the cache.
  virtual NamespaceOwner owner_of(int netns_fd) = 0;
  // The cookie of the namespace behind `ns` (NamespaceHandle::cookie), 0 when
  // unknown. May attach what later calls with `ns` use.
  virtual std::uint64_t cookie_of(const NamespaceHandle& ns) = 0;
  // Readies a handle to be cached, before anybody else sees it: its cookie,
  // and whatever the host keeps with it. The kernel host attaches the
  // socket it asks the namespace with and closes the namespace file, so
  // that one descriptor pins it (kernel/namespace_socket.h). A handle that
  // cannot be readied is not cached.
  virtual Status attach(NamespaceHandle& ns) {
    ns.cookie = cookie_of(ns);
    return {};
  }
  // The devices of the namespace behind `ns`, whose inode is `self`, with
  // their addresses; with `with_stats`, their counters too.
  virtual Result<std::vector<Device>> list_links(const NamespaceHandle& ns, NetnsId self, bool with_stats = false) = 0;
  // The devices and their counters without their addresses: one link dump
  // (the per-namespace metrics). By default list_links(), addresses and all.
  virtual Result<std::vector<Device>> link_counters(const NamespaceHandle& ns, NetnsId self) {
    return list_links(ns, self, /*with_stats=*/true);
  }
  // The routes, policy rules and neighbours of the namespace behind `ns`:
  // at most a namespace's budget of each (`budgets`), the rest counted.
  virtual Result<FactListing> list_facts(const NamespaceHandle& ns, const FactBudgets& budgets) {
    (void)ns;
    (void)budgets;
    return Error::os("list routes", ENOTSUP);
  }
  // The nsid namespace `in` assigns to each of `targets` (-1 for none), in order.
  virtual Result<std::vector<std::int32_t>> nsids(const NamespaceHandle& in,
                                                  const std::vector<const NamespaceHandle*>& targets) = 0;
  // Hostname, kernel release and netnsd's own namespace.
  virtual HostInfo host_info() = 0;
  // A process's command and container; nullopt when it is gone.
  virtual std::optional<ProcessInfo> describe_process(std::uint32_t pid) = 0;
  // The sockets of the namespace behind `ns`, read now (never cached): TCP
  // and UDP, and SCTP when the kernel has it, listening or all of them.
  virtual Result<std::vector<InetSocket>> list_sockets(const NamespaceHandle& ns, SocketScope scope) {
    (void)ns;
    (void)scope;
    return Error::os("list sockets", ENOTSUP);
  }
  // The connection-tracking count and the firewall of the namespace behind
  // `ns`, read now (never cached): nf_tables' tables, chains and rule
  // counts, and the legacy iptables tables it has.
  virtual Result<ConntrackCount> conntrack(const NamespaceHandle& ns) {
    (void)ns;
    return Error::os("conntrack", ENOTSUP);
  }
  virtual Result<FirewallSummary> firewall(const NamespaceHandle& ns) {
    (void)ns;
    return Error::os("firewall", ENOTSUP);
  }
  // Its nf_tables part only (tables, chains, rule counts, port rules; no
  // legacy tables): what whois by port asks every namespace for.
  virtual Result<FirewallSummary> nftables(const NamespaceHandle& ns) { return firewall(ns); }
  // Which processes hold the sockets `inodes`, looked for until `deadline`.
  virtual SocketOwners socket_owners(const std::unordered_set<std::uint64_t>& inodes,
                                     std::chrono::steady_clock::time_point deadline) {
    (void)inodes;
    (void)deadline;
    return SocketOwners{{}, 0, false};
  }
};

}  // namespace netnsd
