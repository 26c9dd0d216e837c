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
  const auto began = std::chrono::steady_clock::now();
  const bool written = connections_.write_all(fd_, ptr, size, patience_);
  if (reader_must_progress_) {
    if (!written && std::chrono::steady_clock::now() - began >= patience_) {
      spdlog::info("events: uid {} pid {} took nothing for {} ms: stream closed", peer_.uid, peer_.pid,
                   patience_.count());
    }
    queued_after_write_ = unread();
  }
  return written ? static_cast<ssize_t>(size) : -1;
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
