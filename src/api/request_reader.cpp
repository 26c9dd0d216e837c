#include "api/request_reader.h"

#include <algorithm>
#include <charconv>

#include "util/text.h"

namespace netnsd {
namespace {

// ASCII only: header names and schemes are ASCII, and a byte past 0x7f is
// never a letter here (std::tolower on such a char is undefined).
char ascii_lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return ascii_lower(x) == ascii_lower(y); });
}

// RFC 9110 5.6.2: the characters of a token (a method, a header's name).
bool token_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

// "Name: value" -> name, value (trimmed); nullopt when the line is not a
// field line: no colon, an empty name, or a name that is not a token
// (whitespace before the colon is one: RFC 9112 5.1, where a server must
// answer 400, since a proxy may read such a header differently).
std::optional<std::pair<std::string_view, std::string>> split_header(std::string_view line) {
  const std::size_t colon = line.find(':');
  if (colon == std::string_view::npos || colon == 0) return std::nullopt;
  const std::string_view name = line.substr(0, colon);
  if (!std::all_of(name.begin(), name.end(), token_char)) return std::nullopt;
  return std::make_pair(name, trim(line.substr(colon + 1)));
}

// "http://host:80/path?q" -> "/path?q" (RFC 9112 3.2.2: a server must
// accept the absolute form, which clients send to proxies); nullopt when
// `target` is not in absolute form.
std::optional<std::string> origin_form(std::string_view target) {
  for (std::string_view scheme : {"http://", "https://"}) {
    if (target.size() < scheme.size() || !iequals(target.substr(0, scheme.size()), scheme)) continue;
    const std::string_view rest = target.substr(scheme.size());
    const std::size_t path = rest.find_first_of("/?");
    if (path == std::string_view::npos) return std::string("/");
    if (rest[path] == '?') return "/" + std::string(rest.substr(path));
    return std::string(rest.substr(path));
  }
  return std::nullopt;
}

}  // namespace

RequestReader::State RequestReader::refuse(ApiError error) {
  refusal_ = std::move(error);
  state_ = State::refused;
  buffer_.clear();
  buffer_.shrink_to_fit();
  return state_;
}

RequestReader::State RequestReader::feed(std::string_view bytes) {
  if (state_ == State::refused) return state_;
  buffer_.append(bytes);
  return scan();
}

RequestReader::State RequestReader::scan() {
  if (state_ == State::refused) return state_;
  while (!head_) {
    const std::size_t eol = buffer_.find('\n', scanned_);
    const std::size_t line_end = eol == std::string::npos ? buffer_.size() : eol + 1;
    // Check before accepting more: a line or a head past its limit is
    // refused at its first byte too many.
    if (line_end - line_start_ > limits_.max_line) {
      return refuse(lines_ == 0
                        ? ApiError{414, "uri_too_long",
                                   "the request line is longer than " + std::to_string(limits_.max_line) + " bytes"}
                        : ApiError{431, "header_too_large",
                                   "a header line is longer than " + std::to_string(limits_.max_line) + " bytes"});
    }
    if (line_end > limits_.max_head) {
      return refuse(ApiError{431, "headers_too_large",
                             "the request head is larger than " + std::to_string(limits_.max_head) + " bytes"});
    }
    if (eol == std::string::npos) {
      scanned_ = buffer_.size();
      return state_ = State::incomplete;
    }
    std::string_view line(buffer_.data() + line_start_, eol - line_start_);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    scanned_ = line_start_ = eol + 1;
    if (line.empty()) {
      if (lines_ == 0) continue;  // blank lines before a request are tolerated (RFC 9112 2.2)
      head_size_ = eol + 1;
      if (!parse_head(std::string_view(buffer_.data(), head_size_))) return state_;
      break;
    }
    if (++lines_ > limits_.max_headers + 1) {
      return refuse(ApiError{431, "headers_too_large",
                             "the request has more than " + std::to_string(limits_.max_headers) + " headers"});
    }
  }
  if (buffer_.size() - head_size_ >= head_->content_length) return state_ = State::complete;
  return state_ = State::incomplete;
}

bool RequestReader::parse_head(std::string_view head) {
  RequestHead h;
  // Blank lines before the request line are tolerated (RFC 9112 2.2).
  const std::size_t start = std::min(head.find_first_not_of("\r\n"), head.size());
  std::size_t pos = head.find('\n', start);
  std::string_view request_line = head.substr(start, pos - start);
  if (!request_line.empty() && request_line.back() == '\r') request_line.remove_suffix(1);
  const std::size_t sp1 = request_line.find(' ');
  const std::size_t sp2 = sp1 == std::string_view::npos ? sp1 : request_line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos) {
    refuse(ApiError{400, "bad_request", "the request line is not 'METHOD TARGET HTTP/1.x'"});
    return false;
  }
  h.method = std::string(request_line.substr(0, sp1));
  h.target = std::string(request_line.substr(sp1 + 1, sp2 - sp1 - 1));
  const std::string_view version = request_line.substr(sp2 + 1);
  if (h.method.empty() || !std::all_of(h.method.begin(), h.method.end(), token_char)) {
    refuse(ApiError{400, "bad_request", "the request's method is not a token (RFC 9110 9.1)"});
    return false;
  }
  if (version != "HTTP/1.1" && version != "HTTP/1.0") {
    refuse(ApiError{400, "bad_request", "the request line is not 'METHOD TARGET HTTP/1.x'"});
    return false;
  }
  rewritten_line_.reset();
  if (auto origin = origin_form(h.target)) {
    // cpp-httplib routes on the origin form: the request line it reads is rewritten (take()).
    h.target = std::move(*origin);
    rewritten_line_ = h.method + " " + h.target + " " + std::string(version);
  }
  // Origin form (or absolute, made so above): netnsd serves no other
  // (RFC 9112 3.2: the authority form is CONNECT's, the asterisk OPTIONS').
  if (h.target.empty() || h.target.front() != '/' || h.target.find_first_of(" \t\r") != std::string::npos) {
    refuse(ApiError{400, "bad_request", "the request target is not a path ('/...')"});
    return false;
  }
  h.path = h.target.substr(0, h.target.find('?'));
  h.keep_alive = version == "HTTP/1.1";

  bool has_length = false;
  while (pos != std::string_view::npos && pos + 1 < head.size()) {
    const std::size_t next = head.find('\n', pos + 1);
    std::string_view line = head.substr(pos + 1, next == std::string_view::npos ? next : next - pos - 1);
    pos = next;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;  // the blank line that ends the head
    auto header = split_header(line);
    if (!header) {
      // Not a field line: whitespace before the colon, a folded line
      // (obsolete since RFC 7230), no colon at all. A proxy in front may
      // read it differently from netnsd, so it is refused, not skipped.
      refuse(ApiError{400, "bad_request",
                      "a header line is not 'name: value' (RFC 9112 5.1: no whitespace before the colon, no "
                      "folded lines)"});
      return false;
    }
    const auto& [name, value] = *header;
    if (iequals(name, "Content-Length")) {
      std::size_t n = 0;
      auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
      if (value.empty() || ec != std::errc() || end != value.data() + value.size() ||
          (has_length && n != h.content_length)) {
        refuse(ApiError{400, "bad_request", "the Content-Length header is not one whole number"});
        return false;
      }
      has_length = true;
      h.content_length = n;
    } else if (iequals(name, "Transfer-Encoding")) {
      refuse(ApiError{411, "length_required",
                      "send the request body with a Content-Length; chunked bodies are not accepted"});
      return false;
    } else if (iequals(name, "Content-Encoding") && !iequals(value, "identity")) {
      refuse(ApiError{415, "encoded_body_refused",
                      "request bodies must not be compressed (Content-Encoding: " + sanitize_utf8(value) + ")"});
      return false;
    } else if (iequals(name, "Connection")) {
      if (iequals(value, "close")) h.keep_alive = false;
      if (iequals(value, "keep-alive")) h.keep_alive = true;
    } else if (iequals(name, "Expect") && iequals(value, "100-continue")) {
      h.expect_continue = true;
    }
  }
  if (h.content_length > limits_.max_body) {
    refuse(ApiError{413, "payload_too_large",
                    "the request body is larger than " + std::to_string(limits_.max_body) + " bytes"});
    return false;
  }
  head_ = std::move(h);
  return true;
}

bool RequestReader::wants_continue() const {
  return head_ && head_->expect_continue && !continue_sent_ && head_->content_length > 0 && state_ == State::incomplete;
}

std::string RequestReader::take() {
  std::string request;
  if (state_ != State::complete) return request;
  const std::size_t total = head_size_ + head_->content_length;
  request = buffer_.substr(0, total);
  if (head_->expect_continue) {
    // Remove the Expect lines that asked for 100 Continue: cpp-httplib
    // would answer them a second time.
    std::size_t head_end = head_size_;
    for (std::size_t at = 0; (at = request.find('\n', at)) != std::string::npos && at + 1 < head_end;) {
      const std::size_t begin = at + 1;
      const std::size_t end = request.find('\n', begin);
      if (end == std::string::npos) break;
      auto header = split_header(std::string_view(request).substr(begin, end - begin));
      if (header && iequals(header->first, "Expect") && iequals(header->second, "100-continue")) {
        request.erase(begin, end + 1 - begin);
        head_end -= end + 1 - begin;
        continue;  // the next line starts where this one did
      }
      at = begin;
    }
  }
  if (rewritten_line_) {
    // The request line as cpp-httplib must read it (origin form); blank
    // lines before it go too.
    const std::size_t first = request.find_first_not_of("\r\n");
    const std::size_t eol = request.find('\n', first);
    const bool crlf = eol > 0 && request[eol - 1] == '\r';
    request.replace(0, eol + 1, *rewritten_line_ + (crlf ? "\r\n" : "\n"));
    rewritten_line_.reset();
  }
  buffer_.erase(0, total);
  head_.reset();
  continue_sent_ = false;
  scanned_ = line_start_ = lines_ = head_size_ = 0;
  state_ = State::incomplete;
  if (!buffer_.empty()) scan();  // a pipelined request may be whole already
  return request;
}

}  // namespace netnsd
