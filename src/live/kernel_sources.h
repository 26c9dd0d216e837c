// KernelSources: the Tracker's event sources on the real kernel.
#pragma once

#include <string>

#include "live/sources.h"

namespace netnsd {

class KernelSources final : public LiveSources {
 public:
  // Link monitors count the netlink messages they refuse in `counters`
  // (which must outlive them; null: not counted). With `facts`, they carry
  // routes, rules and neighbours too, on the same socket.
  explicit KernelSources(NetlinkCounters* counters = nullptr, std::string mountinfo = "/proc/self/mountinfo",
                         bool facts = false)
      : counters_(counters), mountinfo_(std::move(mountinfo)), facts_(facts) {}

  Result<std::unique_ptr<NamespaceEvents>> namespace_events(const NetnsEventOptions& options,
                                                            NamespaceEvents::Callback callback) override;
  Result<std::unique_ptr<LinkMonitor>> link_monitor(const NamespaceHandle& handle, NetnsId netns, int rcvbuf,
                                                    std::function<void()> wake) override;
  Result<Fd> exit_watch(pid_t tgid, pid_t tid) override;
  Result<Watchable> mount_watch() override;

 private:
  NetlinkCounters* counters_;
  std::string mountinfo_;
  bool facts_;
};

}  // namespace netnsd
