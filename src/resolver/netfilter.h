// Netfilter: the vocabulary of the on-demand conntrack and firewall
// summaries of one namespace (GET /v1/namespaces/{netns}/conntrack and
// /firewall, and the hint of GET /v1/whois?port= where nothing listens).
//
// Never cached, like sockets: read from the kernel when asked
// (kernel/nfnetlink.h, kernel/iptables_legacy.h); the API serialises them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace netnsd {

// The namespace's connection-tracking table, from ctnetlink's statistics.
struct ConntrackCount {
  // Whether the kernel tracks connections at all (nf_conntrack loaded).
  // When not, nothing is asked: asking would load it.
  bool loaded = false;
  std::uint32_t entries = 0;  // in this namespace
  std::uint32_t max = 0;      // nf_conntrack_max: one value for the whole machine
};

// Above this share of nf_conntrack_max a namespace is flagged: new
// connections are dropped when the table is full.
inline constexpr double kConntrackNearlyFull = 0.9;

// One nf_tables chain and how many rules it holds.
struct NftChain {
  std::string name;
  std::optional<std::uint32_t> hook;     // a base chain's hook (NF_INET_*), else nullopt
  std::optional<std::int32_t> priority;  // a base chain's priority
  std::optional<std::uint32_t> policy;   // a base chain's policy (NF_DROP 0, NF_ACCEPT 1)
  std::string type;                      // "filter", "nat", "route"; empty for a regular chain
  std::uint64_t rules = 0;
};

// One nf_tables table (iptables-nft's rules live in these too).
struct NftTable {
  std::uint8_t family = 0;  // NFPROTO_IPV4 2, INET 1, ARP 3, BRIDGE 7, NETDEV 5, IPV6 10
  std::string name;
  std::uint32_t flags = 0;
  std::vector<NftChain> chains;
};

// A rule of a table with a nat chain that matches a transport destination
// port: how a Kubernetes hostPort or NodePort (a DNAT, not a socket) shows.
struct PortRule {
  std::uint8_t family = 0;
  std::string table;
  std::string chain;
  std::uint64_t handle = 0;
  std::uint8_t protocol = 0;  // IPPROTO_TCP, UDP, SCTP; 0 when the rule does not say
  std::uint16_t port = 0;
};

// One table of the legacy iptables (x_tables), which nf_tables cannot show.
struct LegacyTable {
  std::uint8_t family = 0;  // AF_INET (iptables) or AF_INET6 (ip6tables)
  std::string name;         // "filter", "nat", "mangle", "raw", "security"
  std::uint32_t rules = 0;  // what iptables-legacy-save lists
  std::uint32_t user_chains = 0;
};

struct FirewallSummary {
  std::vector<NftTable> tables;
  std::uint64_t nft_rules = 0;
  bool rules_truncated = false;      // more than kFirewallRulesRead: counted as far as read
  std::vector<PortRule> port_rules;  // at most kFirewallPortRulesKept
  std::uint64_t port_rules_total = 0;
  std::vector<LegacyTable> legacy;
};

// "ip", "ip6", "inet", "arp", "bridge", "netdev" as nft names them, else the number.
std::string nft_family_text(std::uint8_t family);
// "prerouting", "input", "forward", "output", "postrouting" (ingress for netdev).
std::string nft_hook_text(std::uint8_t family, std::uint32_t hook);

}  // namespace netnsd
