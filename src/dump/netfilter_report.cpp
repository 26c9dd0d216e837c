#include "dump/netfilter_report.h"

#include <sys/socket.h>

#include "dump/json_encoder.h"
#include "resolver/sockets.h"

namespace netnsd {
namespace {

void begin_answer(JsonWriter& out, const NamespaceView& ns, WallTime now) {
  out.begin_object().field("netns", ns.netns).key("names").begin_array();
  for (const std::string& name : ns.names) out.value(name);
  out.end_array().field("at", format_rfc3339_ms(now));
}

std::optional<std::string> protocol_name(std::uint8_t protocol) {
  if (protocol == 0) return std::nullopt;
  return protocol_text(protocol);
}

}  // namespace

void write_port_rule_fields(JsonWriter& out, const PortRule& r) {
  out.field("family", nft_family_text(r.family))
      .field("table", r.table)
      .field("chain", r.chain)
      .field("handle", r.handle)
      .field("protocol", protocol_name(r.protocol))
      .field("port", static_cast<unsigned>(r.port));
}

void write_conntrack_fields(JsonWriter& out, const ConntrackCount& count) {
  out.field("loaded", count.loaded);
  if (count.loaded) {
    out.field("entries", count.entries)
        .field("max", count.max)
        .field("max_scope", "machine")
        .field("nearly_full", count.max != 0 && count.entries > kConntrackNearlyFull * count.max);
  } else {
    out.key("entries").null().key("max").null().field("max_scope", "machine").field("nearly_full", false);
  }
}

Result<std::string> namespace_conntrack_json(HostView& host, const NamespaceView& ns, WallTime now) {
  auto count = host.conntrack(*ns.handle);
  if (!count) return count.error();
  JsonWriter out(/*pretty=*/false);
  begin_answer(out, ns, now);
  write_conntrack_fields(out, *count);
  out.end_object();
  return out.take();
}

void write_firewall_fields(JsonWriter& out, const FirewallSummary& summary) {
  out.key("nftables").begin_object().key("tables").begin_array();
  for (const NftTable& t : summary.tables) {
    out.begin_object()
        .field("family", nft_family_text(t.family))
        .field("name", t.name)
        .field("flags", t.flags)
        .key("chains")
        .begin_array();
    for (const NftChain& c : t.chains) {
      out.begin_object().field("name", c.name).key("hook");
      if (c.hook) {
        out.value(nft_hook_text(t.family, *c.hook));
      } else {
        out.null();
      }
      out.field("priority", c.priority).key("policy");
      if (c.policy) {
        out.value(*c.policy == 0   ? std::string("drop")
                  : *c.policy == 1 ? std::string("accept")
                                   : std::to_string(*c.policy));
      } else {
        out.null();
      }
      out.field("type", c.type.empty() ? std::nullopt : std::optional<std::string>(c.type))
          .field("rules", c.rules)
          .end_object();
    }
    out.end_array().end_object();
  }
  out.end_array()
      .field("rules", summary.nft_rules)
      .field("rules_truncated", summary.rules_truncated)
      .end_object()
      .key("port_rules")
      .begin_array();
  for (const PortRule& r : summary.port_rules) {
    out.begin_object();
    write_port_rule_fields(out, r);
    out.end_object();
  }
  out.end_array().field("port_rules_total", summary.port_rules_total).key("iptables_legacy").begin_array();
  for (const LegacyTable& t : summary.legacy) {
    out.begin_object()
        .field("family", t.family == AF_INET6 ? "ipv6" : "ipv4")
        .field("table", t.name)
        .field("rules", t.rules)
        .field("user_chains", t.user_chains)
        .end_object();
  }
  out.end_array();
}

Result<std::string> namespace_firewall_json(HostView& host, const NamespaceView& ns, WallTime now) {
  auto summary = host.firewall(*ns.handle);
  if (!summary) return summary.error();
  JsonWriter out(/*pretty=*/false);
  begin_answer(out, ns, now);
  write_firewall_fields(out, *summary);
  out.end_object();
  return out.take();
}

}  // namespace netnsd
