// HostView: the narrow seam between the resolver's logic and the kernel.
//
// The Scanner and the interface snapshot only see the host through this
// interface. KernelHost (src/kernel/kernel_host.h) is the real one; unit
// tests substitute a fake to drive the state machine without privileges.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kernel/mountinfo.h"
#include "kernel/procfs.h"
#include "resolver/model.h"
#include "util/fd.h"
#include "util/result.h"

namespace netnsd {

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
  // The links of the namespace behind `ns`, whose inode is `self`.
  virtual Result<std::vector<Device>> list_links(const NamespaceHandle& ns, NetnsId self) = 0;
  // The nsid namespace `in` assigns to each of `targets` (-1 for none), in order.
  virtual Result<std::vector<std::int32_t>> nsids(const NamespaceHandle& in,
                                                  const std::vector<const NamespaceHandle*>& targets) = 0;
};

}  // namespace netnsd
