// Conntrack and the firewall on demand: one namespace's conntrack count
// (GET /v1/namespaces/{netns}/conntrack), its firewall summary
// (GET /v1/namespaces/{netns}/firewall), and the firewall's word on a port
// nothing listens on (the hint of GET /v1/whois?port=).
//
// Nothing here is cached: each answer asks the kernel (HostView::conntrack,
// HostView::firewall).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "resolver/host.h"
#include "util/clock.h"
#include "util/json_writer.h"
#include "util/result.h"

namespace netnsd {

// The namespace's conntrack entries against nf_conntrack_max (one value for
// the whole machine, and said so), flagged above 90% of it.
Result<std::string> namespace_conntrack_json(HostView& host, const NamespaceView& ns, WallTime now);

// The namespace's nf_tables tables with their chains and rule counts, the
// rules of its nat tables that match a port, and its legacy iptables tables.
Result<std::string> namespace_firewall_json(HostView& host, const NamespaceView& ns, WallTime now);

// The fields of a conntrack count and of a firewall summary (the caller
// opened the object): for one namespace's answer and for each namespace of
// a dump with include=conntrack,firewall.
void write_conntrack_fields(JsonWriter& out, const ConntrackCount& count);
void write_firewall_fields(JsonWriter& out, const FirewallSummary& summary);

// A port rule's own fields (the caller opened the object).
void write_port_rule_fields(JsonWriter& out, const PortRule& rule);

}  // namespace netnsd
