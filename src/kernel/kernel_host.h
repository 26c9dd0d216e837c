// KernelHost: HostView on the real kernel (procfs, mountinfo, nsfs, rtnetlink).
#pragma once

#include <optional>
#include <string>

#include "kernel/processes.h"
#include "resolver/host.h"
#include "resolver/stats.h"

namespace netnsd {

// Threading: every call may run on any thread. list_links() and nsids() use
// a request socket kept with the handle (opened on first use, moving the
// calling thread into the namespace briefly), one caller at a time.
class KernelHost final : public HostView {
 public:
  // Netlink messages its sockets refuse are counted in `counters` (the
  // resolver's, in the daemon), which must outlive it; by default in its own.
  // Container names are read from the runtimes' state under `runtime_root`,
  // for containers whose cgroups `cgroups` shows (by default the cgroup
  // mounts of `mountinfo`; see ProcessDescriber).
  explicit KernelHost(NetlinkCounters* counters = nullptr, std::string proc_root = "/proc",
                      std::string mountinfo = "/proc/self/mountinfo", std::string runtime_root = "/",
                      std::optional<CgroupView> cgroups = std::nullopt);

  Result<TaskScan> scan_tasks() override;
  Result<std::vector<NetnsMount>> scan_mounts() override;
  Result<Fd> open_netns(const std::string& path, NetnsId expected) override;
  NamespaceOwner owner_of(int netns_fd) override;
  std::uint64_t cookie_of(const NamespaceHandle& ns) override;
  Status attach(NamespaceHandle& ns) override;
  Result<std::vector<Device>> list_links(const NamespaceHandle& ns, NetnsId self, bool with_stats = false) override;
  Result<std::vector<Device>> link_counters(const NamespaceHandle& ns, NetnsId self) override;
  Result<FactListing> list_facts(const NamespaceHandle& ns, const FactBudgets& budgets) override;
  Result<std::vector<std::int32_t>> nsids(const NamespaceHandle& in,
                                          const std::vector<const NamespaceHandle*>& targets) override;
  HostInfo host_info() override;
  std::optional<ProcessInfo> describe_process(std::uint32_t pid) override;
  Result<std::vector<InetSocket>> list_sockets(const NamespaceHandle& ns, SocketScope scope) override;
  SocketOwners socket_owners(const std::unordered_set<std::uint64_t>& inodes,
                             std::chrono::steady_clock::time_point deadline) override;
  Result<ConntrackCount> conntrack(const NamespaceHandle& ns) override;
  Result<FirewallSummary> firewall(const NamespaceHandle& ns) override;
  Result<FirewallSummary> nftables(const NamespaceHandle& ns) override;

 private:
  NetlinkCounters own_counters_;
  NetlinkCounters& counters_;
  std::string proc_root_;
  std::string mountinfo_;
  NetnsId own_userns_ = 0;  // netnsd's user namespace: namespaces it owns are the host's
  ProcessDescriber processes_;
};

}  // namespace netnsd
