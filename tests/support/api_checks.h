// Checks shared by the API tests of both tiers: raw exchanges over the Unix
// socket, the JSON error contract, and "the service still serves".
#pragma once

#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>

#include "service.h"

namespace netnsd::testing {

// Sends raw bytes and returns whatever the server answers within `timeout`;
// *answered_in_time says whether a complete answer arrived.
std::string raw_exchange(const std::string& socket_path, const std::string& request, std::chrono::milliseconds timeout,
                         bool* answered_in_time);

// A client that speaks raw bytes on the Unix socket, the way a hostile one
// would: whatever pace, whatever bytes, and it notices when it is cut off.
class RawClient {
 public:
  explicit RawClient(const std::string& socket_path);
  bool connected() const { return fd_ >= 0; }
  // Sends as much of `bytes` as the socket takes within `timeout`; false once
  // the server has closed the connection (or stopped reading for that long).
  // What the server answered before closing can still be read.
  bool send(const std::string& bytes, std::chrono::milliseconds timeout = std::chrono::seconds(2));
  // Reads until the server closes or `timeout` passes; returns what came.
  std::string read_until_closed(std::chrono::milliseconds timeout);
  // Reads until one whole answer (headers and its Content-Length body) came.
  std::string read_answer(std::chrono::milliseconds timeout);
  // Appends to `into` what arrives by `deadline` (what is there, or the first
  // bytes to come); false when nothing came or the server has closed.
  bool receive(std::string& into, std::chrono::steady_clock::time_point deadline);
  bool closed_by_server() const { return closed_; }
  int fd() const { return fd_; }
  ~RawClient();
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;

 private:
  int fd_ = -1;
  bool closed_ = false;  // the server's side is gone: nothing more to read
  std::string pending_;  // read past the last answer
};

// The status of a raw HTTP answer ("HTTP/1.1 431 ..." -> 431), or 0.
int status_of(const std::string& answer);

// A JSON error with this status and code, and a sentence.
void expect_error(const httplib::Result& res, int status, const std::string& code);

// The service must still dump successfully, with the same namespaces.
void expect_still_serving(LiveService& service);

}  // namespace netnsd::testing
