#include "util/text.h"

namespace netnsd {
namespace {

// The length of the valid UTF-8 sequence starting at in[i] (1 for ASCII), or
// 0 when it is not one: truncated, overlong, a surrogate, or past U+10FFFF.
std::size_t utf8_length(std::string_view in, std::size_t i) {
  const auto c = static_cast<unsigned char>(in[i]);
  if (c < 0x80) return 1;
  std::size_t len = 0;
  unsigned min = 0;
  if ((c & 0xE0) == 0xC0) {
    len = 2, min = 0x80;
  } else if ((c & 0xF0) == 0xE0) {
    len = 3, min = 0x800;
  } else if ((c & 0xF8) == 0xF0) {
    len = 4, min = 0x10000;
  } else {
    return 0;
  }
  if (i + len > in.size()) return 0;
  unsigned cp = c & (0xFF >> (len + 1));
  for (std::size_t k = 1; k < len; ++k) {
    const auto cc = static_cast<unsigned char>(in[i + k]);
    if ((cc & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (cc & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return len;
}

}  // namespace

std::size_t utf8_sequence_length(std::string_view in) {
  return in.empty() ? 0 : utf8_length(in, 0);
}

std::string sanitize_utf8(std::string_view in) {
  static constexpr std::string_view kReplacement = "\xEF\xBF\xBD";
  std::string out;
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size();) {
    if (std::size_t len = utf8_length(in, i)) {
      out.append(in.substr(i, len));
      i += len;
    } else {
      out.append(kReplacement);
      ++i;
    }
  }
  return out;
}

std::string escape_for_log(std::string_view in, std::size_t max) {
  static constexpr char hex[] = "0123456789abcdef";
  const bool cut = in.size() > max;
  if (cut) in = in.substr(0, max);
  std::string out;
  out.reserve(in.size() + 8);
  auto escaped = [&](unsigned char c) {
    out += "\\x";
    out.push_back(hex[c >> 4]);
    out.push_back(hex[c & 0xf]);
  };
  for (std::size_t i = 0; i < in.size();) {
    const auto c = static_cast<unsigned char>(in[i]);
    const std::size_t len = utf8_length(in, i);
    if (len == 0 || c < 0x20 || c == 0x7f || c == '\\' || c == '"') {
      escaped(c);
      ++i;
    } else {
      out.append(in.substr(i, len));
      i += len;
    }
  }
  if (cut) out += "...";
  return out;
}

std::string trim(std::string_view in) {
  auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!in.empty() && is_space(in.front())) in.remove_prefix(1);
  while (!in.empty() && is_space(in.back())) in.remove_suffix(1);
  return std::string(in);
}

std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t eol = text.find('\n', pos);
    if (eol == std::string_view::npos) eol = text.size();
    lines.push_back(text.substr(pos, eol - pos));
    pos = eol + 1;
  }
  return lines;
}

std::vector<std::string> split_commas(std::string_view list) {
  std::vector<std::string> items;
  std::size_t pos = 0;
  while (pos <= list.size()) {
    std::size_t end = list.find(',', pos);
    if (end == std::string_view::npos) end = list.size();
    items.push_back(trim(list.substr(pos, end - pos)));
    pos = end + 1;
  }
  return items;
}

}  // namespace netnsd
