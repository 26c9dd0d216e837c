// Connections: netnsd's own handling of client connections, in front of
// cpp-httplib.
//
// cpp-httplib 0.11.4 gives every connection a worker thread from accept to
// close and only bounds each read() by a timeout, so a few dozen clients that
// trickle bytes hold every worker and health checks go unanswered. Here one
// thread reads every connection (epoll, non-blocking) through a
// RequestReader until it holds a whole request, within a deadline for the
// whole request; only then does a worker see it, and workers never wait on a
// client's reading.
//
// Workers come in lanes, one per kind of request (the server says which
// request goes to which lane: see HttpApi's lane table), so that no kind can
// take the workers another needs: probes, scrapes, dumps and change streams
// each have their own, and the rest of the API too. A lane has a fixed number
// of workers and a line of bounded length where a request waits at most a
// bounded time; a request that finds the lane full, or waits its time out,
// gets the lane's 503 with Retry-After from the reader at once. No request
// ever waits in an unbounded queue.
//
// Bounds, all counted (stats(), lane_stats()):
// - at most max_connections open; at the cap a new connection takes the place
//   of the least recently active one that is idle or has been slow to send
//   its request; when every one is busy, it is read only briefly (an
//   "overflow" connection, at most max_overflow): a probe is answered,
//   anything else gets 503. Accepted connections the reader has not taken
//   up yet wait in two lines (see max_pending), so the descriptors held for
//   clients never exceed max_descriptors();
// - a request must arrive whole within request_deadline of its first byte
//   (408 and close), a kept-alive connection may idle for idle_timeout;
// - a response write that makes no progress for write_timeout ends the
//   connection, and so does an answer not taken whole within its budget
//   (RequestStream: a grace period, then a minimum rate).
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "api/api_error.h"
#include "api/request_reader.h"
#include "util/defaults.h"
#include "util/fd.h"
#include "util/result.h"

namespace netnsd {

struct ConnectionLimits {
  RequestLimits request;
  std::chrono::milliseconds request_deadline = defaults::kRequestDeadline;  // from a request's first byte to its last
  std::chrono::milliseconds idle_timeout = defaults::kIdleTimeout;    // between requests on a kept-alive connection
  std::chrono::milliseconds slow_after = defaults::kSlowAfter;        // a request still incomplete after this is slow
  std::chrono::milliseconds write_timeout = defaults::kWriteTimeout;  // a write that makes no progress this long fails
  std::size_t max_connections = defaults::kMaxConnections;
  std::size_t max_overflow = defaults::kMaxOverflowConnections;  // past the cap, read to find probes
  // Accepted connections not yet taken up by the reader (a connect flood):
  // past this, the oldest waiting one is dropped; one that has sent nothing
  // for less than overflow_wait (a probe, perhaps, whose request is on its
  // way) only past twice this. Probes wait in a line of the same size.
  std::size_t max_pending = defaults::kMaxPendingConnections;
  std::chrono::milliseconds overflow_wait = defaults::kOverflowWait;
  std::size_t max_requests_per_connection = defaults::kMaxRequestsPerConnection;
  std::chrono::milliseconds linger = defaults::kLinger;
  std::size_t linger_bytes = defaults::kLingerBytes;

  // The most descriptors clients can hold at once: connections within the
  // cap, past it, and the two lines of accepted ones waiting for the reader
  // (silent newcomers up to twice max_pending, probes max_pending).
  std::size_t max_descriptors() const { return max_connections + max_overflow + 3 * max_pending; }
};

// Workers of their own for one kind of request, and the line where such a
// request may wait for one.
struct LaneLimits {
  std::string name;  // in /metrics
  std::size_t workers = 1;
  std::size_t queue = 0;  // requests that may wait for a worker; beyond them, `refusal` at once
  // The longest a request waits in line before it gets `refusal` instead
  // (only with a queue).
  std::chrono::milliseconds queue_wait{0};
  // Health checks and scrapes: also answered on a connection past the cap.
  bool probe = false;
  ApiError refusal{503, "busy", "netnsd is busy; retry shortly"};  // a 503; sent with Retry-After
  int retry_after_s = 1;
};

// A lane's figures.
struct LaneStats {
  std::string name;
  std::size_t workers = 0;
  std::size_t busy = 0;    // workers serving a request now
  std::size_t queued = 0;  // requests waiting for a worker
  std::uint64_t served = 0;
  std::uint64_t refused_full = 0;    // 503 at once: every worker busy and the line full
  std::uint64_t refused_waited = 0;  // 503 after waiting queue_wait in line
};

// Who is on the other end of a connection (SO_PEERCRED at accept).
struct Peer {
  pid_t pid = 0;
  uid_t uid = static_cast<uid_t>(-1);
  gid_t gid = static_cast<gid_t>(-1);
};

struct ConnectionStats {
  std::uint64_t open = 0;  // connections now open (overflow ones included)
  std::uint64_t accepted = 0;
  std::uint64_t requests = 0;         // handed to a worker
  std::uint64_t evicted_slow = 0;     // closed at the cap: idle or slow to send
  std::uint64_t refused_busy = 0;     // 503: the cap was reached and every connection busy
  std::uint64_t timed_out = 0;        // 408: a request not whole within its deadline
  std::uint64_t refused_request = 0;  // 4xx from the reader: too long, too large, encoded, chunked
  std::uint64_t write_timeouts = 0;   // responses abandoned: the client stopped reading
  std::uint64_t gone_at_accept = 0;   // closed by the client before it was read (connect-and-close)
  std::uint64_t dropped_pending = 0;  // dropped while waiting for the reader (a connect flood)
  std::uint64_t slow_readers = 0;     // answers cut: not taken whole within their budget
};

// Whether a request's first bytes can still be a probe's (GET or HEAD of
// /healthz, /readyz or /metrics): such connections keep their place when
// others are dropped to make room. One list for the reader and the server.
bool probe_prefix(std::string_view bytes);
bool is_probe_path(std::string_view path);

// Threading: adopt() from the accept thread; start() and stop() from one
// controlling thread; everything else on the reader thread and the workers.
class Connections {
 public:
  // Serves one complete request on a worker of lane `lane`: `head` is what
  // the reader parsed of it, `request` holds its bytes, `fd` the connection
  // to write the answer to (blocking writes are bounded through
  // write_all()). `close_after` asks the server to say "Connection: close".
  // Returns false when the connection must close (the client asked, or the
  // answer could not be written).
  using Serve = std::function<bool(const RequestHead& head, const std::string& request, int fd, const Peer& peer,
                                   bool close_after, std::size_t lane)>;
  // The body of an error answered by the reader itself (a JSON error).
  using RenderError = std::function<std::string(const ApiError& error)>;
  // Which of the lanes serves a request (an index into `lanes`).
  using Classify = std::function<std::size_t(const RequestHead& head)>;

  Connections(ConnectionLimits limits, std::vector<LaneLimits> lanes, Serve serve, RenderError render,
              Classify classify);
  ~Connections();
  Connections(const Connections&) = delete;
  Connections& operator=(const Connections&) = delete;

  Status start();
  // Takes ownership of an accepted connection.
  // One its client has closed already is closed at once, and when the
  // reader is behind (a flood), the oldest connection waiting for it is
  // dropped: the newest, a probe perhaps, gets its turn.
  void adopt(int fd);
  // Closes every connection and waits for the workers.
  void stop();
  ConnectionStats stats() const;
  std::vector<LaneStats> lane_stats() const;

  // Writes all of `data` to `fd` (non-blocking), waiting at most `patience`
  // for each bit of progress (write_timeout for an answer, longer for a
  // stream whose reader may pause) and never past `deadline`.
  enum class Written { all, timed_out, failed };
  Written write_all(int fd, const char* data, std::size_t size, std::chrono::milliseconds patience,
                    std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max());
  // Counts an answer abandoned because its client stopped reading (no
  // progress within the patience of a write, or a change stream's reader
  // that took nothing), or read too slowly for its budget.
  void count_write_timeout();
  void count_slow_reader();

 private:
  struct Conn;
  using ConnPtr = std::shared_ptr<Conn>;
  class Lane;

  void run();
  void accept_pending();
  void on_readable(const ConnPtr& conn);
  void dispatch(const ConnPtr& conn);
  void serve_on_worker(const ConnPtr& conn, std::size_t lane);
  void refuse_in_lane(const ConnPtr& conn);
  void finished(const ConnPtr& conn, bool keep);
  void answer_and_close(const ConnPtr& conn, const ApiError& error, int retry_after_s = 1);
  // An error's whole answer, as the reader sends it (a 503 with Retry-After).
  std::string error_answer(const ApiError& error, int retry_after_s = 1) const;
  void drain(const ConnPtr& conn);
  void close_conn(const ConnPtr& conn);
  void expire(std::chrono::steady_clock::time_point now);
  bool evict_one(std::chrono::steady_clock::time_point now, bool overflow, bool any_age = false);
  void watch(const ConnPtr& conn);
  int next_timeout_ms(std::chrono::steady_clock::time_point now) const;

  const ConnectionLimits limits_;
  const std::vector<LaneLimits> lane_limits_;
  const Serve serve_;
  const RenderError render_;
  const Classify classify_;

  Fd epoll_;
  Fd wake_;  // eventfd: adoptions, returns from workers, stop
  std::thread reader_;
  std::vector<std::unique_ptr<Lane>> lanes_;

  std::mutex mutex_;  // guards the hand-over queues below
  struct Waiting {
    int fd;
    std::chrono::steady_clock::time_point since;  // accepted
    pid_t pid;                                    // the peer's process (SO_PEERCRED), 0 if unknown
  };
  std::deque<Waiting> adopted_;
  std::deque<int> adopted_probes_;                  // accepted with a probe's first bytes waiting
  std::vector<std::pair<ConnPtr, bool>> returned_;  // (connection, keep it open)
  bool stopping_ = false;

  // Reader thread only.
  std::unordered_map<int, ConnPtr> conns_;
  std::size_t normal_ = 0;    // connections within the cap
  std::size_t overflow_ = 0;  // connections past it

  mutable std::mutex stats_mutex_;
  ConnectionStats stats_;
};

}  // namespace netnsd
