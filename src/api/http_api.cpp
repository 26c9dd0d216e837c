#include "api/http_api.h"

#include <httplib.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <regex>
#include <thread>

#include "api/event_params.h"
#include "api/handlers.h"
#include "api/request_stream.h"
#include "api/unix_socket.h"
#include "dump/json_encoder.h"
#include "util/text.h"

namespace netnsd {
namespace {

using json = nlohmann::ordered_json;

ApiError not_found(const httplib::Request& req) {
  return ApiError{404, "not_found", "no such endpoint: " + req.method + " " + req.path};
}

ApiError method_not_allowed(const httplib::Request& req, const std::string& allow) {
  return ApiError{405, "method_not_allowed",
                  req.method + " is not allowed on " + req.path + " (allowed: " + allow + ")"};
}

// Default bodies for statuses httplib sets itself (unparsable requests, 413, ...).
ApiError error_for_status(const httplib::Request& req, int status, std::size_t max_body) {
  switch (status) {
    case 400:
      return ApiError{400, "bad_request", "the request could not be parsed as HTTP/1.1"};
    case 404:
      return not_found(req);
    case 413:
      return ApiError{413, "payload_too_large",
                      "the request body is larger than " + std::to_string(max_body) + " bytes"};
    case 414:
      return ApiError{414, "uri_too_long", "the request line is too long"};
    default:
      return ApiError{status, "http_" + std::to_string(status),
                      "the request failed with HTTP status " + std::to_string(status)};
  }
}

// Connections hands a whole request to a worker of its own: cpp-httplib's
// accept loop only passes the socket on (enqueue runs it at once, and
// process_and_close_socket adopts it).
class InlineQueue final : public httplib::TaskQueue {
 public:
  void enqueue(std::function<void()> fn) override { fn(); }
  void shutdown() override {}
};

// The lanes (connections.h), in the order of LaneId: which requests each
// serves is classify()'s to say.
enum LaneId : std::size_t { kProbeLane, kMetricsLane, kDumpLane, kEventsLane, kApiLane };

// The metrics endpoint (probes only) has no dumps and no change streams:
// those lanes have no workers there.
std::vector<LaneLimits> lanes_for(const HttpApiOptions& o, bool probes_only) {
  using namespace std::chrono_literals;
  const std::string line = std::to_string(o.max_concurrent_dumps) + " at once, " + std::to_string(o.dump_queue) +
                           " waiting up to " + std::to_string(o.dump_queue_wait.count() / 1000) + " s";
  return {
      {"probe", o.probe_workers, defaults::kProbeQueue, defaults::kProbeQueueWait, true},
      {"metrics", o.metrics_workers, defaults::kMetricsQueue, defaults::kMetricsQueueWait, true},
      {"dump", probes_only ? 0 : o.max_concurrent_dumps, probes_only ? 0 : o.dump_queue, o.dump_queue_wait, false,
       ApiError{503, "too_many_dumps", "too many dumps are building or waiting (" + line + "); retry shortly"}},
      {"events", probes_only ? 0 : o.max_subscribers, 0, 0ms, false,
       ApiError{503, "too_many_subscribers", "the change stream has as many subscribers as it takes; retry later"}, 5},
      {"api", o.api_workers, probes_only ? defaults::kProbesOnlyApiQueue : 0,
       probes_only ? defaults::kProbesOnlyApiQueueWait : 0ms, false,
       ApiError{503, "busy", "every worker of netnsd's API is busy; retry shortly"}},
  };
}

// Which lane serves a request: routed as httplib routes it, on the decoded
// path (`/v1/%65vents` is a change stream too).
std::size_t classify(const RequestHead& head, bool probes_only) {
  const std::string path = httplib::detail::decode_url(head.path, false);
  const bool get = head.method == "GET" || head.method == "HEAD";
  if (get && is_probe_path(path)) return path == "/metrics" ? kMetricsLane : kProbeLane;
  if (probes_only) return kApiLane;  // a 404
  if (head.method == "POST" && (path == "/dump" || path == "/v1/dump")) return kDumpLane;
  if (head.method == "GET" && path == "/v1/events") {
    // A stream holds its worker for as long as it lasts; a bad query is a
    // quick 400 that must not wait for one: the api lane answers it.
    const auto q = head.target.find('?');
    const bool valid =
        q == std::string::npos || parse_event_params(parse_form(std::string_view(head.target).substr(q + 1)));
    return valid ? kEventsLane : kApiLane;
  }
  return kApiLane;
}

}  // namespace

class HttpApi::Impl : public httplib::Server {
 public:
  using Handler = void (*)(ApiContext&, const httplib::Request&, httplib::Response&);
  struct Route {
    const char* method;   // GET (which also answers HEAD) or POST
    const char* pattern;  // httplib's: a regular expression the whole path must match
    const char* label;    // in metrics
    Handler handler;
    bool probe = false;  // also served on the metrics endpoint
  };
  // The API: install_routes() serves exactly this, and the methods a path
  // allows (405 and Allow) are derived from it.
  static const Route kRoutes[];

  Impl(HttpApiDeps& deps, const HttpApiOptions& options, Telemetry& telemetry)
      : deps_(deps),
        options_(options),
        probes_only_(!options.tcp_address.empty()),
        telemetry_(telemetry),
        connections_(
            options.connections, lanes_for(options, !options.tcp_address.empty()),
            [this](const RequestHead&, const std::string& request, int fd, const Peer& peer, bool close_after,
                   std::size_t lane) { return serve(request, fd, peer, close_after, lane); },
            [](const ApiError& e) {
              return to_text(json{{"error", e.message}, {"code", e.code}});
            },
            [probes_only = !options.tcp_address.empty()](const RequestHead& head) {
              return classify(head, probes_only);
            }),
        context_{deps, options, telemetry, stopping} {
    new_task_queue = [] { return new InlineQueue; };
    if (!probes_only_) set_address_family(AF_UNIX);
    set_payload_max_length(options.connections.request.max_body);
    // The socket file takes the socket inode's mode at bind(), less the
    // umask: make it 0600 before, so it is never reachable more widely, not
    // even briefly; secure_socket() then opens it to the group.
    set_socket_options([this](socket_t sock) {
      if (probes_only_) {
        int one = 1;
        ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
      } else {
        ::fchmod(sock, 0600);
      }
    });
    install_routes();
    // This server's connections and lanes, in every /metrics answer.
    telemetry_.add_source([this](MetricsWriter& out) { write_connection_metrics(out); });
  }

  Connections& connections() { return connections_; }

  // httplib listens with a backlog of 5; a burst of health checks and dumps
  // deserves the system maximum. listen() on a listening socket only resizes
  // its queue.
  void raise_backlog() { ::listen(svr_sock_, SOMAXCONN); }
  std::atomic<bool> listen_returned{false};
  // Set when the server stops: change streams end at their next wake-up.
  std::atomic<bool> stopping{false};

  // Closes the listening socket when listen_after_bind() never ran.
  void close_unused() {
    socket_t sock = svr_sock_.exchange(INVALID_SOCKET);
    if (sock != INVALID_SOCKET) ::close(sock);
  }

 private:
  void install_routes();
  // "GET, HEAD", "POST", ...: what this server's routes serve at `path`;
  // nullopt when none does.
  std::optional<std::string> allowed_methods(const std::string& path) const;
  static const std::vector<std::regex>& patterns();  // kRoutes', compiled
  std::string route_label(const std::string& path) const;

  static void dump_with_body(ApiContext& api, const httplib::Request& req, httplib::Response& res) {
    serve_dump(api, req, res, req.body);
  }
  void write_connection_metrics(MetricsWriter& out) const;

  // cpp-httplib's accept loop hands each accepted socket here (on its own
  // thread, through InlineQueue): Connections reads it from now on.
  bool process_and_close_socket(socket_t sock) override {
    connections_.adopt(sock);
    return true;
  }
  // One whole request, on a worker of its lane. A change stream's reader
  // may pause (a terminal scrolled back, a script in a debugger): its
  // writes wait up to the stall limit, while its queue counts what it
  // loses. Any other answer has a budget (RequestStream).
  bool serve(const std::string& request, int fd, const Peer& peer, bool close_after, std::size_t lane) {
    RequestStream stream = lane == kEventsLane
                               ? RequestStream(request, fd, peer, connections_, options_.event_stall_limit)
                               : RequestStream(request, fd, peer, connections_, options_.connections.write_timeout,
                                               ReadBudget{options_.read_grace, options_.min_read_rate});
    bool closed = false;
    const bool written = process_request(stream, close_after, closed, nullptr);
    return written && !closed;
  }

  HttpApiDeps& deps_;
  const HttpApiOptions& options_;
  const bool probes_only_;  // the TCP metrics endpoint
  Telemetry& telemetry_;
  Connections connections_;
  ApiContext context_;  // what handlers use
};

const HttpApi::Impl::Route HttpApi::Impl::kRoutes[] = {
    {"GET", "/healthz", "/healthz", serve_healthz, true},
    {"GET", "/readyz", "/readyz", serve_readyz, true},
    {"GET", "/metrics", "/metrics", serve_metrics, true},
    {"GET", "/openapi.yaml", "/openapi.yaml", serve_openapi},
    {"GET", "/v1/namespaces", "/v1/namespaces", serve_namespaces},
    {"GET", R"(/v1/namespaces/([^/]+))", "/v1/namespaces/{netns}", serve_one_namespace},
    {"GET", R"(/v1/namespaces/([^/]+)/sockets)", "/v1/namespaces/{netns}/sockets", serve_namespace_sockets},
    {"GET", R"(/v1/namespaces/([^/]+)/conntrack)", "/v1/namespaces/{netns}/conntrack", serve_namespace_conntrack},
    {"GET", R"(/v1/namespaces/([^/]+)/firewall)", "/v1/namespaces/{netns}/firewall", serve_namespace_firewall},
    {"GET", R"(/v1/devices/([^/]+))", "/v1/devices/{name}", serve_device},
    {"GET", "/v1/events", "/v1/events", serve_events},
    {"GET", "/v1/whois", "/v1/whois", serve_whois},
    {"GET", "/v1/history", "/v1/history", serve_history},
    {"GET", "/v1/history/export", "/v1/history/export", serve_history_export},
    {"GET", "/v1/diff", "/v1/diff", serve_diff},
    {"POST", "/dump", "/dump", &Impl::dump_with_body},
    {"POST", "/v1/dump", "/v1/dump", &Impl::dump_with_body},
};

void HttpApi::Impl::install_routes() {
  set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    // Chunked and compressed bodies, and oversized ones, never get here: the
    // RequestReader refuses them before reading them (411, 415, 413).
    // A request other than GET/HEAD without Content-Length has no body, but
    // httplib would read one until the peer closes (a bare `curl -X POST`
    // would hang): answer it here, before httplib starts reading.
    if (req.method == "GET" || req.method == "HEAD" || req.has_header("Content-Length")) {
      return HandlerResponse::Unhandled;
    }
    auto allow = allowed_methods(req.path);
    if (!allow) {
      send_error(res, not_found(req));
    } else if (req.method == "POST" && *allow == "POST") {
      serve_dump(context_, req, res, "");
    } else {
      res.set_header("Allow", *allow);
      send_error(res, method_not_allowed(req, *allow));
    }
    return HandlerResponse::Handled;
  });

  for (const Route& route : kRoutes) {
    if (probes_only_ && !route.probe) continue;
    auto call = [this, handler = route.handler](const httplib::Request& req, httplib::Response& res) {
      handler(context_, req, res);
    };
    if (std::string_view(route.method) == "GET") {
      Get(route.pattern, call);
    } else {
      Post(route.pattern, call);
    }
  }

  // Whatever httplib answers on its own (no route, 413, unparsable
  // requests) still gets a JSON body. No route on a known path means a
  // method it does not take: 405 with Allow, not httplib's 404.
  set_error_handler(HandlerWithResponse([this](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return HandlerResponse::Unhandled;
    if (res.status == 404) {
      if (auto allow = allowed_methods(req.path)) {
        res.set_header("Allow", *allow);
        send_error(res, method_not_allowed(req, *allow));
        return HandlerResponse::Handled;
      }
    }
    send_error(res, error_for_status(req, res.status, options_.connections.request.max_body));
    return HandlerResponse::Handled;
  }));
  set_exception_handler([](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
    std::string what = "unknown exception";
    try {
      if (ep) std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    spdlog::error("{} \"{}\" by {} failed: {}", escape_for_log(req.method), escape_for_log(req.path), peer_of(req),
                  escape_for_log(what));
    send_error(res, ApiError{500, "internal_error", "internal error: " + what});
  });
  set_logger([this](const httplib::Request& req, const httplib::Response& res) {
    telemetry_.count_request(route_label(req.path), res.status);
    // Paths are the client's bytes: escaped, never written raw to the log.
    if (res.status >= 500 && res.status != 503) {  // 503s are expected: readiness, busy, bounded dumps
      spdlog::warn("{} \"{}\" by {} -> {}", escape_for_log(req.method), escape_for_log(req.path), peer_of(req),
                   res.status);
    } else {
      spdlog::debug("{} \"{}\" by {} -> {}", escape_for_log(req.method), escape_for_log(req.path), peer_of(req),
                    res.status);
    }
  });
}

const std::vector<std::regex>& HttpApi::Impl::patterns() {
  static const std::vector<std::regex> compiled = [] {
    std::vector<std::regex> out;
    for (const Route& route : kRoutes) out.emplace_back(route.pattern);
    return out;
  }();
  return compiled;
}

std::string HttpApi::Impl::route_label(const std::string& path) const {
  for (std::size_t i = 0; i < std::size(kRoutes); ++i) {
    if ((!probes_only_ || kRoutes[i].probe) && std::regex_match(path, patterns()[i])) return kRoutes[i].label;
  }
  return "other";  // a bounded set of labels, whatever paths clients send
}

std::optional<std::string> HttpApi::Impl::allowed_methods(const std::string& path) const {
  std::string allow;
  for (std::size_t i = 0; i < std::size(kRoutes); ++i) {
    if (probes_only_ && !kRoutes[i].probe) continue;
    if (!std::regex_match(path, patterns()[i])) continue;
    const std::string method = std::string_view(kRoutes[i].method) == "GET" ? "GET, HEAD" : kRoutes[i].method;
    if (allow.find(method) != std::string::npos) continue;
    allow += (allow.empty() ? "" : ", ") + method;
  }
  if (allow.empty()) return std::nullopt;
  return allow;
}

void HttpApi::Impl::write_connection_metrics(MetricsWriter& out) const {
  const std::string server = std::string("{server=\"") + (probes_only_ ? "metrics" : "api") + "\"";
  const std::string plain = server + "}";
  const ConnectionStats c = connections_.stats();
  auto count = [](std::uint64_t v) { return static_cast<double>(v); };
  out.sample("netnsd_http_connections", plain, "gauge", "Client connections open.", count(c.open));
  out.sample("netnsd_http_connections_total", plain, "counter", "Client connections accepted.", count(c.accepted));
  out.sample("netnsd_http_requests_total", plain, "counter", "Requests read whole and served.", count(c.requests));
  const char* refused_help =
      "Connections or requests refused, by reason: busy (503 at the connection cap), evicted (idle or slow at the "
      "cap), timeout (408: not whole within the deadline), request (4xx: over a limit, encoded, chunked), "
      "write_timeout (the client stopped reading), slow_reader (an answer not taken within its budget), flood "
      "(dropped while waiting to be read), gone (closed by the client before it was read).";
  const std::pair<const char*, std::uint64_t> refused[] = {
      {"busy", c.refused_busy},       {"evicted", c.evicted_slow},         {"timeout", c.timed_out},
      {"request", c.refused_request}, {"write_timeout", c.write_timeouts}, {"slow_reader", c.slow_readers},
      {"flood", c.dropped_pending},   {"gone", c.gone_at_accept}};
  for (const auto& [reason, n] : refused) {
    out.sample("netnsd_http_refused_total", server + ",reason=\"" + reason + "\"}", "counter", refused_help, count(n));
  }
  const std::vector<LaneStats> lanes = connections_.lane_stats();
  auto per_lane = [&](const char* name, const char* type, const char* help, auto&& value) {
    for (const LaneStats& l : lanes) {
      out.sample(name, server + ",lane=\"" + l.name + "\"}", type, help, count(value(l)));
    }
  };
  per_lane("netnsd_http_lane_workers", "gauge", "Workers of each lane (see defaults.h).",
           [](const LaneStats& l) { return l.workers; });
  per_lane("netnsd_http_lane_busy", "gauge", "Workers of each lane serving a request now.",
           [](const LaneStats& l) { return l.busy; });
  per_lane("netnsd_http_lane_queued", "gauge", "Requests waiting in each lane's line.",
           [](const LaneStats& l) { return l.queued; });
  out.family("netnsd_http_lane_refused_total", "counter",
             "Requests answered 503 by their lane: full (every worker busy, the line full) or waited (longer than the "
             "line's wait).");
  for (const LaneStats& l : lanes) {
    out.value("netnsd_http_lane_refused_total", server + ",lane=\"" + l.name + "\",reason=\"full\"}",
              count(l.refused_full));
    out.value("netnsd_http_lane_refused_total", server + ",lane=\"" + l.name + "\",reason=\"waited\"}",
              count(l.refused_waited));
  }
  if (probes_only_) return;
  const LaneStats& dumps = lanes[kDumpLane];
  out.sample("netnsd_dumps_running", "", "gauge", "Dumps being built or sent now.", count(dumps.busy));
  out.sample("netnsd_dumps_waiting", "", "gauge", "Dumps waiting for their turn.", count(dumps.queued));
  out.sample("netnsd_dumps_refused_total", "", "counter",
             "Dumps refused with 503: too many building or waiting, or waited too long.",
             count(dumps.refused_full + dumps.refused_waited));
  if (!deps_.feed) return;
  const FeedStats f = deps_.feed->stats();
  out.sample("netnsd_event_subscribers", "", "gauge", "GET /v1/events streams open.", count(f.subscribers));
  out.sample("netnsd_events_total", "", "counter", "Changes the cache applied (published to the change stream).",
             count(f.published));
  out.sample("netnsd_events_lost_total", "", "counter",
             "Changes slow subscribers did not get (their queue was full), summed.", count(f.lost));
  out.sample("netnsd_event_subscriptions_refused_total", "", "counter",
             "GET /v1/events refused with 503: as many subscribers as --max-subscribers.",
             count(f.refused + lanes[kEventsLane].refused_full));
}

HttpApi::HttpApi(HttpApiDeps deps, HttpApiOptions options)
    : deps_(std::move(deps)),
      options_(std::move(options)),
      impl_(std::make_unique<Impl>(deps_, options_, deps_.telemetry ? *deps_.telemetry : own_telemetry_)) {}

HttpApi::~HttpApi() {
  stop();
}

namespace {

// "127.0.0.1:9464", "[::1]:9464", ":9464" -> host ("" for every address), port.
Result<std::pair<std::string, int>> split_address(const std::string& address) {
  const auto colon = address.rfind(':');
  if (colon == std::string::npos) return Error::logic("expected HOST:PORT, got '" + address + "'");
  std::string host = address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  int port = 0;
  const std::string digits = address.substr(colon + 1);
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
  if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size() || port < 1 || port > 65535) {
    return Error::logic("expected a port from 1 to 65535 in '" + address + "'");
  }
  return std::make_pair(host.empty() ? std::string("::") : host, port);
}

}  // namespace

Status HttpApi::start() {
  if (!options_.tcp_address.empty()) {
    auto address = split_address(options_.tcp_address);
    if (!address) return Error::logic("--metrics-address: " + address.error().message());
    if (Status st = impl_->connections().start(); !st) return st;
    if (!impl_->bind_to_port(address->first, address->second)) {
      return Error::os("cannot listen on " + options_.tcp_address);
    }
    serving_ = std::thread([this] {
      impl_->listen_after_bind();
      impl_->listen_returned = true;
    });
    while (!impl_->is_running() && !impl_->listen_returned) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    return {};
  }
  if (Status st = prepare_socket_dir(options_.socket_path, options_.socket_group); !st) return st;
  auto lock = lock_socket_path(options_.socket_path);
  if (!lock) return lock.error();
  lock_ = std::move(lock.value());
  if (Status st = clear_socket_path(options_.socket_path); !st) return st;
  if (Status st = impl_->connections().start(); !st) return st;
  if (!impl_->bind_to_port(options_.socket_path, 80)) {
    return Error::os("cannot listen on " + options_.socket_path);
  }
  impl_->raise_backlog();
  if (Status st = secure_socket(options_.socket_path, options_.socket_group); !st) {
    impl_->close_unused();
    ::unlink(options_.socket_path.c_str());
    return st;
  }
  struct stat st {};
  if (::lstat(options_.socket_path.c_str(), &st) == 0) {
    socket_dev_ = st.st_dev;
    socket_ino_ = st.st_ino;
  }
  serving_ = std::thread([this] {
    impl_->listen_after_bind();
    impl_->listen_returned = true;
  });
  // httplib's stop() is a no-op until the listening thread is running: wait
  // for it, so a stop() right after start() cannot hang.
  while (!impl_->is_running() && !impl_->listen_returned) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return {};
}

void HttpApi::stop() {
  impl_->stopping = true;
  if (serving_.joinable()) {
    impl_->stop();
    serving_.join();
    // Remove the socket file only if it is still the one we bound.
    struct stat st {};
    if (options_.tcp_address.empty() && ::lstat(options_.socket_path.c_str(), &st) == 0 && st.st_dev == socket_dev_ &&
        st.st_ino == socket_ino_) {
      ::unlink(options_.socket_path.c_str());
    }
  }
  impl_->connections().stop();
  lock_.reset();
}

}  // namespace netnsd
