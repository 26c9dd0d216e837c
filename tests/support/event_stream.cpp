#include "event_stream.h"

namespace netnsd::testing {

using nlohmann::json;

EventStream::EventStream(const std::string& socket, const std::string& query, const std::string& path)
    : client_(socket) {
  client_.send("GET " + path + query + " HTTP/1.1\r\nHost: netnsd\r\n\r\n");
}

int EventStream::status(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (head_.empty() && Clock::now() < deadline && read_some(deadline)) {
  }
  return status_of(head_);
}

std::optional<EventStream::Event> EventStream::wait_for(const std::function<bool(const json&)>& match,
                                                        std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    while (!events_.empty()) {
      Event e = std::move(events_.front());
      events_.erase(events_.begin());
      if (match(e.body)) return e;
    }
    if (Clock::now() >= deadline || !read_some(deadline)) return std::nullopt;
  }
}

std::vector<json> EventStream::drain(std::chrono::milliseconds quiet) {
  std::vector<json> out;
  while (auto e = wait_for([](const json&) { return true; }, quiet)) out.push_back(e->body);
  return out;
}

bool EventStream::read_some(Clock::time_point deadline) {
  if (!client_.receive(raw_, deadline)) {
    ended_ = ended_ || client_.closed_by_server();
    return false;
  }
  const auto now = Clock::now();
  if (head_.empty()) {
    const auto end = raw_.find("\r\n\r\n");
    if (end == std::string::npos) return true;
    head_ = raw_.substr(0, end + 4);
    raw_.erase(0, end + 4);
  }
  // Chunks: "<hex size>\r\n<data>\r\n", a 0 size at the end.
  for (;;) {
    const auto eol = raw_.find("\r\n");
    if (eol == std::string::npos) break;
    const std::size_t size = std::stoul(raw_.substr(0, eol), nullptr, 16);
    if (raw_.size() < eol + 2 + size + 2) break;
    body_.append(raw_, eol + 2, size);
    raw_.erase(0, eol + 2 + size + 2);
    if (size == 0) ended_ = true;
  }
  for (auto nl = body_.find('\n'); nl != std::string::npos; nl = body_.find('\n')) {
    events_.push_back({json::parse(body_.substr(0, nl)), now});
    body_.erase(0, nl + 1);
  }
  return true;
}

}  // namespace netnsd::testing
