// Fuzzes the nfnetlink parser (ctnetlink's statistics, nf_tables' tables,
// chains and rules) with whole datagrams, as a socket would read them, and
// the legacy iptables entry walk with the same bytes as a table's entries,
// IPv4 and IPv6. Nothing may read outside the buffer (ASan), overflow or
// misalign (UBSan), and what is accepted must obey the policy. Seeds are
// real replies of this kernel (tests/fuzz/corpus/nfnetlink).
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <cstdlib>
#include <span>
#include <vector>

#include "kernel/iptables_legacy.h"
#include "kernel/nfnetlink_parse.h"
#include "kernel/rtnl_parse.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // A buffer of exactly `size` bytes, so any read past the end is caught.
  std::vector<std::uint8_t> bytes(data, data + size);
  netnsd::for_each_message(bytes.data(), bytes.size(), [](const nlmsghdr& h) {
    const netnsd::NetfilterMessage m = netnsd::parse_netfilter_message(h);
    using Kind = netnsd::NetfilterMessage::Kind;
    if (m.kind == Kind::table && m.table.name.empty()) std::abort();
    if (m.kind == Kind::chain && (m.chain.name.empty() || m.chain_table.empty())) std::abort();
    if (m.kind == Kind::chain && m.chain.hook.has_value() != m.chain.priority.has_value()) std::abort();
    if (m.kind == Kind::rule && (m.rule.table.empty() || m.rule.chain.empty())) std::abort();
    if (m.kind == Kind::refused && m.refusal.empty()) std::abort();
    return true;
  });
  for (std::uint8_t family : {AF_INET, AF_INET6}) {
    auto counted = netnsd::count_legacy_rules(family, std::span<const std::uint8_t>(bytes), size % 6);
    if (counted && counted->family != family) std::abort();
  }
  return 0;
}
