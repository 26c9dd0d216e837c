// Routing: the routes, policy rules and neighbours of a namespace, as the
// kernel announces them on rtnetlink and the cache keeps them live.
//
// The kernel adapters produce these (kernel/route_parse.h); the FactStore
// (resolver/facts.h) keeps them per namespace within its budgets; the API
// serialises them as `ip -j` names their fields.
#pragma once

#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace netnsd {

using IpBytes = std::array<std::uint8_t, 16>;  // IPv4 in the first 4 bytes

// "192.0.2.1", "2001:db8::1" for `family` (AF_INET, AF_INET6).
std::string ip_text(std::uint8_t family, const IpBytes& bytes);

// One way out of a route: a gateway, a device, or both (`ip route`'s "via"
// and "dev"); a multipath route has several, each with its weight.
struct NextHop {
  std::optional<IpBytes> gateway;
  std::uint32_t ifindex = 0;  // 0: none
  std::uint16_t weight = 1;   // rtnh_hops + 1
  std::uint8_t flags = 0;     // RTNH_F_* ("onlink", "dead", "linkdown", ...)
  bool operator==(const NextHop&) const = default;
};

struct Route {
  std::uint8_t family = 0;  // AF_INET or AF_INET6
  std::uint8_t dst_len = 0;
  std::uint8_t src_len = 0;  // IPv6 source routing ("from")
  std::uint8_t tos = 0;
  std::uint8_t protocol = 0;  // RTPROT_*: "kernel", "boot", "static", "dhcp", ...
  std::uint8_t scope = 0;     // RT_SCOPE_*
  std::uint8_t type = 0;      // RTN_*: "unicast", "local", "broadcast", "blackhole", ...
  std::uint32_t table = 0;    // RTA_TABLE (else rtm_table)
  std::uint32_t flags = 0;    // RTM_F_* and RTNH_F_* of a single-path route
  IpBytes dst{}, src{};       // zero beyond their lengths; dst_len 0 is "default"
  std::optional<IpBytes> prefsrc;
  std::optional<std::uint32_t> priority;  // the metric
  std::vector<NextHop> nexthops;          // one for a plain route, several for multipath, none for blackhole & co

  // Same route in the kernel's eyes: one table holds one route per key
  // (IPv4: destination, tos, priority; IPv6 adds the source prefix).
  bool same_key(const Route& other) const;
  bool operator==(const Route&) const = default;
};

// A policy routing rule (`ip rule`).
struct Rule {
  std::uint8_t family = 0;
  std::uint8_t action = 0;  // FR_ACT_*: 1 to_tbl, 2 goto, 3 nop, 6 blackhole, 7 unreachable, 8 prohibit
  std::uint8_t dst_len = 0, src_len = 0, tos = 0;
  std::uint8_t protocol = 0;  // FRA_PROTOCOL: who added it
  std::uint32_t flags = 0;    // FIB_RULE_*: 0x2 invert ("not")
  std::uint32_t table = 0;
  std::uint32_t priority = 0;
  IpBytes dst{}, src{};
  std::string iif, oif;  // device names; empty: any
  std::optional<std::uint32_t> fwmark, fwmask, goto_target, suppress_prefixlen;

  bool operator==(const Rule&) const = default;
};

// An ARP (IPv4) or NDP (IPv6) entry.
struct Neighbour {
  std::uint8_t family = 0;
  std::uint32_t ifindex = 0;
  IpBytes dst{};
  std::uint16_t state = 0;  // NUD_*: 0x02 reachable, 0x04 stale, 0x20 failed, 0x80 permanent, ...
  std::uint8_t flags = 0;   // NTF_*: 0x08 proxy, 0x80 router
  std::string lladdr;       // "aa:bb:cc:dd:ee:ff"; empty when the kernel knows none (incomplete, failed)

  // Same entry: one per (family, device, address).
  bool same_key(const Neighbour& other) const {
    return family == other.family && ifindex == other.ifindex && dst == other.dst;
  }
  bool operator==(const Neighbour&) const = default;
};

// The names `ip` uses, else the number: route types ("unicast", "local",
// "broadcast", "anycast", "multicast", "blackhole", "unreachable",
// "prohibit", "throw", "nat"), route protocols ("kernel", "boot",
// "static", "ra", "dhcp", ...), tables ("main", "local", "default"), rule
// actions ("to_tbl", "goto", "nop", "blackhole", "unreachable",
// "prohibit"), neighbour states (["reachable"], ["stale"], ...).
std::string route_type_text(std::uint8_t type);
std::string route_protocol_text(std::uint8_t protocol);
std::string route_table_text(std::uint32_t table);
std::string rule_action_text(std::uint8_t action);
std::vector<std::string> neighbour_state_names(std::uint16_t state);
// The next hop flags as `ip` names them ("onlink", "dead", "linkdown", ...).
std::vector<std::string> nexthop_flag_names(std::uint32_t flags);

}  // namespace netnsd
