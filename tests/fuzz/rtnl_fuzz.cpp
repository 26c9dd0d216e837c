// Fuzzes the rtnetlink parsers with whole datagrams, as a socket would read
// them: every message of the datagram goes through each parser. Nothing may
// read outside the buffer (ASan), overflow or misalign (UBSan), and what is
// accepted must obey the policies.
#include <sys/socket.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "kernel/route_parse.h"
#include "kernel/rtnl_parse.h"
#include "util/defaults.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // A buffer of exactly `size` bytes, so any read past the end is caught.
  std::vector<std::uint8_t> datagram(data, data + size);
  netnsd::for_each_message(datagram.data(), datagram.size(), [](const nlmsghdr& h) {
    netnsd::LinkMessage link = netnsd::parse_link_message(h, netnsd::NetnsId{7});
    if (link.kind == netnsd::LinkMessage::Kind::device) {
      const auto& d = link.device;
      if (!link.deleted && !netnsd::valid_interface_name(d.name)) std::abort();
      if (d.mac.size() > 32 * 3) std::abort();
      if (d.ifindex == 0) std::abort();
    }
    link = netnsd::parse_link_message(h, netnsd::NetnsId{7}, /*with_stats=*/true);
    if (link.kind == netnsd::LinkMessage::Kind::device && link.device.peer && link.device.lower) std::abort();
    netnsd::AddressMessage a = netnsd::parse_address_message(h);
    if (a.kind == netnsd::AddressMessage::Kind::address) {
      const auto& addr = a.address;
      const unsigned bits = addr.family == AF_INET ? 32 : addr.family == AF_INET6 ? 128 : 0;
      if (bits == 0 || addr.prefix_len > bits || a.ifindex == 0) std::abort();
      if (netnsd::address_text(addr).empty()) std::abort();
      (void)netnsd::address_flag_names(addr);
    }
    netnsd::RouteMessage route = netnsd::parse_route_message(h);
    if (route.kind == netnsd::FactKind::fact) {
      const auto& r = route.route;
      const unsigned bits = r.family == AF_INET ? 32 : r.family == AF_INET6 ? 128 : 0;
      if (bits == 0 || r.dst_len > bits || r.src_len > bits) std::abort();
      if (r.nexthops.size() > netnsd::defaults::kMaxNextHops) std::abort();
      (void)netnsd::route_type_text(r.type);
      (void)netnsd::ip_text(r.family, r.dst);
    }
    netnsd::RuleMessage rule = netnsd::parse_rule_message(h);
    if (rule.kind == netnsd::FactKind::fact) {
      if (!rule.rule.iif.empty() && !netnsd::valid_interface_name(rule.rule.iif)) std::abort();
      if (!rule.rule.oif.empty() && !netnsd::valid_interface_name(rule.rule.oif)) std::abort();
    }
    netnsd::NeighbourMessage neighbour = netnsd::parse_neighbour_message(h);
    if (neighbour.kind == netnsd::FactKind::fact) {
      if (neighbour.neighbour.ifindex == 0 || neighbour.neighbour.lladdr.size() > 32 * 3) std::abort();
      (void)netnsd::neighbour_state_names(neighbour.neighbour.state);
    }
    (void)netnsd::parse_nsid_message(h);
    (void)netnsd::parse_error_message(h);
    return true;
  });
  return 0;
}
