#include "history/event_log.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <mutex>
#include <thread>
#include <utility>

#include "util/fd.h"
#include "util/json_writer.h"
#include "util/text.h"

namespace netnsd::history {
namespace {

constexpr std::string_view kJournaldSocket = "/run/systemd/journal/socket";

std::string device_of(const Change& c) {
  if (c.device) return c.device->name;
  if (c.old) return c.old->name;
  if (c.neighbour && !c.device_names.empty()) return c.device_names.front().second;
  return c.device_name;
}

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& item : items) out += (out.empty() ? "" : ", ") + escape_for_log(item, 64);
  return out;
}

// One readable sentence per change, names escaped for a log line.
std::string message(const Change& c, const EventContext& context) {
  const std::string netns = "network namespace " + std::to_string(c.netns);
  const std::string device = escape_for_log(device_of(c), 64);
  std::string text;
  switch (c.kind) {
    case ChangeKind::netns_added:
      text = netns + " appeared" + (c.names.empty() ? "" : " (" + joined(c.names) + ")");
      break;
    case ChangeKind::netns_changed:
      text = netns + " changed: " + joined(c.changed);
      break;
    case ChangeKind::netns_removed:
      text = netns + " left the cache" + (c.reason.empty() ? "" : " (" + c.reason + ")");
      break;
    case ChangeKind::device_added:
      text = "device " + device + (c.device && !c.device->kind.empty() ? " (" + c.device->kind + ")" : "") +
             " appeared in " + netns;
      break;
    case ChangeKind::device_changed:
      text = "device " + device + " in " + netns + " changed: " + joined(c.changed);
      break;
    case ChangeKind::device_removed:
      text = "device " + device + (c.moved_to ? " moved out of " : " went away from ") + netns;
      break;
    case ChangeKind::address_added:
    case ChangeKind::address_changed:
    case ChangeKind::address_removed: {
      const std::string address =
          c.address ? address_text(*c.address) + "/" + std::to_string(c.address->prefix_len) : "an address";
      const char* what = c.kind == ChangeKind::address_added     ? " added to "
                         : c.kind == ChangeKind::address_removed ? " removed from "
                                                                 : " changed on ";
      text = "address " + address + what + device + " in " + netns;
      break;
    }
    case ChangeKind::neighbour_added:
    case ChangeKind::neighbour_removed: {
      const std::string address = c.neighbour ? ip_text(c.neighbour->family, c.neighbour->dst) : "a neighbour";
      const std::string lladdr = c.neighbour && !c.neighbour->lladdr.empty() ? " at " + c.neighbour->lladdr : "";
      text = "neighbour " + address + lladdr +
             (c.kind == ChangeKind::neighbour_added ? " appeared on " : " vanished from ") + device + " in " + netns;
      break;
    }
    default:  // not recorded_in_history: never reaches the event log
      text = std::string(to_string(c.kind)) + " in " + netns;
      break;
  }
  if (!context.pod.empty()) {
    text += " [pod " + escape_for_log(context.pod, 128) + "]";
  } else if (!context.container.empty()) {
    text += " [container " + escape_for_log(context.container, 128) + "]";
  }
  return text;
}

void append_le64(std::string& out, std::uint64_t n) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((n >> (8 * i)) & 0xff));
}

bool is_number_field(std::string_view name) {
  return name == "NETNSD_SEQ" || name == "NETNSD_NETNS" || name == "NETNSD_COUNT" || name == "NETNSD_RATE";
}

}  // namespace

Result<EventLogOptions> parse_event_log(std::string_view text) {
  EventLogOptions options;
  if (text == "off") return options;
  if (text == "journald") {
    options.target = EventLogTarget::journald;
    options.path = std::string(kJournaldSocket);
    return options;
  }
  if (text == "stdout") {
    options.target = EventLogTarget::stdout_lines;
    return options;
  }
  if (text.rfind("file:", 0) == 0 && text.size() > 6 && text[5] == '/') {
    options.target = EventLogTarget::file;
    options.path = std::string(text.substr(5));
    return options;
  }
  return Error::logic("event-log: expected journald, stdout, file:/ABSOLUTE/PATH or off, got '" + escape_for_log(text) +
                      "'");
}

EventLimiter::EventLimiter(const EventLogOptions& options, SteadyTime now)
    : options_(options), tokens_(static_cast<double>(options.burst)), refilled_(now), summarised_(now) {}

bool EventLimiter::admit(const Change& change, SteadyTime now) {
  const double elapsed = std::chrono::duration<double>(now - refilled_).count();
  tokens_ = std::min(static_cast<double>(options_.burst), tokens_ + elapsed * static_cast<double>(options_.rate));
  refilled_ = now;
  if (tokens_ >= 1) {
    tokens_ -= 1;
    return true;
  }
  if (counts_.empty()) summarised_ = now;  // a storm's first summary comes a period after it began
  count({change.kind, change.netns});
  return false;
}

void EventLimiter::count(SummaryKey key, std::uint64_t n) {
  // Beyond summary_keys pairs, a type's count is kept for every namespace at once.
  if (counts_.size() >= options_.summary_keys && !counts_.count(key)) key.netns = 0;
  counts_[key] += n;
}

std::map<SummaryKey, std::uint64_t> EventLimiter::due(SteadyTime now, bool force) {
  if (counts_.empty()) return {};
  if (!force && now - summarised_ < options_.summary_period && counts_.size() < options_.summary_keys) return {};
  summarised_ = now;
  return std::exchange(counts_, {});
}

std::vector<std::pair<std::string, std::string>> entry_fields(const Change& change, const EventContext& context) {
  std::vector<std::pair<std::string, std::string>> f = {
      {"MESSAGE", message(change, context)},
      {"PRIORITY", "6"},
      {"SYSLOG_IDENTIFIER", "netnsd"},
      {"NETNSD_SEQ", std::to_string(change.seq)},
      {"NETNSD_TYPE", std::string(to_string(change.kind))},
      {"NETNSD_NETNS", std::to_string(change.netns)},
  };
  if (const std::string device = device_of(change); !device.empty()) f.emplace_back("NETNSD_DEVICE", device);
  if (change.address) {
    f.emplace_back("NETNSD_ADDRESS", address_text(*change.address) + "/" + std::to_string(change.address->prefix_len));
  }
  if (change.neighbour) {
    f.emplace_back("NETNSD_ADDRESS", ip_text(change.neighbour->family, change.neighbour->dst));
  }
  if (!context.container.empty()) f.emplace_back("NETNSD_CONTAINER", context.container);
  if (!context.pod.empty()) f.emplace_back("NETNSD_POD", context.pod);
  return f;
}

std::vector<std::pair<std::string, std::string>> summary_fields(SummaryKey key, std::uint64_t count, std::size_t rate) {
  const std::string of = key.kind ? std::string(to_string(*key.kind)) : "lost";
  const std::string where = key.netns ? "network namespace " + std::to_string(key.netns) : "all namespaces";
  std::vector<std::pair<std::string, std::string>> f = {
      {"MESSAGE", std::to_string(count) + " " + of + " changes in " + where +
                      " not logged one by one (over netnsd's event log rate of " + std::to_string(rate) +
                      " a second, or not written)"},
      {"PRIORITY", "5"},
      {"SYSLOG_IDENTIFIER", "netnsd"},
      {"NETNSD_TYPE", "summary"},
      {"NETNSD_SUMMARY_OF", of},
      {"NETNSD_COUNT", std::to_string(count)},
      {"NETNSD_RATE", std::to_string(rate)},
  };
  if (key.netns) f.emplace_back("NETNSD_NETNS", std::to_string(key.netns));
  return f;
}

std::string journal_datagram(const std::vector<std::pair<std::string, std::string>>& fields) {
  std::string out;
  for (const auto& [name, value] : fields) {
    out += name;
    if (value.find('\n') == std::string::npos) {
      out.append("=").append(value).append("\n");
    } else {
      out += '\n';
      append_le64(out, value.size());
      out.append(value).append("\n");
    }
  }
  return out;
}

std::string ndjson_line(const std::vector<std::pair<std::string, std::string>>& fields, WallTime at) {
  JsonWriter out(false);
  out.begin_object().field("time", format_rfc3339_ms(at));
  for (const auto& [name, value] : fields) {
    if (name == "PRIORITY" || name == "SYSLOG_IDENTIFIER") continue;
    std::string key = name.rfind("NETNSD_", 0) == 0 ? name.substr(7) : name;
    std::transform(key.begin(), key.end(), key.begin(), [](char c) { return static_cast<char>(std::tolower(c)); });
    std::uint64_t n = 0;
    const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
    if (is_number_field(name) && ec == std::errc() && end == value.data() + value.size()) {
      out.field(key, n);
    } else {
      out.field(key, value);
    }
  }
  return out.end_object().take();
}

struct EventLog::Impl {
  EventLogOptions options;
  const Clock& clock;
  std::function<EventContext(NetnsId)> context;
  std::unique_ptr<ChangeFeed::Subscription> subscription;
  std::thread thread;
  std::atomic<bool> stopping{false};
  Fd fd;
  std::uint64_t file_bytes = 0;
  SteadyTime reconnected{};
  mutable std::mutex mutex;  // guards stats
  EventLogStats stats;

  Impl(EventLogOptions o, const Clock& c, std::function<EventContext(NetnsId)> ctx)
      : options(std::move(o)), clock(c), context(std::move(ctx)) {}

  Status open() {
    switch (options.target) {
      case EventLogTarget::off:
        return {};
      case EventLogTarget::stdout_lines:
        fd = Fd(::fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3));
        if (!fd) return Error::os("event log: dup stdout");
        return {};
      case EventLogTarget::file:
        return open_file();
      case EventLogTarget::journald: {
        fd = Fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
        if (!fd) return Error::os("event log: socket");
        // A journald that does not take an entry within this long loses
        // it to a summary: the thread never waits longer on one.
        timeval wait{0, static_cast<suseconds_t>(defaults::kEventLogSendTimeout.count() * 1000)};
        ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &wait, sizeof wait);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        if (options.path.size() >= sizeof addr.sun_path) return Error::logic("event log: socket path too long");
        std::copy(options.path.begin(), options.path.end(), addr.sun_path);
        if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
          return Error::os("event log: connect to journald at " + options.path);
        }
        return {};
      }
    }
    return {};
  }

  Status open_file() {
    fd = Fd(::open(options.path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640));
    if (!fd) return Error::os("event log: open " + options.path);
    struct stat st {};
    file_bytes = ::fstat(fd.get(), &st) == 0 ? static_cast<std::uint64_t>(st.st_size) : 0;
    return {};
  }

  // PATH becomes PATH.1, PATH.1 PATH.2, ..., the oldest past file_keep goes.
  void rotate() {
    fd.reset();
    for (std::size_t i = options.file_keep; i >= 1; --i) {
      const std::string from = i == 1 ? options.path : options.path + "." + std::to_string(i - 1);
      ::rename(from.c_str(), (options.path + "." + std::to_string(i)).c_str());
    }
    if (options.file_keep == 0) ::unlink(options.path.c_str());
    if (Status st = open_file(); !st) fd.reset();
  }

  // A reader of stdout that stops reading (a stuck log agent) costs at most
  // the send timeout per entry, never a blocked thread.
  bool write_all(std::string_view bytes) {
    while (!bytes.empty()) {
      pollfd p{fd.get(), POLLOUT, 0};
      if (::poll(&p, 1, static_cast<int>(defaults::kEventLogSendTimeout.count())) != 1) return false;
      const ssize_t n = ::write(fd.get(), bytes.data(), bytes.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }

  bool write(const std::vector<std::pair<std::string, std::string>>& fields) {
    if (options.target == EventLogTarget::journald) {
      const std::string datagram = journal_datagram(fields);
      auto sent = [&] {
        return fd && ::send(fd.get(), datagram.data(), datagram.size(), MSG_NOSIGNAL) ==
                         static_cast<ssize_t>(datagram.size());
      };
      if (sent()) return true;
      // journald restarted (its socket is new) or was not there yet: once
      // more on a new connection, at most once a second.
      if (clock.steady() - reconnected < std::chrono::seconds(1)) return false;
      reconnected = clock.steady();
      fd.reset();
      return open() && sent();
    }
    if (!fd && options.target == EventLogTarget::file && !open_file()) return false;
    if (!fd) return false;
    const std::string line = ndjson_line(fields, clock.now());
    if (options.target == EventLogTarget::file && file_bytes > 0 && file_bytes + line.size() > options.file_max_bytes) {
      rotate();
      if (!fd) return false;
    }
    const bool ok = write_all(line);
    if (ok) file_bytes += line.size();
    return ok;
  }

  void write_summaries(EventLimiter& limiter, bool force) {
    for (const auto& [key, count] : limiter.due(clock.steady(), force)) {
      const bool ok = write(summary_fields(key, count, options.rate));
      std::lock_guard lock(mutex);
      if (ok) {
        ++stats.summaries;
        stats.summarised += count;
      } else {
        ++stats.write_errors;
        if (!force) limiter.count(key, count);  // kept for the next try
      }
    }
  }

  void take(EventLimiter& limiter, const std::vector<FeedItem>& items) {
    for (const FeedItem& item : items) {
      if (!item.change) {
        // Lost by the queue, of kinds unknown: summarised as such.
        limiter.count({std::nullopt, 0}, item.lost);
        std::lock_guard lock(mutex);
        stats.changes += item.lost;
        stats.lost += item.lost;
        continue;
      }
      const Change& c = *item.change;
      {
        std::lock_guard lock(mutex);
        ++stats.changes;
      }
      if (!limiter.admit(c, clock.steady())) continue;
      const EventContext ctx = context ? context(c.netns) : EventContext{};
      const bool ok = write(entry_fields(c, ctx));
      std::lock_guard lock(mutex);
      if (ok) {
        ++stats.entries;
      } else {
        ++stats.write_errors;
        limiter.count({c.kind, c.netns});
      }
    }
  }

  void run() {
    EventLimiter limiter(options, clock.steady());
    while (!stopping) {
      take(limiter, subscription->next(std::chrono::milliseconds(200)));
      write_summaries(limiter, false);
    }
    take(limiter, subscription->next(std::chrono::milliseconds(0)));
    write_summaries(limiter, true);
  }
};

EventLog::EventLog(EventLogOptions options, const Clock& clock, std::function<EventContext(NetnsId)> context)
    : impl_(std::make_unique<Impl>(std::move(options), clock, std::move(context))) {}

EventLog::~EventLog() {
  stop();
}

Status EventLog::start(ChangeFeed& feed) {
  if (impl_->options.target == EventLogTarget::off) return {};
  Status opened = impl_->open();
  impl_->subscription = feed.subscribe_internal(impl_->options.queue);
  impl_->thread = std::thread([this] { impl_->run(); });
  return opened;
}

void EventLog::stop() {
  if (!impl_->thread.joinable()) return;
  impl_->stopping = true;
  impl_->thread.join();
  impl_->subscription.reset();
}

EventLogStats EventLog::stats() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->stats;
}

const EventLogOptions& EventLog::options() const {
  return impl_->options;
}

}  // namespace netnsd::history
