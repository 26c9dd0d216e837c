#include "dump/facts_encoder.h"

#include <sys/socket.h>

#include <algorithm>

namespace netnsd {
namespace {

const char* family_text(std::uint8_t family) {
  return family == AF_INET ? "inet" : "inet6";
}

std::string prefix_text(std::uint8_t family, const IpBytes& address, std::uint8_t length) {
  return ip_text(family, address) + "/" + std::to_string(length);
}

// The device's name as the cache knows it, or null.
void write_device_name(JsonWriter& out, const NamespaceView& ns, std::uint32_t ifindex) {
  auto it = std::find_if(ns.devices.begin(), ns.devices.end(),
                         [&](const Device& d) { return ifindex != 0 && d.ifindex == ifindex; });
  if (it != ns.devices.end()) {
    out.value(it->name);
  } else {
    out.null();
  }
}

void write_names(JsonWriter& out, const std::vector<std::string>& names) {
  out.begin_array();
  for (const std::string& n : names) out.value(n);
  out.end_array();
}

void write_optional_ip(JsonWriter& out, std::uint8_t family, const std::optional<IpBytes>& address) {
  if (address) {
    out.value(ip_text(family, *address));
  } else {
    out.null();
  }
}

}  // namespace

void write_route(JsonWriter& out, const Route& r, const NamespaceView& ns) {
  out.begin_object()
      .field("family", family_text(r.family))
      .field("table", route_table_text(r.table))
      .field("type", route_type_text(r.type))
      .field("dst", r.dst_len == 0 ? std::string("default") : prefix_text(r.family, r.dst, r.dst_len))
      .key("src");
  if (r.src_len > 0) {
    out.value(prefix_text(r.family, r.src, r.src_len));
  } else {
    out.null();
  }
  out.field("tos", static_cast<unsigned>(r.tos))
      .field("protocol", route_protocol_text(r.protocol))
      .field("scope", scope_text(r.scope))
      .field("metric", r.priority)
      .key("prefsrc");
  write_optional_ip(out, r.family, r.prefsrc);
  // A single way out as `ip` shows it: gateway and device on the route.
  const NextHop* single = r.nexthops.size() == 1 ? &r.nexthops.front() : nullptr;
  out.key("gateway");
  write_optional_ip(out, r.family, single ? single->gateway : std::nullopt);
  out.key("dev");
  write_device_name(out, ns, single ? single->ifindex : 0);
  out.field("ifindex", single && single->ifindex ? std::optional<std::uint32_t>(single->ifindex) : std::nullopt)
      .key("flags");
  write_names(out, nexthop_flag_names(single ? single->flags : 0));
  out.key("nexthops").begin_array();
  if (r.nexthops.size() > 1) {
    for (const NextHop& hop : r.nexthops) {
      out.begin_object().key("gateway");
      write_optional_ip(out, r.family, hop.gateway);
      out.key("dev");
      write_device_name(out, ns, hop.ifindex);
      out.field("ifindex", hop.ifindex).field("weight", static_cast<unsigned>(hop.weight)).key("flags");
      write_names(out, nexthop_flag_names(hop.flags));
      out.end_object();
    }
  }
  out.end_array().end_object();
}

void write_rule(JsonWriter& out, const Rule& r) {
  auto selector = [&](const char* name, const IpBytes& address, std::uint8_t length) {
    out.field(name, length == 0 ? std::string("all") : prefix_text(r.family, address, length));
  };
  auto name_or_null = [&](const char* key, const std::string& name) {
    out.key(key);
    if (name.empty()) {
      out.null();
    } else {
      out.value(name);
    }
  };
  out.begin_object()
      .field("family", family_text(r.family))
      .field("priority", r.priority)
      .field("action", rule_action_text(r.action))
      .field("table", route_table_text(r.table))
      .field("not", (r.flags & 0x2) != 0);
  selector("src", r.src, r.src_len);
  selector("dst", r.dst, r.dst_len);
  name_or_null("iif", r.iif);
  name_or_null("oif", r.oif);
  out.field("fwmark", r.fwmark)
      .field("fwmask", r.fwmask)
      .field("tos", static_cast<unsigned>(r.tos))
      .field("goto", r.goto_target)
      .field("suppress_prefixlen", r.suppress_prefixlen)
      .field("protocol", route_protocol_text(r.protocol))
      .end_object();
}

void write_neighbour(JsonWriter& out, const Neighbour& n, const NamespaceView& ns) {
  out.begin_object().field("family", family_text(n.family)).field("dst", ip_text(n.family, n.dst)).key("dev");
  write_device_name(out, ns, n.ifindex);
  out.field("ifindex", n.ifindex).key("lladdr");
  if (n.lladdr.empty()) {
    out.null();
  } else {
    out.value(n.lladdr);
  }
  out.key("state");
  write_names(out, neighbour_state_names(n.state));
  out.field("router", (n.flags & 0x80) != 0).field("proxy", (n.flags & 0x08) != 0).end_object();
}

void write_facts(JsonWriter& out, const NamespaceFacts* facts, const NamespaceView& ns) {
  if (!facts) {
    out.key("routes").null().key("rules").null().key("neighbours").null().key("routing").null();
    return;
  }
  out.key("routes").begin_array();
  for (const Route& r : facts->routes) write_route(out, r, ns);
  out.end_array().key("rules").begin_array();
  for (const Rule& r : facts->rules) write_rule(out, r);
  out.end_array().key("neighbours").begin_array();
  for (const Neighbour& n : facts->neighbours) write_neighbour(out, n, ns);
  out.end_array()
      .key("routing")
      .begin_object()
      .field("listed", facts->listed)
      .field("routes_total", facts->routes.size() + facts->routes_dropped)
      .field("routes_truncated", facts->routes_dropped > 0)
      .field("rules_total", facts->rules.size() + facts->rules_dropped)
      .field("rules_truncated", facts->rules_dropped > 0)
      .field("neighbours_total", facts->neighbours.size() + facts->neighbours_dropped)
      .field("neighbours_truncated", facts->neighbours_dropped > 0)
      .end_object();
}

}  // namespace netnsd
