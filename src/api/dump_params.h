// Parameters of POST /dump, from a JSON body, a form body or the query string.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "api/api_error.h"
#include "dump/dumper.h"
#include "util/result.h"

namespace netnsd {

struct DumpParams {
  DumpRequest request;
  bool stream = false;  // output=stream
  DumpFormat format = DumpFormat::json;
  DumpSchema schema = DumpSchema::netnsd;
  std::optional<std::string> at;  // as given; parsed and resolved against the journal by the handler
};

// A streamed dump's format: its name in `format=` and its Content-Type.
struct DumpFormatInfo {
  DumpFormat format;
  const char* name;
  const char* content_type;
};
const DumpFormatInfo& format_info(DumpFormat format);

// Decoded key/value pairs, in order (a query string or a form body).
using ParamList = std::vector<std::pair<std::string, std::string>>;

// Validates and merges the parameters:
// - the body is JSON (an object) unless it is a form (Content-Type
//   application/x-www-form-urlencoded and not starting with '{' or '[',
//   as `curl -d` sends JSON too); an empty
//   body means no body parameters;
// - JSON values are typed (snapshot_interfaces bool, output/format/schema
//   strings, netns an array of inodes or a single one; null = not given);
//   query and form values are text ("true"/"false"/"1"/"0"; netns repeated or
//   comma-separated);
// - a parameter given twice (body and query, or twice in a query) is refused,
//   except netns, whose repeated query values add up;
// - format needs output=stream; at (the past) cannot go with
//   snapshot_interfaces (now).
// Every failure is a 400 with a specific code.
Result<DumpParams, ApiError> parse_dump_params(std::string_view body, std::string_view content_type,
                                               const ParamList& query);

// A namespace inode in decimal: 1 to 4294967295 (nsfs inodes are 32-bit).
std::optional<NetnsId> parse_inode(std::string_view text);

// The 400 for a netns value that is not a list of inodes; `why` says what was
// given (already escaped).
ApiError bad_netns(const std::string& why);

// Splits and percent-decodes "a=1&b=x%20y" ('+' is a space).
ParamList parse_form(std::string_view text);

}  // namespace netnsd
