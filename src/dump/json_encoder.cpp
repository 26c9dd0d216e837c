#include "dump/json_encoder.h"

#include <sys/socket.h>

#include "dump/facts_encoder.h"
#include "dump/netfilter_report.h"
#include "dump/socket_report.h"

namespace netnsd {

namespace {

void write_link_ref(JsonWriter& out, const std::optional<LinkRef>& ref) {
  if (!ref) {
    out.null();
    return;
  }
  out.begin_object().field("ifindex", ref->ifindex).field("netns", ref->netns).field("nsid", ref->nsid).end_object();
}

}  // namespace

void write_address(JsonWriter& out, const Address& a, const std::string& device_name) {
  out.begin_object()
      .field("family", a.family == AF_INET6 ? "inet6" : "inet")
      .field("address", address_text(a))
      .field("prefixlen", a.prefix_len)
      .field("scope", scope_text(a.scope))
      .key("flags")
      .begin_array();
  for (const std::string& flag : address_flag_names(a)) out.value(flag);
  out.end_array();
  if (a.peer) out.field("peer", address_text(a, /*peer=*/true));
  // IPv4 labels default to the device's name; only an alias ("eth0:1") says something.
  if (!a.label.empty() && a.label != device_name) out.field("label", a.label);
  out.end_object();
}

void write_container(JsonWriter& out, const ContainerRef& c) {
  auto text_or_null = [&](const char* key, const std::string& value) {
    out.key(key);
    if (value.empty()) {
      out.null();
    } else {
      out.value(value);
    }
  };
  out.begin_object();
  text_or_null("runtime", c.runtime);
  out.field("id", c.id);
  text_or_null("pod_uid", c.pod_uid);
  text_or_null("name", c.name);
  text_or_null("pod_name", c.pod_name);
  text_or_null("pod_namespace", c.pod_namespace);
  out.field("cgroup_owner", c.cgroup_owner).end_object();
}

// The namespace part of a whois match: inode, names, whether it is the
// host's, its containers.
void write_whereabouts(JsonWriter& out, const NamespaceView& ns, NetnsId host) {
  out.field("netns", ns.netns).key("netns_names").begin_array();
  for (const std::string& n : ns.names) out.value(n);
  out.end_array().field("host", ns.netns == host).key("containers").begin_array();
  for (const ContainerRef& c : ns.containers) write_container(out, c);
  out.end_array().key("processes");
  write_processes(out, ns.processes);
}

void write_processes(JsonWriter& out, const std::vector<ProcessInfo>& processes) {
  out.begin_array();
  for (const ProcessInfo& p : processes) {
    out.begin_object().field("pid", p.pid).field("comm", p.comm).key("container");
    if (p.container) {
      out.value(p.container->id);
    } else {
      out.null();
    }
    out.end_object();
  }
  out.end_array();
}

void write_device(JsonWriter& out, const Device& d) {
  out.begin_object()
      .field("ifindex", d.ifindex)
      .field("name", d.name)
      .field("kind", d.kind)
      .field("mac", d.mac)
      .field("mtu", d.mtu)
      .field("up", d.up)
      .field("operstate", to_string(d.operstate))
      .field("carrier", d.carrier)
      .field("master", d.master)
      .key("peer");
  write_link_ref(out, d.peer);
  out.key("lower");
  write_link_ref(out, d.lower);
  out.key("addresses").begin_array();
  for (const Address& a : d.addresses) write_address(out, a, d.name);
  out.end_array();
  // Present only in live listings (snapshots, GET /v1/namespaces/{netns}):
  // the cache keeps no counters, so it never shows old ones as current.
  if (d.stats) {
    const LinkStats& st = *d.stats;
    out.key("stats")
        .begin_object()
        .field("rx_bytes", st.rx_bytes)
        .field("tx_bytes", st.tx_bytes)
        .field("rx_packets", st.rx_packets)
        .field("tx_packets", st.tx_packets)
        .field("rx_errors", st.rx_errors)
        .field("tx_errors", st.tx_errors)
        .field("rx_dropped", st.rx_dropped)
        .field("tx_dropped", st.tx_dropped)
        .end_object();
  }
  out.end_object();
}

namespace {

void write_devices(JsonWriter& out, const std::vector<Device>& devices) {
  out.begin_array();
  for (const Device& d : devices) write_device(out, d);
  out.end_array();
}

void write_indexes(JsonWriter& out, const std::vector<std::uint32_t>& indexes) {
  out.begin_array();
  for (std::uint32_t i : indexes) out.value(i);
  out.end_array();
}

}  // namespace

void write_namespace(JsonWriter& out, const NamespaceView& ns, const InterfaceSnapshot* snapshot,
                     const std::optional<std::string>& counters_error, const std::function<void(JsonWriter&)>& extra) {
  out.begin_object().field("netns", ns.netns).key("handle");
  if (ns.handle && !ns.handle->path.empty()) {  // one from the history has no path, no descriptor
    out.begin_object().field("fd", ns.handle->descriptor()).field("path", ns.handle->path).end_object();
  } else {
    out.null();
  }
  out.key("names").begin_array();
  for (const std::string& name : ns.names) out.value(name);
  out.end_array();
  out.field("discovered_by", to_string(ns.discovered_by))
      .field("first_seen", format_rfc3339_ms(ns.first_seen))
      .key("lonely_since");
  if (ns.lonely_since) {
    out.value(format_rfc3339_ms(*ns.lonely_since));
  } else {
    out.null();
  }
  out.field("pids", ns.pids).key("processes");
  write_processes(out, ns.processes);
  out.key("containers").begin_array();
  for (const ContainerRef& c : ns.containers) write_container(out, c);
  out.end_array();
  // Never reused while the machine is up, unlike the inode: with it two
  // dumps (or a dump and the history) tell a reused inode apart.
  out.key("netns_cookie");
  if (ns.handle && ns.handle->cookie) {
    out.value(ns.handle->cookie);
  } else {
    out.null();
  }
  if (ns.handle) {
    out.field("userns", ns.handle->owner.userns)
        .field("owner_uid", ns.handle->owner.uid)
        .field("host_owned", ns.handle->owner.host);
  } else {
    out.key("userns").null().key("owner_uid").null().key("host_owned").null();
  }
  out.field("devices_over_cap", ns.devices_over_cap);
  out.key("devices");
  write_devices(out, ns.devices);
  // Schema version 1 keeps the seed's queue of devices learnt before their
  // namespace's handle; netnsd learns devices only through the handle, so
  // it is always empty.
  out.key("queued_devices").begin_array().end_array();
  if (counters_error) out.field("counters_error", *counters_error);
  out.key("snapshot");
  if (snapshot) {
    out.begin_object().key("devices");
    write_devices(out, snapshot->devices);
    out.field("error", snapshot->error).key("missing_from_cache");
    write_indexes(out, snapshot->missing_from_cache);
    out.key("stale_in_cache");
    write_indexes(out, snapshot->stale_in_cache);
    out.end_object();
  } else {
    out.null();
  }
  if (extra) extra(out);
  out.end_object();
}

void write_resolver(JsonWriter& out, const ResolverStats& s) {
  out.begin_object()
      .field("state", s.ready ? "ready" : "snapshotting")
      .field("mode", s.degraded ? "degraded" : "live")
      .key("degraded_reason");
  if (s.degraded) {
    out.value(s.degraded_reason);
  } else {
    out.null();
  }
  out.key("limits").begin_array();
  for (const std::string& limit : s.limits) out.value(limit);
  out.end_array();
  out.field("lonely_timeout_s", std::int64_t{s.lonely_timeout_s});
  for (const StatField& f : stat_fields()) {
    if (!f.json_key.empty()) out.field(f.json_key, f.read(s));
  }
  out.end_object();
}

void write_dump_instant(JsonWriter& out, const DumpDocument& doc) {
  const bool past = doc.as_of && doc.as_of->past;
  out.field("at", format_rfc3339_ms(doc.as_of ? doc.as_of->at : doc.generated_at))
      .field("observed", !doc.as_of || doc.as_of->observed)
      .field("from_history", past)
      .key("gap");
  if (doc.as_of && doc.as_of->gap_from && doc.as_of->gap_to) {
    out.begin_object()
        .field("from", format_rfc3339_ms(*doc.as_of->gap_from))
        .field("to", format_rfc3339_ms(*doc.as_of->gap_to))
        .field("reason", doc.as_of->gap_reason)
        .end_object();
  } else {
    out.null();
  }
}

// Compact, like the seed agent's encoder: a dump is read by programs (jq
// prints it indented), and at thousands of namespaces indentation is a
// third of the bytes and of the time spent writing them.
namespace {

// "include": what was asked for, and whether every namespace was read in
// the dump's budget.
void write_include(JsonWriter& out, const DumpDocument& doc) {
  const DumpIncludes& inc = doc.include;
  out.key("include").begin_array();
  for (const auto& [on, name] : {std::pair{inc.routes, "routes"},
                                 {inc.neighbours, "neighbours"},
                                 {inc.sockets, "sockets"},
                                 {inc.conntrack, "conntrack"},
                                 {inc.firewall, "firewall"}}) {
    if (on) out.value(name);
  }
  std::size_t unread = 0;
  for (const auto& [netns, extras] : doc.extras) unread += extras.read ? 0 : 1;
  out.end_array().field("include_unread", unread);
  if (inc.sockets) write_owner_walk(out, doc.owners);
}

// An included reading: its fields, or {"error": why}.
template <class T, class F>
void write_reading(JsonWriter& out, const char* key, const std::optional<Result<T>>& reading, F write_fields) {
  out.key(key);
  if (!reading) {
    out.null();
  } else if (!*reading) {
    out.begin_object().field("error", reading->error().message()).end_object();
  } else {
    out.begin_object();
    write_fields(**reading);
    out.end_object();
  }
}

// What include= adds to one namespace; null for what it could not read
// (the budget ran out: "read" is false).
void write_extras(JsonWriter& out, const DumpDocument& doc, const NamespaceView& ns, const NamespaceExtras& x) {
  const DumpIncludes& inc = doc.include;
  out.field("read", x.read);
  if (inc.routes || inc.neighbours) {
    const NamespaceFacts* facts = x.facts ? &*x.facts : nullptr;
    if (inc.routes) {
      out.key("routes");
      if (facts) {
        out.begin_array();
        for (const Route& r : facts->routes) write_route(out, r, ns);
        out.end_array().key("rules").begin_array();
        for (const Rule& r : facts->rules) write_rule(out, r);
        out.end_array();
      } else {
        out.null().key("rules").null();
      }
    }
    if (inc.neighbours) {
      out.key("neighbours");
      if (facts) {
        out.begin_array();
        for (const Neighbour& n : facts->neighbours) write_neighbour(out, n, ns);
        out.end_array();
      } else {
        out.null();
      }
    }
  }
  if (inc.sockets) {
    const DescribeProcess described = [&](std::uint32_t pid) {
      auto it = doc.holders.find(pid);
      return it == doc.holders.end() ? std::nullopt : it->second;
    };
    write_reading(out, "sockets", x.sockets, [&](const std::vector<InetSocket>& listed) {
      write_socket_listing(out, described, ns, listed, doc.owners);
    });
  }
  if (inc.conntrack) {
    write_reading(out, "conntrack", x.conntrack, [&](const ConntrackCount& c) { write_conntrack_fields(out, c); });
  }
  if (inc.firewall) {
    write_reading(out, "firewall", x.firewall, [&](const FirewallSummary& f) { write_firewall_fields(out, f); });
  }
}

}  // namespace

std::string dump_to_json(const DumpDocument& doc) {
  JsonWriter out(/*pretty=*/false);
  // Measured: ~1.2 KiB per namespace, ~2.4 KiB with a snapshot.
  out.reserve(4096 + doc.namespaces.size() * (doc.snapshot_interfaces ? 1536 : 768));
  out.begin_object()
      .field("schema_version", kDumpSchemaVersion)
      .field("generated_at", format_rfc3339_ms(doc.generated_at));
  write_dump_instant(out, doc);
  out.key("host")
      .begin_object()
      .field("hostname", doc.host.hostname)
      .field("kernel", doc.host.kernel)
      .field("netns", doc.host.netns)
      .end_object()
      .field("snapshot_interfaces", doc.snapshot_interfaces)
      .key("resolver");
  write_resolver(out, doc.resolver);
  if (doc.include.any()) write_include(out, doc);
  out.key("namespaces").begin_array();
  for (const NamespaceView& ns : doc.namespaces) {
    auto it = doc.snapshots.find(ns.netns);
    const InterfaceSnapshot* snapshot = it == doc.snapshots.end() ? nullptr : &it->second;
    if (!doc.include.any()) {
      write_namespace(out, ns, snapshot);
      continue;
    }
    auto extras = doc.extras.find(ns.netns);
    write_namespace(out, ns, snapshot, std::nullopt, [&](JsonWriter& o) {
      if (extras != doc.extras.end()) write_extras(o, doc, ns, extras->second);
    });
  }
  out.end_array().end_object();
  return out.take();
}

namespace {

// Go marshals a nil slice as null; the seed never allocates an empty one.
void write_go_devices(JsonWriter& out, const std::vector<Device>& devices) {
  if (devices.empty()) {
    out.null();
    return;
  }
  out.begin_array();
  for (const Device& d : devices) out.begin_object().field("IfName", d.name).field("IfIndex", d.ifindex).end_object();
  out.end_array();
}

}  // namespace

std::string dump_to_datadog_json(const DumpDocument& doc, std::int64_t lonely_timeout_s) {
  JsonWriter out(/*pretty=*/false);
  out.begin_array();
  for (const NamespaceView& ns : doc.namespaces) {
    const std::vector<Device>* devices = &ns.devices;
    auto snap = doc.snapshots.find(ns.netns);
    if (snap != doc.snapshots.end()) devices = &snap->second.devices;
    // The seed's LonelyTimeout is the moment the namespace will be released.
    WallTime expiry{};
    if (ns.lonely_since) expiry = *ns.lonely_since + std::chrono::seconds(lonely_timeout_s);
    out.begin_object()
        .field("NsID", std::uint64_t{static_cast<std::uint32_t>(ns.netns)})
        .field("HandleFD", ns.handle ? ns.handle->descriptor() : -1)
        .field("HandlePath", ns.handle ? ns.handle->path : std::string())
        .field("LonelyTimeout", format_rfc3339_go(expiry, !ns.lonely_since))
        .key("Devices");
    write_go_devices(out, *devices);
    out.key("DevicesInQueue").null();  // kept for the seed's layout: always empty (null)
    out.end_object();
  }
  out.end_array();
  return out.take();
}

std::string namespaces_to_json(const std::vector<NamespaceView>& namespaces, const ResolverStats& stats) {
  JsonWriter out(/*pretty=*/false);
  out.reserve(256 + namespaces.size() * 512);
  out.begin_object().key("resolver");
  write_resolver(out, stats);
  out.key("namespaces").begin_array();
  for (const NamespaceView& ns : namespaces) write_namespace(out, ns, nullptr);
  out.end_array().end_object();
  return out.take();
}

std::string namespace_to_json(const NamespaceView& ns, const std::optional<std::string>& counters_error,
                              const std::function<void(JsonWriter&)>& extra) {
  JsonWriter out(/*pretty=*/false);
  write_namespace(out, ns, nullptr, counters_error, extra);
  return out.take();
}

std::string to_text(const nlohmann::ordered_json& value) {
  std::string text = value.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
  text.push_back('\n');
  return text;
}

}  // namespace netnsd
