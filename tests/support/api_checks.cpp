#include "api_checks.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <filesystem>

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

}  // namespace netnsd::testing
