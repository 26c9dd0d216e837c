// The API's handlers, one file per resource, and what they share: how an
// answer is written (JSON bodies, JSON errors) and what a handler may use
// (the service's parts and the server's options).
//
// Internal to the api layer: it includes cpp-httplib, which http_api.h keeps
// out of its users' sight. Routing, lanes and the connection handling are in
// http_api.cpp and connections.cpp; a handler only parses, validates, calls
// the domain and serialises.
//
//   probe_handlers.cpp   GET /healthz, /readyz, /metrics, /openapi.yaml
//   cache_handlers.cpp   GET /v1/namespaces[/{netns}[/sockets|conntrack|firewall]], /v1/devices/{name}
//   history_handlers.cpp ?at= on those, GET /v1/whois (?port= from the kernel), /v1/history
//   event_handler.cpp    GET /v1/events (a change stream)
//   dump_handler.cpp     POST /dump, /v1/dump (files, or a streamed document or image)
#pragma once

#include <httplib.h>

#include <atomic>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "api/api_error.h"
#include "api/dump_params.h"
#include "api/history_params.h"
#include "api/http_api.h"
#include "util/heap.h"

namespace netnsd {

// What every handler may use; owned by the server, which outlives them.
// Handlers run on the worker of their lane (http_api.cpp): a dump handler
// holds one of the dump lane's workers, its slot, until its answer is sent.
struct ApiContext {
  HttpApiDeps& deps;
  const HttpApiOptions& options;
  Telemetry& telemetry;
  const std::atomic<bool>& stopping;  // the server is stopping: streams end
};

inline constexpr const char* kJsonType = "application/json";

void send_json(httplib::Response& res, int status, const nlohmann::ordered_json& body);
void send_error(httplib::Response& res, const ApiError& error);
// "uid 1000 pid 4242": who asked, for the logs.
std::string peer_of(const httplib::Request& req);
// The query string's parameters, from the raw target (httplib also merges a
// form body into req.params; bodies are parsed separately).
ParamList query_params(const httplib::Request& req);

// Gives the memory a large answer used back to the system once it is freed
// (declared first in a handler, it runs after the other locals are gone).
// Without it, a dump's many small blocks stay resident between dumps.
struct TrimHeapOnExit {
  ~TrimHeapOnExit() { trim_heap(); }
};

// probe_handlers.cpp
void serve_healthz(ApiContext& api, const httplib::Request& req, httplib::Response& res);
void serve_readyz(ApiContext& api, const httplib::Request& req, httplib::Response& res);
void serve_metrics(ApiContext& api, const httplib::Request& req, httplib::Response& res);
void serve_openapi(ApiContext& api, const httplib::Request& req, httplib::Response& res);

// cache_handlers.cpp
void serve_namespaces(ApiContext& api, const httplib::Request& req, httplib::Response& res);
void serve_one_namespace(ApiContext& api, const httplib::Request& req, httplib::Response& res);
void serve_device(ApiContext& api, const httplib::Request& req, httplib::Response& res);
void serve_namespace_sockets(ApiContext& api, const httplib::Request& req, httplib::Response& res);
void serve_namespace_conntrack(ApiContext& api, const httplib::Request& req, httplib::Response& res);
void serve_namespace_firewall(ApiContext& api, const httplib::Request& req, httplib::Response& res);

// history_handlers.cpp: the cache's resources with ?at= (true when the
// request asked for the past and was answered), and the history's own.
bool serve_namespaces_at(ApiContext& api, const httplib::Request& req, httplib::Response& res);
bool serve_one_namespace_at(ApiContext& api, const httplib::Request& req, httplib::Response& res,
                            const std::string& key, std::optional<NetnsId> id);
bool serve_device_at(ApiContext& api, const httplib::Request& req, httplib::Response& res, const std::string& name);
// The namespaces as they were at `at` (as given: a time, a time ago or a
// sequence number; checked against the journal), all or `only` those, and
// the instant they describe.
struct PastState {
  DumpInstant instant;
  std::vector<NamespaceView> namespaces;
};
Result<PastState, ApiError> past_state(ApiContext& api, std::string_view at,
                                       const std::optional<std::vector<NetnsId>>& only);
// The same for an instant already parsed (`name` is its parameter's, for errors).
Result<PastState, ApiError> past_state(ApiContext& api, const InstantParam& instant, std::string_view name,
                                       const std::optional<std::vector<NetnsId>>& only);
void serve_diff(ApiContext& api, const httplib::Request& req, httplib::Response& res);
void serve_whois(ApiContext& api, const httplib::Request& req, httplib::Response& res);
void serve_history(ApiContext& api, const httplib::Request& req, httplib::Response& res);
void serve_history_export(ApiContext& api, const httplib::Request& req, httplib::Response& res);

// event_handler.cpp
void serve_events(ApiContext& api, const httplib::Request& req, httplib::Response& res);

// dump_handler.cpp: parameters from `body` (empty for a POST without one)
// and the query string.
void serve_dump(ApiContext& api, const httplib::Request& req, httplib::Response& res, std::string_view body);

}  // namespace netnsd
