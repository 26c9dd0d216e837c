// The real netnsd binary, started as a child process on a private socket and
// dump directory, stopped (and, if need be, killed) at scope exit.
#pragma once

#include <httplib.h>
#include <sys/types.h>

#include <chrono>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "system.h"

namespace netnsd::testing {

// The device called `name` in a namespace as the API describes it (null
// when there is none). It points into `ns`: keep `ns` alive while using it.
const nlohmann::json* device_in(const nlohmann::json& ns, const std::string& name);

class Daemon {
 public:
  // Starts `<launcher...> NETNSD_BINARY --socket ... --dump-dir ... --journal ... <args>`
  // and waits for GET /readyz to answer 200. The launcher (`prlimit
  // --nofile=1024:1024 --`, say) must exec netnsd in its own process.
  explicit Daemon(std::vector<std::string> args, std::vector<std::string> launcher = {}, bool wait_ready = true);
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  bool ready() const { return ready_; }
  pid_t pid() const { return pid_; }
  const std::string& socket_path() const { return socket_; }
  std::string log() const;

  // One request on a fresh connection (no keep-alive, so no lingering fd).
  httplib::Result get(const std::string& path) const;
  httplib::Result post(const std::string& path, const std::string& body) const;
  // GET that must answer 200 with JSON; null otherwise.
  nlohmann::json get_json(const std::string& path) const;
  // The cached namespace, or null when the cache does not hold it.
  nlohmann::json find_netns(std::uint64_t inode) const;
  // Inodes of every cached namespace.
  std::vector<std::uint64_t> cached() const;
  // One sample of GET /metrics by its whole series name
  // ("netnsd_dumps_running", "netnsd_evictions_total{reason=\"capacity\"}");
  // -1 when absent or unanswered.
  double metric(const std::string& series) const;
  // GET /metrics without the node label netnsd puts on every sample (the
  // hostname unless --node-name says otherwise; the fleet tests check it):
  // series as tests name them. Empty when it does not answer.
  std::string metrics_text() const;

  // Open descriptors of the netnsd process.
  int fd_count() const;
  // Its resident memory, in KiB (VmRSS), and the most it has had (VmHWM).
  long rss_kib() const;
  long peak_rss_kib() const;
  // The same once it has stopped moving (our last request's connection
  // closes a moment after its answer).
  int settled_fd_count() const;
  // SIGTERM and wait; returns the exit status.
  int stop();
  // SIGKILL and wait: a crash.
  void kill();
  // Starts without waiting for /readyz (see the constructor).
  static std::unique_ptr<Daemon> spawn(std::vector<std::string> args, std::vector<std::string> launcher = {});

 private:
  TempDir dir_;
  std::string socket_;
  std::string log_path_;
  pid_t pid_ = -1;
  bool ready_ = false;
};

}  // namespace netnsd::testing
