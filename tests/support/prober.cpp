#include "prober.h"

#include <algorithm>

#include "api_checks.h"

namespace netnsd::testing {

using Clock = std::chrono::steady_clock;

Prober::Prober(const Daemon& d, std::string path, std::chrono::milliseconds every)
    : d_(d), path_(std::move(path)), every_(every), thread_([this] { run(); }) {}

void Prober::finish() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

double Prober::percentile(double p) {
  std::lock_guard lock(mutex_);
  if (latencies_ms_.empty()) return -1;
  std::vector<double> v = latencies_ms_;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

std::size_t Prober::probes() {
  std::lock_guard lock(mutex_);
  return latencies_ms_.size() + static_cast<std::size_t>(failures_);
}

std::vector<std::string> Prober::reasons() {
  std::lock_guard lock(mutex_);
  return reasons_;
}

void Prober::run() {
  using namespace std::chrono_literals;
  while (!stop_) {
    const auto started = Clock::now();
    RawClient c(d_.socket_path());
    const auto connected = Clock::now();
    std::string why;
    std::string answer;
    auto ms_since = [&](Clock::time_point t) {
      return std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count());
    };
    if (!c.connected()) {
      why = "connect failed";
    } else if (!c.send("GET " + path_ + " HTTP/1.1\r\nHost: probe\r\n\r\n", 1s)) {
      why = "send failed";
    } else {
      const std::string sent_after = ms_since(connected);
      if (status_of(answer = c.read_answer(1s)) != 200) {
        // When each step happened: a client that stalled between connecting
        // and sending looks to the server like a silent one.
        why = "answer: " + answer.substr(0, 400) + (c.closed_by_server() ? " (closed)" : " (no answer in 1 s)") +
              "; connected in " +
              std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(connected - started).count()) +
              " ms, sent " + sent_after + " ms after, ended " + ms_since(connected) + " ms after connecting";
      }
    }
    const double ms = std::chrono::duration<double, std::milli>(Clock::now() - started).count();
    {
      std::lock_guard lock(mutex_);
      if (why.empty()) {
        latencies_ms_.push_back(ms);
      } else {
        reasons_.push_back(why);
        ++failures_;
      }
    }
    max_fds_ = std::max(max_fds_.load(), d_.fd_count());
    std::this_thread::sleep_until(started + every_);
  }
}

}  // namespace netnsd::testing
