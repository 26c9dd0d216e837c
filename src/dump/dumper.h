// Dumper: what POST /dump does, without HTTP.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "dump/document.h"
#include "dump/dump_files.h"
#include "resolver/host.h"
#include "resolver/resolver.h"
#include "util/json_writer.h"

namespace netnsd {

enum class DumpSchema { netnsd, datadog };
// A streamed dump's format: the JSON document, the DOT graph, or that graph
// rendered (SVG, PNG; see graph_render.h).
enum class DumpFormat { json, dot, svg, png };

struct DumpRequest {
  bool snapshot_interfaces = false;
  std::optional<std::vector<NetnsId>> netns;  // restrict to these inodes
  DumpIncludes include;                       // what each namespace gains, read now
};

// The matches of a whois, as an array: each device (netns, ifindex) with its
// namespace (`find` by inode; null: unknown), its peer and lower device;
// `extra` adds fields to match i. For the cache and for the history alike.
void write_whois_matches(JsonWriter& out, const std::vector<std::pair<NetnsId, std::uint32_t>>& matches,
                         const std::function<const NamespaceView*(NetnsId)>& find, NetnsId host,
                         const std::function<void(JsonWriter&, std::size_t)>& extra);

// Threading: every method may run concurrently with the resolver's writers;
// collect() copies the cache under its lock, then does all I/O unlocked.
class Dumper {
 public:
  // Reads the host's description (HostView::host_info) once, here.
  Dumper(Resolver& resolver, HostView& host, const Clock& clock, std::string dump_dir,
         DumpFileOptions file_options = {});

  // Where routes, rules and neighbours are kept (null: nowhere, --no-routes),
  // for include=routes,neighbours; set it before dumps are asked for.
  void set_facts(const FactStore* facts) { facts_ = facts; }

  // A consistent copy of the cache, with a live interface snapshot when asked,
  // and what `request.include` asks for, read now (within
  // kDumpIncludeBudget: namespaces left unread say so).
  DumpDocument collect(const DumpRequest& request) const;
  // A document of namespaces as they were at a past instant (from the
  // history journal): the host and the resolver as they are now.
  DumpDocument past(std::vector<NamespaceView> namespaces, DumpInstant as_of) const;

  // GET /v1/devices/{name}: every cached device called `name`, each with its
  // namespace, that namespace's containers, its veth peer (device,
  // namespace, containers) and lower device, as JSON; nullopt when there is
  // none.
  std::optional<std::string> whois(const std::string& name) const;

  // GET /v1/namespaces/{netns}/sockets and GET /v1/whois?port= (socket_report.h).
  Result<std::string> sockets(const NamespaceView& ns) const;
  // GET /v1/namespaces/{netns}/conntrack and /firewall (netfilter_report.h).
  Result<std::string> conntrack(const NamespaceView& ns) const;
  Result<std::string> firewall(const NamespaceView& ns) const;
  std::string whois_port(std::uint16_t port, std::optional<std::uint8_t> protocol) const;

  // The host's own namespace.
  NetnsId host_netns() const { return info_.netns; }

  // Fills each cached device of `ns` with its counters, read now.
  Status read_counters(NamespaceView& ns) const;

  // The document as text: JSON in either schema, or the DOT graph.
  std::string encode(const DumpDocument& doc, DumpSchema schema, DumpFormat format) const;

  // Writes the JSON (in `schema`) and the graph into the dump directory.
  Result<DumpPaths> write_files(const DumpDocument& doc, DumpSchema schema) const;

 private:
  Resolver& resolver_;
  HostView& host_;
  const FactStore* facts_ = nullptr;
  const Clock& clock_;
  HostInfo info_;
  std::string dump_dir_;
  DumpFileOptions file_options_;

  void collect_extras(DumpDocument& doc) const;
};

}  // namespace netnsd
