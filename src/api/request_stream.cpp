#include "api/request_stream.h"

#include <linux/sockios.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/ioctl.h>

#include <algorithm>
#include <cstring>

namespace netnsd {

bool RequestStream::is_writable() const {
  pollfd p{fd_, POLLOUT, 0};
  return ::poll(&p, 1, 0) >= 0 && !(p.revents & (POLLERR | POLLHUP | POLLNVAL));
}

ssize_t RequestStream::read(char* ptr, size_t size) {
  const std::size_t n = std::min(size, request_.size() - offset_);
  std::memcpy(ptr, request_.data() + offset_, n);
  offset_ += n;
  return static_cast<ssize_t>(n);  // 0 at the end: there is nothing more to this request
}

ssize_t RequestStream::write(const char* ptr, size_t size) {
  if (reader_must_progress_ && !reader_progressed()) {
    connections_.count_write_timeout();
    spdlog::info("events: uid {} pid {} has read nothing for {} ms: stream closed", peer_.uid, peer_.pid,
                 patience_.count());
    return -1;
  }
  const auto now = std::chrono::steady_clock::now();
  if (!first_write_) first_write_ = now;
  const auto deadline = budget_ ? due(written_ + size) : std::chrono::steady_clock::time_point::max();
  const Connections::Written result = connections_.write_all(fd_, ptr, size, patience_, deadline);
  if (result == Connections::Written::all) {
    written_ += size;
    if (reader_must_progress_) queued_after_write_ = unread();
    return static_cast<ssize_t>(size);
  }
  if (result == Connections::Written::timed_out) {
    const auto waited =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - *first_write_);
    if (std::chrono::steady_clock::now() >= deadline) {
      connections_.count_slow_reader();
      spdlog::info("uid {} pid {} took {} bytes of an answer in {} ms, slower than {} B/s after {} ms: cut", peer_.uid,
                   peer_.pid, written_, waited.count(), budget_->min_rate, budget_->grace.count());
    } else {
      connections_.count_write_timeout();
      spdlog::info("uid {} pid {} took nothing for {} ms{}: {} closed", peer_.uid, peer_.pid, patience_.count(),
                   written_ ? " after " + std::to_string(written_) + " bytes" : "",
                   reader_must_progress_ ? "stream" : "answer");
    }
  }
  return -1;
}

std::chrono::steady_clock::time_point RequestStream::due(std::size_t offset) const {
  const auto rate = std::max<std::size_t>(budget_->min_rate, 1);
  const auto at_rate =
      std::chrono::microseconds(static_cast<std::int64_t>(offset / rate) * 1000000 +
                                static_cast<std::int64_t>(offset % rate) * 1000000 / static_cast<std::int64_t>(rate));
  return *first_write_ + budget_->grace + at_rate;
}

void RequestStream::get_remote_ip_and_port(std::string& ip, int& port) const {
  ip = "uid:" + std::to_string(peer_.uid);
  port = static_cast<int>(peer_.pid);
}

void RequestStream::get_local_ip_and_port(std::string& ip, int& port) const {
  ip.clear();
  port = 0;
}

int RequestStream::unread() const {
  int n = 0;
  return ::ioctl(fd_, SIOCOUTQ, &n) == 0 ? n : -1;
}

bool RequestStream::reader_progressed() {
  const int now_unread = unread();
  const auto now = std::chrono::steady_clock::now();
  if (now_unread <= 0 || now_unread < queued_after_write_) {
    reader_seen_ = now;
    return true;
  }
  return now - reader_seen_ < patience_;
}

}  // namespace netnsd
