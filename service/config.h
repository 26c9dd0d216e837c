// netnsd's configuration: one passive struct, parsed and validated once from
// the command line and an optional config file, then passed by const
// reference.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "util/defaults.h"
#include "util/result.h"
#include "util/version.h"

namespace netnsd {

struct ServiceConfig {
  std::string socket_path = defaults::kSocketPath;
  std::optional<std::string> socket_group;
  std::string dump_dir = defaults::kDumpDir;
  std::chrono::milliseconds resync_interval = defaults::kResyncInterval;  // 0 = off
  std::chrono::milliseconds lonely_timeout = defaults::kLonelyTimeout;
  std::chrono::milliseconds flush_period = defaults::kFlushPeriod;
  std::size_t capacity = defaults::kCapacity;
  std::size_t max_per_owner = 0;  // 0: capacity / defaults::kOwnerShareDivisor
  std::size_t max_devices = defaults::kMaxDevices;
  std::size_t max_dumps = defaults::kMaxDumps;  // 0: keep all
  std::uint64_t dump_min_free_mib = defaults::kDumpMinFreeBytes >> 20;
  std::size_t max_concurrent_dumps = defaults::kMaxConcurrentDumps;
  std::size_t dump_queue = defaults::kDumpQueue;
  std::chrono::milliseconds dump_queue_wait = defaults::kDumpQueueWait;  // then 503 with Retry-After
  // An answer must be taken within read_grace of its first byte plus its
  // size at min_read_rate KiB/s, or it is cut.
  std::size_t min_read_rate_kib = defaults::kMinReadRate / 1024;
  std::chrono::milliseconds read_grace = defaults::kReadGrace;
  std::size_t max_subscribers = defaults::kMaxEventSubscribers;  // GET /v1/events streams at once
  std::size_t event_queue = defaults::kEventQueue;               // changes held per stream
  std::optional<std::string> metrics_address;  // HOST:PORT for GET /metrics, /healthz, /readyz over TCP
  // Per-namespace and per-device series in /metrics (api/namespace_metrics.h).
  bool metrics_namespaces = false;
  std::chrono::milliseconds metrics_min_interval = defaults::kMetricsMinInterval;
  std::size_t metrics_max_series = defaults::kMetricsMaxSeries;
  std::string node_name;  // the `node` label on every series; empty: the hostname
  // Every change as a log entry (history/event_log.h): "journald", "stdout",
  // "file:/PATH", "off", or "auto": journald when systemd started netnsd
  // (INVOCATION_ID is set), else off.
  std::string event_log = "auto";
  std::string render_socket;                          // netnsd-render's socket; empty: a forked renderer
  std::string runtime_root = defaults::kRuntimeRoot;  // where container runtimes keep their state
  // See the host's cgroups and runtime state as this process does (its
  // cgroup namespace, mounts and root; 1 in a DaemonSet); 0: as netnsd does.
  std::uint32_t host_pid = 0;
  bool no_ebpf = false;
  // The history journal (src/history/journal.h); off with no_journal.
  std::string journal_path = defaults::kJournalPath;
  bool no_journal = false;
  // Routes, rules and neighbours are cached live (src/resolver/facts.h)
  // unless no_routes.
  bool no_routes = false;
  std::chrono::milliseconds journal_max_age = defaults::kJournalMaxAge;
  std::uint64_t journal_max_size_mib = defaults::kJournalMaxBytes >> 20;
  std::string log_level = defaults::kLogLevel;
  std::optional<std::string> config_file;
};

enum class CliAction { run, help, version };

struct CommandLine {
  CliAction action = CliAction::run;
  ServiceConfig config;
};

// Parses argv. A --config file is read first; flags given on the command line
// override it. Errors are sentences for the user ("--capacity: ...").
Result<CommandLine> parse_command_line(int argc, const char* const* argv);

// Applies "key = value" lines (keys are the long flags without "--"; '#'
// starts a comment; "no-ebpf = true") to `config`.
Status apply_config_text(std::string_view text, ServiceConfig& config, const std::string& origin);

std::string usage();

}  // namespace netnsd
