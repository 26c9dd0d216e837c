#include "kernel/kernel_host.h"

#include "kernel/netns.h"
#include "kernel/rtnl.h"

namespace netnsd {

Result<TaskScan> KernelHost::scan_tasks() { return netnsd::scan_tasks(proc_root_); }

Result<std::vector<NetnsMount>> KernelHost::scan_mounts() { return read_netns_mounts(mountinfo_); }

Result<Fd> KernelHost::open_netns(const std::string& path, NetnsId expected) {
  return netnsd::open_netns(path, expected);
}

Result<std::vector<Device>> KernelHost::list_links(const NamespaceHandle& ns, NetnsId self) {
  auto sock = RtnlSocket::open_in(ns.fd.get());
  if (!sock) return sock.error();
  return sock->list_links(self);
}

Result<std::vector<std::int32_t>> KernelHost::nsids(const NamespaceHandle& in,
                                                    const std::vector<const NamespaceHandle*>& targets) {
  auto sock = RtnlSocket::open_in(in.fd.get());
  if (!sock) return sock.error();
  std::vector<std::int32_t> out;
  out.reserve(targets.size());
  for (const NamespaceHandle* target : targets) {
    auto id = sock->nsid_of(target->fd.get());
    out.push_back(id ? *id : -1);
  }
  return out;
}

}  // namespace netnsd
