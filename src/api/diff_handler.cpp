// GET /v1/diff: the cache at two instants of the journal (or one and now)
// compared, as two dump documents are compared offline.
#include <spdlog/spdlog.h>

#include "api/handlers.h"
#include "diff/document_diff.h"
#include "dump/json_encoder.h"

namespace netnsd {

void serve_diff(ApiContext& api, const httplib::Request& req, httplib::Response& res) {
  auto params = parse_diff_params(query_params(req), api.deps.resolver.now());
  if (!params) return send_error(res, params.error());
  TrimHeapOnExit trim;
  auto from = past_state(api, *params->from, "from", std::nullopt);
  if (!from) return send_error(res, from.error());
  DumpDocument to;
  if (params->to) {
    auto then = past_state(api, *params->to, "to", std::nullopt);
    if (!then) return send_error(res, then.error());
    // Sequence numbers are known as times only now.
    if (from->instant.at > then->instant.at) {
      return send_error(res, ApiError::bad_request("reversed_interval", "from is after to"));
    }
    to = api.deps.dumper.past(std::move(then->namespaces), then->instant);
  } else {
    if (api.deps.wait_ready && !api.deps.wait_ready(api.options.ready_wait)) {
      res.set_header("Retry-After", "1");
      return send_error(res, ApiError{503, "not_ready", "not ready: the initial scan has not finished"});
    }
    to = api.deps.dumper.collect({});
  }
  const DumpDocument before = api.deps.dumper.past(std::move(from->namespaces), from->instant);
  // Through the dump's own encoding, so that the answer is the one netnsctl
  // gives for two dump files of the same instants.
  auto diff = diff_documents(nlohmann::json::parse(dump_to_json(before)), nlohmann::json::parse(dump_to_json(to)));
  if (!diff) {
    spdlog::error("diff: {}", diff.error().message());
    return send_error(res, ApiError{500, "diff_failed", "cannot compare: " + diff.error().message()});
  }
  send_json(res, 200, *diff);
}

}  // namespace netnsd
