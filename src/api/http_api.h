// HttpApi: the HTTP/1.1 API on a Unix socket.
//
// Thin by design: handlers parse and validate, call the resolver or the
// dumper, and serialise. Every non-2xx response is JSON
// {"error": sentence, "code": snake_case}; the mapping from failures to
// statuses lives in http_api.cpp only. httplib stays out of this header.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "api/connections.h"
#include "api/namespace_metrics.h"
#include "api/telemetry.h"
#include "dump/dumper.h"
#include "history/event_log.h"
#include "history/history_reader.h"
#include "history/journal.h"
#include "resolver/changes.h"
#include "resolver/resolver.h"
#include "util/defaults.h"
#include "util/fd.h"
#include "util/result.h"

namespace netnsd {

struct HttpApiOptions {
  // The metrics endpoint: a TCP address ("127.0.0.1:9464", "[::1]:9464",
  // ":9464" for every address) serving only GET /metrics, /healthz and
  // /readyz, never dumps or the cache. Empty: the API on socket_path.
  std::string tcp_address;
  std::string socket_path = defaults::kSocketPath;
  // The socket, and its directory, are given to this group (mode 0660 and
  // 0750): its members are trusted clients, like docker.sock's.
  std::optional<gid_t> socket_group;
  // Connections, request limits (a body larger than connections.request.max_body gets 413).
  ConnectionLimits connections;
  // The lanes' workers and lines (defaults.h has the table): dumps build
  // max_concurrent_dumps at once, dump_queue more wait at most
  // dump_queue_wait, then 503 with Retry-After.
  std::size_t max_concurrent_dumps = defaults::kMaxConcurrentDumps;
  std::size_t dump_queue = defaults::kDumpQueue;
  std::chrono::milliseconds dump_queue_wait = defaults::kDumpQueueWait;
  std::size_t max_subscribers = defaults::kMaxEventSubscribers;  // change streams, each on a worker of its lane
  std::size_t api_workers = defaults::kApiWorkers;
  std::size_t probe_workers = defaults::kProbeWorkers;
  std::size_t metrics_workers = defaults::kMetricsWorkers;
  // An answer must be taken within read_grace of its first byte plus its
  // size at min_read_rate bytes per second, or it is cut.
  std::size_t min_read_rate = defaults::kMinReadRate;
  std::chrono::milliseconds read_grace = defaults::kReadGrace;
  std::chrono::milliseconds ready_wait = defaults::kReadyWait;
  // Where a renderer of its own listens (netnsd-render under systemd);
  // empty: each render runs in a child forked for it.
  std::string render_socket;
  // A quiet change stream says it is alive this often (and finds a client
  // that has gone).
  std::chrono::milliseconds event_heartbeat = defaults::kEventHeartbeat;
  // A change stream whose writes make no progress for this long (its
  // reader takes nothing) is closed; until then, what it cannot take is
  // counted as lost.
  std::chrono::milliseconds event_stall_limit = defaults::kEventStallLimit;
};

struct HttpApiDeps {
  Resolver& resolver;
  Dumper& dumper;
  // Why the service is not ready (empty when it is); drives GET /readyz.
  std::function<std::vector<std::string>()> not_ready_reasons;
  // Waits up to the given time for the initial scan; true once it is done.
  // A dump asked for before waits, and gets 503 rather than a partial cache.
  // Null: always ready.
  std::function<bool(std::chrono::milliseconds)> wait_ready;
  // Shared by the API and the metrics endpoint (null: the server's own).
  Telemetry* telemetry = nullptr;
  // What GET /v1/events streams (null: the endpoint answers 503).
  ChangeFeed* feed = nullptr;
  // The journal (its state for /readyz and /metrics) and what answers the
  // past (?at=, /v1/whois?at=, /v1/history); null: no history (503).
  history::Journal* journal = nullptr;
  history::HistoryReader* history = nullptr;
  // Per-namespace series in /metrics (--metrics-namespaces); null: none.
  // Shared by the API and the metrics endpoint: one refresh serves both.
  NamespaceMetrics* namespace_metrics = nullptr;
  // Every change as a log entry (--event-log): its numbers in /metrics; null: off.
  history::EventLog* event_log = nullptr;
  // Each namespace's routes, rules and neighbours (GET /v1/namespaces/{netns});
  // null: not kept (--no-routes).
  FactStore* facts = nullptr;
  // The `node` label on every series (--node-name); empty: none.
  std::string node_name = {};
};

// Threading: start() and stop() from one controlling thread; requests are
// served on the worker pool.
class HttpApi {
 public:
  HttpApi(HttpApiDeps deps, HttpApiOptions options);
  ~HttpApi();
  HttpApi(const HttpApi&) = delete;
  HttpApi& operator=(const HttpApi&) = delete;

  // Takes the socket's lock (a second netnsd on the same path is refused
  // before it touches anything), prepares the socket path (see
  // prepare_socket_path), binds, sets the socket's mode and group, and
  // starts serving on background threads.
  Status start();
  // Stops serving, waits for in-flight requests, removes the socket file.
  void stop();

  const std::string& socket_path() const { return options_.socket_path; }

 private:
  class Impl;
  HttpApiDeps deps_;
  HttpApiOptions options_;
  Telemetry own_telemetry_;
  std::unique_ptr<Impl> impl_;
  Fd lock_;  // flock on <socket>.lock for as long as we serve
  std::thread serving_;
  std::uint64_t socket_dev_ = 0;  // identity of the socket file we bound
  std::uint64_t socket_ino_ = 0;
};

}  // namespace netnsd
