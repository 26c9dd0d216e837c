#include "api/dump_params.h"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>

#include "util/text.h"

namespace netnsd {
namespace {

constexpr DumpFormatInfo kFormats[] = {
    {DumpFormat::json, "json", "application/json"},
    {DumpFormat::dot, "dot", "text/vnd.graphviz"},
    {DumpFormat::svg, "svg", "image/svg+xml"},
    {DumpFormat::png, "png", "image/png"},
};

using Json = nlohmann::json;

constexpr std::string_view kKnown[] = {"snapshot_interfaces", "output", "format", "schema", "netns", "at", "include"};

bool known(std::string_view key) {
  return std::find(std::begin(kKnown), std::end(kKnown), key) != std::end(kKnown);
}

std::string known_list() {
  std::string out;
  for (std::string_view k : kKnown) {
    if (!out.empty()) out += ", ";
    out += k;
  }
  return out;
}

ApiError unknown_parameter(const std::string& key) {
  return ApiError::bad_request("unknown_parameter", "unknown parameter '" + key + "' (known: " + known_list() + ")");
}

ApiError wrong_type(const std::string& key, const char* expected, const Json& got) {
  return ApiError::bad_request("invalid_type",
                               "parameter '" + key + "' must be " + expected + ", got " + got.type_name());
}

ApiError bad_value(const std::string& key, const std::string& value, const char* allowed) {
  return ApiError::bad_request("invalid_value", "parameter '" + key + "' must be " + allowed + ", got '" + value + "'");
}

// The parameters in a common textual form before typing: JSON values from a
// body, or strings from a query/form.
struct Raw {
  std::map<std::string, Json> typed;                     // from a JSON body
  std::map<std::string, std::vector<std::string>> text;  // from a query or a form
};

Result<bool, ApiError> add_text_params(Raw& raw, const ParamList& params) {
  for (const auto& [key, value] : params) {
    if (!known(key)) return unknown_parameter(key);
    if (raw.typed.count(key)) {
      return ApiError::bad_request("duplicate_parameter",
                                   "parameter '" + key + "' is given both in the body and in the query");
    }
    auto& values = raw.text[key];
    if (!values.empty() && key != "netns" && key != "include") {
      return ApiError::bad_request("duplicate_parameter", "parameter '" + key + "' is given more than once");
    }
    values.push_back(value);
  }
  return true;
}

// One string-valued choice (output, format, schema).
Result<std::optional<std::string>, ApiError> string_param(const Raw& raw, const std::string& key) {
  if (auto it = raw.typed.find(key); it != raw.typed.end()) {
    if (!it->second.is_string()) return wrong_type(key, "a string", it->second);
    return std::optional<std::string>(it->second.get<std::string>());
  }
  if (auto it = raw.text.find(key); it != raw.text.end()) return std::optional<std::string>(it->second.front());
  return std::optional<std::string>();
}

}  // namespace

const DumpFormatInfo& format_info(DumpFormat format) {
  for (const DumpFormatInfo& info : kFormats) {
    if (info.format == format) return info;
  }
  return kFormats[0];
}

ApiError bad_netns(const std::string& why) {
  return ApiError::bad_request("invalid_netns",
                               "netns must list namespace inodes (integers from 1 to 4294967295): " + why);
}

std::optional<NetnsId> parse_inode(std::string_view text) {
  if (text.empty() || text.size() > 10) return std::nullopt;
  std::uint64_t value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size()) return std::nullopt;
  if (value == 0 || value > std::numeric_limits<std::uint32_t>::max()) return std::nullopt;
  return value;
}

ParamList parse_form(std::string_view text) {
  auto decode = [](std::string_view s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
      auto hex = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
      };
      if (s[i] == '+') {
        out.push_back(' ');
      } else if (s[i] == '%' && i + 2 < s.size() && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
        out.push_back(static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2])));
        i += 2;
      } else {
        out.push_back(s[i]);
      }
    }
    return out;
  };
  ParamList out;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    std::size_t end = text.find('&', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view pair = text.substr(pos, end - pos);
    if (!pair.empty()) {
      std::size_t eq = pair.find('=');
      if (eq == std::string_view::npos) {
        out.emplace_back(decode(pair), "");
      } else {
        out.emplace_back(decode(pair.substr(0, eq)), decode(pair.substr(eq + 1)));
      }
    }
    pos = end + 1;
  }
  return out;
}

Result<DumpParams, ApiError> parse_dump_params(std::string_view body, std::string_view content_type,
                                               const ParamList& query) {
  Raw raw;
  const std::string trimmed = trim(body);
  const bool form = content_type.substr(0, 33) == "application/x-www-form-urlencoded" && !trimmed.empty() &&
                    trimmed.front() != '{' && trimmed.front() != '[';
  if (form) {
    auto added = add_text_params(raw, parse_form(trimmed));
    if (!added) return added.error();
  } else if (!trimmed.empty()) {
    // A key given twice is refused, not resolved: nlohmann keeps the last,
    // and a proxy that checks the first would be fooled.
    std::vector<std::set<std::string>> open_objects;  // the keys of each object being read
    std::optional<std::string> duplicate;
    auto track_keys = [&](int, Json::parse_event_t event, Json& parsed) {
      if (event == Json::parse_event_t::object_start) {
        open_objects.emplace_back();
      } else if (event == Json::parse_event_t::object_end && !open_objects.empty()) {
        open_objects.pop_back();
      } else if (event == Json::parse_event_t::key && !open_objects.empty() && !duplicate &&
                 !open_objects.back().insert(parsed.get<std::string>()).second) {
        duplicate = parsed.get<std::string>();
      }
      return true;
    };
    Json doc = Json::parse(trimmed, track_keys, /*allow_exceptions=*/false);
    if (!doc.is_discarded() && duplicate) {
      return ApiError::bad_request("duplicate_parameter",
                                   "the JSON body has the key '" + sanitize_utf8(*duplicate) + "' more than once");
    }
    if (doc.is_discarded()) {
      // Parse again with exceptions for the position of the error.
      std::string detail;
      try {
        Json ignored = Json::parse(trimmed);
        (void)ignored;
      } catch (const Json::exception& e) {  // parse_error, and out_of_range for numbers too large
        detail = e.what();
        if (auto colon = detail.find("parse error"); colon != std::string::npos) detail = detail.substr(colon);
      }
      return ApiError::bad_request("malformed_json", "the request body is not valid JSON: " + detail);
    }
    if (!doc.is_object()) {
      return ApiError::bad_request("invalid_body",
                                   std::string("the request body must be a JSON object, got ") + doc.type_name());
    }
    for (auto& [key, value] : doc.items()) {
      if (!known(key)) return unknown_parameter(key);
      if (!value.is_null()) raw.typed[key] = value;
    }
  }
  if (auto added = add_text_params(raw, query); !added) return added.error();

  DumpParams params;

  // snapshot_interfaces
  if (auto it = raw.typed.find("snapshot_interfaces"); it != raw.typed.end()) {
    if (!it->second.is_boolean()) return wrong_type("snapshot_interfaces", "a boolean", it->second);
    params.request.snapshot_interfaces = it->second.get<bool>();
  } else if (auto t = raw.text.find("snapshot_interfaces"); t != raw.text.end()) {
    const std::string& v = t->second.front();
    if (v == "true" || v == "1" || v.empty()) {
      params.request.snapshot_interfaces = true;
    } else if (v == "false" || v == "0") {
      params.request.snapshot_interfaces = false;
    } else {
      return bad_value("snapshot_interfaces", v, "true or false");
    }
  }

  auto output = string_param(raw, "output");
  if (!output) return output.error();
  if (*output) {
    if (**output == "stream") {
      params.stream = true;
    } else if (**output != "files") {
      return bad_value("output", **output, "'files' or 'stream'");
    }
  }

  auto format = string_param(raw, "format");
  if (!format) return format.error();
  if (*format) {
    if (!params.stream) {
      return ApiError::bad_request("format_requires_stream",
                                   "format only applies to output=stream; files are always JSON plus DOT");
    }
    auto known = std::find_if(std::begin(kFormats), std::end(kFormats),
                              [&](const DumpFormatInfo& f) { return **format == f.name; });
    if (known == std::end(kFormats)) return bad_value("format", **format, "'json', 'dot', 'svg' or 'png'");
    params.format = known->format;
  }

  auto schema = string_param(raw, "schema");
  if (!schema) return schema.error();
  if (*schema) {
    if (**schema == "datadog") {
      params.schema = DumpSchema::datadog;
    } else if (**schema != "netnsd") {
      return bad_value("schema", **schema, "'netnsd' or 'datadog'");
    }
  }

  // at: a string (a time, a time ago, a sequence number in digits) or, in
  // JSON, a sequence number; checked against the journal by the handler.
  if (auto it = raw.typed.find("at"); it != raw.typed.end() && it->second.is_number_unsigned()) {
    params.at = std::to_string(it->second.get<std::uint64_t>());
  } else {
    auto at = string_param(raw, "at");
    if (!at) return at.error();
    params.at = *at;
  }
  if (params.at && params.request.snapshot_interfaces) {
    return ApiError::bad_request("at_with_snapshot",
                                 "snapshot_interfaces lists the interfaces now; it cannot go with at (the past)");
  }

  // netns
  if (auto it = raw.typed.find("netns"); it != raw.typed.end()) {
    std::vector<NetnsId> ids;
    Json list = it->second.is_array() ? it->second : Json::array({it->second});
    for (const Json& v : list) {
      if (!v.is_number_integer()) return bad_netns(std::string("got a ") + v.type_name() + " " + v.dump());
      if (v.is_number_unsigned()) {
        auto u = v.get<std::uint64_t>();
        if (u == 0 || u > std::numeric_limits<std::uint32_t>::max()) return bad_netns("got " + v.dump());
        ids.push_back(u);
      } else {
        auto s = v.get<std::int64_t>();
        if (s <= 0 || s > static_cast<std::int64_t>(std::numeric_limits<std::uint32_t>::max())) {
          return bad_netns("got " + v.dump());
        }
        ids.push_back(static_cast<NetnsId>(s));
      }
    }
    params.request.netns = std::move(ids);
  } else if (auto t = raw.text.find("netns"); t != raw.text.end()) {
    std::vector<NetnsId> ids;
    for (const std::string& value : t->second) {
      for (const std::string& item : split_commas(value)) {
        auto id = parse_inode(item);
        if (!id) return bad_netns("got '" + escape_for_log(item) + "'");
        ids.push_back(*id);
      }
    }
    params.request.netns = std::move(ids);
  }

  // include: names, as a JSON array or string, or repeated or
  // comma-separated text.
  std::vector<std::string> includes;
  if (auto it = raw.typed.find("include"); it != raw.typed.end()) {
    Json list = it->second.is_array() ? it->second : Json::array({it->second});
    for (const Json& v : list) {
      if (!v.is_string()) return wrong_type("include", "a string or an array of strings", v);
      for (const std::string& item : split_commas(v.get<std::string>())) includes.push_back(item);
    }
  } else if (auto t = raw.text.find("include"); t != raw.text.end()) {
    for (const std::string& value : t->second) {
      for (const std::string& item : split_commas(value)) includes.push_back(item);
    }
  }
  for (const std::string& item : includes) {
    DumpIncludes& inc = params.request.include;
    bool* flag = item == "routes"       ? &inc.routes
                 : item == "neighbours" ? &inc.neighbours
                 : item == "sockets"    ? &inc.sockets
                 : item == "conntrack"  ? &inc.conntrack
                 : item == "firewall"   ? &inc.firewall
                                        : nullptr;
    if (!flag) {
      return bad_value("include", escape_for_log(item), "'routes', 'neighbours', 'sockets', 'conntrack' or 'firewall'");
    }
    *flag = true;
  }
  if (params.request.include.any()) {
    if (params.at) {
      return ApiError::bad_request("include_has_no_past",
                                   "include reads routes, neighbours, sockets, conntrack and the firewall now; it "
                                   "cannot go with at (the past)");
    }
    if (params.schema == DumpSchema::datadog) {
      return ApiError::bad_request("include_needs_netnsd_schema",
                                   "the datadog schema has no place for what include adds; use schema=netnsd");
    }
  }
  return params;
}

}  // namespace netnsd
