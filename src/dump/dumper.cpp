#include "dump/dumper.h"

#include <map>
#include <set>
#include <unordered_set>

#include "dump/dot_encoder.h"
#include "dump/interface_snapshot.h"
#include "dump/json_encoder.h"
#include "dump/netfilter_report.h"
#include "dump/socket_report.h"
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

const Device* device_at(const NamespaceView& ns, std::uint32_t ifindex) {
  for (const Device& d : ns.devices) {
    if (d.ifindex == ifindex) return &d;
  }
  return nullptr;
}

}  // namespace

Result<std::string> Dumper::sockets(const NamespaceView& ns) const {
  return namespace_sockets_json(host_, ns, clock_.now());
}

Result<std::string> Dumper::conntrack(const NamespaceView& ns) const {
  return namespace_conntrack_json(host_, ns, clock_.now());
}

Result<std::string> Dumper::firewall(const NamespaceView& ns) const {
  return namespace_firewall_json(host_, ns, clock_.now());
}

std::string Dumper::whois_port(std::uint16_t port, std::optional<std::uint8_t> protocol) const {
  return whois_port_json(host_, resolver_.snapshot(), port, protocol, info_.netns, clock_.now());
}

void write_whois_matches(JsonWriter& out, const std::vector<std::pair<NetnsId, std::uint32_t>>& matches,
                         const std::function<const NamespaceView*(NetnsId)>& find, NetnsId host,
                         const std::function<void(JsonWriter&, std::size_t)>& extra) {
  out.begin_array();
  for (std::size_t i = 0; i < matches.size(); ++i) {
    const auto& [netns, ifindex] = matches[i];
    const NamespaceView* view = find(netns);
    const Device* d = view ? device_at(*view, ifindex) : nullptr;
    if (!d) continue;  // released since
    out.begin_object();
    write_whereabouts(out, *view, host);
    out.key("device");
    write_device(out, *d);
    // The device a link points at, where it lives and who lives there, or
    // null when it is not known.
    auto write_end = [&](const char* key, const std::optional<LinkRef>& ref, bool whole_device) {
      out.key(key);
      const NamespaceView* ns = ref && ref->netns ? find(*ref->netns) : nullptr;
      const Device* end = ns ? device_at(*ns, ref->ifindex) : nullptr;
      if (!end) {
        out.null();
        return;
      }
      out.begin_object();
      write_whereabouts(out, *ns, host);
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
    if (extra) extra(out, i);
    out.end_object();
  }
  out.end_array();
}

std::optional<std::string> Dumper::whois(const std::string& name) const {
  const auto found = resolver_.find_devices(name);
  if (found.empty()) return std::nullopt;
  std::map<NetnsId, std::optional<NamespaceView>> seen;
  auto find = [&](NetnsId netns) -> const NamespaceView* {
    auto it = seen.find(netns);
    if (it == seen.end()) it = seen.emplace(netns, resolver_.find(netns)).first;
    return it->second ? &*it->second : nullptr;
  };
  JsonWriter out(/*pretty=*/false);
  out.begin_object().field("name", name).key("matches");
  write_whois_matches(out, found, find, info_.netns, nullptr);
  out.end_object();
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
  doc.include = request.include;
  if (request.include.any()) collect_extras(doc);
  if (facts_) {
    for (const NamespaceView& ns : doc.namespaces) {
      auto routes = facts_->default_routes(ns.netns);
      if (!routes.empty()) doc.default_routes.emplace(ns.netns, std::move(routes));
    }
  }
  doc.generated_at = clock_.now();
  return doc;
}

void Dumper::collect_extras(DumpDocument& doc) const {
  const DumpIncludes& inc = doc.include;
  const auto deadline = std::chrono::steady_clock::now() + defaults::kDumpIncludeBudget;
  std::unordered_set<std::uint64_t> listening;
  for (const NamespaceView& ns : doc.namespaces) {
    NamespaceExtras& x = doc.extras[ns.netns];
    if (std::chrono::steady_clock::now() >= deadline) continue;  // unread, and said so
    x.read = true;
    if ((inc.routes || inc.neighbours) && facts_) {
      x.facts = facts_->get(ns.netns);
      if (!x.facts) x.facts.emplace();  // nothing heard of it yet
    }
    if (!ns.handle) continue;
    if (inc.sockets) {
      x.sockets = host_.list_sockets(*ns.handle, SocketScope::all);
      if (*x.sockets) {
        for (const InetSocket& s : **x.sockets) {
          if (is_listening(s) && s.inode != 0) listening.insert(s.inode);
        }
      }
    }
    if (inc.conntrack) x.conntrack = host_.conntrack(*ns.handle);
    if (inc.firewall) x.firewall = host_.firewall(*ns.handle);
  }
  // Every namespace's listeners' holders in one walk over the processes.
  if (!inc.sockets) return;
  doc.owners = host_.socket_owners(listening, std::chrono::steady_clock::now() + defaults::kSocketOwnersBudget);
  for (const auto& [inode, held] : doc.owners.by_inode) {
    for (const SocketHolder& h : held.listed) {
      if (!doc.holders.count(h.pid)) doc.holders[h.pid] = host_.describe_process(h.pid);
    }
  }
}

DumpDocument Dumper::past(std::vector<NamespaceView> namespaces, DumpInstant as_of) const {
  DumpDocument doc;
  doc.host = info_;
  doc.resolver = resolver_.stats();
  doc.namespaces = std::move(namespaces);
  as_of.past = true;
  doc.as_of = as_of;
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
