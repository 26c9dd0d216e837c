#include "api/event_params.h"

#include <charconv>
#include <string>
#include <string_view>
#include <vector>

#include "util/text.h"

namespace netnsd {

namespace {

// "a,b" -> {"a", "b"}, trimmed; empty items are kept (and refused by the caller).
std::vector<std::string> comma_list(const std::string& value) {
  std::vector<std::string> items;
  std::size_t pos = 0;
  while (pos <= value.size()) {
    std::size_t end = value.find(',', pos);
    if (end == std::string::npos) end = value.size();
    items.push_back(trim(std::string_view(value).substr(pos, end - pos)));
    pos = end + 1;
  }
  return items;
}

}  // namespace

Result<EventParams, ApiError> parse_event_params(const ParamList& query) {
  EventParams params;
  bool since_given = false;
  for (const auto& [key, value] : query) {
    if (key == "netns") {
      for (const std::string& item : comma_list(value)) {
        auto id = parse_inode(item);
        if (!id) {
          return ApiError::bad_request("invalid_netns",
                                       "netns must list namespace inodes (integers from 1 to "
                                       "4294967295): got '" +
                                           escape_for_log(item) + "'");
        }
        params.filter.netns.insert(*id);
      }
    } else if (key == "type") {
      for (const std::string& item : comma_list(value)) {
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
