#include "kernel/kernel_host.h"

#include <fcntl.h>
#include <linux/nsfs.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/utsname.h>

#include "kernel/iptables_legacy.h"
#include "kernel/mountinfo.h"
#include "kernel/namespace_socket.h"
#include "kernel/netns.h"
#include "kernel/nfnetlink.h"
#include "kernel/procfs.h"
#include "kernel/rtnl.h"
#include "kernel/sock_diag.h"

namespace netnsd {

namespace {

NetnsId own_user_namespace() {
  struct stat st {};
  return ::stat("/proc/self/ns/user", &st) == 0 ? static_cast<NetnsId>(st.st_ino) : 0;
}

}  // namespace

KernelHost::KernelHost(NetlinkCounters* counters, std::string proc_root, std::string mountinfo,
                       std::string runtime_root, std::optional<CgroupView> cgroups)
    : counters_(counters ? *counters : own_counters_),
      proc_root_(std::move(proc_root)),
      mountinfo_(std::move(mountinfo)),
      own_userns_(own_user_namespace()),
      processes_(proc_root_, std::move(runtime_root), cgroups ? std::move(*cgroups) : CgroupView{mountinfo_, ""}) {}

std::optional<ProcessInfo> KernelHost::describe_process(std::uint32_t pid) {
  return processes_.describe(pid);
}

Result<std::vector<InetSocket>> KernelHost::list_sockets(const NamespaceHandle& ns, SocketScope scope) {
  // A socket of its own per listing, closed at the end: sockets are asked
  // for rarely, and a descriptor kept per namespace is what the cache's
  // size is measured in.
  auto file = NetnsFile::of(ns);
  if (!file) return file.error();
  auto inode = netns_inode(file->get());
  auto sock = SockDiagSocket::open_in(file->get(), inode ? *inode : 0, &counters_);
  if (!sock) return sock.error();
  std::vector<InetSocket> all;
  std::vector<std::uint8_t> protocols{IPPROTO_TCP, IPPROTO_UDP};
  if (kernel_has_sctp()) protocols.push_back(IPPROTO_SCTP);
  for (std::uint8_t protocol : protocols) {
    auto listed = sock->list(protocol, scope);
    if (!listed) return listed.error();
    all.insert(all.end(), listed->begin(), listed->end());
  }
  return all;
}

// Like sockets, a socket of its own per answer.
Result<ConntrackCount> KernelHost::conntrack(const NamespaceHandle& ns) {
  auto file = NetnsFile::of(ns);
  if (!file) return file.error();
  auto inode = netns_inode(file->get());
  auto sock = NfnetlinkSocket::open_in(file->get(), inode ? *inode : 0, &counters_);
  if (!sock) return sock.error();
  return sock->conntrack();
}

Result<FirewallSummary> KernelHost::nftables(const NamespaceHandle& ns) {
  auto file = NetnsFile::of(ns);
  if (!file) return file.error();
  auto inode = netns_inode(file->get());
  auto sock = NfnetlinkSocket::open_in(file->get(), inode ? *inode : 0, &counters_);
  if (!sock) return sock.error();
  return sock->nftables();
}

Result<FirewallSummary> KernelHost::firewall(const NamespaceHandle& ns) {
  auto summary = nftables(ns);
  if (!summary) return summary.error();
  // The legacy tables are asked for from inside the namespace: the list of
  // those it has is its /proc/net, and their sockets must be made there.
  auto file = NetnsFile::of(ns);
  if (!file) return file.error();
  auto legacy = run_in_netns(file->get(), [] { return list_legacy_tables(); });
  if (!legacy) return legacy.error();
  if (!*legacy) return legacy->error();
  summary->legacy = std::move(legacy->value());
  return summary;
}

SocketOwners KernelHost::socket_owners(const std::unordered_set<std::uint64_t>& inodes,
                                       std::chrono::steady_clock::time_point deadline) {
  return find_socket_owners(inodes, deadline, proc_root_);
}

Result<TaskScan> KernelHost::scan_tasks() {
  return netnsd::scan_tasks(proc_root_);
}

Result<std::vector<NetnsMount>> KernelHost::scan_mounts() {
  return read_netns_mounts(mountinfo_);
}

Result<Fd> KernelHost::open_netns(const std::string& path, NetnsId expected) {
  return netnsd::open_netns(path, expected);
}

NamespaceOwner KernelHost::owner_of(int netns_fd) {
  // Unknown until the kernel says: an owner it will not name competes for
  // the unprivileged share (65534 is the kernel's overflow uid).
  NamespaceOwner owner{0, 65534, false};
  Fd userns(::ioctl(netns_fd, NS_GET_USERNS));
  if (!userns) return owner;
  struct stat st {};
  if (::fstat(userns.get(), &st) != 0) return owner;
  uid_t uid = 0;
  if (::ioctl(userns.get(), NS_GET_OWNER_UID, &uid) != 0) return owner;
  owner.userns = static_cast<NetnsId>(st.st_ino);
  owner.uid = static_cast<std::uint32_t>(uid);
  owner.host = own_userns_ != 0 && owner.userns == own_userns_;
  return owner;
}

namespace {

// Runs fn(socket) with the handle's socket (made on first use).
template <class F>
auto with_socket(const NamespaceHandle& ns, NetlinkCounters& counters, F fn)
    -> decltype(fn(std::declval<RtnlSocket&>())) {
  auto sock = namespace_socket(ns, &counters);
  if (!sock) return sock.error();
  return (*sock)->request(fn);
}

}  // namespace

std::uint64_t KernelHost::cookie_of(const NamespaceHandle& ns) {
  auto cookie = with_socket(ns, counters_, [](RtnlSocket& sock) { return sock.netns_cookie(); });
  return cookie ? *cookie : 0;
}

Status KernelHost::attach(NamespaceHandle& ns) {
  if (auto sock = namespace_socket(ns, &counters_); !sock) return sock.error();
  ns.cookie = cookie_of(ns);
  // The socket pins the namespace from now on: one descriptor, not two.
  ns.fd.reset();
  return {};
}

Result<std::vector<Device>> KernelHost::list_links(const NamespaceHandle& ns, NetnsId self, bool with_stats) {
  return with_socket(ns, counters_, [=](RtnlSocket& sock) { return sock.list_devices(self, with_stats); });
}

Result<std::vector<Device>> KernelHost::link_counters(const NamespaceHandle& ns, NetnsId self) {
  return with_socket(ns, counters_, [=](RtnlSocket& sock) { return sock.list_links(self, /*with_stats=*/true); });
}

Result<FactListing> KernelHost::list_facts(const NamespaceHandle& ns, const FactBudgets& budgets) {
  return with_socket(ns, counters_, [&budgets](RtnlSocket& sock) { return sock.list_facts(budgets); });
}

Result<std::vector<std::int32_t>> KernelHost::nsids(const NamespaceHandle& in,
                                                    const std::vector<const NamespaceHandle*>& targets) {
  return with_socket(in, counters_, [&targets](RtnlSocket& sock) -> Result<std::vector<std::int32_t>> {
    std::vector<std::int32_t> out;
    out.reserve(targets.size());
    for (const NamespaceHandle* target : targets) {
      auto file = NetnsFile::of(*target);
      auto id = file ? sock.nsid_of(file->get()) : Result<std::int32_t>(file.error());
      out.push_back(id ? *id : -1);
    }
    return out;
  });
}

HostInfo KernelHost::host_info() {
  HostInfo info;
  utsname u{};
  if (::uname(&u) == 0) {
    info.hostname = u.nodename;
    info.kernel = u.release;
  }
  if (auto self = current_netns()) info.netns = *self;
  info.userns = own_userns_;
  return info;
}

}  // namespace netnsd
