// A subscriber of GET /v1/events speaking raw HTTP, so that a test decides
// when it reads (or stops reading): the chunked NDJSON body decoded as it
// comes, one parsed event per line, each with the moment it arrived.
#pragma once

#include <chrono>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "api_checks.h"

namespace netnsd::testing {

class EventStream {
 public:
  using Clock = std::chrono::steady_clock;
  struct Event {
    nlohmann::json body;
    Clock::time_point arrived;
  };

  // Connects and asks for the stream (`query`: "?type=device" and the like;
  // `path`: the path as sent, which may be percent-encoded).
  explicit EventStream(const std::string& socket, const std::string& query = "",
                       const std::string& path = "/v1/events");

  // The status of the answer (its head read), or 0.
  int status(std::chrono::milliseconds timeout = std::chrono::seconds(3));
  const std::string& head() const { return head_; }

  // The next event that `match` takes (others are skipped), or null.
  std::optional<Event> wait_for(const std::function<bool(const nlohmann::json&)>& match,
                                std::chrono::milliseconds timeout);
  // Everything that arrives within `quiet` of the last thing.
  std::vector<nlohmann::json> drain(std::chrono::milliseconds quiet);
  // The server ended the stream (its last chunk, or the connection closed).
  bool ended() const { return ended_; }
  int fd() const { return client_.fd(); }

 private:
  // Reads what is there (waiting until `deadline`); false when nothing came.
  bool read_some(Clock::time_point deadline);

  RawClient client_;
  std::string raw_, head_, body_;
  std::vector<Event> events_;
  bool ended_ = false;
};

}  // namespace netnsd::testing
