#include "api/history_params.h"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>

#include "resolver/model.h"
#include "resolver/sockets.h"
#include "util/text.h"

namespace netnsd {
namespace {

using namespace std::chrono_literals;

// Longer than any instant or subject anybody writes: past it, not parsed.
constexpr std::size_t kMaxValue = 256;

ApiError bad(std::string_view name, const std::string& sentence) {
  return ApiError::bad_request("invalid_" + std::string(name), sentence);
}

// "-15m", "-1h30m", "-90s", "-2d", "-500ms".
std::optional<std::chrono::milliseconds> parse_ago(std::string_view t) {
  if (t.size() < 3 || t[0] != '-') return std::nullopt;
  std::chrono::milliseconds total{0};
  std::size_t i = 1;
  while (i < t.size()) {
    std::uint64_t n = 0;
    auto [end, ec] = std::from_chars(t.data() + i, t.data() + t.size(), n);
    if (ec != std::errc() || n > 1000000000ull) return std::nullopt;
    i = static_cast<std::size_t>(end - t.data());
    std::string_view rest = t.substr(i);
    std::int64_t unit = 0;
    std::size_t len = 1;
    if (rest.rfind("ms", 0) == 0) {
      unit = 1;
      len = 2;
    } else if (!rest.empty() && rest[0] == 's') {
      unit = 1000;
    } else if (!rest.empty() && rest[0] == 'm') {
      unit = 60'000;
    } else if (!rest.empty() && rest[0] == 'h') {
      unit = 3'600'000;
    } else if (!rest.empty() && rest[0] == 'd') {
      unit = 86'400'000;
    } else {
      return std::nullopt;
    }
    // Saturated at ~31,700 years: more is "before anything", not an overflow.
    total = std::min(total + std::chrono::milliseconds(static_cast<std::int64_t>(n) * unit),
                     std::chrono::milliseconds(1'000'000'000'000'000));
    i += len;
  }
  return total;
}

bool valid_mac(std::string_view m) {
  if (m.size() != 17) return false;
  for (std::size_t i = 0; i < m.size(); ++i) {
    const char c = m[i];
    if (i % 3 == 2 ? c != ':' : !std::isxdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

// The address as the journal writes it (inet_ntop's form).
std::optional<std::string> canonical_address(const std::string& text) {
  unsigned char bytes[16];
  char out[INET6_ADDRSTRLEN];
  for (int family : {AF_INET, AF_INET6}) {
    if (::inet_pton(family, text.c_str(), bytes) == 1 && ::inet_ntop(family, bytes, out, sizeof out)) return out;
  }
  return std::nullopt;
}

Result<history::Subject, ApiError> parse_subject(const std::string& key, const std::string& value) {
  using history::SubjectKind;
  if (value.size() > kMaxValue) return bad(key, key + " is too long");
  if (key == "netns") {
    auto inode = parse_inode(value);
    if (!inode)
      return bad(key, "netns must be a namespace inode (1 to 4294967295), got '" + escape_for_log(value) + "'");
    return history::Subject{SubjectKind::netns, std::to_string(*inode)};
  }
  if (key == "device") {
    if (!valid_interface_name(value)) {
      return bad(key,
                 "'" + escape_for_log(value) +
                     "' is not an interface name the kernel would accept (1 to 15 bytes, no '/', ':' or whitespace)");
    }
    return history::Subject{SubjectKind::device, value};
  }
  if (key == "address") {
    auto canonical = canonical_address(value);
    if (!canonical) return bad(key, "'" + escape_for_log(value) + "' is not an IPv4 or IPv6 address");
    return history::Subject{SubjectKind::address, *canonical};
  }
  if (key == "mac") {
    if (!valid_mac(value)) return bad(key, "'" + escape_for_log(value) + "' is not a MAC address (aa:bb:cc:dd:ee:ff)");
    std::string lower = value;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return history::Subject{SubjectKind::mac, lower};
  }
  if (key == "container") {
    if (value.empty()) return bad(key, "container must be a container id or name");
    return history::Subject{SubjectKind::container, value};
  }
  return ApiError::bad_request("unknown_parameter", "unknown parameter '" + escape_for_log(key) + "'");
}

}  // namespace

Result<InstantParam, ApiError> parse_instant(std::string_view name, std::string_view text, WallTime now) {
  if (text.empty()) return bad(name, std::string(name) + " is empty");
  if (text.size() > kMaxValue) return bad(name, std::string(name) + " is too long");
  const std::string shown = escape_for_log(text, 64);
  InstantParam out;
  if (std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    std::uint64_t seq = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), seq);
    if (ec != std::errc() || end != text.data() + text.size())
      return bad(name, "'" + shown + "' is too large a sequence number");
    out.seq = seq;
    return out;
  }
  if (auto ago = parse_ago(text)) {
    // Before 1970 is before anything the journal holds (found by fuzzing:
    // "-2d7700061d" overflowed nanoseconds).
    const auto since_epoch = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch());
    out.time = *ago >= since_epoch ? WallTime{} : now - *ago;
    return out;
  }
  auto t = parse_rfc3339(text);
  if (!t) {
    return bad(name, std::string(name) +
                         " must be an RFC 3339 time (2026-12-06T02:14:00Z), a time ago (-15m) or a "
                         "sequence number, got '" +
                         shown + "'");
  }
  if (*t > now + 1s) {
    return ApiError::bad_request("at_in_future", std::string(name) + " '" + shown + "' is in the future (now is " +
                                                     format_rfc3339_ms(now) + ")");
  }
  out.time = *t;
  return out;
}

namespace {

// from= or to= of an interval, given at most once, into its slot.
Result<bool, ApiError> take_bound(const std::string& key, const std::string& value, std::optional<InstantParam>& slot,
                                  WallTime now) {
  if (slot) return bad(key, key + " given twice");
  auto instant = parse_instant(key, value, now);
  if (!instant) return instant.error();
  slot = *instant;
  return true;
}

// Both bounds are times and from is after to (sequence numbers are times
// only once the journal is asked).
bool reversed(const std::optional<InstantParam>& from, const std::optional<InstantParam>& to) {
  return from && to && from->time && to->time && *from->time > *to->time;
}

}  // namespace

Result<HistoryParams, ApiError> parse_history_params(const ParamList& query, WallTime now) {
  HistoryParams p;
  bool after_given = false;
  for (const auto& [key, value] : query) {
    if (key == "from" || key == "to") {
      if (auto taken = take_bound(key, value, key == "from" ? p.from : p.to, now); !taken) return taken.error();
    } else if (key == "after") {
      auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), p.after);
      if (after_given || value.empty() || ec != std::errc() || end != value.data() + value.size()) {
        return bad(key, "after must be a sequence number, given once");
      }
      after_given = true;
    } else {
      auto subject = parse_subject(key, value);
      if (!subject) return subject.error();
      if (p.subject) {
        return ApiError::bad_request("too_many_subjects",
                                     "ask about one subject at a time (netns, device, address, "
                                     "mac or container)");
      }
      p.subject = *subject;
    }
  }
  if (reversed(p.from, p.to)) return ApiError::bad_request("reversed_interval", "from is after to");
  return p;
}

Result<WhoisParams, ApiError> parse_whois_params(const ParamList& query, WallTime now) {
  std::optional<history::Subject> subject;
  std::optional<InstantParam> at;
  for (const auto& [key, value] : query) {
    if (key == "at") {
      if (at) return bad(key, "at given twice");
      auto instant = parse_instant(key, value, now);
      if (!instant) return instant.error();
      at = *instant;
      continue;
    }
    if (key != "address" && key != "device" && key != "mac") {
      return ApiError::bad_request("unknown_parameter", "unknown parameter '" + escape_for_log(key) +
                                                            "' (known: address, device, mac, port, proto, at)");
    }
    auto s = parse_subject(key, value);
    if (!s) return s.error();
    if (subject) return ApiError::bad_request("too_many_subjects", "ask by one of address, device or mac");
    subject = *s;
  }
  if (!subject) return ApiError::bad_request("missing_subject", "ask by address, device, mac or port");
  return WhoisParams{*subject, at};
}

bool asks_by_port(const ParamList& query) {
  return std::any_of(query.begin(), query.end(), [](const auto& p) { return p.first == "port" || p.first == "proto"; });
}

Result<PortWhoisParams, ApiError> parse_port_whois_params(const ParamList& query) {
  std::optional<std::uint16_t> port;
  std::optional<std::uint8_t> protocol;
  bool proto_given = false;
  for (const auto& [key, value] : query) {
    if (key == "port") {
      if (port) return bad(key, "port given twice");
      const bool digits = !value.empty() && value.size() <= 5 &&
                          std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; });
      const unsigned long n = digits ? std::stoul(value) : 0;
      if (n < 1 || n > 65535) {
        return ApiError::bad_request("invalid_port",
                                     "'" + escape_for_log(value) + "' is not a port (a number from 1 to 65535)");
      }
      port = static_cast<std::uint16_t>(n);
    } else if (key == "proto") {
      if (proto_given) return ApiError::bad_request("invalid_protocol", "proto given twice");
      proto_given = true;
      protocol = parse_protocol(value);
      if (!protocol) {
        return ApiError::bad_request("invalid_protocol",
                                     "'" + escape_for_log(value) + "' is not a protocol (tcp, udp or sctp)");
      }
    } else if (key == "at") {
      return ApiError::bad_request("port_has_no_past",
                                   "sockets are never recorded, so a port can only be asked about now (drop at)");
    } else if (key == "address" || key == "device" || key == "mac") {
      return ApiError::bad_request("too_many_subjects", "ask by one of address, device, mac or port");
    } else {
      return ApiError::bad_request("unknown_parameter",
                                   "unknown parameter '" + escape_for_log(key) + "' (known with port: port, proto)");
    }
  }
  if (!port) return ApiError::bad_request("missing_subject", "proto needs a port to ask about");
  return PortWhoisParams{*port, protocol};
}

Result<DiffParams, ApiError> parse_diff_params(const ParamList& query, WallTime now) {
  DiffParams p;
  for (const auto& [key, value] : query) {
    if (key != "from" && key != "to") {
      return ApiError::bad_request("unknown_parameter",
                                   "unknown parameter '" + escape_for_log(key) + "' (known: from, to)");
    }
    if (auto taken = take_bound(key, value, key == "from" ? p.from : p.to, now); !taken) return taken.error();
  }
  if (!p.from) return bad("from", "from is required: the instant to compare with (to, or now)");
  if (reversed(p.from, p.to)) return ApiError::bad_request("reversed_interval", "from is after to");
  return p;
}

}  // namespace netnsd
