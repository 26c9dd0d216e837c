#include "kernel/mountinfo.h"

#include <fcntl.h>
#include <unistd.h>

#include <charconv>

#include "util/fd.h"

namespace netnsd {
namespace {

// mountinfo escapes space, tab, newline and backslash as \ooo octal.
std::string unescape(std::string_view field) {
  std::string out;
  out.reserve(field.size());
  auto octal = [](char c) { return c >= '0' && c <= '7'; };
  for (std::size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '\\' && i + 3 < field.size() && octal(field[i + 1]) && octal(field[i + 2]) && octal(field[i + 3])) {
      out.push_back(static_cast<char>((field[i + 1] - '0') * 64 + (field[i + 2] - '0') * 8 + (field[i + 3] - '0')));
      i += 3;
      continue;
    }
    out.push_back(field[i]);
  }
  return out;
}

std::vector<std::string_view> split_fields(std::string_view line) {
  std::vector<std::string_view> fields;
  std::size_t pos = 0;
  while (pos < line.size()) {
    std::size_t end = line.find(' ', pos);
    if (end == std::string_view::npos) end = line.size();
    if (end > pos) fields.push_back(line.substr(pos, end - pos));
    pos = end + 1;
  }
  return fields;
}

}  // namespace

std::vector<NetnsMount> parse_netns_mounts(std::string_view text) {
  std::vector<NetnsMount> mounts;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t eol = text.find('\n', pos);
    if (eol == std::string_view::npos) eol = text.size();
    std::string_view line = text.substr(pos, eol - pos);
    pos = eol + 1;

    // id parent major:minor root mount_point options [optional...] - fstype source super_options
    auto fields = split_fields(line);
    std::size_t sep = 6;
    while (sep < fields.size() && fields[sep] != "-") ++sep;
    if (fields.size() < 6 || sep + 1 >= fields.size()) continue;
    if (fields[sep + 1] != "nsfs") continue;
    std::string_view root = fields[3];
    constexpr std::string_view prefix = "net:[";
    if (root.substr(0, prefix.size()) != prefix || root.back() != ']') continue;
    std::string_view digits = root.substr(prefix.size(), root.size() - prefix.size() - 1);
    NetnsId netns = 0;
    auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), netns);
    if (ec != std::errc() || ptr != digits.data() + digits.size() || netns == 0) continue;
    mounts.push_back({netns, unescape(fields[4])});
  }
  return mounts;
}

Result<std::vector<NetnsMount>> read_netns_mounts(const std::string& path) {
  // The kernel hands mountinfo out a page or so per read(), keeping a cursor
  // in the mount list between reads (since Linux 5.8), so mounts that stay
  // put are never skipped while others come and go. Read to the end.
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return Error::os("open " + path);
  std::string text;
  char chunk[64 * 1024];
  for (;;) {
    ssize_t n = ::read(fd.get(), chunk, sizeof chunk);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Error::os("read " + path);
    }
    if (n == 0) break;
    text.append(chunk, static_cast<std::size_t>(n));
  }
  return parse_netns_mounts(text);
}

}  // namespace netnsd
