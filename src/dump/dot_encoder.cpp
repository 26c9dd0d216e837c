#include "dump/dot_encoder.h"

#include <algorithm>
#include <cstdio>
#include <set>
#include <sstream>
#include <tuple>

#include "util/text.h"

namespace netnsd {

std::string dot_quote(std::string_view text) {
  std::string clean = sanitize_utf8(text);
  std::string out = "\"";
  for (char ch : clean) {
    auto c = static_cast<unsigned char>(ch);
    if (ch == '\n') {
      out += "\\n";  // our own line breaks (callers pass real newlines)
    } else if (ch == '\\' || ch == '"') {
      out.push_back('\\');
      out.push_back(ch);
    } else if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\\\x%02x", c);
      out += buf;
    } else {
      out.push_back(ch);
    }
  }
  out.push_back('"');
  return out;
}

namespace {

std::string dev_id(const char* prefix, NetnsId netns, std::uint32_t ifindex) {
  return std::string(prefix) + "_" + std::to_string(netns) + "_" + std::to_string(ifindex);
}

// Interface names may contain newlines' cousins but never '\n' itself (the
// kernel refuses whitespace), so '\n' here is always ours.
std::string device_label(const Device& d, std::string_view note) {
  std::string label = d.name + " (" + std::to_string(d.ifindex) + ")\n";
  label += (d.kind.empty() ? std::string("device") : d.kind) + (d.up ? " up" : " down");
  // What the link really does, when it says something the admin state does not.
  if (d.up && d.operstate != OperState::up && d.operstate != OperState::unknown) {
    label.append(" (").append(to_string(d.operstate)).append(")");
  }
  if (d.carrier && !*d.carrier && d.up) label += " no-carrier";
  if (d.mtu) label += " mtu " + std::to_string(d.mtu);
  // Appended piece by piece: GCC 12's -Wrestrict misreads `"\n" + string`.
  if (!d.mac.empty()) label.append("\n").append(d.mac);
  for (const Address& a : d.addresses) {
    label.append("\n").append(address_text(a)).append("/").append(std::to_string(a.prefix_len));
    if (a.peer) label.append(" peer ").append(address_text(a, /*peer=*/true));
  }
  if (!note.empty()) label.append("\n").append(note);
  return label;
}

// A stacked device points at the device it is stacked on.
constexpr const char* kLowerEdge = "[style=dashed, color=\"#7c3aed\", arrowhead=onormal, label=\"lower\"]";

bool contains(const std::vector<std::uint32_t>& v, std::uint32_t x) {
  for (auto y : v) {
    if (y == x) return true;
  }
  return false;
}

}  // namespace

namespace {

// "2026-12-07T02:14:00.000Z", and for a past instant where it came from:
// "as it was at T (history, generated G)", "... not observed: crashed from A to B".
std::string instant_label(const DumpDocument& doc) {
  if (!doc.as_of || !doc.as_of->past) return format_rfc3339_ms(doc.generated_at);
  std::string label = "as it was at " + format_rfc3339_ms(doc.as_of->at) + " (from the history, generated " +
                      format_rfc3339_ms(doc.generated_at) + ")";
  if (!doc.as_of->observed && doc.as_of->gap_from && doc.as_of->gap_to) {
    label += "\nnot observed: " + doc.as_of->gap_reason + " from " + format_rfc3339_ms(*doc.as_of->gap_from) + " to " +
             format_rfc3339_ms(*doc.as_of->gap_to) + "; the last state known before it";
  }
  return label;
}

}  // namespace

std::string dump_to_dot(const DumpDocument& doc) {
  std::ostringstream out;
  out << "digraph netnsd {\n";
  out << "  graph [rankdir=LR, fontname=\"Helvetica\", fontsize=11, labelloc=t, label="
      << dot_quote("netnsd: " + doc.host.hostname + " (" + std::to_string(doc.namespaces.size()) +
                   " network namespaces) " + instant_label(doc))
      << "];\n";
  out << "  node [fontname=\"Helvetica\", fontsize=10];\n";
  out << "  edge [fontname=\"Helvetica\", fontsize=9];\n";

  // Every device node in the graph, to draw veth edges only between existing nodes.
  std::set<std::pair<NetnsId, std::uint32_t>> present;
  for (const NamespaceView& ns : doc.namespaces) {
    for (const Device& d : ns.devices) present.insert({ns.netns, d.ifindex});
  }

  for (const NamespaceView& ns : doc.namespaces) {
    const InterfaceSnapshot* snap = nullptr;
    if (auto it = doc.snapshots.find(ns.netns); it != doc.snapshots.end()) snap = &it->second;
    const std::string nid = "ns_" + std::to_string(ns.netns);

    out << "\n  subgraph cluster_" << nid << " {\n";
    if (ns.lonely_since) {
      out << "    style=\"dashed,filled\"; color=\"#6b7280\"; fillcolor=\"#f3f4f6\";\n";
    } else {
      out << "    style=\"rounded\"; color=\"#93c5fd\";\n";
    }
    out << "    label=\"\";\n";

    std::string label = "netns " + std::to_string(ns.netns);
    if (ns.netns == doc.host.netns) label += " (host)";
    for (const std::string& name : ns.names) label += "\n" + name;
    label += "\npids " + std::to_string(ns.pids) + ", " + std::string(to_string(ns.discovered_by));
    for (const ContainerRef& c : ns.containers) {
      // "containerd nginx 3f2a1b0c9d8e (pod default/web-0)"
      label.append("\n").append(c.runtime.empty() ? "container" : c.runtime);
      if (!c.name.empty()) label.append(" ").append(c.name);
      label.append(" ").append(c.id.substr(0, 12));
      if (!c.pod_name.empty()) {
        label.append(" (pod ").append(c.pod_namespace).append("/").append(c.pod_name).append(")");
      } else if (!c.pod_uid.empty()) {
        label.append(" (pod ").append(c.pod_uid).append(")");
      }
    }
    // Where its traffic goes: "default via 10.0.0.1 dev eth0".
    if (auto routes = doc.default_routes.find(ns.netns); routes != doc.default_routes.end()) {
      for (const Route& r : routes->second) {
        for (const NextHop& hop : r.nexthops) {
          label += "\ndefault";
          if (hop.gateway) label += " via " + ip_text(r.family, *hop.gateway);
          auto dev = std::find_if(ns.devices.begin(), ns.devices.end(),
                                  [&](const Device& d) { return hop.ifindex != 0 && d.ifindex == hop.ifindex; });
          if (dev != ns.devices.end()) label += " dev " + dev->name;
        }
      }
    }
    if (ns.lonely_since) label += "\nlonely since " + format_rfc3339_ms(*ns.lonely_since);
    if (!ns.handle) label += "\nno handle";
    if (snap && snap->error) label += "\nsnapshot failed: " + *snap->error;
    out << "    " << nid
        << " [shape=box3d, style=filled, fillcolor=" << (ns.lonely_since ? "\"#d1d5db\"" : "\"#dbeafe\"")
        << ", label=" << dot_quote(label) << "];\n";

    for (const Device& d : ns.devices) {
      const std::string id = dev_id("dev", ns.netns, d.ifindex);
      bool stale = snap && contains(snap->stale_in_cache, d.ifindex);
      out << "    " << id << " [shape=box, style=\"rounded,filled" << (stale ? ",dashed" : "")
          << "\", fillcolor=" << (stale ? "\"#fde68a\"" : "\"#ecfdf5\"")
          << ", label=" << dot_quote(device_label(d, stale ? "stale: gone from the kernel" : "")) << "];\n";
      out << "    " << nid << " -> " << id << ";\n";
      if (d.master && present.count({ns.netns, *d.master})) {
        out << "    " << id << " -> " << dev_id("dev", ns.netns, *d.master) << " [style=dotted, label=\"master\"];\n";
      }
      if (d.lower && d.lower->netns == ns.netns && present.count({ns.netns, d.lower->ifindex})) {
        out << "    " << id << " -> " << dev_id("dev", ns.netns, d.lower->ifindex) << " " << kLowerEdge << ";\n";
      }
    }
    if (snap) {
      for (const Device& d : snap->devices) {
        if (!contains(snap->missing_from_cache, d.ifindex)) continue;
        const std::string id = dev_id("live", ns.netns, d.ifindex);
        out << "    " << id << " [shape=box, style=\"rounded,dashed\", color=\"#dc2626\", fontcolor=\"#dc2626\", label="
            << dot_quote(device_label(d, "live, missing from cache")) << "];\n";
        out << "    " << nid << " -> " << id << " [style=dashed, color=\"#dc2626\"];\n";
      }
    }
    out << "  }\n";
  }

  // Lower links into another namespace (a macvlan in a container on the
  // host's NIC), then one edge per veth pair, drawn from the lower
  // (netns, ifindex) end.
  out << "\n";
  for (const NamespaceView& ns : doc.namespaces) {
    for (const Device& d : ns.devices) {
      if (!d.lower || !d.lower->netns || *d.lower->netns == ns.netns) continue;
      if (!present.count({*d.lower->netns, d.lower->ifindex})) continue;
      out << "  " << dev_id("dev", ns.netns, d.ifindex) << " -> " << dev_id("dev", *d.lower->netns, d.lower->ifindex)
          << " " << kLowerEdge << ";\n";
    }
  }
  for (const NamespaceView& ns : doc.namespaces) {
    for (const Device& d : ns.devices) {
      if (!d.peer || !d.peer->netns) continue;
      auto self = std::make_tuple(ns.netns, d.ifindex);
      auto other = std::make_tuple(*d.peer->netns, d.peer->ifindex);
      if (!(self < other) || !present.count({*d.peer->netns, d.peer->ifindex})) continue;
      out << "  " << dev_id("dev", ns.netns, d.ifindex) << " -> " << dev_id("dev", *d.peer->netns, d.peer->ifindex)
          << " [dir=none, color=\"#2563eb\", penwidth=2, label=\"veth\"];\n";
    }
  }
  out << "}\n";
  return out.str();
}

}  // namespace netnsd
