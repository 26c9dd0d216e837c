#include "util/clock.h"

#include <cstdio>
#include <ctime>

namespace netnsd {
namespace {

struct Split {
  std::tm tm{};
  long long nanos = 0;
};

Split split(WallTime t) {
  using namespace std::chrono;
  auto since = t.time_since_epoch();
  auto secs = floor<seconds>(since);
  Split s;
  s.nanos = duration_cast<nanoseconds>(since - secs).count();
  std::time_t tt = static_cast<std::time_t>(secs.count());
  gmtime_r(&tt, &s.tm);
  return s;
}

std::string date_time(const std::tm& tm) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec);
  return buf;
}

}  // namespace

std::string format_rfc3339_ms(WallTime t) {
  Split s = split(t);
  char frac[24];
  std::snprintf(frac, sizeof frac, ".%03lld", s.nanos / 1000000);
  return date_time(s.tm) + frac + "Z";
}

std::string format_rfc3339_go(WallTime t, bool unset) {
  if (unset) return "0001-01-01T00:00:00Z";
  Split s = split(t);
  std::string out = date_time(s.tm);
  if (s.nanos != 0) {
    char frac[24];
    std::snprintf(frac, sizeof frac, ".%09lld", s.nanos);
    std::string f = frac;
    while (f.back() == '0') f.pop_back();
    out += f;
  }
  return out + "Z";
}

}  // namespace netnsd
