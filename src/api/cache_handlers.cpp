#include <algorithm>
#include <optional>
#include <string>

#include "api/handlers.h"
#include "dump/facts_encoder.h"
#include "dump/json_encoder.h"
#include "util/text.h"

namespace netnsd {

void serve_namespaces(ApiContext& api, const httplib::Request& req, httplib::Response& res) {
  if (serve_namespaces_at(api, req, res)) return;
  TrimHeapOnExit trim;
  auto [views, stats] = api.deps.resolver.snapshot_with_stats();
  res.status = 200;
  res.set_content(namespaces_to_json(views, stats), kJsonType);
}

namespace {

// The cached namespace `key` names: an inode, or a bind-mount name such as
// an `ip netns` name.
Result<NamespaceView, ApiError> find_namespace(ApiContext& api, const std::string& key, std::optional<NetnsId> id) {
  if (!id) {
    auto found = api.deps.resolver.find_by_name(key);
    if (found.size() > 1) {
      return ApiError{409, "ambiguous_name", "several cached namespaces are mounted as '" + key + "'; ask by inode"};
    }
    if (found.size() == 1) id = found.front();
  }
  std::optional<NamespaceView> view;
  if (id) view = api.deps.resolver.find(*id);
  if (!view) return ApiError{404, "namespace_not_found", "no network namespace '" + key + "' in the cache"};
  return std::move(*view);
}

// The inode a numeric key names; nullopt for a name; an error for a number
// that is no inode.
Result<std::optional<NetnsId>, ApiError> key_inode(const std::string& key) {
  const bool numeric = std::all_of(key.begin(), key.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (!numeric) return std::optional<NetnsId>();
  auto id = parse_inode(key);
  if (!id) return ApiError::bad_request("invalid_netns", "'" + key + "' is not a namespace inode (1 to 4294967295)");
  return std::optional<NetnsId>(*id);
}

}  // namespace

void serve_one_namespace(ApiContext& api, const httplib::Request& req, httplib::Response& res) {
  const std::string key = req.matches[1];
  auto id = key_inode(key);
  if (!id) return send_error(res, id.error());
  if (serve_one_namespace_at(api, req, res, key, *id)) return;
  auto view = find_namespace(api, key, *id);
  if (!view) return send_error(res, view.error());
  // Counters are read now, never from the cache; a namespace that cannot be
  // listed this moment is still described, without them.
  std::optional<std::string> counters_error;
  if (Status st = api.deps.dumper.read_counters(*view); !st) counters_error = st.error().message();
  // Routes, rules and neighbours from the store that keeps them live.
  std::optional<NamespaceFacts> facts;
  if (api.deps.facts) facts = api.deps.facts->get(view->netns);
  if (api.deps.facts && !facts) facts.emplace();  // nothing heard of it yet
  res.status = 200;
  res.set_content(namespace_to_json(*view, counters_error,
                                    [&](JsonWriter& out) { write_facts(out, facts ? &*facts : nullptr, *view); }),
                  kJsonType);
}

namespace {

// What is read from the kernel on demand for one namespace (its sockets,
// conntrack count, firewall): never recorded, so never at an instant, and
// answered from the namespace's handle, which pins it for as long as the
// reading takes.
struct Reading {
  const char* what;         // "sockets", "conntrack count", "firewall": for messages
  const char* no_past;      // the code of a request with at=
  const char* unavailable;  // the code of a 503
};

void serve_namespace_reading(ApiContext& api, const httplib::Request& req, httplib::Response& res,
                             const Reading& reading,
                             const std::function<Result<std::string>(const NamespaceView&)>& read) {
  for (const auto& [name, value] : query_params(req)) {
    if (name == "at") {
      return send_error(res, ApiError::bad_request(reading.no_past, std::string("the ") + reading.what +
                                                                        " of a namespace is never recorded, so it "
                                                                        "can only be read now (drop at)"));
    }
    return send_error(
        res, ApiError::bad_request("unknown_parameter", std::string("the ") + reading.what + " takes no parameters"));
  }
  const std::string key = req.matches[1];
  auto id = key_inode(key);
  if (!id) return send_error(res, id.error());
  auto view = find_namespace(api, key, *id);
  if (!view) return send_error(res, view.error());
  TrimHeapOnExit trim;
  auto answer = read(*view);
  if (!answer) {
    return send_error(res,
                      ApiError{503, reading.unavailable,
                               std::string("the ") + reading.what + " of namespace " + std::to_string(view->netns) +
                                   " could not be read: " + answer.error().message()});
  }
  res.status = 200;
  res.set_content(std::move(*answer), kJsonType);
}

}  // namespace

void serve_namespace_sockets(ApiContext& api, const httplib::Request& req, httplib::Response& res) {
  serve_namespace_reading(api, req, res, {"sockets", "sockets_have_no_past", "sockets_unavailable"},
                          [&](const NamespaceView& ns) { return api.deps.dumper.sockets(ns); });
}

void serve_namespace_conntrack(ApiContext& api, const httplib::Request& req, httplib::Response& res) {
  serve_namespace_reading(api, req, res, {"conntrack count", "conntrack_has_no_past", "conntrack_unavailable"},
                          [&](const NamespaceView& ns) { return api.deps.dumper.conntrack(ns); });
}

void serve_namespace_firewall(ApiContext& api, const httplib::Request& req, httplib::Response& res) {
  serve_namespace_reading(api, req, res, {"firewall", "firewall_has_no_past", "firewall_unavailable"},
                          [&](const NamespaceView& ns) { return api.deps.dumper.firewall(ns); });
}

void serve_device(ApiContext& api, const httplib::Request& req, httplib::Response& res) {
  const std::string name = req.matches[1];  // percent-decoded by httplib
  if (!valid_interface_name(name)) {
    return send_error(res, ApiError::bad_request("invalid_device_name",
                                                 "'" + escape_for_log(name) +
                                                     "' is not an interface name the kernel "
                                                     "would accept (1 to 15 bytes, no '/', ':' or whitespace)"));
  }
  if (serve_device_at(api, req, res, name)) return;
  auto found = api.deps.dumper.whois(name);
  if (!found)
    return send_error(res, ApiError{404, "device_not_found", "no cached namespace has a device '" + name + "'"});
  res.status = 200;
  res.set_content(*found, kJsonType);
}

}  // namespace netnsd
