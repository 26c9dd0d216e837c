#include "dump/dumper.h"

#include <set>

#include "dump/dot_encoder.h"
#include "dump/interface_snapshot.h"
#include "dump/json_encoder.h"

namespace netnsd {

Dumper::Dumper(Resolver& resolver, HostView& host, const Clock& clock, std::string dump_dir,
               DumpFileOptions file_options)
    : resolver_(resolver),
      host_(host),
      clock_(clock),
      info_(host.host_info()),
      dump_dir_(std::move(dump_dir)),
      file_options_(file_options) {}

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
  if (format == DumpFormat::dot) return dump_to_dot(doc);
  if (schema == DumpSchema::datadog) return dump_to_datadog_json(doc, doc.resolver.lonely_timeout_s);
  return dump_to_json(doc);
}

Result<DumpPaths> Dumper::write_files(const DumpDocument& doc, DumpSchema schema) const {
  return write_dump_files(dump_dir_, encode(doc, schema, DumpFormat::json), dump_to_dot(doc), file_options_);
}

}  // namespace netnsd
