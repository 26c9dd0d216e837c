// RequestReader: one HTTP/1.1 request, read incrementally and within limits.
//
// netnsd reads requests itself, in front of cpp-httplib (connections.h):
// 0.11.4 reads a request or header line whole before it checks its length,
// has no bound on the number or total size of headers, and inflates
// compressed bodies without a limit. This reader sees every byte as it
// arrives and refuses at the first byte past a limit, so no more than the
// limits are ever held:
// - the request line and each header line: max_line bytes (414 / 431);
// - the head: max_head bytes and max_headers lines (431);
// - a body only with a Content-Length of at most max_body (413 before any of
//   it is read); Transfer-Encoding is refused (411), and so is any
//   Content-Encoding (415): netnsd never inflates a client's body.
// What it accepts is handed on whole (head and body) to cpp-httplib, which
// parses it again and routes it.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "api/api_error.h"
#include "util/defaults.h"

namespace netnsd {

struct RequestLimits {
  std::size_t max_line = defaults::kMaxRequestLine;  // the request line, and each header line, CRLF included
  std::size_t max_head = defaults::kMaxRequestHead;  // request line and headers, the blank line included
  std::size_t max_headers = defaults::kMaxRequestHeaders;
  std::size_t max_body = defaults::kMaxRequestBody;
};

// What netnsd needs to know of a request before handing it on.
struct RequestHead {
  std::string method;
  std::string target;  // path and query (an absolute-form target in origin form)
  std::string path;    // target up to '?'
  bool keep_alive = true;
  bool expect_continue = false;
  std::size_t content_length = 0;
};

// Not thread-safe: one connection, one thread at a time.
class RequestReader {
 public:
  enum class State {
    incomplete,  // more bytes are needed
    complete,    // a whole request is held: take() it
    refused,     // it broke a limit or a rule: answer refusal() and close
  };

  explicit RequestReader(RequestLimits limits = {}) : limits_(limits) {}

  // Adds bytes as they arrive (bytes past a complete request are kept for
  // the next one). Returns the state after them.
  State feed(std::string_view bytes);
  State state() const { return state_; }
  // True once any byte of the current request has arrived.
  bool started() const { return !buffer_.empty(); }
  // The bytes of the current request so far (its start tells a probe apart).
  std::string_view pending() const { return buffer_; }
  // The head, once it is complete (also when the body is still coming).
  const std::optional<RequestHead>& head() const { return head_; }
  // Why it was refused: a 4xx with its code and sentence.
  const ApiError& refusal() const { return refusal_; }
  // The head asked for "100 Continue" before sending its body, and has not
  // been answered yet; mark it answered with continue_sent().
  bool wants_continue() const;
  void continue_sent() { continue_sent_ = true; }

  // The complete request, head and body, as cpp-httplib will read it (an
  // Expect header removed: the interim answer was ours). The reader then
  // starts on the bytes that followed it.
  std::string take();

 private:
  State scan();
  State refuse(ApiError error);
  bool parse_head(std::string_view head);

  RequestLimits limits_;
  State state_ = State::incomplete;
  std::string buffer_;          // the current request's bytes (and any that followed)
  std::size_t scanned_ = 0;     // bytes of the head already checked
  std::size_t line_start_ = 0;  // where the line being read began
  std::size_t lines_ = 0;
  std::size_t head_size_ = 0;  // once the head is complete
  std::optional<RequestHead> head_;
  std::optional<std::string> rewritten_line_;  // an absolute-form request line, in origin form
  bool continue_sent_ = false;
  ApiError refusal_;
};

}  // namespace netnsd
