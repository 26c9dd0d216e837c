#include "kernel/mountinfo.h"

#include <fcntl.h>
#include <unistd.h>

#include <charconv>
#include <optional>

#include "util/fd.h"
#include "util/text.h"

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

// One mountinfo line: "id parent major:minor root mount_point options
// [optional...] - fstype source super_options".
struct Record {
  std::vector<std::string_view> fields;
  std::size_t sep = 0;  // the index of "-"
  std::string_view fstype() const { return fields[sep + 1]; }
  std::optional<std::string_view> super_options() const {
    if (sep + 3 >= fields.size()) return std::nullopt;
    return fields[sep + 3];
  }
};

std::optional<Record> parse_record(std::string_view line) {
  Record r{split_fields(line), 6};
  while (r.sep < r.fields.size() && r.fields[r.sep] != "-") ++r.sep;
  if (r.fields.size() < 6 || r.sep + 1 >= r.fields.size()) return std::nullopt;
  return r;
}

}  // namespace

std::vector<NetnsMount> parse_netns_mounts(std::string_view text) {
  std::vector<NetnsMount> mounts;
  for (std::string_view line : split_lines(text)) {
    auto record = parse_record(line);
    if (!record || record->fstype() != "nsfs") continue;
    std::string_view root = record->fields[3];
    constexpr std::string_view prefix = "net:[";
    if (root.substr(0, prefix.size()) != prefix || root.back() != ']') continue;
    std::string_view digits = root.substr(prefix.size(), root.size() - prefix.size() - 1);
    NetnsId netns = 0;
    auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), netns);
    if (ec != std::errc() || ptr != digits.data() + digits.size() || netns == 0) continue;
    mounts.push_back({netns, unescape(record->fields[4])});
  }
  return mounts;
}

std::vector<CgroupMount> parse_cgroup_mounts(std::string_view text) {
  std::vector<CgroupMount> mounts;
  for (std::string_view line : split_lines(text)) {
    auto record = parse_record(line);
    if (!record || !record->super_options()) continue;
    const std::string_view fstype = record->fstype();
    if (fstype != "cgroup" && fstype != "cgroup2") continue;
    CgroupMount m;
    m.v2 = fstype == "cgroup2";
    m.root = unescape(record->fields[3]);
    m.mount_point = unescape(record->fields[4]);
    if (!m.v2) {
      // Super options: "rw,pids" or "rw,xattr,name=systemd".
      std::string_view options = *record->super_options();
      while (!options.empty()) {
        const auto comma = options.find(',');
        const std::string_view option = options.substr(0, comma);
        if (option != "rw" && option != "ro" && option != "xattr" && option.find("release_agent") != 0 &&
            option != "noprefix" && option != "clone_children" && option != "cpuset_v2_mode") {
          m.controllers.emplace_back(option);
        }
        if (comma == std::string_view::npos) break;
        options.remove_prefix(comma + 1);
      }
    }
    mounts.push_back(std::move(m));
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
