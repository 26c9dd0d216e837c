#include "api_checks.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <utility>

#include "util/fd.h"

namespace netnsd::testing {

using nlohmann::json;

std::string raw_exchange(const std::string& socket_path, const std::string& request, std::chrono::milliseconds timeout,
                         bool* answered_in_time) {
  Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", socket_path.c_str());
  EXPECT_EQ(::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  EXPECT_EQ(::write(fd.get(), request.data(), request.size()), static_cast<ssize_t>(request.size()));
  // We keep our side open, as curl does while it waits.
  std::string answer;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  *answered_in_time = false;
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd.get(), POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    char buf[65536];
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n <= 0) break;
    answer.append(buf, static_cast<std::size_t>(n));
    auto header_end = answer.find("\r\n\r\n");
    if (header_end == std::string::npos) continue;
    if (answer.find("Transfer-Encoding: chunked") < header_end &&
        answer.find("\r\n0\r\n\r\n", header_end) != std::string::npos) {
      *answered_in_time = true;  // the last chunk has arrived
      break;
    }
    auto cl = answer.find("Content-Length: ");
    if (cl != std::string::npos && cl < header_end) {
      std::size_t length = std::stoul(answer.substr(cl + 16));
      if (answer.size() >= header_end + 4 + length) {
        *answered_in_time = true;
        break;
      }
    }
  }
  return answer;
}

void expect_error(const httplib::Result& res, int status, const std::string& code) {
  ASSERT_TRUE(res) << "no answer";
  EXPECT_EQ(res->status, status) << res->body;
  EXPECT_EQ(res->get_header_value("Content-Type"), "application/json");
  json body = json::parse(res->body, nullptr, false);
  ASSERT_TRUE(body.is_object()) << res->body;
  EXPECT_EQ(body["code"], code) << res->body;
  EXPECT_TRUE(body["error"].is_string());
  EXPECT_FALSE(body["error"].get<std::string>().empty());
}

void expect_still_serving(LiveService& service) {
  auto before = service.resolver().stats().namespaces;
  auto res = service.client().Post("/dump");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200) << res->body;
  json paths = json::parse(res->body);
  EXPECT_TRUE(std::filesystem::exists(paths["dump_filename"].get<std::string>()));
  EXPECT_EQ(service.resolver().stats().namespaces, before);
}

RawClient::RawClient(const std::string& socket_path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", socket_path.c_str());
  // A patient client: connect() waits (up to 1 s) while the listen backlog is full.
  timeval wait{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &wait, sizeof wait);
  if (fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    fd = -1;
  }
  if (fd >= 0) ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  fd_ = fd;
}

RawClient::~RawClient() {
  if (fd_ >= 0) ::close(fd_);
}

bool RawClient::send(const std::string& bytes, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::send(fd_, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
    if (n > 0) {
      done += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && (errno == EPIPE || errno == ECONNRESET)) return false;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    pollfd p{fd_, POLLOUT, 0};
    ::poll(&p, 1, 10);
  }
  return true;
}

std::string RawClient::read_until_closed(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string out = std::exchange(pending_, {});
  while (!closed_ && std::chrono::steady_clock::now() < deadline) receive(out, deadline);
  return out;
}

bool RawClient::receive(std::string& into, std::chrono::steady_clock::time_point deadline) {
  if (closed_) return false;
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
  pollfd p{fd_, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(std::max<long>(0, left.count()))) <= 0) return false;
  char buf[65536];
  const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
  if (n > 0) {
    into.append(buf, static_cast<std::size_t>(n));
    return true;
  }
  if (n == 0 || (errno != EAGAIN && errno != EINTR)) closed_ = true;
  return false;
}

std::string RawClient::read_answer(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string out = std::exchange(pending_, {});
  for (;;) {
    const auto header_end = out.find("\r\n\r\n");
    if (header_end != std::string::npos) {
      std::size_t length = 0;
      if (auto cl = out.find("Content-Length: "); cl != std::string::npos && cl < header_end) {
        length = std::stoul(out.substr(cl + 16));
      }
      if (out.size() >= header_end + 4 + length) {
        pending_ = out.substr(header_end + 4 + length);
        return out.substr(0, header_end + 4 + length);
      }
    }
    if (closed_ || std::chrono::steady_clock::now() >= deadline) return out;
    receive(out, deadline);
  }
}

int status_of(const std::string& answer) {
  if (answer.rfind("HTTP/1.1 ", 0) != 0 || answer.size() < 12) return 0;
  return std::atoi(answer.substr(9, 3).c_str());
}

}  // namespace netnsd::testing
