#include <algorithm>
#include <optional>
#include <string>

#include "api/handlers.h"
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

void serve_one_namespace(ApiContext& api, const httplib::Request& req, httplib::Response& res) {
  const std::string key = req.matches[1];
  std::optional<NetnsId> id;
  const bool numeric = std::all_of(key.begin(), key.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (numeric) {
    id = parse_inode(key);
    if (!id) {
      return send_error(
          res, ApiError::bad_request("invalid_netns", "'" + key + "' is not a namespace inode (1 to 4294967295)"));
    }
  }
  if (serve_one_namespace_at(api, req, res, key, id)) return;
  if (!numeric) {
    // Not a number: a bind-mount name such as an `ip netns` name.
    auto found = api.deps.resolver.find_by_name(key);
    if (found.size() > 1) {
      return send_error(
          res, ApiError{409, "ambiguous_name", "several cached namespaces are mounted as '" + key + "'; ask by inode"});
    }
    if (found.size() == 1) id = found.front();
  }
  std::optional<NamespaceView> view;
  if (id) view = api.deps.resolver.find(*id);
  if (!view) {
    return send_error(res, ApiError{404, "namespace_not_found", "no network namespace '" + key + "' in the cache"});
  }
  // Counters are read now, never from the cache; a namespace that cannot be
  // listed this moment is still described, without them.
  std::optional<std::string> counters_error;
  if (Status st = api.deps.dumper.read_counters(*view); !st) counters_error = st.error().message();
  res.status = 200;
  res.set_content(namespace_to_json(*view, counters_error), kJsonType);
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
