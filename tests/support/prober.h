// A client that asks one path of a real netnsd again and again, each time
// on a fresh connection (as exec probes and health checks do), and samples
// netnsd's descriptors, until stopped: latencies, failures and why.
#pragma once

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "daemon.h"

namespace netnsd::testing {

class Prober {
 public:
  explicit Prober(const Daemon& d, std::string path = "/healthz",
                  std::chrono::milliseconds every = std::chrono::milliseconds(50));
  ~Prober() { finish(); }
  Prober(const Prober&) = delete;
  Prober& operator=(const Prober&) = delete;

  void finish();
  // A latency percentile of the answered probes, in ms (1.0: the slowest); -1 when none was.
  double percentile(double p);
  int failures() const { return failures_; }
  std::size_t probes();
  int max_fds() const { return max_fds_; }
  std::vector<std::string> reasons();  // why each failed probe failed

 private:
  void run();
  const Daemon& d_;
  const std::string path_;
  const std::chrono::milliseconds every_;
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::vector<double> latencies_ms_;
  std::vector<std::string> reasons_;
  std::atomic<int> failures_{0};
  std::atomic<int> max_fds_{0};
  std::thread thread_;
};

}  // namespace netnsd::testing
