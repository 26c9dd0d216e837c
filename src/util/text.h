// Small text helpers for encoders.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace netnsd {

// Returns `in` with every invalid UTF-8 sequence replaced by U+FFFD.
// Interface names are arbitrary bytes to the kernel; outputs must be UTF-8.
std::string sanitize_utf8(std::string_view in);

// The length of the valid UTF-8 sequence `in` starts with (1 for ASCII), or
// 0 when it does not start with one (empty, truncated, overlong, a
// surrogate, or past U+10FFFF).
std::size_t utf8_sequence_length(std::string_view in);

// `in` without leading and trailing spaces, tabs, carriage returns and newlines.
std::string trim(std::string_view in);

// `in` fit for one log line whatever a client sent: control bytes, quotes,
// backslashes and bytes that are not UTF-8 as \xNN, at most `max` bytes of
// input (then "...").
std::string escape_for_log(std::string_view in, std::size_t max = 256);

// The lines of `text`, without their '\n'; a final newline ends the last
// line rather than starting an empty one.
std::vector<std::string_view> split_lines(std::string_view text);

// The comma-separated items of `list`, each trimmed; an empty item stays
// (so "1,,2" has three and "" has one), for the caller to refuse.
std::vector<std::string> split_commas(std::string_view list);

}  // namespace netnsd
