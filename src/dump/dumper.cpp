#include "dump/dumper.h"

#include <set>

#include "dump/dot_encoder.h"
#include "dump/interface_snapshot.h"
#include "dump/json_encoder.h"
#include "util/json_writer.h"

namespace netnsd {

Dumper::Dumper(Resolver& resolver, HostView& host, const Clock& clock, std::string dump_dir,
               DumpFileOptions file_options)
    : resolver_(resolver),
      host_(host),
      clock_(clock),
      info_(host.host_info()),
      dump_dir_(std::move(dump_dir)),
      file_options_(file_options) {}

namespace {

// The namespace part of a whois match: inode, names, whether it is the
// host's, its containers.
void write_whereabouts(JsonWriter& out, const NamespaceView& ns, NetnsId host) {
  out.field("netns", ns.netns).key("netns_names").begin_array();
  for (const std::string& n : ns.names) out.value(n);
  out.end_array().field("host", ns.netns == host).key("containers").begin_array();
  for (const ContainerRef& c : ns.containers) write_container(out, c);
  out.end_array();
}

const Device* device_at(const NamespaceView& ns, std::uint32_t ifindex) {
  for (const Device& d : ns.devices) {
    if (d.ifindex == ifindex) return &d;
  }
  return nullptr;
}

}  // namespace

std::optional<std::string> Dumper::whois(const std::string& name) const {
  const auto found = resolver_.find_devices(name);
  if (found.empty()) return std::nullopt;
  JsonWriter out(/*pretty=*/false);
  out.begin_object().field("name", name).key("matches").begin_array();
  for (const auto& [netns, ifindex] : found) {
    auto view = resolver_.find(netns);
    if (!view) continue;  // released since
    const Device* d = device_at(*view, ifindex);
    if (!d) continue;
    out.begin_object();
    write_whereabouts(out, *view, info_.netns);
    out.key("device");
    write_device(out, *d);
    // The device a link points at, where it lives and who lives there, or
    // null when it is not cached.
    auto write_end = [&](const char* key, const std::optional<LinkRef>& ref, bool whole_device) {
      out.key(key);
      std::optional<NamespaceView> ns;
      if (ref && ref->netns) ns = *ref->netns == netns ? view : resolver_.find(*ref->netns);
      const Device* end = ns ? device_at(*ns, ref->ifindex) : nullptr;
      if (!end) {
        out.null();
        return;
      }
      out.begin_object();
      write_whereabouts(out, *ns, info_.netns);
      out.key("device");
      if (whole_device) {
        write_device(out, *end);
      } else {
        out.begin_object().field("ifindex", end->ifindex).field("name", end->name).end_object();
      }
      out.end_object();
    };
    // The peer in full: what "which container owns vethXYZ?" asks.
    write_end("peer", d->peer, /*whole_device=*/true);
    write_end("lower", d->lower, /*whole_device=*/false);
    out.end_object();
  }
  out.end_array().end_object();
  return out.take();
}

Status Dumper::read_counters(NamespaceView& ns) const {
  return read_live_counters(ns, host_);
}

DumpDocument Dumper::collect(const DumpRequest& request) const {
  DumpDocument doc;
  doc.host = info_;
  doc.snapshot_interfaces = request.snapshot_interfaces;
  auto [all, stats] = resolver_.snapshot_with_stats();
  doc.resolver = stats;
  if (request.netns) {
    std::set<NetnsId> wanted(request.netns->begin(), request.netns->end());
    for (const NamespaceView& ns : all) {
      if (wanted.count(ns.netns)) doc.namespaces.push_back(ns);
    }
    if (request.snapshot_interfaces) doc.snapshots = snapshot_interfaces(doc.namespaces, all, host_);
  } else {
    doc.namespaces = std::move(all);
    if (request.snapshot_interfaces) doc.snapshots = snapshot_interfaces(doc.namespaces, doc.namespaces, host_);
  }
  doc.generated_at = clock_.now();
  return doc;
}

std::string Dumper::encode(const DumpDocument& doc, DumpSchema schema, DumpFormat format) const {
  if (format != DumpFormat::json) return dump_to_dot(doc);  // the graph; images are rendered from it
  if (schema == DumpSchema::datadog) return dump_to_datadog_json(doc, doc.resolver.lonely_timeout_s);
  return dump_to_json(doc);
}

Result<DumpPaths> Dumper::write_files(const DumpDocument& doc, DumpSchema schema) const {
  return write_dump_files(dump_dir_, encode(doc, schema, DumpFormat::json), dump_to_dot(doc), file_options_);
}

}  // namespace netnsd
