// Telemetry: what GET /metrics says beyond the resolver's own numbers.
//
// Requests by route and status, how long dumps take (a histogram), the
// process (memory, descriptors, CPU), the build, and whatever the servers
// add (their connections and lanes). Shared by the Unix-socket API
// and the TCP metrics endpoint, so both say the same.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace netnsd {

// Prometheus text exposition (format 0.0.4): each family once, its HELP and
// TYPE first and every sample of it (whatever its labels) after them, even
// when its samples are added at different times (the API's and the metrics
// endpoint's connections are one family with a `server` label). Families
// come out in the order they were first named.
class MetricsWriter {
 public:
  // `constant` ('node="n1"', escaped, or empty) goes first on every sample.
  explicit MetricsWriter(std::string constant = {}) : constant_(std::move(constant)) {}
  // One sample of a counter or gauge; `labels` is '{a="b"}' or empty.
  void sample(std::string_view name, std::string_view labels, std::string_view type, std::string_view help,
              double value);
  // Names the family the next value()s belong to (a histogram's
  // name_bucket, name_sum and name_count samples come under `family`).
  void family(std::string_view family, std::string_view type, std::string_view help);
  void value(std::string_view sample, std::string_view labels, double value);
  // A whole number, written exactly (a byte counter passes 2^53 at 8 PiB).
  void integer(std::string_view sample, std::string_view labels, std::uint64_t value);
  std::string take();

 private:
  void line(std::string_view sample, std::string_view labels, std::string_view value);
  std::string constant_;
  struct Family {
    std::string name, type, help;
    std::string samples;  // lines
  };
  std::vector<Family> families_;
  std::map<std::string, std::size_t, std::less<>> index_;  // name -> families_
  std::size_t current_ = 0;
};

// A label value as the exposition format wants it (backslash, double quote
// and newline escaped), from bytes that may not be UTF-8: transcoded
// losslessly first (label_text).
std::string label_value(std::string_view bytes);
// Any bytes as valid UTF-8, losslessly: valid UTF-8 stays as it is, a
// backslash doubles, and each byte that is not part of valid UTF-8 reads
// "\xNN" (Prometheus refuses a label value that is not UTF-8, however it
// is escaped). Distinct byte strings give distinct texts.
std::string label_text(std::string_view bytes);

// Threading: every method from any thread.
class Telemetry {
 public:
  Telemetry();
  // A request answered: `route` is a route's label ("/v1/namespaces/{netns}", "other").
  void count_request(std::string_view route, int status);
  // A dump built and answered (or written) in `seconds`.
  void observe_dump(double seconds, bool snapshot);
  // Adds samples to every /metrics answer (a server's connections, say).
  void add_source(std::function<void(MetricsWriter&)> source);
  // Requests, dumps, process, build info, sources.
  void write(MetricsWriter& out) const;

 private:
  static constexpr std::array<double, 11> kBuckets = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
  struct Histogram {
    std::array<std::uint64_t, kBuckets.size()> below{};  // cumulative counts per bucket
    std::uint64_t count = 0;
    double sum = 0;
  };

  mutable std::mutex mutex_;
  std::map<std::pair<std::string, int>, std::uint64_t> requests_;
  std::map<bool, Histogram> dumps_;  // by snapshot
  std::vector<std::function<void(MetricsWriter&)>> sources_;
  double start_time_s_;  // since the epoch
};

}  // namespace netnsd
