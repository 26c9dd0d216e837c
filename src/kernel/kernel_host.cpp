#include "kernel/kernel_host.h"

#include <sys/utsname.h>

#include "kernel/mountinfo.h"
#include "kernel/netns.h"
#include "kernel/procfs.h"
#include "kernel/rtnl.h"

namespace netnsd {

Result<TaskScan> KernelHost::scan_tasks() {
  return netnsd::scan_tasks(proc_root_);
}

Result<std::vector<NetnsMount>> KernelHost::scan_mounts() {
  return read_netns_mounts(mountinfo_);
}

Result<Fd> KernelHost::open_netns(const std::string& path, NetnsId expected) {
  return netnsd::open_netns(path, expected);
}

namespace {

// A request socket inside the handle's namespace, kept with the handle:
// entering a namespace and creating a socket cost more than the dump itself
// (tests/bench). It pins the namespace exactly as long as the handle does.
struct RtnlAttachment final : HandleAttachment {
  explicit RtnlAttachment(RtnlSocket s) : socket(std::move(s)) {}
  RtnlSocket socket;
};

// Runs fn(socket) with the handle's request socket, opening it on first use.
// A socket that fails is dropped and the call retried once on a fresh one.
template <class F>
auto with_socket(const NamespaceHandle& ns, F fn) -> decltype(fn(std::declval<RtnlSocket&>())) {
  std::lock_guard lock(ns.attachment_mutex);
  for (int attempt = 0;; ++attempt) {
    auto* attached = dynamic_cast<RtnlAttachment*>(ns.attachment.get());
    if (!attached) {
      auto sock = RtnlSocket::open_in(ns.fd.get());
      if (!sock) return sock.error();
      ns.attachment = std::make_unique<RtnlAttachment>(std::move(sock.value()));
      attached = static_cast<RtnlAttachment*>(ns.attachment.get());
    }
    auto result = fn(attached->socket);
    if (result || attempt > 0) return result;
    ns.attachment.reset();
  }
}

}  // namespace

Result<std::vector<Device>> KernelHost::list_links(const NamespaceHandle& ns, NetnsId self) {
  return with_socket(ns, [self](RtnlSocket& sock) { return sock.list_links(self); });
}

Result<std::vector<std::int32_t>> KernelHost::nsids(const NamespaceHandle& in,
                                                    const std::vector<const NamespaceHandle*>& targets) {
  return with_socket(in, [&targets](RtnlSocket& sock) -> Result<std::vector<std::int32_t>> {
    std::vector<std::int32_t> out;
    out.reserve(targets.size());
    for (const NamespaceHandle* target : targets) {
      auto id = sock.nsid_of(target->fd.get());
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
  return info;
}

}  // namespace netnsd
