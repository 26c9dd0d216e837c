// Parameters of the history's questions: instants (at=, from=, to=) and
// subjects (netns=, device=, address=, mac=, container=), from the query.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "api/api_error.h"
#include "api/dump_params.h"
#include "history/history_reader.h"
#include "util/clock.h"
#include "util/result.h"

namespace netnsd {

// An instant as asked: a time, or a journal sequence number (the time that
// change was applied, looked up in the journal).
struct InstantParam {
  std::optional<WallTime> time;
  std::optional<std::uint64_t> seq;
};

// RFC 3339 ("2026-12-06T02:14:00Z"), a time before `now` ("-15m", "-1h30m",
// "-90s", "-2d"), or a sequence number ("123456"). `name` is the
// parameter's, for the error (400, code invalid_<name>). A time after now
// is 400 at_in_future.
Result<InstantParam, ApiError> parse_instant(std::string_view name, std::string_view text, WallTime now);

// GET /v1/history: one subject, from (default: the oldest retained), to
// (default: now), after (a sequence number, for the next page).
struct HistoryParams {
  std::optional<history::Subject> subject;
  std::optional<InstantParam> from, to;
  std::uint64_t after = 0;
};
Result<HistoryParams, ApiError> parse_history_params(const ParamList& query, WallTime now);

// GET /v1/whois: exactly one of address, device, mac; at (default: now).
struct WhoisParams {
  history::Subject subject;
  std::optional<InstantParam> at;
};
Result<WhoisParams, ApiError> parse_whois_params(const ParamList& query, WallTime now);

// GET /v1/whois?port=: a port (1 to 65535) and, optionally, proto (tcp,
// udp, sctp). No at: sockets are never cached, so a port has no past.
struct PortWhoisParams {
  std::uint16_t port = 0;
  std::optional<std::uint8_t> protocol;
};
// Whether a whois asks by port (it names port or proto).
bool asks_by_port(const ParamList& query);
Result<PortWhoisParams, ApiError> parse_port_whois_params(const ParamList& query);

// GET /v1/diff: from (required) and to (default: now, the live cache).
struct DiffParams {
  std::optional<InstantParam> from, to;
};
Result<DiffParams, ApiError> parse_diff_params(const ParamList& query, WallTime now);

}  // namespace netnsd
