#include "api/telemetry.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <charconv>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "util/text.h"
#include "util/version.h"

namespace netnsd {
namespace {

std::string format_value(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.15g", v);
  return buf;
}

// The process, from /proc/self: what Prometheus's process_* metrics say.
struct ProcessFacts {
  double cpu_seconds = 0;
  double resident_bytes = 0;
  double virtual_bytes = 0;
  double open_fds = 0;
  double max_fds = 0;
};

ProcessFacts read_process() {
  ProcessFacts p;
  const double tick = static_cast<double>(::sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(::sysconf(_SC_PAGESIZE));
  std::ifstream stat("/proc/self/stat");
  std::string line;
  if (std::getline(stat, line)) {
    // Fields after the command (which may hold spaces) start after ") ".
    std::istringstream fields(line.substr(line.rfind(')') + 2));
    std::string field;
    for (int i = 3; fields >> field; ++i) {
      if (i == 14 || i == 15) p.cpu_seconds += std::stod(field) / tick;  // utime, stime
      if (i == 23) p.virtual_bytes = std::stod(field);
      if (i == 24) p.resident_bytes = std::stod(field) * page;
    }
  }
  if (DIR* d = ::opendir("/proc/self/fd")) {
    while (dirent* e = ::readdir(d)) p.open_fds += e->d_name[0] != '.';
    ::closedir(d);
    p.open_fds -= 1;  // the directory itself
  }
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) == 0) p.max_fds = static_cast<double>(lim.rlim_cur);
  return p;
}

double process_start_time_s() {
  std::ifstream stat("/proc/self/stat");
  std::string line;
  if (!std::getline(stat, line)) return 0;
  std::istringstream fields(line.substr(line.rfind(')') + 2));
  std::string field;
  for (int i = 3; fields >> field; ++i) {
    if (i == 22) {
      // starttime counts clock ticks since boot. The boot time comes from the
      // clocks, not /proc/stat: under systemd's ProcSubset=pid only the
      // processes' part of /proc is there.
      timespec real{}, boot{};
      ::clock_gettime(CLOCK_REALTIME, &real);
      ::clock_gettime(CLOCK_BOOTTIME, &boot);
      const double booted_at = (real.tv_sec - boot.tv_sec) + (real.tv_nsec - boot.tv_nsec) / 1e9;
      return booted_at + std::stod(field) / static_cast<double>(::sysconf(_SC_CLK_TCK));
    }
  }
  return 0;
}

}  // namespace

void MetricsWriter::sample(std::string_view name, std::string_view labels, std::string_view type, std::string_view help,
                           double value) {
  family(name, type, help);
  this->value(name, labels, value);
}

void MetricsWriter::family(std::string_view family, std::string_view type, std::string_view help) {
  if (auto it = index_.find(family); it != index_.end()) {
    current_ = it->second;
    return;
  }
  current_ = families_.size();
  index_.emplace(std::string(family), current_);
  families_.push_back({std::string(family), std::string(type), std::string(help), {}});
}

void MetricsWriter::value(std::string_view sample, std::string_view labels, double value) {
  line(sample, labels, format_value(value));
}

void MetricsWriter::integer(std::string_view sample, std::string_view labels, std::uint64_t value) {
  char buf[24];
  const auto end = std::to_chars(buf, buf + sizeof buf, value).ptr;
  line(sample, labels, std::string_view(buf, static_cast<std::size_t>(end - buf)));
}

void MetricsWriter::line(std::string_view sample, std::string_view labels, std::string_view value) {
  if (families_.empty()) return;  // no family named: nothing to say it under
  std::string& out = families_[current_].samples;
  out.append(sample);
  if (constant_.empty()) {
    out.append(labels);
  } else if (labels.size() > 2) {  // '{a="b"}': the constant labels first
    out.append("{").append(constant_).append(",").append(labels.substr(1));
  } else {
    out.append("{").append(constant_).append("}");
  }
  out.append(" ").append(value).append("\n");
}

std::string label_text(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  for (std::size_t i = 0; i < bytes.size();) {
    const std::size_t n = utf8_sequence_length(bytes.substr(i));
    if (n == 0) {
      static constexpr char kHex[] = "0123456789abcdef";
      const auto b = static_cast<unsigned char>(bytes[i]);
      out.append("\\x").push_back(kHex[b >> 4]);
      out.push_back(kHex[b & 15]);
      ++i;
      continue;
    }
    if (bytes[i] == '\\') out.push_back('\\');
    out.append(bytes.substr(i, n));
    i += n;
  }
  return out;
}

std::string label_value(std::string_view bytes) {
  const std::string text = label_text(bytes);
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '\\' || c == '"') {
      out.push_back('\\');
      out.push_back(c);
    } else if (c == '\n') {
      out.append("\\n");
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string MetricsWriter::take() {
  std::string out;
  for (const Family& f : families_) {
    out.append("# HELP ").append(f.name).append(" ").append(f.help).append("\n");
    out.append("# TYPE ").append(f.name).append(" ").append(f.type).append("\n");
    out.append(f.samples);
  }
  families_.clear();
  index_.clear();
  return out;
}

Telemetry::Telemetry() : start_time_s_(process_start_time_s()) {}

void Telemetry::count_request(std::string_view route, int status) {
  std::lock_guard lock(mutex_);
  ++requests_[{std::string(route), status}];
}

void Telemetry::observe_dump(double seconds, bool snapshot) {
  std::lock_guard lock(mutex_);
  Histogram& h = dumps_[snapshot];
  for (std::size_t i = 0; i < kBuckets.size(); ++i) {
    if (seconds <= kBuckets[i]) ++h.below[i];
  }
  ++h.count;
  h.sum += seconds;
}

void Telemetry::add_source(std::function<void(MetricsWriter&)> source) {
  std::lock_guard lock(mutex_);
  sources_.push_back(std::move(source));
}

void Telemetry::write(MetricsWriter& out) const {
  std::vector<std::function<void(MetricsWriter&)>> sources;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [key, n] : requests_) {
      out.sample("netnsd_http_requests_by_route_total",
                 "{route=\"" + key.first + "\",status=\"" + std::to_string(key.second) + "\"}", "counter",
                 "Requests answered, by route and status.", static_cast<double>(n));
    }
    out.family("netnsd_dump_duration_seconds", "histogram",
               "How long dumps take, from their parameters to their answer, by snapshot_interfaces.");
    for (bool snapshot : {false, true}) {
      auto it = dumps_.find(snapshot);
      const Histogram h = it == dumps_.end() ? Histogram{} : it->second;
      const std::string label = std::string("snapshot=\"") + (snapshot ? "true" : "false") + "\"";
      for (std::size_t i = 0; i < kBuckets.size(); ++i) {
        out.value("netnsd_dump_duration_seconds_bucket", "{" + label + ",le=\"" + format_value(kBuckets[i]) + "\"}",
                  static_cast<double>(h.below[i]));
      }
      out.value("netnsd_dump_duration_seconds_bucket", "{" + label + ",le=\"+Inf\"}", static_cast<double>(h.count));
      out.value("netnsd_dump_duration_seconds_sum", "{" + label + "}", h.sum);
      out.value("netnsd_dump_duration_seconds_count", "{" + label + "}", static_cast<double>(h.count));
    }
    sources = sources_;
  }
  const ProcessFacts p = read_process();
  out.sample("process_cpu_seconds_total", "", "counter", "Total user and system CPU time spent in seconds.",
             p.cpu_seconds);
  out.sample("process_resident_memory_bytes", "", "gauge", "Resident memory size in bytes.", p.resident_bytes);
  out.sample("process_virtual_memory_bytes", "", "gauge", "Virtual memory size in bytes.", p.virtual_bytes);
  out.sample("process_open_fds", "", "gauge", "Number of open file descriptors.", p.open_fds);
  out.sample("process_max_fds", "", "gauge", "Maximum number of open file descriptors.", p.max_fds);
  out.sample("process_start_time_seconds", "", "gauge", "Start time of the process since unix epoch in seconds.",
             start_time_s_);
  out.sample("netnsd_build_info", std::string("{version=\"") + kVersion + "\"}", "gauge", "netnsd's version: always 1.",
             1);
  for (const auto& source : sources) source(out);
}

}  // namespace netnsd
