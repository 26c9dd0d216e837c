// KernelSources: the Tracker's event sources on the real kernel.
#pragma once

#include <string>

#include "live/sources.h"

namespace netnsd {

class KernelSources final : public LiveSources {
 public:
  explicit KernelSources(std::string mountinfo = "/proc/self/mountinfo") : mountinfo_(std::move(mountinfo)) {}

  Result<std::unique_ptr<NamespaceEvents>> namespace_events(const NetnsEventOptions& options,
                                                            NamespaceEvents::Callback callback) override;
  Result<std::unique_ptr<LinkMonitor>> link_monitor(const NamespaceHandle& handle, NetnsId netns, int rcvbuf) override;
  Result<Fd> exit_watch(pid_t tgid, pid_t tid) override;
  Result<Watchable> mount_watch() override;

 private:
  std::string mountinfo_;
};

}  // namespace netnsd
