#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "api/handlers.h"
#include "dump/graph_render.h"
#include "util/text.h"

namespace netnsd {
namespace {

using json = nlohmann::ordered_json;

constexpr std::size_t kStreamChunk = 64 * 1024;

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
         " schema=" + (p.schema == DumpSchema::datadog ? "datadog" : "netnsd") + " netns=" + netns +
         (p.at ? " at=" + escape_for_log(*p.at, 64) : std::string());
}

ApiError render_error(const Error& e) {
  if (e.code == E2BIG) return ApiError{422, "graph_too_large", e.context};
  if (e.code == ETIMEDOUT) return ApiError{503, "render_timeout", e.context};
  return ApiError{500, "render_failed", "cannot render the graph: " + e.message()};
}

}  // namespace

void serve_dump(ApiContext& api, const httplib::Request& req, httplib::Response& res, std::string_view body) {
  TrimHeapOnExit trim;
  auto params = parse_dump_params(body, req.get_header_value("Content-Type"), query_params(req));
  if (!params) return send_error(res, params.error());
  // One line per dump asked for: who, what, and what came of it.
  auto audit = [&](int status, const std::string& result) {
    spdlog::info("audit: dump by {} ({}) -> {} {}", peer_of(req), describe(*params), status,
                 escape_for_log(result, 1024));
  };
  const HttpApiDeps& deps = api.deps;
  const HttpApiOptions& options = api.options;

  const auto started = std::chrono::steady_clock::now();
  DumpDocument doc;
  if (params->at) {
    // The past, from the journal: the live cache need not be ready.
    auto past = past_state(api, *params->at, params->request.netns);
    if (!past) {
      audit(past.error().status, past.error().message);
      return send_error(res, past.error());
    }
    doc = deps.dumper.past(std::move(past->namespaces), past->instant);
    res.set_header("X-Netnsd-At", format_rfc3339_ms(doc.as_of->at));
    res.set_header("X-Netnsd-Observed", doc.as_of->observed ? "true" : "false");
  } else if (deps.wait_ready && !deps.wait_ready(options.ready_wait)) {
    // Never a partial cache: a dump asked for during the initial scan waits for it.
    std::vector<std::string> reasons;
    if (deps.not_ready_reasons) reasons = deps.not_ready_reasons();
    audit(503, "not ready");
    res.set_header("Retry-After", "1");
    return send_json(res, 503,
                     json{{"error", "not ready: the initial scan did not finish within " +
                                        std::to_string(options.ready_wait.count() / 1000) + " s"},
                          {"code", "not_ready"},
                          {"reasons", reasons}});
  }
  BatchPriority batch;
  if (!params->at) doc = deps.dumper.collect(params->request);
  const auto collected = std::chrono::steady_clock::now();
  auto seconds_since_start = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  };

  if (params->stream) {
    auto text = std::make_shared<std::string>(deps.dumper.encode(doc, params->schema, params->format));
    if (params->format == DumpFormat::svg || params->format == DumpFormat::png) {
      const ImageFormat image_format = params->format == DumpFormat::svg ? ImageFormat::svg : ImageFormat::png;
      auto image = options.render_socket.empty() ? render_dot(*text, image_format)
                                                 : render_dot_by(options.render_socket, *text, image_format);
      if (!image) {
        const ApiError error = render_error(image.error());
        spdlog::warn("render failed: {}", image.error().message());
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
    api.telemetry.observe_dump(seconds_since_start(), params->request.snapshot_interfaces);
    audit(200, "streamed " + std::to_string(text->size()) + " bytes");
    res.status = 200;
    res.set_chunked_content_provider(format_info(params->format).content_type,
                                     [text](std::size_t offset, httplib::DataSink& sink) {
                                       std::size_t n = std::min(kStreamChunk, text->size() - offset);
                                       if (n > 0 && !sink.write(text->data() + offset, n)) return false;
                                       if (offset + n >= text->size()) {
                                         sink.done();
                                         // Sent: free it now, not when httplib drops the provider.
                                         std::string().swap(*text);
                                         trim_heap();
                                       }
                                       return true;
                                     });
    return;
  }

  auto paths = deps.dumper.write_files(doc, params->schema);
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
  api.telemetry.observe_dump(seconds_since_start(), params->request.snapshot_interfaces);
  spdlog::info("dumped {} namespaces{} to {} in {} ms", doc.namespaces.size(),
               doc.snapshot_interfaces ? " with an interface snapshot" : "", paths->dump_filename, took.count());
  audit(200, paths->dump_filename + " " + paths->graph_filename);
  json answer{{"dump_filename", paths->dump_filename}, {"graph_filename", paths->graph_filename}};
  if (doc.as_of) {
    answer["at"] = format_rfc3339_ms(doc.as_of->at);
    answer["observed"] = doc.as_of->observed;
  }
  send_json(res, 200, answer);
}

}  // namespace netnsd
