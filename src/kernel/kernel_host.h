// KernelHost: HostView on the real kernel (procfs, mountinfo, nsfs, rtnetlink).
#pragma once

#include <string>

#include "resolver/host.h"

namespace netnsd {

// Threading: every call may run on any thread. list_links() and nsids() use
// a request socket kept with the handle (opened on first use, moving the
// calling thread into the namespace briefly), one caller at a time.
class KernelHost final : public HostView {
 public:
  explicit KernelHost(std::string proc_root = "/proc", std::string mountinfo = "/proc/self/mountinfo")
      : proc_root_(std::move(proc_root)), mountinfo_(std::move(mountinfo)) {}

  Result<TaskScan> scan_tasks() override;
  Result<std::vector<NetnsMount>> scan_mounts() override;
  Result<Fd> open_netns(const std::string& path, NetnsId expected) override;
  Result<std::vector<Device>> list_links(const NamespaceHandle& ns, NetnsId self) override;
  Result<std::vector<std::int32_t>> nsids(const NamespaceHandle& in,
                                          const std::vector<const NamespaceHandle*>& targets) override;
  HostInfo host_info() override;

 private:
  std::string proc_root_;
  std::string mountinfo_;
};

}  // namespace netnsd
