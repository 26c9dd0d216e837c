// EventLog: every change the cache applies, one entry each, where a fleet's
// log shippers already look (--event-log): the systemd journal (structured
// fields, through journald's native socket), stdout (NDJSON, for a pod's
// log) or a file (NDJSON, rotated by size).
//
// Bounded by its own rate (a token bucket: `rate` entries a second on
// average, `burst` at once), below journald's own limit (10,000 per 30 s
// by default) so that it is netnsd's limit that acts, and says so: past it,
// changes are counted per type and namespace and written as summary entries
// (at most every summary_period, or when summary_keys pairs are held).
// Entries plus the counts in summaries always equal the changes: a change
// the queue could not hold, or whose entry could not be written, is counted
// in a summary too. The event path never waits on it: it reads the change
// feed on its own thread, through a queue of its own.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "resolver/changes.h"
#include "util/clock.h"
#include "util/defaults.h"
#include "util/result.h"

namespace netnsd::history {

enum class EventLogTarget { off, journald, stdout_lines, file };

struct EventLogOptions {
  EventLogTarget target = EventLogTarget::off;
  // file: the file; journald: journald's native socket.
  std::string path;
  std::size_t rate = defaults::kEventLogRate;
  std::size_t burst = defaults::kEventLogBurst;
  std::chrono::milliseconds summary_period = defaults::kEventLogSummaryPeriod;
  std::size_t summary_keys = defaults::kEventLogSummaryKeys;
  std::size_t queue = defaults::kEventLogQueue;
  std::uint64_t file_max_bytes = defaults::kEventLogFileMaxBytes;
  std::size_t file_keep = defaults::kEventLogFileKeep;
};

// "journald", "stdout", "file:/ABSOLUTE/PATH", "off"; an error sentence
// otherwise.
Result<EventLogOptions> parse_event_log(std::string_view text);

// What summaries count: changes of one type in one namespace.
struct SummaryKey {
  std::optional<ChangeKind> kind;  // none: changes the queue lost, of kinds unknown
  NetnsId netns = 0;               // 0: every namespace (when too many pairs were held)
  auto operator<=>(const SummaryKey&) const = default;
};

// The rate limit and the summaries, without I/O (unit-tested alone).
// Threading: one thread.
class EventLimiter {
 public:
  EventLimiter(const EventLogOptions& options, SteadyTime now);
  // True: log the change as an entry (a token is spent); false: it was
  // counted for a summary.
  bool admit(const Change& change, SteadyTime now);
  // Counts changes for a summary whatever the tokens say (lost by the
  // queue, or an entry that could not be written).
  void count(SummaryKey key, std::uint64_t n = 1);
  // The counts to write now: every summary_period, or at once when the
  // pairs held reach summary_keys, or with `force` (at the end). Taken.
  std::map<SummaryKey, std::uint64_t> due(SteadyTime now, bool force = false);

 private:
  const EventLogOptions options_;
  double tokens_;
  SteadyTime refilled_;
  SteadyTime summarised_;
  std::map<SummaryKey, std::uint64_t> counts_;
};

struct EventLogStats {
  std::uint64_t changes = 0;       // read from the feed, plus those it lost
  std::uint64_t entries = 0;       // written one by one
  std::uint64_t summarised = 0;    // counted in summaries written
  std::uint64_t summaries = 0;     // summary entries written
  std::uint64_t lost = 0;          // not held by the queue (summarised too)
  std::uint64_t write_errors = 0;  // entries or summaries that could not be written
};

// The names a change's entry carries beyond the change itself: the first
// container and the pod of its namespace, from the cache.
struct EventContext {
  std::string container;
  std::string pod;  // "NAMESPACE/NAME" for Kubernetes, else empty
};

// One entry's fields, as journald takes them (NAME=value, names in capitals):
// MESSAGE, PRIORITY, SYSLOG_IDENTIFIER, NETNSD_SEQ, NETNSD_TYPE,
// NETNSD_NETNS, and where they apply NETNSD_DEVICE, NETNSD_ADDRESS,
// NETNSD_CONTAINER, NETNSD_POD.
std::vector<std::pair<std::string, std::string>> entry_fields(const Change& change, const EventContext& context);
// A summary's: NETNSD_TYPE=summary, NETNSD_SUMMARY_OF, NETNSD_NETNS, NETNSD_COUNT.
std::vector<std::pair<std::string, std::string>> summary_fields(SummaryKey key, std::uint64_t count, std::size_t rate);
// journald's native protocol: "NAME=value\n", or for a value with a
// newline "NAME\n" + its length (64-bit little-endian) + value + "\n".
std::string journal_datagram(const std::vector<std::pair<std::string, std::string>>& fields);
// The same fields as one NDJSON line ({"message", "seq", "type", ...}, names
// in lower case without the NETNSD_ prefix; counts and sequence numbers as
// numbers).
std::string ndjson_line(const std::vector<std::pair<std::string, std::string>>& fields, WallTime at);

// Threading: start() and stop() from one thread; stats() from any.
class EventLog {
 public:
  EventLog(EventLogOptions options, const Clock& clock, std::function<EventContext(NetnsId)> context = nullptr);
  ~EventLog();
  EventLog(const EventLog&) = delete;
  EventLog& operator=(const EventLog&) = delete;

  // Opens the target (a failure is said, and counted as write errors from
  // then on) and follows `feed` on a thread of its own.
  Status start(ChangeFeed& feed);
  // Writes what is still counted, and stops.
  void stop();
  EventLogStats stats() const;
  const EventLogOptions& options() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace netnsd::history
