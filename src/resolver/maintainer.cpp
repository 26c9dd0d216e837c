#include "resolver/maintainer.h"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace netnsd {

Maintainer::Maintainer(Resolver& resolver, Scanner& scanner, MaintainerConfig config)
    : resolver_(resolver), scanner_(scanner), config_(config) {}

Maintainer::~Maintainer() { stop(); }

void Maintainer::start() {
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] { run(); });
}

void Maintainer::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Maintainer::request_scan() {
  {
    std::lock_guard lock(mutex_);
    scan_requested_ = true;
  }
  wake_.notify_all();
}

void Maintainer::run() {
  using Clock = std::chrono::steady_clock;
  ScanReport first = scanner_.scan();
  resolver_.mark_ready();
  spdlog::info("initial scan: {} namespaces, {} captured, {} not opened, {} ms", first.namespaces,
               first.captured, first.capture_failures, first.took.count() / 1000);

  const bool resync = config_.resync_interval.count() > 0;
  auto next_scan = Clock::now() + config_.resync_interval;
  auto next_flush = Clock::now() + config_.flush_period;
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    auto deadline = resync ? std::min(next_scan, next_flush) : next_flush;
    wake_.wait_until(lock, deadline, [this] { return stopping_ || scan_requested_; });
    if (stopping_) break;
    const auto now = Clock::now();
    const bool scan_now = scan_requested_ || (resync && now >= next_scan);
    const bool flush_now = now >= next_flush;
    scan_requested_ = false;
    lock.unlock();
    if (scan_now) {
      ScanReport report = scanner_.scan();
      spdlog::debug("resync: {} namespaces, {} captured, {} link failures, {} us", report.namespaces,
                    report.captured, report.link_failures, report.took.count());
      next_scan = Clock::now() + config_.resync_interval;
    }
    if (flush_now) {
      if (std::size_t released = resolver_.release_lonely()) {
        spdlog::info("released {} lonely namespaces", released);
      }
      next_flush = Clock::now() + config_.flush_period;
    }
    lock.lock();
  }
}

}  // namespace netnsd
