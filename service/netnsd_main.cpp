// netnsd: wires configuration, signals and the library's parts together.
#include <malloc.h>
#include <signal.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/sinks/systemd_sink.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <thread>

#include "api/http_api.h"
#include "api/unix_socket.h"
#include "config.h"
#include "dump/dump_files.h"
#include "dump/dumper.h"
#include "history/event_log.h"
#include "history/history_reader.h"
#include "history/journal.h"
#include "kernel/kernel_host.h"
#include "live/kernel_sources.h"
#include "live/tracker.h"
#include "resolver/resolver.h"
#include "resolver/scanner.h"
#include "systemd.h"

namespace netnsd {
namespace {

// Three descriptors per cached namespace plus a reserve: the default soft
// limit of 1024 is far below what the default capacity needs. Raises the
// soft limit to the hard one and returns the limit now in force.
std::uint64_t raise_fd_limit() {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) return 1024;
  if (lim.rlim_cur < lim.rlim_max) {
    rlimit raised = lim;
    raised.rlim_cur = lim.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) {
      lim = raised;
    } else {
      spdlog::warn("cannot raise the open-file limit above {}", lim.rlim_cur);
    }
  }
  return lim.rlim_cur == RLIM_INFINITY ? UINT64_MAX : static_cast<std::uint64_t>(lim.rlim_cur);
}

// Resident memory stays proportional to the cache, not to the largest dump
// ever served: glibc would give each HTTP worker thread its own arena (up to
// 8 per core) and keep a dump's freed megabytes in each, and its dynamic
// mmap threshold would move big buffers onto those heaps. Two arenas, and
// buffers of 256 KiB or more always mmap()ed (so freeing returns them).
void tune_malloc() {
  mallopt(M_ARENA_MAX, 2);
  mallopt(M_MMAP_THRESHOLD, 256 * 1024);
}

// On a terminal or in a file: timestamp, level, message. Under systemd the
// journal stamps lines itself and keeps each one's priority.
void setup_logging(const std::string& level) {
  std::shared_ptr<spdlog::logger> logger;
  if (stderr_is_journal()) {
    logger = std::make_shared<spdlog::logger>("netnsd", std::make_shared<spdlog::sinks::systemd_sink_mt>("netnsd"));
    logger->set_pattern("%v");
  } else {
    logger = spdlog::stderr_color_mt("netnsd");
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  }
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(level));
}

// "1001 namespaces cached, live": what systemctl status shows.
std::string status_line(const Resolver& resolver) {
  const ResolverStats s = resolver.stats();
  std::string status = std::to_string(s.namespaces) + " namespaces cached, " + (s.degraded ? "degraded" : "live");
  if (!s.limits.empty()) status += " (" + std::to_string(s.limits.size()) + " limit(s): see /readyz)";
  return status;
}

// Where container runtimes' state and the cgroups of processes are read:
// with --host-pid, as that process sees them (a DaemonSet's netnsd has the
// host's pids, but a cgroup namespace and a root of its own).
struct ContainerSources {
  std::string runtime_root;
  std::optional<CgroupView> cgroups;  // null: netnsd's own
};

// Before any thread starts: a joined cgroup namespace is the calling
// thread's, and the threads started after it inherit it.
ContainerSources container_sources(const ServiceConfig& config) {
  ContainerSources out{config.runtime_root, std::nullopt};
  if (config.host_pid == 0) return out;
  const std::string root = "/proc/" + std::to_string(config.host_pid) + "/root";
  out.runtime_root = root + (config.runtime_root == "/" ? "" : config.runtime_root);
  auto view = join_cgroups_of(config.host_pid);
  if (!view) {
    spdlog::warn(
        "--host-pid {}: {}: cgroups are read as netnsd sees them, and containers outside its cgroup "
        "namespace are named by id only",
        config.host_pid, view.error().message());
    return out;
  }
  spdlog::info("cgroups and container runtimes' state as process {} sees them (runtime root {})", config.host_pid,
               out.runtime_root);
  out.cgroups = std::move(*view);
  return out;
}

// The API on the Unix socket, from the configuration.
HttpApiOptions api_options(const ServiceConfig& config) {
  HttpApiOptions options;
  options.socket_path = config.socket_path;
  options.max_concurrent_dumps = config.max_concurrent_dumps;
  options.dump_queue = config.dump_queue;
  options.dump_queue_wait = config.dump_queue_wait;
  options.max_subscribers = config.max_subscribers;
  options.min_read_rate = config.min_read_rate_kib * 1024;
  options.read_grace = config.read_grace;
  options.render_socket = config.render_socket;
  return options;
}

// The metrics endpoint: probes and scrapes only, a few connections, a few workers.
HttpApiOptions metrics_options(const HttpApiOptions& api, const std::string& address) {
  HttpApiOptions options = api;
  options.tcp_address = address;
  options.connections.max_connections = 32;
  options.connections.max_overflow = 8;
  options.connections.max_pending = 16;
  options.api_workers = 1;
  return options;
}

// Signals are taken synchronously by sigwait(), so every thread started
// after this inherits the block. SIGHUP asks for a rescan (there is nothing
// to reload: the configuration is read once).
sigset_t block_signals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
  return signals;
}

ResolverConfig resolver_config(const ServiceConfig& config, const FdBudget& budget) {
  ResolverConfig out;
  out.capacity = budget.capacity;
  out.configured_capacity = config.capacity;
  out.capacity_limit = budget.limit;
  out.lonely_timeout = config.lonely_timeout;
  out.max_per_owner = config.max_per_owner;
  out.max_devices = config.max_devices;
  return out;
}

// The watchdog is fed from the event loop itself: if it stalls, systemd
// stops hearing from it and restarts netnsd.
TrackerConfig tracker_config(const ServiceConfig& config, const SystemdNotifier& systemd, const Resolver& resolver) {
  TrackerConfig out;
  out.resync_interval = config.resync_interval;
  out.flush_period = config.flush_period;
  out.use_ebpf = !config.no_ebpf;
  if (auto interval = systemd.watchdog_interval()) {
    out.heartbeat_interval = *interval;
    out.heartbeat = [&systemd, &resolver] { systemd.watchdog(status_line(resolver)); };
  }
  return out;
}

history::JournalOptions journal_options(const ServiceConfig& config) {
  history::JournalOptions o;
  o.path = config.journal_path;
  o.max_age = std::chrono::duration_cast<std::chrono::seconds>(config.journal_max_age);
  o.max_bytes = config.journal_max_size_mib << 20;
  o.version = kVersion;
  return o;
}

DumpFileOptions dump_file_options(const ServiceConfig& config, std::optional<gid_t> group) {
  DumpFileOptions out;
  out.group = group;
  out.max_dumps = config.max_dumps;
  out.min_free_bytes = config.dump_min_free_mib << 20;
  return out;
}

// What a crash left in the dump directory (temporaries, a graph without its
// dump) goes, and the directory gets its mode and group.
void sweep_dumps(const std::string& dir, const DumpFileOptions& options) {
  if (auto swept = sweep_dump_dir(dir, options); !swept) {
    spdlog::warn("dump directory not usable yet: {}", swept.error().message());
  } else if (swept->temporaries || swept->unpaired || swept->pruned) {
    spdlog::info(
        "dump directory swept: {} temporaries and {} unpaired files left by a crash removed, {} old pairs pruned",
        swept->temporaries, swept->unpaired, swept->pruned);
  }
}

// The API, then the event sources, then the metrics endpoint; false (said)
// when one cannot start.
bool start_serving(HttpApi& api, Tracker& tracker, HttpApi* metrics_api, const ServiceConfig& config) {
  auto started = [](const Status& st) {
    if (!st) spdlog::critical("cannot start: {}", st.error().message());
    return static_cast<bool>(st);
  };
  if (!started(api.start()) || !started(tracker.start()) || (metrics_api && !started(metrics_api->start()))) {
    return false;
  }
  if (metrics_api) spdlog::info("metrics, /healthz and /readyz over TCP on {}", *config.metrics_address);
  spdlog::info("netnsd {} serving on {} (dumps in {})", kVersion, config.socket_path, config.dump_dir);
  return true;
}

// Says READY=1 once the initial scan is done and the event sources run;
// rescans on SIGHUP; returns on SIGTERM or SIGINT.
void serve_until_stopped(const sigset_t& signals, Tracker& tracker, const SystemdNotifier& systemd,
                         const Resolver& resolver) {
  std::atomic<bool> stopping{false};
  std::thread readiness([&] {
    while (!stopping && !tracker.wait_ready(std::chrono::milliseconds(100))) {
    }
    if (!stopping) systemd.ready(status_line(resolver));
  });
  int signal_number = 0;
  while (sigwait(&signals, &signal_number) == 0 && signal_number == SIGHUP) {
    spdlog::info("SIGHUP: rescanning the host");
    tracker.request_resync();
  }
  spdlog::info("stopping on {}", strsignal(signal_number));
  systemd.stopping();
  stopping = true;
  readiness.join();
}

// --event-log auto: the journal when systemd started us (it sets
// INVOCATION_ID for every unit it runs), else nothing.
history::EventLogOptions event_log_options(const ServiceConfig& config) {
  std::string where = config.event_log;
  if (where == "auto") where = std::getenv("INVOCATION_ID") ? "journald" : "off";
  auto options = history::parse_event_log(where);
  return options ? *options : history::EventLogOptions{};  // the configuration checked it
}

// The `node` label: --node-name, else the hostname.
std::string node_name(const ServiceConfig& config) {
  if (!config.node_name.empty()) return config.node_name;
  utsname u{};
  return ::uname(&u) == 0 ? std::string(u.nodename) : std::string();
}

int run(const ServiceConfig& config) {
  tune_malloc();
  setup_logging(config.log_level);
  const ContainerSources containers = container_sources(config);
  HttpApiOptions options = api_options(config);
  std::optional<HttpApiOptions> metrics;
  if (config.metrics_address) metrics = metrics_options(options, *config.metrics_address);
  // What clients can hold comes out of the descriptors first.
  const std::size_t reserve = defaults::kFdFixedReserve + options.connections.max_descriptors() +
                              (metrics ? metrics->connections.max_descriptors() : 0);
  const FdBudget budget = plan_fd_budget(config.capacity, raise_fd_limit(), reserve);
  if (!budget.limit.empty()) spdlog::warn("{}; /readyz reports degraded", budget.limit);
  if (config.socket_group) {
    auto gid = lookup_group(*config.socket_group);
    if (!gid) {
      spdlog::critical("--socket-group: {}", gid.error().message());
      return 1;
    }
    options.socket_group = *gid;
  }
  const sigset_t signals = block_signals();

  SystemClock clock;
  // The journal first: the feed's sequence numbers go on from its last.
  std::unique_ptr<history::Journal> journal;
  std::unique_ptr<history::HistoryReader> history;
  if (!config.no_journal) {
    journal = std::make_unique<history::Journal>(journal_options(config), clock);
    history = std::make_unique<history::HistoryReader>(config.journal_path);
  }
  // Every change the cache applies, for GET /v1/events and the journal;
  // outlives the resolver.
  ChangeFeed feed(FeedOptions{.after_seq = journal ? journal->last_seq() : 0,
                              .queue = config.event_queue,
                              .max_subscribers = config.max_subscribers});
  Resolver resolver(resolver_config(config, budget), clock);
  resolver.set_feed(&feed);
  KernelHost host(&resolver.netlink_counters(), "/proc", "/proc/self/mountinfo", containers.runtime_root,
                  containers.cgroups);
  // Each namespace's routes, rules and neighbours, on the monitor socket it
  // has anyway (--no-routes: none).
  std::unique_ptr<FactStore> facts;
  if (!config.no_routes) facts = std::make_unique<FactStore>();
  KernelSources sources(&resolver.netlink_counters(), "/proc/self/mountinfo", facts != nullptr);
  SystemdNotifier systemd;
  TrackerConfig live = tracker_config(config, systemd, resolver);
  live.facts = facts.get();
  Tracker tracker(resolver, host, sources, clock, live);
  const DumpFileOptions file_options = dump_file_options(config, options.socket_group);
  Dumper dumper(resolver, host, clock, config.dump_dir, file_options);
  dumper.set_facts(facts.get());
  sweep_dumps(config.dump_dir, file_options);
  Telemetry telemetry;
  HttpApiDeps deps{resolver,
                   dumper,
                   [&tracker] { return tracker.not_ready_reasons(); },
                   [&tracker](std::chrono::milliseconds wait) { return tracker.wait_ready(wait); },
                   &telemetry,
                   &feed,
                   journal.get(),
                   history.get()};
  deps.node_name = node_name(config);
  deps.facts = facts.get();
  std::unique_ptr<NamespaceMetrics> namespace_metrics;
  if (config.metrics_namespaces) {
    namespace_metrics = std::make_unique<NamespaceMetrics>(
        resolver, host, clock, dumper.host_netns(), label_value(deps.node_name),
        NamespaceMetricsOptions{.min_interval = config.metrics_min_interval, .max_series = config.metrics_max_series});
    deps.namespace_metrics = namespace_metrics.get();
  }
  if (journal) journal->start(feed, [&resolver] { return resolver.snapshot(); });
  history::EventLog event_log(event_log_options(config), clock, [&resolver](NetnsId netns) {
    history::EventContext context;
    if (auto ns = resolver.find(netns)) {
      for (const ContainerRef& c : ns->containers) {
        if (context.container.empty()) context.container = c.name.empty() ? c.id : c.name;
        if (context.pod.empty() && !c.pod_name.empty()) context.pod = c.pod_namespace + "/" + c.pod_name;
      }
    }
    return context;
  });
  if (Status st = event_log.start(feed); !st) {
    spdlog::warn("{}: changes are counted, not logged, until it can be written", st.error().message());
  }
  deps.event_log = &event_log;
  std::unique_ptr<HttpApi> metrics_api;
  if (metrics) metrics_api = std::make_unique<HttpApi>(deps, *metrics);
  HttpApi api(std::move(deps), options);
  if (!start_serving(api, tracker, metrics_api.get(), config)) return 1;
  serve_until_stopped(signals, tracker, systemd, resolver);
  if (metrics_api) metrics_api->stop();
  api.stop();
  tracker.stop();
  if (journal) journal->stop();  // what is queued, then the clean stop
  event_log.stop();              // and the summaries still counted
  return 0;
}

}  // namespace
}  // namespace netnsd

int main(int argc, char** argv) {
  auto cli = netnsd::parse_command_line(argc, argv);
  if (!cli) {
    std::fprintf(stderr, "netnsd: %s\nTry 'netnsd --help'.\n", cli.error().message().c_str());
    return 2;
  }
  if (cli->action == netnsd::CliAction::help) {
    std::fputs(netnsd::usage().c_str(), stdout);
    return 0;
  }
  if (cli->action == netnsd::CliAction::version) {
    std::printf("netnsd %s\n", netnsd::kVersion);
    return 0;
  }
  try {
    return netnsd::run(cli->config);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "netnsd: fatal: %s\n", e.what());
    return 1;
  }
}
