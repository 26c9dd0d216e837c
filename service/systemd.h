// systemd integration: readiness, status, the watchdog and stopping through
// sd_notify, and logs to the journal with their priorities. Outside systemd
// (no NOTIFY_SOCKET, no JOURNAL_STREAM) every call does nothing.
#pragma once

#include <chrono>
#include <optional>
#include <string>

namespace netnsd {

// Threading: every method from any thread (sd_notify opens a datagram per call).
class SystemdNotifier {
 public:
  SystemdNotifier();
  bool active() const { return active_; }
  // How often to say WATCHDOG=1: half of WatchdogSec; nullopt without a watchdog.
  std::optional<std::chrono::milliseconds> watchdog_interval() const { return interval_; }
  void ready(const std::string& status) const;
  void status(const std::string& status) const;
  void watchdog(const std::string& status) const;
  void stopping() const;

 private:
  bool active_ = false;
  std::optional<std::chrono::milliseconds> interval_;
};

// True when stderr is connected to the journal (JOURNAL_STREAM names it):
// logs then go to the journal with priorities, without their own timestamps.
bool stderr_is_journal();

}  // namespace netnsd
