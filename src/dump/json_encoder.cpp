#include "dump/json_encoder.h"

namespace netnsd {

using json = nlohmann::ordered_json;

json device_to_json(const Device& d) {
  json peer = nullptr;
  if (d.peer) {
    peer = json{{"ifindex", d.peer->ifindex},
                {"netns", d.peer->netns ? json(*d.peer->netns) : json(nullptr)},
                {"nsid", d.peer->nsid ? json(*d.peer->nsid) : json(nullptr)}};
  }
  return json{{"ifindex", d.ifindex},
              {"name", d.name},
              {"kind", d.kind},
              {"mac", d.mac},
              {"mtu", d.mtu},
              {"up", d.up},
              {"master", d.master ? json(*d.master) : json(nullptr)},
              {"peer", std::move(peer)}};
}

namespace {

json devices_to_json(const std::vector<Device>& devices) {
  json out = json::array();
  for (const Device& d : devices) out.push_back(device_to_json(d));
  return out;
}

json snapshot_to_json(const InterfaceSnapshot& s) {
  return json{{"devices", devices_to_json(s.devices)},
              {"error", s.error ? json(*s.error) : json(nullptr)},
              {"missing_from_cache", s.missing_from_cache},
              {"stale_in_cache", s.stale_in_cache}};
}

}  // namespace

json namespace_to_json(const NamespaceView& ns, const InterfaceSnapshot* snapshot) {
  json handle = nullptr;
  if (ns.handle) handle = json{{"fd", ns.handle->fd.get()}, {"path", ns.handle->path}};
  return json{{"netns", ns.netns},
              {"handle", std::move(handle)},
              {"names", ns.names},
              {"discovered_by", std::string(to_string(ns.discovered_by))},
              {"first_seen", format_rfc3339_ms(ns.first_seen)},
              {"lonely_since", ns.lonely_since ? json(format_rfc3339_ms(*ns.lonely_since)) : json(nullptr)},
              {"pids", ns.pids},
              {"devices", devices_to_json(ns.devices)},
              {"queued_devices", devices_to_json(ns.queued_devices)},
              {"snapshot", snapshot ? snapshot_to_json(*snapshot) : json(nullptr)}};
}

json resolver_to_json(const ResolverStats& s) {
  return json{{"state", s.ready ? "ready" : "snapshotting"},
              {"mode", s.degraded ? "degraded" : "live"},
              {"degraded_reason", s.degraded ? json(s.degraded_reason) : json(nullptr)},
              {"capacity", s.capacity},
              {"lonely_timeout_s", s.lonely_timeout_s},
              {"namespaces", s.namespaces},
              {"evictions", s.evictions},
              {"lonely_releases", s.lonely_releases},
              {"resyncs", s.resyncs},
              {"handle_capture_failures", s.handle_capture_failures},
              {"events", s.live.events},
              {"ringbuf_drops", s.live.ringbuf_drops},
              {"inflight_drops", s.live.inflight_drops},
              {"link_events", s.live.link_events},
              {"netlink_resyncs", s.live.netlink_resyncs}};
}

json dump_to_json(const DumpDocument& doc) {
  json namespaces = json::array();
  for (const NamespaceView& ns : doc.namespaces) {
    auto it = doc.snapshots.find(ns.netns);
    namespaces.push_back(namespace_to_json(ns, it == doc.snapshots.end() ? nullptr : &it->second));
  }
  return json{{"schema_version", kDumpSchemaVersion},
              {"generated_at", format_rfc3339_ms(doc.generated_at)},
              {"host", {{"hostname", doc.host.hostname}, {"kernel", doc.host.kernel}, {"netns", doc.host.netns}}},
              {"snapshot_interfaces", doc.snapshot_interfaces},
              {"resolver", resolver_to_json(doc.resolver)},
              {"namespaces", std::move(namespaces)}};
}

namespace {

// Go marshals a nil slice as null; the seed never allocates an empty one.
json go_device_list(const std::vector<Device>& devices) {
  if (devices.empty()) return nullptr;
  json out = json::array();
  for (const Device& d : devices) out.push_back(json{{"IfName", d.name}, {"IfIndex", d.ifindex}});
  return out;
}

}  // namespace

json dump_to_datadog_json(const DumpDocument& doc, std::int64_t lonely_timeout_s) {
  json out = json::array();
  for (const NamespaceView& ns : doc.namespaces) {
    const std::vector<Device>* devices = &ns.devices;
    auto snap = doc.snapshots.find(ns.netns);
    if (snap != doc.snapshots.end()) devices = &snap->second.devices;
    // The seed's LonelyTimeout is the moment the namespace will be released.
    WallTime expiry{};
    if (ns.lonely_since) expiry = *ns.lonely_since + std::chrono::seconds(lonely_timeout_s);
    out.push_back(json{{"NsID", static_cast<std::uint32_t>(ns.netns)},
                       {"HandleFD", ns.handle ? ns.handle->fd.get() : -1},
                       {"HandlePath", ns.handle ? ns.handle->path : std::string()},
                       {"LonelyTimeout", format_rfc3339_go(expiry, !ns.lonely_since)},
                       {"Devices", go_device_list(*devices)},
                       {"DevicesInQueue", go_device_list(ns.queued_devices)}});
  }
  return out;
}

std::string to_text(const json& value, bool pretty) {
  std::string text = value.dump(pretty ? 2 : -1, ' ', false, json::error_handler_t::replace);
  text.push_back('\n');
  return text;
}

}  // namespace netnsd
