#include "api/event_params.h"

#include <charconv>
#include <string>
#include <string_view>
#include <vector>

#include "util/text.h"

namespace netnsd {

Result<EventParams, ApiError> parse_event_params(const ParamList& query) {
  EventParams params;
  bool since_given = false;
  for (const auto& [key, value] : query) {
    if (key == "netns") {
      for (const std::string& item : split_commas(value)) {
        auto id = parse_inode(item);
        if (!id) return bad_netns("got '" + escape_for_log(item) + "'");
        params.filter.netns.insert(*id);
      }
    } else if (key == "type") {
      for (const std::string& item : split_commas(value)) {
        auto kinds = change_kinds(item);
        if (!kinds) {
          return ApiError::bad_request("invalid_event_type",
                                       "unknown event type '" + escape_for_log(item) +
                                           "' (a type such as device_added, or a family: netns, device, address)");
        }
        params.filter.kinds.insert(kinds->begin(), kinds->end());
      }
    } else if (key == "since") {
      std::uint64_t seq = 0;
      auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), seq);
      if (since_given || ec != std::errc() || end != value.data() + value.size()) {
        return ApiError::bad_request(
            "invalid_since",
            since_given ? "since given twice" : "since must be a sequence number, got '" + escape_for_log(value) + "'");
      }
      since_given = true;
      params.since = seq;
    } else {
      return ApiError::bad_request("unknown_parameter",
                                   "unknown parameter '" + escape_for_log(key) + "' (known: netns, type, since)");
    }
  }
  return params;
}

}  // namespace netnsd
