#include "api/connections.h"

#include <fcntl.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include <algorithm>
#include <unordered_map>

namespace netnsd {
namespace {

using SteadyClock = std::chrono::steady_clock;

constexpr std::uint64_t kWakeId = 0;  // epoll data of the eventfd (fds are > 0)
constexpr std::size_t kReadChunk = 16 * 1024;

const char* reason_phrase(int status) {
  switch (status) {
    case 400:
      return "Bad Request";
    case 408:
      return "Request Timeout";
    case 411:
      return "Length Required";
    case 413:
      return "Payload Too Large";
    case 414:
      return "URI Too Long";
    case 415:
      return "Unsupported Media Type";
    case 431:
      return "Request Header Fields Too Large";
    case 503:
      return "Service Unavailable";
    default:
      return "Error";
  }
}

constexpr std::string_view kProbePaths[] = {"/healthz", "/readyz", "/metrics"};

ApiError too_many_connections() {
  return ApiError{503, "busy", "netnsd has too many connections open; retry shortly"};
}

}  // namespace

bool is_probe_path(std::string_view path) {
  return std::find(std::begin(kProbePaths), std::end(kProbePaths), path) != std::end(kProbePaths);
}

bool probe_prefix(std::string_view bytes) {
  if (bytes.empty()) return false;
  for (std::string_view method : {"GET ", "HEAD "}) {
    for (std::string_view path : kProbePaths) {
      const std::string probe = std::string(method) + std::string(path);
      if (bytes.size() >= probe.size() ? bytes.substr(0, probe.size()) == probe
                                       : std::string_view(probe).substr(0, bytes.size()) == bytes) {
        return true;
      }
    }
  }
  return false;
}

struct Connections::Conn {
  Fd fd;
  Peer peer;
  RequestReader reader;
  bool overflow = false;    // past the cap: read only to find a probe
  bool dispatched = false;  // a worker has it
  bool lingering = false;   // answered and half-closed: what comes is dropped
  std::size_t dropped = 0;
  std::size_t served = 0;
  SteadyClock::time_point activity;  // last byte read or answer written
  SteadyClock::time_point started;   // first byte of the current request
  std::string request;               // taken from the reader for the worker
  RequestHead head;                  // the request's, as the reader parsed it
  bool close_after = false;
  std::size_t lane = 0;            // which lane serves it
  SteadyClock::time_point queued;  // when it was handed to its lane

  Conn(int f, RequestLimits limits) : fd(f), reader(limits) {}
};

// A lane: a few workers, and a line of bounded length where a request
// waits for one, for a bounded time (the reader takes out those that waited
// too long: expired()).
class Connections::Lane {
 public:
  Lane(LaneLimits limits, std::function<void(const ConnPtr&)> run) : limits_(std::move(limits)), run_(std::move(run)) {
    for (std::size_t i = 0; i < limits_.workers; ++i) threads_.emplace_back([this] { work(); });
  }
  ~Lane() { shutdown(); }
  const LaneLimits& limits() const { return limits_; }

  // Hands `conn` to a worker, or puts it in line; false (and counted) when
  // every worker is busy and the line is full.
  bool offer(const ConnPtr& conn) {
    {
      std::lock_guard lock(mutex_);
      if (busy_ + line_.size() >= limits_.workers + limits_.queue) {
        ++stats_.refused_full;
        return false;
      }
      line_.push_back(conn);
    }
    cv_.notify_one();
    return true;
  }
  // Takes out of the line what waited longer than queue_wait (counted); the
  // caller answers them.
  std::vector<ConnPtr> expired(SteadyClock::time_point now) {
    std::vector<ConnPtr> out;
    if (limits_.queue_wait.count() <= 0) return out;
    std::lock_guard lock(mutex_);
    while (!line_.empty() && now - line_.front()->queued >= limits_.queue_wait) {
      out.push_back(std::move(line_.front()));
      line_.pop_front();
      ++stats_.refused_waited;
    }
    return out;
  }
  // When the first in line will have waited its time (max() when no one waits).
  SteadyClock::time_point next_expiry() const {
    std::lock_guard lock(mutex_);
    if (line_.empty() || limits_.queue_wait.count() <= 0) return SteadyClock::time_point::max();
    return line_.front()->queued + limits_.queue_wait;
  }
  LaneStats stats() const {
    std::lock_guard lock(mutex_);
    LaneStats s = stats_;
    s.name = limits_.name;
    s.workers = limits_.workers;
    s.busy = busy_;
    s.queued = line_.size() > limits_.workers - busy_ ? line_.size() - (limits_.workers - busy_) : 0;
    return s;
  }
  void shutdown() {
    {
      std::lock_guard lock(mutex_);
      if (stop_) return;
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
  }

 private:
  void work() {
    for (;;) {
      ConnPtr conn;
      {
        std::unique_lock lock(mutex_);
        cv_.wait(lock, [this] { return stop_ || !line_.empty(); });
        if (line_.empty()) return;  // stopping, and nothing left
        conn = std::move(line_.front());
        line_.pop_front();
        ++busy_;
      }
      run_(conn);
      std::lock_guard lock(mutex_);
      --busy_;
      ++stats_.served;
    }
  }

  const LaneLimits limits_;
  const std::function<void(const ConnPtr&)> run_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<ConnPtr> line_;
  std::size_t busy_ = 0;
  LaneStats stats_;
  bool stop_ = false;
  std::vector<std::thread> threads_;
};

Connections::Connections(ConnectionLimits limits, std::vector<LaneLimits> lanes, Serve serve, RenderError render,
                         Classify classify)
    : limits_(limits),
      lane_limits_(std::move(lanes)),
      serve_(std::move(serve)),
      render_(std::move(render)),
      classify_(std::move(classify)) {}

Connections::~Connections() {
  stop();
}

Status Connections::start() {
  epoll_.reset(::epoll_create1(EPOLL_CLOEXEC));
  if (!epoll_) return Error::os("epoll_create1");
  wake_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake_) return Error::os("eventfd");
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kWakeId;
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, wake_.get(), &ev) != 0) return Error::os("epoll_ctl eventfd");
  for (std::size_t i = 0; i < lane_limits_.size(); ++i) {
    lanes_.push_back(
        std::make_unique<Lane>(lane_limits_[i], [this, i](const ConnPtr& conn) { serve_on_worker(conn, i); }));
  }
  reader_ = std::thread([this] { run(); });
  return {};
}

namespace {

// Whether `bytes` start with a probe's whole method and path ("GET /healthz"
// and a space or '?'): a probe writes its request at once, while a client
// that trickles "G", "GE", ... only looks like the start of one.
bool probe_start(std::string_view bytes) {
  for (std::string_view method : {"GET ", "HEAD "}) {
    for (std::string_view path : kProbePaths) {
      const std::size_t n = method.size() + path.size();
      if (bytes.size() > n && bytes.substr(0, method.size()) == method &&
          bytes.substr(method.size(), path.size()) == path && (bytes[n] == ' ' || bytes[n] == '?')) {
        return true;
      }
    }
  }
  return false;
}

// What `fd`'s client has sent so far (read, not taken): nothing yet, its
// end closed, a probe's request line, or something else (a trickled start
// of one included).
enum class Sent { nothing, closed, probe, other };
Sent what_was_sent(int fd) {
  char start[16];
  const ssize_t peeked = ::recv(fd, start, sizeof start, MSG_PEEK | MSG_DONTWAIT);
  if (peeked == 0) return Sent::closed;
  if (peeked < 0) return Sent::nothing;
  return probe_start(std::string_view(start, static_cast<std::size_t>(peeked))) ? Sent::probe : Sent::other;
}

pid_t peer_pid(int fd) {
  ucred cred{};
  socklen_t len = sizeof cred;
  return ::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 ? cred.pid : 0;
}

}  // namespace

void Connections::adopt(int fd) {
  const Sent first = what_was_sent(fd);
  const bool probe = first == Sent::probe;
  if (first == Sent::closed) {
    ::close(fd);  // connected and closed again: nothing to answer
    std::lock_guard lock(stats_mutex_);
    ++stats_.gone_at_accept;
    return;
  }
  int dropped = -1;
  {
    std::lock_guard lock(mutex_);
    if (stopping_) {
      dropped = fd;
    } else if (probe) {
      // Probes wait in a line of their own, taken up first; the oldest is
      // dropped when it is full.
      adopted_probes_.push_back(fd);
      if (adopted_probes_.size() > limits_.max_pending) {
        dropped = adopted_probes_.front();
        adopted_probes_.pop_front();
      }
    } else {
      const auto now = SteadyClock::now();
      adopted_.push_back({fd, now, peer_pid(fd)});
      if (adopted_.size() > limits_.max_pending) {
        // Each waiting connection is looked at once more: a probe accepted
        // before its request arrived moves to its own line.
        struct Looked {
          Waiting waiting;
          Sent sent;
        };
        std::vector<Looked> line;
        line.reserve(adopted_.size());
        for (const Waiting& w : adopted_) {
          const Sent sent = w.fd == fd ? first : what_was_sent(w.fd);
          if (sent == Sent::probe && adopted_probes_.size() < limits_.max_pending) {
            adopted_probes_.push_back(w.fd);
          } else {
            line.push_back({w, sent});
          }
        }
        // Still too many: the oldest that has sent something (not a probe:
        // those moved above) goes first, then the oldest that has been
        // silent for the overflow wait. One silent for less may be a probe
        // whose client has not been scheduled since it connected: the line
        // takes up to twice its size of those before the oldest goes
        // whatever it is. Among silent ones, the oldest of the process that
        // has the most waiting goes first: one client opening hundreds of
        // connections pushes out its own, not a health check's that was
        // accepted a moment before it sent its request.
        auto victim = line.end();
        if (line.size() > limits_.max_pending) {
          auto oldest = [&](auto&& which) { return std::find_if(line.begin(), line.end(), which); };
          auto oldest_of_busiest = [&](auto&& which) {
            std::unordered_map<pid_t, std::size_t> waiting;
            for (const Looked& l : line) {
              if (which(l)) ++waiting[l.waiting.pid];
            }
            auto busiest = line.end();
            for (auto it = line.begin(); it != line.end(); ++it) {
              if (which(*it) && (busiest == line.end() || waiting[it->waiting.pid] > waiting[busiest->waiting.pid])) {
                busiest = it;
              }
            }
            return busiest;
          };
          victim = oldest([](const Looked& l) { return l.sent == Sent::other; });
          if (victim == line.end()) {
            victim = oldest_of_busiest([&](const Looked& l) {
              return now - l.waiting.since >= limits_.overflow_wait &&
                     (l.sent == Sent::nothing || l.sent == Sent::closed);
            });
          }
          if (victim == line.end() && line.size() > 2 * limits_.max_pending) {
            victim = oldest_of_busiest([](const Looked& l) { return l.sent != Sent::probe; });
          }
          if (victim != line.end()) dropped = victim->waiting.fd;
        }
        adopted_.clear();
        for (auto it = line.begin(); it != line.end(); ++it) {
          if (it != victim) adopted_.push_back(it->waiting);
        }
      }
    }
  }
  if (dropped >= 0) {
    ::close(dropped);
    std::lock_guard lock(stats_mutex_);
    ++stats_.dropped_pending;
    if (dropped == fd) return;
  }
  std::uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(wake_.get(), &one, sizeof one);
}

void Connections::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_ || !reader_.joinable()) {
      stopping_ = true;
      return;
    }
    stopping_ = true;
  }
  std::uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(wake_.get(), &one, sizeof one);
  reader_.join();
  for (auto& lane : lanes_) lane->shutdown();
  std::lock_guard lock(mutex_);
  for (const Waiting& w : adopted_) ::close(w.fd);
  for (int fd : adopted_probes_) ::close(fd);
  adopted_.clear();
  adopted_probes_.clear();
  returned_.clear();
}

ConnectionStats Connections::stats() const {
  std::lock_guard lock(stats_mutex_);
  return stats_;
}

std::vector<LaneStats> Connections::lane_stats() const {
  std::vector<LaneStats> out;
  for (const auto& lane : lanes_) out.push_back(lane->stats());
  return out;
}

void Connections::count_write_timeout() {
  std::lock_guard lock(stats_mutex_);
  ++stats_.write_timeouts;
}

void Connections::count_slow_reader() {
  std::lock_guard lock(stats_mutex_);
  ++stats_.slow_readers;
}

Connections::Written Connections::write_all(int fd, const char* data, std::size_t size,
                                            std::chrono::milliseconds patience, SteadyClock::time_point deadline) {
  while (size > 0) {
    ssize_t n = ::send(fd, data, size, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      data += n;
      size -= static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) return Written::failed;
    const auto now = SteadyClock::now();
    if (now >= deadline) return Written::timed_out;
    const auto wait = std::min<SteadyClock::duration>(patience, deadline - now);
    pollfd p{fd, POLLOUT, 0};
    int ready = ::poll(&p, 1, static_cast<int>(std::chrono::ceil<std::chrono::milliseconds>(wait).count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready == 0) return Written::timed_out;
    if (ready < 0) return Written::failed;
    if (p.revents & (POLLERR | POLLHUP | POLLNVAL)) {
      errno = EPIPE;
      return Written::failed;
    }
  }
  return Written::all;
}

void Connections::watch(const ConnPtr& conn) {
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLRDHUP;
  ev.data.u64 = static_cast<std::uint64_t>(conn->fd.get());
  ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, conn->fd.get(), &ev);
}

void Connections::close_conn(const ConnPtr& connection) {
  const ConnPtr conn = connection;  // the map's reference goes below
  ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, conn->fd.get(), nullptr);
  (conn->overflow ? overflow_ : normal_)--;
  conns_.erase(conn->fd.get());
  {
    std::lock_guard lock(stats_mutex_);
    stats_.open = conns_.size();
  }
  // The Fd closes with the last reference (a worker may still hold one).
  ::shutdown(conn->fd.get(), SHUT_RDWR);
}

std::string Connections::error_answer(const ApiError& error, int retry_after_s) const {
  const std::string body = render_(error);
  std::string response = "HTTP/1.1 " + std::to_string(error.status) + " " + reason_phrase(error.status) +
                         "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
                         "\r\nConnection: close\r\n";
  if (error.status == 503) response += "Retry-After: " + std::to_string(retry_after_s) + "\r\n";
  return response + "\r\n" + body;
}

void Connections::answer_and_close(const ConnPtr& conn, const ApiError& error, int retry_after_s) {
  const std::string response = error_answer(error, retry_after_s);
  // Best effort and never blocking the reader: these answers are small.
  [[maybe_unused]] ssize_t n = ::send(conn->fd.get(), response.data(), response.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  // A close with unread bytes would reset the connection and the client
  // might never read the answer: say we are done, and drop what still comes
  // for a while (bounded in time and bytes).
  ::shutdown(conn->fd.get(), SHUT_WR);
  conn->lingering = true;
  conn->activity = SteadyClock::now();
  drain(conn);
}

void Connections::drain(const ConnPtr& conn) {
  char buf[kReadChunk];
  for (;;) {
    ssize_t n = ::recv(conn->fd.get(), buf, sizeof buf, 0);
    if (n > 0) {
      conn->dropped += static_cast<std::size_t>(n);
      if (conn->dropped <= limits_.linger_bytes) continue;
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      return;  // more may come: wait, until the linger time is up
    }
    close_conn(conn);  // the client is done, or has sent too much
    return;
  }
}

// A connection that may give way to a newcomer, by who goes first: one
// answered already, then one slow to send the request it started (what a
// slow-loris client looks like), then one idle between requests, then one
// that has not sent anything yet (it may be a probe whose client has not
// been scheduled since it connected); the least recently active first
// within each. Overflow connections give way to newer overflow ones.
// `any_age` (when the bound on connections must hold and nothing else gave
// way): the least recently active one goes, whatever it has sent. A probe
// sends its request in one piece and is handed to a worker the moment it is
// read, so the one that has waited longest is the least likely to be one.
bool Connections::evict_one(SteadyClock::time_point now, bool overflow, bool any_age) {
  ConnPtr victim;
  int victim_rank = 0;
  for (const auto& [fd, conn] : conns_) {
    if (conn->dispatched || conn->overflow != overflow) continue;
    if (any_age) {
      if (!victim || conn->lingering || conn->activity < victim->activity) victim = conn;
      if (conn->lingering) break;
      continue;
    }
    if (overflow && probe_prefix(conn->reader.pending())) continue;  // about to be answered
    if (conn->lingering) {
      victim = conn;
      break;
    }
    const bool started = conn->reader.started();
    const bool slow = started && now - conn->started >= limits_.slow_after;
    if (!overflow && started && !slow) continue;
    const int rank = slow ? 1 : conn->served > 0 ? 2 : 3;
    // A connection that has sent nothing yet may be a probe whose request
    // is on its way (or waiting unread): it is given the time an overflow
    // connection gets before it may be pushed out. A newcomer that finds
    // no one else to replace is read as an overflow connection instead.
    if (rank == 3 && (now - conn->activity < limits_.overflow_wait || what_was_sent(fd) == Sent::probe)) continue;
    if (!victim || rank < victim_rank || (rank == victim_rank && conn->activity < victim->activity)) {
      victim = conn;
      victim_rank = rank;
    }
  }
  if (!victim) return false;
  {
    std::lock_guard lock(stats_mutex_);
    ++stats_.evicted_slow;
  }
  if (overflow && !victim->lingering) {
    answer_and_close(victim, too_many_connections());
    if (conns_.count(victim->fd.get())) close_conn(victim);  // no lingering when making room
  } else {
    close_conn(victim);
  }
  return true;
}

void Connections::accept_pending() {
  std::deque<int> adopted;
  std::vector<std::pair<ConnPtr, bool>> returned;
  {
    std::lock_guard lock(mutex_);
    adopted.swap(adopted_probes_);
    for (const Waiting& w : adopted_) adopted.push_back(w.fd);
    adopted_.clear();
    returned.swap(returned_);
  }
  const auto now = SteadyClock::now();
  for (auto& [conn, keep] : returned) finished(conn, keep);
  for (int fd : adopted) {
    auto conn = std::make_shared<Conn>(fd, limits_.request);
    const int flags = ::fcntl(fd, F_GETFL);
    ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
    ucred cred{};
    socklen_t len = sizeof cred;
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) conn->peer = {cred.pid, cred.uid, cred.gid};
    conn->activity = now;
    {
      std::lock_guard lock(stats_mutex_);
      ++stats_.accepted;
    }
    if (normal_ >= limits_.max_connections && !evict_one(now, false)) {
      // Every connection is busy with a request: this one is only read
      // briefly, so that a probe is still answered. When those are all
      // taken too and none may give way, the newcomer is turned away: the
      // bound on what clients hold is kept, whatever arrives.
      conn->overflow = true;
      // The least recently active one, even a young one, gives way before
      // the newcomer is refused (see evict_one).
      if (overflow_ >= limits_.max_overflow && !evict_one(now, true) && !evict_one(now, true, true)) {
        {
          std::lock_guard lock(stats_mutex_);
          ++stats_.refused_busy;
        }
        const std::string response = error_answer(too_many_connections());
        [[maybe_unused]] ssize_t n = ::send(fd, response.data(), response.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        continue;  // conn's Fd closes here
      }
    }
    (conn->overflow ? overflow_ : normal_)++;
    conns_.emplace(fd, conn);
    watch(conn);
    on_readable(conn);  // a probe may have sent its request already
  }
  std::lock_guard lock(stats_mutex_);
  stats_.open = conns_.size();
}

void Connections::on_readable(const ConnPtr& conn) {
  if (conn->dispatched || !conns_.count(conn->fd.get())) return;
  if (conn->lingering) {
    drain(conn);
    return;
  }
  char buf[kReadChunk];
  bool eof = false;
  for (;;) {
    // Never more than the reader may still take: it refuses at its limits.
    ssize_t n = ::recv(conn->fd.get(), buf, sizeof buf, 0);
    if (n > 0) {
      if (!conn->reader.started()) conn->started = SteadyClock::now();
      conn->activity = SteadyClock::now();
      if (conn->reader.feed(std::string_view(buf, static_cast<std::size_t>(n))) != RequestReader::State::incomplete) {
        break;
      }
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) eof = true;
    break;
  }
  switch (conn->reader.state()) {
    case RequestReader::State::refused: {
      std::lock_guard lock(stats_mutex_);
      ++stats_.refused_request;
    }
      answer_and_close(conn, conn->reader.refusal());
      return;
    case RequestReader::State::complete:
      if (conn->overflow && !lane_limits_[classify_(*conn->reader.head())].probe) {
        {
          std::lock_guard lock(stats_mutex_);
          ++stats_.refused_busy;
        }
        answer_and_close(conn, too_many_connections());
        return;
      }
      dispatch(conn);
      return;
    case RequestReader::State::incomplete:
      if (eof) {
        close_conn(conn);
        return;
      }
      if (conn->reader.wants_continue()) {
        static constexpr char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";
        [[maybe_unused]] ssize_t n =
            ::send(conn->fd.get(), kContinue, sizeof kContinue - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
        conn->reader.continue_sent();
      }
      return;
  }
}

void Connections::dispatch(const ConnPtr& conn) {
  const std::size_t lane = classify_(*conn->reader.head());
  conn->lane = lane;
  conn->queued = SteadyClock::now();
  conn->dispatched = true;
  conn->close_after =
      conn->overflow || !conn->reader.head()->keep_alive || conn->served + 1 >= limits_.max_requests_per_connection;
  conn->head = *conn->reader.head();
  conn->request = conn->reader.take();
  ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, conn->fd.get(), nullptr);
  if (lanes_[lane]->offer(conn)) {
    std::lock_guard lock(stats_mutex_);
    ++stats_.requests;
    return;
  }
  refuse_in_lane(conn);
}

// A request its lane could not take (full), or did not take in time: the
// lane's 503, from the reader, and the connection closes.
void Connections::refuse_in_lane(const ConnPtr& conn) {
  conn->dispatched = false;
  conn->request.clear();
  watch(conn);
  const LaneLimits& lane = lane_limits_[conn->lane];
  answer_and_close(conn, lane.refusal, lane.retry_after_s);
}

void Connections::serve_on_worker(const ConnPtr& conn, std::size_t lane) {
  const bool keep =
      serve_(conn->head, conn->request, conn->fd.get(), conn->peer, conn->close_after, lane) && !conn->close_after;
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    returned_.emplace_back(conn, keep);
  }
  std::uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(wake_.get(), &one, sizeof one);
}

void Connections::finished(const ConnPtr& conn, bool keep) {
  conn->dispatched = false;
  conn->request.clear();
  conn->request.shrink_to_fit();
  ++conn->served;
  if (!keep) {
    close_conn(conn);
    return;
  }
  conn->activity = SteadyClock::now();
  conn->started = conn->activity;
  watch(conn);
  // A pipelined request may be whole already, or its bytes waiting.
  if (conn->reader.state() == RequestReader::State::complete) {
    dispatch(conn);
  } else {
    on_readable(conn);
  }
}

void Connections::expire(SteadyClock::time_point now) {
  std::vector<ConnPtr> late, idle;
  for (const auto& [fd, conn] : conns_) {
    if (conn->dispatched) continue;
    if (conn->lingering) {
      if (now - conn->activity >= limits_.linger) idle.push_back(conn);
    } else if (conn->overflow) {
      if (now - conn->activity >= limits_.overflow_wait) late.push_back(conn);
    } else if (conn->reader.started()) {
      if (now - conn->started >= limits_.request_deadline) late.push_back(conn);
    } else if (now - conn->activity >= limits_.idle_timeout) {
      idle.push_back(conn);
    }
  }
  for (const ConnPtr& conn : idle) close_conn(conn);
  for (const auto& lane : lanes_) {
    for (const ConnPtr& conn : lane->expired(now)) refuse_in_lane(conn);
  }
  for (const ConnPtr& conn : late) {
    {
      std::lock_guard lock(stats_mutex_);
      ++(conn->overflow ? stats_.refused_busy : stats_.timed_out);
    }
    answer_and_close(conn, conn->overflow ? too_many_connections()
                                          : ApiError{408, "request_timeout",
                                                     "the request did not arrive whole within " +
                                                         std::to_string(limits_.request_deadline.count()) + " ms"});
  }
}

int Connections::next_timeout_ms(SteadyClock::time_point now) const {
  auto next = now + std::chrono::seconds(1);
  for (const auto& [fd, conn] : conns_) {
    if (conn->dispatched) continue;
    SteadyClock::time_point due = conn->lingering          ? conn->activity + limits_.linger
                                  : conn->overflow         ? conn->activity + limits_.overflow_wait
                                  : conn->reader.started() ? conn->started + limits_.request_deadline
                                                           : conn->activity + limits_.idle_timeout;
    next = std::min(next, due);
  }
  for (const auto& lane : lanes_) next = std::min(next, lane->next_expiry());
  auto ms = std::chrono::ceil<std::chrono::milliseconds>(next - now).count();
  return static_cast<int>(std::max<std::int64_t>(ms, 0));
}

void Connections::run() {
  epoll_event events[64];
  for (;;) {
    {
      std::lock_guard lock(mutex_);
      if (stopping_) break;
    }
    const int n = ::epoll_wait(epoll_.get(), events, 64, next_timeout_ms(SteadyClock::now()));
    for (int i = 0; i < n; ++i) {
      if (events[i].data.u64 == kWakeId) {
        std::uint64_t count;
        while (::read(wake_.get(), &count, sizeof count) > 0) {
        }
        continue;
      }
      auto it = conns_.find(static_cast<int>(events[i].data.u64));
      if (it != conns_.end()) on_readable(ConnPtr(it->second));
    }
    accept_pending();
    expire(SteadyClock::now());
  }
  // Stopping: every connection ends now; workers' writes fail at once.
  for (auto& [fd, conn] : conns_) ::shutdown(fd, SHUT_RDWR);
  conns_.clear();
}

}  // namespace netnsd
