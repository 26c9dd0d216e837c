// Connections: netnsd's own handling of client connections, in front of
// cpp-httplib.
//
// cpp-httplib 0.11.4 gives every connection a worker thread from accept to
// close and only bounds each read() by a timeout, so a few dozen clients that
// trickle bytes hold every worker and health checks go unanswered. Here one
// thread reads every connection (epoll, non-blocking) through a
// RequestReader until it holds a whole request, within a deadline for the
// whole request; only then does a worker see it, and workers never wait on a
// client's reading. Probes (GET /healthz, /readyz, /metrics) have workers of
// their own.
//
// Bounds, all counted (stats()):
// - at most max_connections open; at the cap a new connection takes the place
//   of the least recently active one that is idle or has been slow to send
//   its request; when every one is busy, it is read only briefly (an
//   "overflow" connection): a probe is answered, anything else gets 503;
// - a request must arrive whole within request_deadline of its first byte
//   (408 and close), a kept-alive connection may idle for idle_timeout;
// - a response write that makes no progress for write_timeout ends the
//   connection.
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
#include "util/fd.h"
#include "util/result.h"

namespace netnsd {

struct ConnectionLimits {
  RequestLimits request;
  std::chrono::milliseconds request_deadline{5000};  // from a request's first byte to its last
  std::chrono::milliseconds idle_timeout{2000};      // between requests on a kept-alive connection
  std::chrono::milliseconds slow_after{500};         // a request still incomplete after this is slow
  std::chrono::milliseconds write_timeout{10000};    // a write that makes no progress this long fails
  std::size_t max_connections = 192;
  std::size_t max_overflow = 32;  // connections past the cap being read to find probes
  // Accepted connections not yet taken up by the reader (a connect flood):
  // past this, the oldest waiting one is dropped; one that has sent nothing
  // for less than overflow_wait (a probe, perhaps, whose request is on its
  // way) only past twice this. Probes wait in a line of the same size.
  std::size_t max_pending = 64;
  std::chrono::milliseconds overflow_wait{200};
  std::size_t workers = 16;
  std::size_t probe_workers = 2;
  std::size_t max_requests_per_connection = 1000;
  // After an error answered by the reader, what the client still sends is
  // read and dropped for a while, so that the answer is not lost to a reset.
  std::chrono::milliseconds linger{500};
  std::size_t linger_bytes = 1 << 20;
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
};

// Threading: adopt() from the accept thread; start() and stop() from one
// controlling thread; everything else on the reader thread and the workers.
class Connections {
 public:
  // Serves one complete request on a worker thread: `head` is what the
  // reader parsed of it, `request` holds its bytes, `fd` the connection to
  // write the answer to (blocking writes are bounded through write_all()).
  // `close_after` asks the server to say "Connection: close". Returns false
  // when the connection must close (the client asked, or the answer could
  // not be written).
  using Serve = std::function<bool(const RequestHead& head, const std::string& request, int fd, const Peer& peer,
                                   bool close_after)>;
  // The body of an error answered by the reader itself (a JSON error).
  using RenderError = std::function<std::string(const ApiError& error)>;
  // Whether a request is a probe, served on the probe workers.
  using IsProbe = std::function<bool(const RequestHead& head)>;

  Connections(ConnectionLimits limits, Serve serve, RenderError render, IsProbe is_probe);
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

  // Writes all of `data` to `fd` (non-blocking), waiting at most `patience`
  // for each bit of progress: write_timeout for an answer, longer for a
  // stream whose reader may pause. False on failure (counted when the
  // client stopped reading).
  bool write_all(int fd, const char* data, std::size_t size, std::chrono::milliseconds patience);
  // Counts an answer abandoned because its client stopped reading, when
  // the caller found it out (a change stream's reader took nothing while
  // its writes still fitted in the socket).
  void count_write_timeout();

 private:
  struct Conn;
  using ConnPtr = std::shared_ptr<Conn>;
  class Lane;

  void run();
  void accept_pending();
  void on_readable(const ConnPtr& conn);
  void dispatch(const ConnPtr& conn);
  void finished(const ConnPtr& conn, bool keep);
  void answer_and_close(const ConnPtr& conn, const ApiError& error);
  void drain(const ConnPtr& conn);
  void close_conn(const ConnPtr& conn);
  void expire(std::chrono::steady_clock::time_point now);
  bool evict_one(std::chrono::steady_clock::time_point now, bool overflow);
  void watch(const ConnPtr& conn);
  int next_timeout_ms(std::chrono::steady_clock::time_point now) const;

  const ConnectionLimits limits_;
  const Serve serve_;
  const RenderError render_;
  const IsProbe is_probe_;

  Fd epoll_;
  Fd wake_;  // eventfd: adoptions, returns from workers, stop
  std::thread reader_;
  std::unique_ptr<Lane> workers_;
  std::unique_ptr<Lane> probe_workers_;

  std::mutex mutex_;  // guards the hand-over queues below
  struct Waiting {
    int fd;
    std::chrono::steady_clock::time_point since;  // accepted
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
