#include "api/http_api.h"

#include <httplib.h>
#include <malloc.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <regex>
#include <sstream>
#include <thread>

#include "api/dump_params.h"
#include "api/openapi_spec.h"
#include "api/unix_socket.h"
#include "dump/json_encoder.h"

namespace netnsd {
namespace {

using json = nlohmann::ordered_json;

constexpr std::size_t kStreamChunk = 64 * 1024;
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
  ~TrimHeapOnExit() { ::malloc_trim(0); }
};

}  // namespace

class HttpApi::Impl : public httplib::Server {
 public:
  using Handler = void (Impl::*)(const httplib::Request&, httplib::Response&);
  struct Route {
    const char* method;   // GET (which also answers HEAD) or POST
    const char* pattern;  // httplib's: a regular expression the whole path must match
    Handler handler;
  };
  // The API: install_routes() serves exactly this, and the methods a path
  // allows (405 and Allow) are derived from it.
  static const Route kRoutes[];

  Impl(HttpApiDeps& deps, const HttpApiOptions& options) : deps_(deps), options_(options) {
    const std::size_t threads = options.threads;
    new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
    set_address_family(AF_UNIX);
    set_payload_max_length(options.max_body);
    // A keep-alive connection holds its worker: bound both its idle time and
    // its length (httplib's default of 5 requests makes clients reconnect,
    // and queue, all the time).
    set_keep_alive_timeout(5);
    set_keep_alive_max_count(1000);
    set_read_timeout(5, 0);
    // The socket file takes the socket inode's mode at bind(): make it 0660
    // before, so it is never reachable more widely, not even briefly.
    set_socket_options([](socket_t sock) { ::fchmod(sock, 0660); });
    set_write_timeout(30, 0);
    install_routes();
  }

  // httplib listens with a backlog of 5; a burst of health checks and dumps
  // deserves the system maximum. listen() on a listening socket only resizes
  // its queue.
  void raise_backlog() { ::listen(svr_sock_, SOMAXCONN); }
  std::atomic<bool> listen_returned{false};

  // Closes the listening socket when listen_after_bind() never ran.
  void close_unused() {
    socket_t sock = svr_sock_.exchange(INVALID_SOCKET);
    if (sock != INVALID_SOCKET) ::close(sock);
  }

 private:
  void install_routes();
  // "GET, HEAD", "POST", ...: what kRoutes serve at `path`; nullopt when none does.
  static std::optional<std::string> allowed_methods(const std::string& path);

  void healthz(const httplib::Request& req, httplib::Response& res);
  void readyz(const httplib::Request& req, httplib::Response& res);
  void metrics(const httplib::Request& req, httplib::Response& res);
  void openapi(const httplib::Request& req, httplib::Response& res);
  void namespaces(const httplib::Request& req, httplib::Response& res);
  void one_namespace(const httplib::Request& req, httplib::Response& res);
  void dump_with_body(const httplib::Request& req, httplib::Response& res) { dump(req, res, req.body); }
  void dump(const httplib::Request& req, httplib::Response& res, std::string_view body);

  HttpApiDeps& deps_;
  const HttpApiOptions& options_;
};

const HttpApi::Impl::Route HttpApi::Impl::kRoutes[] = {
    {"GET", "/healthz", &Impl::healthz},          {"GET", "/readyz", &Impl::readyz},
    {"GET", "/metrics", &Impl::metrics},          {"GET", "/openapi.yaml", &Impl::openapi},
    {"GET", "/v1/namespaces", &Impl::namespaces}, {"GET", R"(/v1/namespaces/([^/]+))", &Impl::one_namespace},
    {"POST", "/dump", &Impl::dump_with_body},     {"POST", "/v1/dump", &Impl::dump_with_body},
};

void HttpApi::Impl::install_routes() {
  set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    // cpp-httplib 0.11.4 applies the payload limit to Content-Length only: a
    // chunked body would be read whole, whatever its size. Refuse it before
    // reading. Its unread body cannot be skipped, so the answer says
    // "Connection: close"; httplib takes that from the request's header (the
    // Request is ours to change: httplib hands it over as const only).
    if (req.has_header("Transfer-Encoding")) {
      const_cast<httplib::Request&>(req).set_header("Connection", "close");
      send_error(res, ApiError{411, "length_required",
                               "send the request body with a Content-Length; chunked bodies are not accepted"});
      return HandlerResponse::Handled;
    }
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
    send_error(res, error_for_status(req, res.status, options_.max_body));
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
    spdlog::error("{} {} failed: {}", req.method, req.path, what);
    send_error(res, ApiError{500, "internal_error", "internal error: " + what});
  });
  set_logger([](const httplib::Request& req, const httplib::Response& res) {
    // Over AF_UNIX, httplib reports the peer's PID (SO_PEERCRED) as its port.
    spdlog::debug("{} {} -> {} (peer pid {})", req.method, req.path, res.status, req.remote_port);
  });
}

std::optional<std::string> HttpApi::Impl::allowed_methods(const std::string& path) {
  static const std::vector<std::regex> patterns = [] {
    std::vector<std::regex> out;
    for (const Route& route : kRoutes) out.emplace_back(route.pattern);
    return out;
  }();
  std::string allow;
  for (std::size_t i = 0; i < std::size(kRoutes); ++i) {
    if (!std::regex_match(path, patterns[i])) continue;
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

void HttpApi::Impl::dump(const httplib::Request& req, httplib::Response& res, std::string_view body) {
  TrimHeapOnExit trim;
  BatchPriority batch;
  // The query string, from the raw target: httplib also merges a form body
  // into req.params, and the body is parsed separately.
  ParamList query;
  if (auto q = req.target.find('?'); q != std::string::npos)
    query = parse_form(std::string_view(req.target).substr(q + 1));
  auto params = parse_dump_params(body, req.get_header_value("Content-Type"), query);
  if (!params) return send_error(res, params.error());

  const auto started = std::chrono::steady_clock::now();
  DumpDocument doc = deps_.dumper.collect(params->request);
  const auto collected = std::chrono::steady_clock::now();

  if (params->stream) {
    auto text = std::make_shared<std::string>(deps_.dumper.encode(doc, params->schema, params->format));
    spdlog::debug(
        "dump of {} namespaces: collect {} us, encode {} us, {} bytes", doc.namespaces.size(),
        std::chrono::duration_cast<std::chrono::microseconds>(collected - started).count(),
        std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - collected).count(),
        text->size());
    const char* type = params->format == DumpFormat::dot ? "text/vnd.graphviz" : kJson;
    res.status = 200;
    res.set_chunked_content_provider(type, [text](std::size_t offset, httplib::DataSink& sink) {
      std::size_t n = std::min(kStreamChunk, text->size() - offset);
      if (n > 0 && !sink.write(text->data() + offset, n)) return false;
      if (offset + n >= text->size()) {
        sink.done();
        std::string().swap(*text);  // sent: free it now, not when httplib drops the provider
        ::malloc_trim(0);
      }
      return true;
    });
    return;
  }

  auto paths = deps_.dumper.write_files(doc, params->schema);
  if (!paths) {
    spdlog::warn("dump failed: {}", paths.error().message());
    return send_error(res, ApiError{500, "dump_write_failed", "cannot write the dump: " + paths.error().message()});
  }
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
  spdlog::info("dumped {} namespaces{} to {} in {} ms (peer pid {})", doc.namespaces.size(),
               doc.snapshot_interfaces ? " with an interface snapshot" : "", paths->dump_filename, took.count(),
               req.remote_port);
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
  res.status = 200;
  res.set_content(namespace_to_json(*view), kJson);
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
  std::ostringstream out;
  std::string_view previous;
  // Samples of one metric (differing by labels) follow its HELP and TYPE.
  auto metric = [&](std::string_view name, std::string_view labels, std::string_view type, std::string_view help,
                    std::uint64_t value) {
    if (name != previous) out << "# HELP " << name << ' ' << help << "\n# TYPE " << name << ' ' << type << '\n';
    previous = name;
    out << name << labels << ' ' << value << '\n';
  };
  metric("netnsd_ready", "", "gauge", "1 once the initial scan has completed.", s.ready ? 1 : 0);
  metric("netnsd_degraded", "", "gauge", "1 when running without eBPF events or under a limit (see /readyz).",
         s.degraded || !s.limits.empty() ? 1 : 0);
  for (const StatField& f : stat_fields()) {
    if (!f.metric.empty()) metric(f.metric, f.labels, f.type, f.help, f.read(s));
  }
  res.set_content(out.str(), "text/plain; version=0.0.4");
}

HttpApi::HttpApi(HttpApiDeps deps, HttpApiOptions options)
    : deps_(std::move(deps)), options_(std::move(options)), impl_(std::make_unique<Impl>(deps_, options_)) {}

HttpApi::~HttpApi() {
  stop();
}

Status HttpApi::start() {
  if (Status st = prepare_socket_path(options_.socket_path); !st) return st;
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
  if (::stat(options_.socket_path.c_str(), &st) == 0) {
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
  if (!serving_.joinable()) return;
  impl_->stop();
  serving_.join();
  // Remove the socket file only if it is still the one we bound.
  struct stat st {};
  if (::lstat(options_.socket_path.c_str(), &st) == 0 && st.st_dev == socket_dev_ && st.st_ino == socket_ino_) {
    ::unlink(options_.socket_path.c_str());
  }
}

}  // namespace netnsd
