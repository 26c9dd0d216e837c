// netnsd: wires configuration, signals and the library's parts together.
#include <malloc.h>
#include <signal.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <exception>

#include "api/http_api.h"
#include "config.h"
#include "dump/dump_files.h"
#include "dump/dumper.h"
#include "kernel/kernel_host.h"
#include "live/kernel_sources.h"
#include "live/tracker.h"
#include "resolver/resolver.h"
#include "resolver/scanner.h"

namespace netnsd {
namespace {

// One handle per cached namespace plus sockets: the default soft limit of
// 1024 is below the default capacity.
void raise_fd_limit() {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &lim) != 0) spdlog::warn("cannot raise the open-file limit");
  }
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

void setup_logging(const std::string& level) {
  auto logger = spdlog::stderr_color_mt("netnsd");
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(level));
}

int run(const ServiceConfig& config) {
  tune_malloc();
  setup_logging(config.log_level);
  raise_fd_limit();

  // Signals are taken synchronously by sigwait() below, so every thread
  // started from here on inherits the block.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  SystemClock clock;
  Resolver resolver({config.capacity, config.lonely_timeout}, clock);
  KernelHost host;
  KernelSources sources;
  TrackerConfig tracker_config;
  tracker_config.resync_interval = config.resync_interval;
  tracker_config.flush_period = config.flush_period;
  tracker_config.use_ebpf = !config.no_ebpf;
  Tracker tracker(resolver, host, sources, clock, tracker_config);
  Dumper dumper(resolver, host, clock, config.dump_dir);
  if (Status st = ensure_dump_dir(config.dump_dir); !st) {
    spdlog::warn("dump directory not usable yet: {}", st.error().message());
  }
  HttpApiDeps deps{resolver, dumper, [&tracker] { return tracker.not_ready_reasons(); }};
  HttpApiOptions options;
  options.socket_path = config.socket_path;
  options.socket_group = config.socket_group;
  HttpApi api(std::move(deps), options);
  if (Status st = api.start(); !st) {
    spdlog::critical("cannot start: {}", st.error().message());
    return 1;
  }
  if (Status st = tracker.start(); !st) {
    spdlog::critical("cannot start: {}", st.error().message());
    return 1;
  }
  spdlog::info("netnsd {} serving on {} (dumps in {})", kVersion, config.socket_path, config.dump_dir);

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  spdlog::info("stopping on {}", strsignal(signal_number));
  api.stop();
  tracker.stop();
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
