#include "config.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include "util/text.h"

namespace netnsd {
namespace {

Result<std::chrono::milliseconds> parse_seconds(const std::string& key, const std::string& value, bool allow_zero) {
  double seconds = 0;
  auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
  if (value.empty() || ec != std::errc() || ptr != value.data() + value.size() || !std::isfinite(seconds) ||
      seconds < 0 || seconds > 86400.0 * 365) {
    return Error::logic(key + ": expected a number of seconds, got '" + value + "'");
  }
  auto ms = std::chrono::milliseconds(static_cast<long long>(std::llround(seconds * 1000)));
  if (!allow_zero && ms.count() == 0) return Error::logic(key + ": must be more than 0");
  return ms;
}

Result<bool> parse_bool(const std::string& key, const std::string& value) {
  if (value == "true" || value == "yes" || value == "1" || value == "on") return true;
  if (value == "false" || value == "no" || value == "0" || value == "off") return false;
  return Error::logic(key + ": expected true or false, got '" + value + "'");
}

// Applies one setting; `key` is a long flag name without "--".
Status apply(ServiceConfig& c, std::string key, const std::string& value) {
  for (char& ch : key) {
    if (ch == '_') ch = '-';
  }
  if (key == "socket") {
    if (value.empty() || value.front() != '/') return Error::logic("socket: expected an absolute path");
    c.socket_path = value;
  } else if (key == "socket-group") {
    if (value.empty()) return Error::logic("socket-group: expected a group name or id");
    c.socket_group = value;
  } else if (key == "journal") {
    if (value.empty() || value.front() != '/') return Error::logic("journal: expected an absolute path");
    c.journal_path = value;
  } else if (key == "journal-max-age") {
    auto v = parse_seconds(key, value, false);
    if (!v) return v.error();
    c.journal_max_age = *v;
  } else if (key == "journal-max-size") {
    std::uint64_t n = 0;
    auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
    if (value.empty() || ec != std::errc() || ptr != value.data() + value.size() || n < 1 || n > (1u << 20)) {
      return Error::logic("journal-max-size: expected a number of MiB from 1 to 1048576, got '" + value + "'");
    }
    c.journal_max_size_mib = n;
  } else if (key == "dump-dir") {
    if (value.empty() || value.front() != '/') return Error::logic("dump-dir: expected an absolute path");
    c.dump_dir = value;
  } else if (key == "resync-interval") {
    auto v = parse_seconds(key, value, true);
    if (!v) return v.error();
    c.resync_interval = *v;
  } else if (key == "lonely-timeout") {
    auto v = parse_seconds(key, value, true);
    if (!v) return v.error();
    c.lonely_timeout = *v;
  } else if (std::chrono::milliseconds* period = key == "flush-period"           ? &c.flush_period
                                                 : key == "dump-queue-wait"      ? &c.dump_queue_wait
                                                 : key == "read-grace"           ? &c.read_grace
                                                 : key == "metrics-min-interval" ? &c.metrics_min_interval
                                                                                 : nullptr) {
    auto v = parse_seconds(key, value, false);
    if (!v) return v.error();
    *period = *v;
  } else if (std::size_t* count = key == "capacity"               ? &c.capacity
                                  : key == "max-per-owner"        ? &c.max_per_owner
                                  : key == "max-devices"          ? &c.max_devices
                                  : key == "max-concurrent-dumps" ? &c.max_concurrent_dumps
                                  : key == "max-dumps"            ? &c.max_dumps
                                  : key == "dump-queue"           ? &c.dump_queue
                                  : key == "max-subscribers"      ? &c.max_subscribers
                                  : key == "event-queue"          ? &c.event_queue
                                  : key == "min-read-rate"        ? &c.min_read_rate_kib
                                  : key == "metrics-max-series"   ? &c.metrics_max_series
                                                                  : nullptr) {
    // max-dumps and dump-queue may be 0 (keep every dump; no line for dumps).
    const std::size_t least = key == "max-dumps" || key == "dump-queue" ? 0
                              : key == "min-read-rate"                  ? defaults::kMinReadRateFloor / 1024
                                                                        : 1;
    std::size_t n = 0;
    auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
    if (value.empty() || ec != std::errc() || ptr != value.data() + value.size() || n < least || n > 1000000) {
      return Error::logic(key + ": expected a whole number from " + std::to_string(least) + " to 1000000, got '" +
                          value + "'");
    }
    if (key == "max-subscribers" && n > defaults::kMaxEventSubscribers) {
      return Error::logic("max-subscribers: at most " + std::to_string(defaults::kMaxEventSubscribers) +
                          " (each stream holds a thread of its own, and the unit's TasksMax counts them), got '" +
                          value + "'");
    }
    *count = n;
  } else if (key == "metrics-address") {
    const auto colon = value.rfind(':');
    if (colon == std::string::npos || colon + 1 == value.size()) {
      return Error::logic("metrics-address: expected HOST:PORT (127.0.0.1:9464, [::1]:9464, :9464), got '" + value +
                          "'");
    }
    c.metrics_address = value;
  } else if (key == "render-socket") {
    if (!value.empty() && value.front() != '/') {
      return Error::logic("render-socket: expected an absolute path, got '" + value + "'");
    }
    c.render_socket = value;
  } else if (key == "runtime-root") {
    if (value.empty() || value.front() != '/') {
      return Error::logic("runtime-root: expected an absolute directory, got '" + value + "'");
    }
    c.runtime_root = value;
  } else if (key == "host-pid") {
    std::uint32_t n = 0;
    auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
    // pid_max is at most 2^22.
    if (value.empty() || ec != std::errc() || ptr != value.data() + value.size() || n == 0 || n > (1u << 22)) {
      return Error::logic("host-pid: expected a process id, got '" + value + "'");
    }
    c.host_pid = n;
  } else if (key == "dump-min-free") {
    std::uint64_t n = 0;
    auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
    if (value.empty() || ec != std::errc() || ptr != value.data() + value.size() || n > (1u << 30)) {
      return Error::logic("dump-min-free: expected a number of MiB, got '" + value + "'");
    }
    c.dump_min_free_mib = n;
  } else if (bool* flag = key == "no-ebpf"              ? &c.no_ebpf
                          : key == "no-journal"         ? &c.no_journal
                          : key == "no-routes"          ? &c.no_routes
                          : key == "metrics-namespaces" ? &c.metrics_namespaces
                                                        : nullptr) {
    auto v = parse_bool(key, value);
    if (!v) return v.error();
    *flag = *v;
  } else if (key == "event-log") {
    const bool file = value.rfind("file:/", 0) == 0 && value.size() > 6;
    if (value != "journald" && value != "stdout" && value != "off" && value != "auto" && !file) {
      return Error::logic("event-log: expected journald, stdout, file:/ABSOLUTE/PATH, off or auto, got '" +
                          escape_for_log(value) + "'");
    }
    c.event_log = value;
  } else if (key == "node-name") {
    // A Kubernetes node name is a DNS subdomain; a hostname may be more.
    const bool printable = std::all_of(value.begin(), value.end(),
                                       [](char ch) { return static_cast<unsigned char>(ch) > 0x20 && ch != 0x7f; });
    if (value.empty() || value.size() > 253 || !printable || sanitize_utf8(value) != value) {
      return Error::logic("node-name: expected 1 to 253 bytes of UTF-8 without spaces or control characters, got '" +
                          escape_for_log(value) + "'");
    }
    c.node_name = value;
  } else if (key == "log-level") {
    static const char* const kLevels[] = {"trace", "debug", "info", "warn", "error", "critical", "off"};
    bool ok = false;
    for (const char* level : kLevels) ok = ok || value == level;
    if (!ok) return Error::logic("log-level: expected trace, debug, info, warn, error, critical or off");
    c.log_level = value;
  } else {
    return Error::logic("unknown setting '" + key + "'");
  }
  return {};
}

}  // namespace

Status apply_config_text(std::string_view text, ServiceConfig& config, const std::string& origin) {
  std::size_t line_no = 0;
  for (std::string_view line : split_lines(text)) {
    ++line_no;
    if (auto hash = line.find('#'); hash != std::string_view::npos) line = line.substr(0, hash);
    std::string content = trim(line);
    if (content.empty()) continue;
    std::size_t eq = content.find('=');
    if (eq == std::string::npos) {
      return Error::logic(origin + ":" + std::to_string(line_no) + ": expected 'key = value'");
    }
    std::string key = trim(std::string_view(content).substr(0, eq));
    std::string value = trim(std::string_view(content).substr(eq + 1));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') value = value.substr(1, value.size() - 2);
    if (Status st = apply(config, key, value); !st) {
      return Error::logic(origin + ":" + std::to_string(line_no) + ": " + st.error().context);
    }
  }
  return {};
}

Result<CommandLine> parse_command_line(int argc, const char* const* argv) {
  CommandLine out;
  // Flags with a value, split into key/value; "--key=value" and "--key value" both work.
  std::vector<std::pair<std::string, std::string>> settings;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      out.action = CliAction::help;
      return out;
    }
    if (arg == "--version") {
      out.action = CliAction::version;
      return out;
    }
    if (arg.rfind("--", 0) != 0) return Error::logic("unexpected argument '" + arg + "'");
    std::string key = arg.substr(2);
    std::string value;
    if (auto eq = key.find('='); eq != std::string::npos) {
      value = key.substr(eq + 1);
      key = key.substr(0, eq);
    } else if (key == "no-ebpf" || key == "no-journal" || key == "no-routes" || key == "metrics-namespaces") {
      value = "true";
    } else {
      if (i + 1 >= argc) return Error::logic("--" + key + " needs a value");
      value = argv[++i];
    }
    settings.emplace_back(key, value);
  }

  for (const auto& [key, value] : settings) {
    if (key != "config") continue;
    std::ifstream in(value);
    if (!in) return Error::os("--config: cannot read " + value);
    std::ostringstream text;
    text << in.rdbuf();
    if (Status st = apply_config_text(text.str(), out.config, value); !st) return st.error();
    out.config.config_file = value;
  }
  for (const auto& [key, value] : settings) {
    if (key == "config") continue;
    if (Status st = apply(out.config, key, value); !st) {
      std::string context = st.error().context;
      if (context.rfind("unknown setting", 0) == 0) return Error::logic("unknown option --" + key);
      return Error::logic("--" + context);
    }
  }
  return out;
}

namespace {

// "30", "0.25": how a default number of seconds reads in the help.
std::string in_seconds(std::chrono::milliseconds ms) {
  std::string text = std::to_string(ms.count() / 1000);
  if (auto rest = ms.count() % 1000) {
    std::string frac = std::to_string(1000 + rest).substr(1);
    while (frac.back() == '0') frac.pop_back();
    text += "." + frac;
  }
  return text;
}

}  // namespace

std::string usage() {
  struct Option {
    const char* flag;
    const char* help;
    std::string fallback;  // the default, shown in brackets
  };
  const Option options[] = {
      {"--socket PATH", "Unix socket to serve on", defaults::kSocketPath},
      {"--socket-group GROUP", "group owning the socket (mode 0660)", "root's"},
      {"--dump-dir DIR", "where POST /dump writes files", defaults::kDumpDir},
      {"--resync-interval SECONDS", "full rescan period, 0 = off", in_seconds(defaults::kResyncInterval)},
      {"--lonely-timeout SECONDS", "release a namespace this long after it has no task and no bind mount",
       in_seconds(defaults::kLonelyTimeout)},
      {"--flush-period SECONDS", "how often lonely namespaces are checked", in_seconds(defaults::kFlushPeriod)},
      {"--capacity N", "most namespaces cached (LRU; fewer if RLIMIT_NOFILE is short)",
       std::to_string(defaults::kCapacity)},
      {"--max-per-owner N", "most namespaces cached per owner uid outside the host's user namespace",
       "capacity / " + std::to_string(defaults::kOwnerShareDivisor)},
      {"--max-devices N", "most devices cached per namespace", std::to_string(defaults::kMaxDevices)},
      {"--max-dumps N", "dump pairs kept in --dump-dir, newest first; 0 keeps all",
       std::to_string(defaults::kMaxDumps)},
      {"--dump-min-free MIB", "refuse a dump (507) that would leave less free space",
       std::to_string(defaults::kDumpMinFreeBytes >> 20)},
      {"--max-concurrent-dumps N", "dumps built at once", std::to_string(defaults::kMaxConcurrentDumps)},
      {"--dump-queue N", "dumps waiting beyond those; more get 503", std::to_string(defaults::kDumpQueue)},
      {"--dump-queue-wait SECONDS", "longest a dump waits in line, then 503", in_seconds(defaults::kDumpQueueWait)},
      {"--min-read-rate KIB", "KiB/s a client must take an answer at once --read-grace is spent, or it is cut",
       std::to_string(defaults::kMinReadRate / 1024)},
      {"--read-grace SECONDS", "time an answer may take before --min-read-rate applies",
       in_seconds(defaults::kReadGrace)},
      {"--max-subscribers N", "GET /v1/events streams at once", std::to_string(defaults::kMaxEventSubscribers)},
      {"--event-queue N", "changes held per stream for a slow reader; past them it loses changes (counted)",
       std::to_string(defaults::kEventQueue)},
      {"--metrics-address HOST:PORT", "also serve GET /metrics, /healthz, /readyz over TCP", "off"},
      {"--metrics-namespaces",
       "per-namespace and per-device series in /metrics (they show the host's layout to whoever scrapes)", ""},
      {"--metrics-min-interval SECONDS", "the per-namespace counters are read at most this often",
       in_seconds(defaults::kMetricsMinInterval)},
      {"--metrics-max-series N", "most per-namespace series; beyond them, whole namespaces are left out (counted)",
       std::to_string(defaults::kMetricsMaxSeries)},
      {"--node-name NAME", "the label node on every series (a DaemonSet sets it from spec.nodeName)", "the hostname"},
      {"--event-log WHERE",
       "every change as a log entry: journald, stdout (NDJSON), file:/PATH (NDJSON, rotated) or off; at most 200/s, "
       "the rest summarised",
       "journald under systemd, else off"},
      {"--render-socket PATH", "render SVG and PNG through netnsd-render listening there (under systemd)",
       "a forked renderer"},
      {"--runtime-root DIR", "where container runtimes' state is read (names of containers and pods)",
       defaults::kRuntimeRoot},
      {"--host-pid PID", "see cgroups and --runtime-root as process PID does (1 in a container with the host's pids)",
       "off"},
      {"--journal PATH", "the history journal (SQLite): every change, for ?at=, /v1/whois and /v1/history",
       defaults::kJournalPath},
      {"--journal-max-age SECONDS", "history older than this goes",
       std::to_string(std::chrono::duration_cast<std::chrono::seconds>(defaults::kJournalMaxAge).count()) +
           " (7 days)"},
      {"--journal-max-size MIB", "the journal's files together stay under this; the oldest history goes first",
       std::to_string(defaults::kJournalMaxBytes >> 20)},
      {"--no-journal", "keep no history", ""},
      {"--no-routes", "keep no routes, policy rules or neighbours (cached live by default, within budgets)", ""},
      {"--no-ebpf", "do not load the BPF programs", ""},
      {"--log-level LEVEL", "trace|debug|info|warn|error|critical|off", defaults::kLogLevel},
      {"--config FILE", "read settings from FILE first", ""},
  };
  std::string out =
      "Usage: netnsd [OPTIONS]\n\n"
      "Keeps a live cache of the host's network namespaces and their devices and\n"
      "serves it over HTTP/JSON on a Unix socket (POST /dump, GET /v1/namespaces, ...).\n\n"
      "Options (each also settable as \"key = value\" in the --config file):\n";
  std::size_t width = 0;
  for (const Option& o : options) width = std::max(width, std::strlen(o.flag));
  for (const Option& o : options) {
    std::string line = std::string("  ") + o.flag;
    line.resize(width + 4, ' ');
    line += o.help;
    if (!o.fallback.empty()) line.append(" [").append(o.fallback).append("]");
    out += line + "\n";
  }
  return out + "  --help, --version\n";
}

}  // namespace netnsd
