#include "systemd.h"

#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

namespace netnsd {

SystemdNotifier::SystemdNotifier() : active_(std::getenv("NOTIFY_SOCKET") != nullptr) {
  std::uint64_t usec = 0;
  if (::sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
    interval_ = std::chrono::milliseconds(usec / 2000);  // twice per WatchdogSec, as sd_watchdog_enabled(3) asks
  }
}

void SystemdNotifier::ready(const std::string& status) const {
  if (active_) ::sd_notifyf(0, "READY=1\nSTATUS=%s", status.c_str());
}

void SystemdNotifier::status(const std::string& status) const {
  if (active_) ::sd_notifyf(0, "STATUS=%s", status.c_str());
}

void SystemdNotifier::watchdog(const std::string& status) const {
  if (active_) ::sd_notifyf(0, "WATCHDOG=1\nSTATUS=%s", status.c_str());
}

void SystemdNotifier::stopping() const {
  if (active_) ::sd_notify(0, "STOPPING=1\nSTATUS=stopping");
}

bool stderr_is_journal() {
  const char* stream = std::getenv("JOURNAL_STREAM");
  if (!stream) return false;
  unsigned long long dev = 0, ino = 0;
  if (std::sscanf(stream, "%llu:%llu", &dev, &ino) != 2) return false;
  struct stat st {};
  return ::fstat(STDERR_FILENO, &st) == 0 && st.st_dev == dev && st.st_ino == ino;
}

}  // namespace netnsd
