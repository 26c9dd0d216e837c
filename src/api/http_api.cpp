#include "api/http_api.h"

#include <httplib.h>
#include <linux/sockios.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <regex>
#include <sstream>
#include <thread>

#include "api/admission.h"
#include "api/dump_params.h"
#include "api/event_params.h"
#include "api/openapi_spec.h"
#include "api/unix_socket.h"
#include "dump/event_encoder.h"
#include "dump/graph_render.h"
#include "dump/json_encoder.h"
#include "util/heap.h"
#include "util/text.h"

namespace netnsd {
namespace {

using json = nlohmann::ordered_json;

constexpr std::size_t kStreamChunk = 64 * 1024;
// How often a change stream with nothing to send checks whether the server
// is stopping or its client has gone.
constexpr std::chrono::milliseconds kStreamWake{200};
constexpr const char* kJson = "application/json";

void send_json(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(to_text(body), kJson);
}

void send_error(httplib::Response& res, const ApiError& error) {
  send_json(res, error.status, json{{"error", error.message}, {"code", error.code}});
}

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

// A dump is batch work on a small machine: while it runs, its worker thread
// yields the CPU to latency-sensitive requests (health checks) under
// contention (nice 10, ~10x less CPU share than nice 0). Restored after,
// which needs CAP_SYS_NICE; without it the worker just stays nice.
struct BatchPriority {
  BatchPriority() : tid_(static_cast<id_t>(::gettid())) {
    errno = 0;
    int was = ::getpriority(PRIO_PROCESS, tid_);
    if (errno == 0 && was < kNice && ::setpriority(PRIO_PROCESS, tid_, kNice) == 0) {
      previous_ = was;
      lowered_ = true;
    }
  }
  ~BatchPriority() {
    if (lowered_) ::setpriority(PRIO_PROCESS, tid_, previous_);
  }
  static constexpr int kNice = 10;
  id_t tid_;
  int previous_ = 0;
  bool lowered_ = false;
};

// Gives the memory a large answer used back to the system once it is freed
// (declared first in a handler, it runs after the other locals are gone).
// Without it, a dump's many small blocks stay resident between dumps.
struct TrimHeapOnExit {
  ~TrimHeapOnExit() { trim_heap(); }
};

// What cpp-httplib reads a request from and writes its answer to: the bytes
// the Connections reader already holds (the whole request), and the
// connection itself, each write making progress within `patience`. The peer's
// credentials travel as the "remote address" (uid) and port (pid).
//
// A change stream's reader must also take something within `patience`: on
// a quiet host its heartbeats (80 bytes every 15 s) would fit in the
// socket's buffer for hours, so a stopped (or suspended) reader would hold
// its place in the feed all that time without a write ever blocking.
// SIOCOUTQ says how much of what was sent the reader has not taken yet.
class RequestStream final : public httplib::Stream {
 public:
  RequestStream(const std::string& request, int fd, const Peer& peer, Connections& connections,
                std::chrono::milliseconds patience, bool reader_must_progress = false)
      : request_(request),
        fd_(fd),
        peer_(peer),
        connections_(connections),
        patience_(patience),
        reader_must_progress_(reader_must_progress) {}

  bool is_readable() const override { return offset_ < request_.size(); }
  bool is_writable() const override {
    pollfd p{fd_, POLLOUT, 0};
    return ::poll(&p, 1, 0) >= 0 && !(p.revents & (POLLERR | POLLHUP | POLLNVAL));
  }
  ssize_t read(char* ptr, size_t size) override {
    const std::size_t n = std::min(size, request_.size() - offset_);
    std::memcpy(ptr, request_.data() + offset_, n);
    offset_ += n;
    return static_cast<ssize_t>(n);  // 0 at the end: there is nothing more to this request
  }
  // Never 0: cpp-httplib would retry a 0 forever.
  ssize_t write(const char* ptr, size_t size) override {
    if (reader_must_progress_ && !reader_progressed()) {
      connections_.count_write_timeout();
      spdlog::info("events: uid {} pid {} has read nothing for {} ms: stream closed", peer_.uid, peer_.pid,
                   patience_.count());
      return -1;
    }
    const auto began = std::chrono::steady_clock::now();
    const bool written = connections_.write_all(fd_, ptr, size, patience_);
    if (reader_must_progress_) {
      if (!written && std::chrono::steady_clock::now() - began >= patience_) {
        spdlog::info("events: uid {} pid {} took nothing for {} ms: stream closed", peer_.uid, peer_.pid,
                     patience_.count());
      }
      queued_after_write_ = unread();
    }
    return written ? static_cast<ssize_t>(size) : -1;
  }
  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    ip = "uid:" + std::to_string(peer_.uid);
    port = static_cast<int>(peer_.pid);
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    ip.clear();
    port = 0;
  }
  socket_t socket() const override { return fd_; }

 private:
  // Bytes sent that the reader has not taken (-1: unknown).
  int unread() const {
    int n = 0;
    return ::ioctl(fd_, SIOCOUTQ, &n) == 0 ? n : -1;
  }
  // Whether the reader took something (or everything) since the last write,
  // or did within `patience`.
  bool reader_progressed() {
    const int now_unread = unread();
    const auto now = std::chrono::steady_clock::now();
    if (now_unread <= 0 || now_unread < queued_after_write_) {
      reader_seen_ = now;
      return true;
    }
    return now - reader_seen_ < patience_;
  }

  const std::string& request_;
  std::size_t offset_ = 0;
  int fd_;
  Peer peer_;
  Connections& connections_;
  std::chrono::milliseconds patience_;  // how long a write, or a change stream's reader, may make no progress
  bool reader_must_progress_;
  int queued_after_write_ = 0;
  std::chrono::steady_clock::time_point reader_seen_ = std::chrono::steady_clock::now();
};

// Connections hands a whole request to a worker of its own: cpp-httplib's
// accept loop only passes the socket on (enqueue runs it at once, and
// process_and_close_socket adopts it).
class InlineQueue final : public httplib::TaskQueue {
 public:
  void enqueue(std::function<void()> fn) override { fn(); }
  void shutdown() override {}
};

// "uid 1000 pid 4242": who asked, for the logs.
std::string peer_of(const httplib::Request& req) {
  std::string uid = req.remote_addr.rfind("uid:", 0) == 0 ? req.remote_addr.substr(4) : "?";
  return "uid " + uid + " pid " + std::to_string(req.remote_port);
}

bool is_probe(const RequestHead& head) {
  return (head.method == "GET" || head.method == "HEAD") &&
         (head.path == "/healthz" || head.path == "/readyz" || head.path == "/metrics");
}

}  // namespace

class HttpApi::Impl : public httplib::Server {
 public:
  using Handler = void (Impl::*)(const httplib::Request&, httplib::Response&);
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
            options.connections,
            [this](const RequestHead& head, const std::string& request, int fd, const Peer& peer, bool close_after) {
              return serve(head, request, fd, peer, close_after);
            },
            [](const ApiError& e) {
              return to_text(json{{"error", e.message}, {"code", e.code}});
            },
            is_probe),
        admission_(options.max_concurrent_dumps, options.dump_queue) {
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
    // This server's connections and dump admission, in every /metrics answer.
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

  void healthz(const httplib::Request& req, httplib::Response& res);
  void readyz(const httplib::Request& req, httplib::Response& res);
  void whois(const httplib::Request& req, httplib::Response& res);
  void events(const httplib::Request& req, httplib::Response& res);
  void metrics(const httplib::Request& req, httplib::Response& res);
  void openapi(const httplib::Request& req, httplib::Response& res);
  void namespaces(const httplib::Request& req, httplib::Response& res);
  void one_namespace(const httplib::Request& req, httplib::Response& res);
  void dump_with_body(const httplib::Request& req, httplib::Response& res) { dump(req, res, req.body); }
  void dump(const httplib::Request& req, httplib::Response& res, std::string_view body);
  void write_connection_metrics(MetricsWriter& out) const;

  // cpp-httplib's accept loop hands each accepted socket here (on its own
  // thread, through InlineQueue): Connections reads it from now on.
  bool process_and_close_socket(socket_t sock) override {
    connections_.adopt(sock);
    return true;
  }
  // One whole request, on a Connections worker. A change stream's reader
  // may pause (a terminal scrolled back, a script in a debugger): its
  // writes wait up to the stall limit, while its queue counts what it loses.
  bool serve(const RequestHead& head, const std::string& request, int fd, const Peer& peer, bool close_after) {
    // Routed as httplib routes it: on the decoded path (`/v1/%65vents` too).
    const bool stream_of_changes =
        head.method == "GET" && httplib::detail::decode_url(head.path, false) == "/v1/events";
    RequestStream stream(request, fd, peer, connections_,
                         stream_of_changes ? options_.event_stall_limit : options_.connections.write_timeout,
                         stream_of_changes);
    bool closed = false;
    const bool written = process_request(stream, close_after, closed, nullptr);
    return written && !closed;
  }

  HttpApiDeps& deps_;
  const HttpApiOptions& options_;
  const bool probes_only_;  // the TCP metrics endpoint
  Telemetry& telemetry_;
  Connections connections_;
  Admission admission_;
};

const HttpApi::Impl::Route HttpApi::Impl::kRoutes[] = {
    {"GET", "/healthz", "/healthz", &Impl::healthz, true},
    {"GET", "/readyz", "/readyz", &Impl::readyz, true},
    {"GET", "/metrics", "/metrics", &Impl::metrics, true},
    {"GET", "/openapi.yaml", "/openapi.yaml", &Impl::openapi},
    {"GET", "/v1/namespaces", "/v1/namespaces", &Impl::namespaces},
    {"GET", R"(/v1/namespaces/([^/]+))", "/v1/namespaces/{netns}", &Impl::one_namespace},
    {"GET", R"(/v1/devices/([^/]+))", "/v1/devices/{name}", &Impl::whois},
    {"GET", "/v1/events", "/v1/events", &Impl::events},
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
      dump(req, res, "");
    } else {
      res.set_header("Allow", *allow);
      send_error(res, method_not_allowed(req, *allow));
    }
    return HandlerResponse::Handled;
  });

  for (const Route& route : kRoutes) {
    if (probes_only_ && !route.probe) continue;
    auto call = [this, handler = route.handler](const httplib::Request& req, httplib::Response& res) {
      (this->*handler)(req, res);
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

void HttpApi::Impl::healthz(const httplib::Request&, httplib::Response& res) {
  send_json(res, 200, json{{"status", "ok"}});
}

void HttpApi::Impl::openapi(const httplib::Request&, httplib::Response& res) {
  res.set_content(std::string(openapi_yaml()), "application/yaml");
}

namespace {

// "snapshot_interfaces=true output=stream format=json schema=netnsd netns=all", for the audit log.
std::string describe(const DumpParams& p) {
  std::string netns = "all";
  if (p.request.netns) {
    netns.clear();
    for (NetnsId id : *p.request.netns) netns += (netns.empty() ? "" : ",") + std::to_string(id);
  }
  return std::string("snapshot_interfaces=") + (p.request.snapshot_interfaces ? "true" : "false") +
         " output=" + (p.stream ? "stream" : "files") +
         (p.stream ? std::string(" format=") + format_info(p.format).name : std::string()) +
         " schema=" + (p.schema == DumpSchema::datadog ? "datadog" : "netnsd") + " netns=" + netns;
}

}  // namespace

void HttpApi::Impl::dump(const httplib::Request& req, httplib::Response& res, std::string_view body) {
  TrimHeapOnExit trim;
  // The query string, from the raw target: httplib also merges a form body
  // into req.params, and the body is parsed separately.
  ParamList query;
  if (auto q = req.target.find('?'); q != std::string::npos) {
    query = parse_form(std::string_view(req.target).substr(q + 1));
  }
  auto params = parse_dump_params(body, req.get_header_value("Content-Type"), query);
  if (!params) return send_error(res, params.error());
  // One line per dump asked for: who, what, and what came of it.
  auto audit = [&](int status, const std::string& result) {
    spdlog::info("audit: dump by {} ({}) -> {} {}", peer_of(req), describe(*params), status,
                 escape_for_log(result, 1024));
  };

  // Never a partial cache: a dump asked for during the initial scan waits for it.
  if (deps_.wait_ready && !deps_.wait_ready(options_.ready_wait)) {
    std::vector<std::string> reasons;
    if (deps_.not_ready_reasons) reasons = deps_.not_ready_reasons();
    audit(503, "not ready");
    res.set_header("Retry-After", "1");
    return send_json(res, 503,
                     json{{"error", "not ready: the initial scan did not finish within " +
                                        std::to_string(options_.ready_wait.count() / 1000) + " s"},
                          {"code", "not_ready"},
                          {"reasons", reasons}});
  }
  auto entered = admission_.enter();
  if (!entered) {
    audit(503, "too many dumps");
    res.set_header("Retry-After", "1");
    return send_error(
        res, ApiError{503, "too_many_dumps",
                      "too many dumps are building or waiting (" + std::to_string(options_.max_concurrent_dumps) +
                          " at once, " + std::to_string(options_.dump_queue) + " in line); retry shortly"});
  }
  // Held until the answer is sent: a streamed dump's text counts too.
  auto ticket = std::make_shared<Admission::Ticket>(std::move(*entered));
  BatchPriority batch;

  const auto started = std::chrono::steady_clock::now();
  DumpDocument doc = deps_.dumper.collect(params->request);
  const auto collected = std::chrono::steady_clock::now();

  if (params->stream) {
    auto text = std::make_shared<std::string>(deps_.dumper.encode(doc, params->schema, params->format));
    if (params->format == DumpFormat::svg || params->format == DumpFormat::png) {
      auto image = render_dot(*text, params->format == DumpFormat::svg ? ImageFormat::svg : ImageFormat::png);
      if (!image) {
        const Error& e = image.error();
        const ApiError error = e.code == E2BIG ? ApiError{422, "graph_too_large", e.context}
                               : e.code == ETIMEDOUT
                                   ? ApiError{503, "render_timeout", e.context}
                                   : ApiError{500, "render_failed", "cannot render the graph: " + e.message()};
        spdlog::warn("render failed: {}", e.message());
        audit(error.status, error.message);
        return send_error(res, error);
      }
      *text = std::move(image).value();
    }
    spdlog::debug(
        "dump of {} namespaces: collect {} us, encode {} us, {} bytes", doc.namespaces.size(),
        std::chrono::duration_cast<std::chrono::microseconds>(collected - started).count(),
        std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - collected).count(),
        text->size());
    telemetry_.observe_dump(std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count(),
                            params->request.snapshot_interfaces);
    audit(200, "streamed " + std::to_string(text->size()) + " bytes");
    const char* type = format_info(params->format).content_type;
    res.status = 200;
    res.set_chunked_content_provider(type, [text, ticket](std::size_t offset, httplib::DataSink& sink) {
      std::size_t n = std::min(kStreamChunk, text->size() - offset);
      if (n > 0 && !sink.write(text->data() + offset, n)) return false;
      if (offset + n >= text->size()) {
        sink.done();
        std::string().swap(*text);  // sent: free it now, not when httplib drops the provider
        trim_heap();
      }
      return true;
    });
    return;
  }

  auto paths = deps_.dumper.write_files(doc, params->schema);
  if (!paths) {
    const bool full = paths.error().code == ENOSPC || paths.error().code == EDQUOT;
    const ApiError error =
        full ? ApiError{507, "insufficient_storage", "cannot write the dump: " + paths.error().message()}
             : ApiError{500, "dump_write_failed", "cannot write the dump: " + paths.error().message()};
    spdlog::warn("dump failed: {}", paths.error().message());
    audit(error.status, paths.error().message());
    return send_error(res, error);
  }
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
  telemetry_.observe_dump(std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count(),
                          params->request.snapshot_interfaces);
  spdlog::info("dumped {} namespaces{} to {} in {} ms", doc.namespaces.size(),
               doc.snapshot_interfaces ? " with an interface snapshot" : "", paths->dump_filename, took.count());
  audit(200, paths->dump_filename + " " + paths->graph_filename);
  send_json(res, 200, json{{"dump_filename", paths->dump_filename}, {"graph_filename", paths->graph_filename}});
}

void HttpApi::Impl::namespaces(const httplib::Request&, httplib::Response& res) {
  TrimHeapOnExit trim;
  auto [views, stats] = deps_.resolver.snapshot_with_stats();
  res.status = 200;
  res.set_content(namespaces_to_json(views, stats), kJson);
}

void HttpApi::Impl::one_namespace(const httplib::Request& req, httplib::Response& res) {
  const std::string key = req.matches[1];
  std::optional<NetnsId> id;
  if (std::all_of(key.begin(), key.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    id = parse_inode(key);
    if (!id) {
      return send_error(
          res, ApiError::bad_request("invalid_netns", "'" + key + "' is not a namespace inode (1 to 4294967295)"));
    }
  } else {
    // Not a number: a bind-mount name such as an `ip netns` name.
    auto found = deps_.resolver.find_by_name(key);
    if (found.size() > 1) {
      return send_error(
          res, ApiError{409, "ambiguous_name", "several cached namespaces are mounted as '" + key + "'; ask by inode"});
    }
    if (found.size() == 1) id = found.front();
  }
  std::optional<NamespaceView> view;
  if (id) view = deps_.resolver.find(*id);
  if (!view) {
    return send_error(res, ApiError{404, "namespace_not_found", "no network namespace '" + key + "' in the cache"});
  }
  // Counters are read now, never from the cache; a namespace that cannot be
  // listed this moment is still described, without them.
  std::optional<std::string> counters_error;
  if (Status st = deps_.dumper.read_counters(*view); !st) counters_error = st.error().message();
  res.status = 200;
  res.set_content(namespace_to_json(*view, counters_error), kJson);
}

void HttpApi::Impl::whois(const httplib::Request& req, httplib::Response& res) {
  const std::string name = req.matches[1];  // percent-decoded by httplib
  if (!valid_interface_name(name)) {
    return send_error(res, ApiError::bad_request("invalid_device_name",
                                                 "'" + escape_for_log(name) +
                                                     "' is not an interface name the kernel "
                                                     "would accept (1 to 15 bytes, no '/', ':' or whitespace)"));
  }
  auto found = deps_.dumper.whois(name);
  if (!found)
    return send_error(res, ApiError{404, "device_not_found", "no cached namespace has a device '" + name + "'"});
  res.status = 200;
  res.set_content(*found, kJson);
}

void HttpApi::Impl::events(const httplib::Request& req, httplib::Response& res) {
  ParamList query;
  if (auto q = req.target.find('?'); q != std::string::npos) {
    query = parse_form(std::string_view(req.target).substr(q + 1));
  }
  auto params = parse_event_params(query);
  if (!params) return send_error(res, params.error());
  if (!deps_.feed) return send_error(res, ApiError{503, "no_event_stream", "this server streams no changes"});
  std::shared_ptr<ChangeFeed::Subscription> subscription = deps_.feed->subscribe(params->filter, params->since);
  if (!subscription) {
    res.set_header("Retry-After", "5");
    return send_error(res, ApiError{503, "too_many_subscribers",
                                    "the change stream has as many subscribers as it takes; retry later"});
  }
  const std::string who = peer_of(req);
  spdlog::info("events: {} subscribed", who);
  // Streams hold a worker each for as long as they last: they wake up
  // often enough to notice the server stopping or the client gone, and say
  // they are alive when quiet. A write waits for a paused reader up to the
  // stall limit (see serve()).
  auto quiet = std::make_shared<std::chrono::milliseconds>(0);
  auto first = std::make_shared<bool>(true);
  res.status = 200;
  res.set_header("Cache-Control", "no-store");
  res.set_chunked_content_provider(
      "application/x-ndjson", [this, subscription, quiet, first, who](std::size_t, httplib::DataSink& sink) {
        std::string out;
        if (*first) {
          // Says where the stream starts: a client can come back with ?since=.
          out = marker_to_ndjson("subscribed", deps_.feed->last_seq(), deps_.resolver.now());
          *first = false;
        }
        for (const FeedItem& item : subscription->next(out.empty() ? kStreamWake : std::chrono::milliseconds(0))) {
          out += item.change ? change_to_ndjson(*item.change) : lost_to_ndjson(item.lost, deps_.resolver.now());
        }
        if (out.empty()) {
          if (stopping || subscription->closed() || !sink.is_writable()) {
            sink.done();
            return true;
          }
          *quiet += kStreamWake;
          if (*quiet < options_.event_heartbeat) return true;
          out = marker_to_ndjson("heartbeat", deps_.feed->last_seq(), deps_.resolver.now());
        }
        *quiet = std::chrono::milliseconds(0);
        if (sink.write(out.data(), out.size())) return true;
        spdlog::info("events: {} stream ended", who);  // gone, or let go (RequestStream says why)
        return false;
      });
}

void HttpApi::Impl::readyz(const httplib::Request&, httplib::Response& res) {
  std::vector<std::string> reasons;
  if (deps_.not_ready_reasons) reasons = deps_.not_ready_reasons();
  if (reasons.empty()) {
    // Degraded still serves a correct cache, but refreshed by fewer sources
    // or not the whole host: a limit is in force.
    ResolverStats s = deps_.resolver.stats();
    if (s.degraded) s.limits.insert(s.limits.begin(), s.degraded_reason);
    if (!s.limits.empty()) return send_json(res, 200, json{{"status", "degraded"}, {"reasons", s.limits}});
    return send_json(res, 200, json{{"status", "ready"}});
  }
  std::string sentence = "not ready: ";
  for (std::size_t i = 0; i < reasons.size(); ++i) sentence += (i ? "; " : "") + reasons[i];
  send_json(res, 503, json{{"error", sentence}, {"code", "not_ready"}, {"reasons", reasons}});
}

void HttpApi::Impl::metrics(const httplib::Request&, httplib::Response& res) {
  const ResolverStats s = deps_.resolver.stats();
  MetricsWriter out;
  out.sample("netnsd_ready", "", "gauge", "1 once the initial scan has completed.", s.ready ? 1 : 0);
  out.sample("netnsd_degraded", "", "gauge", "1 when running without eBPF events or under a limit (see /readyz).",
             s.degraded || !s.limits.empty() ? 1 : 0);
  for (const StatField& f : stat_fields()) {
    if (!f.metric.empty()) out.sample(f.metric, f.labels, f.type, f.help, static_cast<double>(f.read(s)));
  }
  telemetry_.write(out);
  res.set_content(out.take(), "text/plain; version=0.0.4");
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
      "write_timeout (the client stopped reading), flood (dropped while waiting to be read), gone (closed by the "
      "client before it was read).";
  const std::pair<const char*, std::uint64_t> refused[] = {
      {"busy", c.refused_busy},       {"evicted", c.evicted_slow},         {"timeout", c.timed_out},
      {"request", c.refused_request}, {"write_timeout", c.write_timeouts}, {"flood", c.dropped_pending},
      {"gone", c.gone_at_accept}};
  for (const auto& [reason, n] : refused) {
    out.sample("netnsd_http_refused_total", server + ",reason=\"" + reason + "\"}", "counter", refused_help, count(n));
  }
  if (probes_only_) return;
  const Admission::Counts a = admission_.counts();
  out.sample("netnsd_dumps_running", "", "gauge", "Dumps being built now.", count(a.running));
  out.sample("netnsd_dumps_waiting", "", "gauge", "Dumps waiting for their turn.", count(a.waiting));
  out.sample("netnsd_dumps_refused_total", "", "counter", "Dumps refused with 503: too many building or waiting.",
             count(a.refused));
  if (!deps_.feed) return;
  const FeedStats f = deps_.feed->stats();
  out.sample("netnsd_event_subscribers", "", "gauge", "GET /v1/events streams open.", count(f.subscribers));
  out.sample("netnsd_events_total", "", "counter", "Changes the cache applied (published to the change stream).",
             count(f.published));
  out.sample("netnsd_events_lost_total", "", "counter",
             "Changes slow subscribers did not get (their queue was full), summed.", count(f.lost));
  out.sample("netnsd_event_subscriptions_refused_total", "", "counter",
             "GET /v1/events refused with 503: as many subscribers as --max-subscribers.", count(f.refused));
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
