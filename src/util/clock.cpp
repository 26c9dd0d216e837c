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

std::optional<WallTime> parse_rfc3339(std::string_view t) {
  auto digits = [&](std::size_t at, std::size_t n, int& out) {
    if (at + n > t.size()) return false;
    out = 0;
    for (std::size_t i = at; i < at + n; ++i) {
      if (t[i] < '0' || t[i] > '9') return false;
      out = out * 10 + (t[i] - '0');
    }
    return true;
  };
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (!digits(0, 4, year) || t.size() < 20 || t[4] != '-' || !digits(5, 2, month) || t[7] != '-' ||
      !digits(8, 2, day) || (t[10] != 'T' && t[10] != 't' && t[10] != ' ') || !digits(11, 2, hour) || t[13] != ':' ||
      !digits(14, 2, minute) || t[16] != ':' || !digits(17, 2, second)) {
    return std::nullopt;
  }
  std::size_t at = 19;
  std::int64_t nanos = 0;
  if (t[at] == '.') {
    std::size_t n = 0;
    for (++at; at < t.size() && t[at] >= '0' && t[at] <= '9'; ++at, ++n) {
      if (n < 9) nanos = nanos * 10 + (t[at] - '0');
    }
    if (n == 0) return std::nullopt;
    for (; n < 9; ++n) nanos *= 10;
  }
  int offset_minutes = 0;
  if (at < t.size() && (t[at] == 'Z' || t[at] == 'z')) {
    ++at;
  } else if (at < t.size() && (t[at] == '+' || t[at] == '-')) {
    int oh = 0, om = 0;
    if (!digits(at + 1, 2, oh) || at + 3 >= t.size() || t[at + 3] != ':' || !digits(at + 4, 2, om) || oh > 23 ||
        om > 59) {
      return std::nullopt;
    }
    offset_minutes = (t[at] == '+' ? 1 : -1) * (oh * 60 + om);
    at += 6;
  } else {
    return std::nullopt;
  }
  static constexpr int kDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  if (at != t.size() || month < 1 || month > 12 || day < 1 || day > kDays[month - 1] ||
      (month == 2 && day == 29 && !leap) || hour > 23 || minute > 59 || second > 59) {
    return std::nullopt;
  }
  // Nanoseconds since 1970 in 64 bits end in 2262: a time past 2200 is
  // "later than anything", one before 1970 "earlier".
  if (year > 2200) return WallTime::max();
  if (year < 1970) return WallTime{};
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  const std::time_t secs = ::timegm(&tm);
  return WallTime(std::chrono::duration_cast<WallTime::duration>(std::chrono::seconds(secs - offset_minutes * 60) +
                                                                 std::chrono::nanoseconds(nanos)));
}

}  // namespace netnsd
