// The legacy iptables (x_tables) of a namespace: what nf_tables cannot show.
//
// A namespace's legacy tables exist only once something used them there
// (/proc/net/ip_tables_names lists them); asking for one that does not
// exist would make it, so only the listed ones are asked for. Each table's
// entries come from getsockopt(IPT_SO_GET_ENTRIES) on a raw socket made in
// the namespace, and are read as untrusted bytes (count_legacy_rules).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "resolver/netfilter.h"
#include "util/result.h"

namespace netnsd {

// The legacy tables of the calling thread's namespace, IPv4 then IPv6.
Result<std::vector<LegacyTable>> list_legacy_tables();

// The rules and user chains in a table's entries as the kernel hands them
// out (`family` AF_INET: ipt_entry, AF_INET6: ip6t_entry), with
// `builtin_chains` the number of hooks the table has. Every entry must lie
// within the blob and the last must be the table's end (an ERROR target).
// Fuzzed (tests/fuzz/nfnetlink_fuzz.cpp).
Result<LegacyTable> count_legacy_rules(std::uint8_t family, std::span<const std::uint8_t> entries,
                                       unsigned builtin_chains);

}  // namespace netnsd
