// LogLimiter: at most one log line per key per period, for messages a hostile
// sender could otherwise turn into a flood of log lines. What is held back is
// still counted by the caller (in /metrics).
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <unordered_map>

namespace netnsd {

// Threading: allow() may be called from any thread.
class LogLimiter {
 public:
  explicit LogLimiter(std::chrono::steady_clock::duration period) : period_(period) {}

  // True when nothing was logged for `key` within the last period (and
  // records that something is now).
  bool allow(std::uint64_t key) {
    const auto now = std::chrono::steady_clock::now();
    std::lock_guard lock(mutex_);
    auto [it, fresh] = last_.try_emplace(key, now);
    if (!fresh) {
      if (now - it->second < period_) return false;
      it->second = now;
    }
    // Bounded: forget keys that are quiet anyway.
    if (last_.size() > kMaxKeys) std::erase_if(last_, [&](const auto& e) { return now - e.second >= period_; });
    return true;
  }

 private:
  static constexpr std::size_t kMaxKeys = 4096;
  const std::chrono::steady_clock::duration period_;
  std::mutex mutex_;
  std::unordered_map<std::uint64_t, std::chrono::steady_clock::time_point> last_;
};

}  // namespace netnsd
