// Maintainer: the background thread that keeps the cache honest over time.
//
// It runs the initial scan (the resolver is "snapshotting" until it
// completes), then a full rescan every resync interval (the safety net under
// live events; 0 turns it off) and a lonely flush every flush period.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "resolver/resolver.h"
#include "resolver/scanner.h"

namespace netnsd {

struct MaintainerConfig {
  std::chrono::milliseconds resync_interval{30000};  // 0: no periodic rescan
  std::chrono::milliseconds flush_period{10000};
};

// Threading: start() and stop() from one controlling thread.
class Maintainer {
 public:
  Maintainer(Resolver& resolver, Scanner& scanner, MaintainerConfig config);
  ~Maintainer();

  void start();
  void stop();

  // Asks for a full rescan as soon as possible (e.g. after lost events).
  void request_scan();

 private:
  void run();

  Resolver& resolver_;
  Scanner& scanner_;
  const MaintainerConfig config_;

  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  bool scan_requested_ = false;
  std::thread thread_;
};

}  // namespace netnsd
