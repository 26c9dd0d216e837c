// Parameters of GET /v1/events, from the query string.
#pragma once

#include <cstdint>
#include <optional>

#include "api/api_error.h"
#include "api/dump_params.h"
#include "resolver/changes.h"
#include "util/result.h"

namespace netnsd {

struct EventParams {
  ChangeFilter filter;
  std::optional<std::uint64_t> since;  // replay from the history after this sequence number
};

// netns: namespace inodes, repeated or comma-separated; type: change types
// ("device_added") or families ("device"), repeated or comma-separated;
// since: a sequence number. Anything else, or a bad value, is a 400 with a
// specific code.
Result<EventParams, ApiError> parse_event_params(const ParamList& query);

}  // namespace netnsd
