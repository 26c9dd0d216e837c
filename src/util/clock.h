// Time for the resolver and the tracker: a seam so their state machines
// (lonely timeout, LRU, flush, coalesced passes, timers) can be driven by a
// fake clock in unit tests.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace netnsd {

using WallTime = std::chrono::system_clock::time_point;
using SteadyTime = std::chrono::steady_clock::time_point;

// Threading: both methods may be called from any thread.
class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock time: what timestamps in the dump show.
  virtual WallTime now() const = 0;
  // Monotonic time: what timers and intervals are measured in.
  virtual SteadyTime steady() const = 0;
};

class SystemClock final : public Clock {
 public:
  WallTime now() const override { return std::chrono::system_clock::now(); }
  SteadyTime steady() const override { return std::chrono::steady_clock::now(); }
};

// RFC 3339 in UTC with millisecond precision: "2026-11-29T03:48:22.123Z".
std::string format_rfc3339_ms(WallTime t);

// RFC 3339 in UTC the way Go's time.Time marshals to JSON: fractional seconds
// only as precise as needed (trailing zeros dropped), "0001-01-01T00:00:00Z"
// for the zero value (pass std::nullopt-like WallTime{} via the unset flag).
std::string format_rfc3339_go(WallTime t, bool unset);

// "2026-12-06T02:14:00Z", "2026-12-06t02:14:00.250+01:00", "2026-12-06 02:14:00Z":
// RFC 3339's date-time (section 5.6), fractions to the nanosecond; nullopt
// for anything else, a leap second included. Before 1970 reads as the epoch,
// after 2200 as WallTime::max().
std::optional<WallTime> parse_rfc3339(std::string_view text);

}  // namespace netnsd
