#include "resolver/routing.h"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <iterator>

namespace netnsd {

std::string ip_text(std::uint8_t family, const IpBytes& bytes) {
  char text[INET6_ADDRSTRLEN] = {};
  if (!::inet_ntop(family == AF_INET ? AF_INET : AF_INET6, bytes.data(), text, sizeof text)) return "";
  return text;
}

bool Route::same_key(const Route& other) const {
  return family == other.family && table == other.table && dst_len == other.dst_len && dst == other.dst &&
         tos == other.tos && priority.value_or(0) == other.priority.value_or(0) &&
         (family != AF_INET6 || (src_len == other.src_len && src == other.src));
}

namespace {

template <std::size_t N>
std::string name_or_number(const char* const (&names)[N], unsigned value) {
  if (value < N && names[value] && *names[value]) return names[value];
  return std::to_string(value);
}

}  // namespace

std::string route_type_text(std::uint8_t type) {
  static constexpr const char* names[] = {"none",      "unicast",     "local",    "broadcast", "anycast", "multicast",
                                          "blackhole", "unreachable", "prohibit", "throw",     "nat",     "xresolve"};
  return name_or_number(names, type);
}

std::string route_protocol_text(std::uint8_t protocol) {
  // iproute2's rt_protos: the kernel's own numbers and the daemons' that
  // Debian's /etc/iproute2/rt_protos names.
  switch (protocol) {
    case 0:
      return "unspec";
    case 1:
      return "redirect";
    case 2:
      return "kernel";
    case 3:
      return "boot";
    case 4:
      return "static";
    case 8:
      return "gated";
    case 9:
      return "ra";
    case 10:
      return "mrt";
    case 11:
      return "zebra";
    case 12:
      return "bird";
    case 13:
      return "dnrouted";
    case 14:
      return "xorp";
    case 15:
      return "ntk";
    case 16:
      return "dhcp";
    case 17:
      return "mrouted";
    case 18:
      return "keepalived";
    case 42:
      return "babel";
    case 99:
      return "openr";
    case 186:
      return "bgp";
    case 187:
      return "isis";
    case 188:
      return "ospf";
    case 189:
      return "rip";
    case 192:
      return "eigrp";
    default:
      return std::to_string(protocol);
  }
}

std::string route_table_text(std::uint32_t table) {
  switch (table) {
    case 253:
      return "default";
    case 254:
      return "main";
    case 255:
      return "local";
    default:
      return std::to_string(table);
  }
}

std::string rule_action_text(std::uint8_t action) {
  static constexpr const char* names[] = {"unspec", "to_tbl",    "goto",        "nop",     "",
                                          "",       "blackhole", "unreachable", "prohibit"};
  return name_or_number(names, action);
}

std::vector<std::string> neighbour_state_names(std::uint16_t state) {
  static constexpr const char* names[] = {"incomplete", "reachable", "stale", "delay",
                                          "probe",      "failed",    "noarp", "permanent"};
  std::vector<std::string> out;
  for (unsigned bit = 0; bit < std::size(names); ++bit) {
    if (state & (1u << bit)) out.emplace_back(names[bit]);
  }
  if (state == 0) out.emplace_back("none");
  return out;
}

std::vector<std::string> nexthop_flag_names(std::uint32_t flags) {
  static constexpr const char* names[] = {"dead", "pervasive", "onlink", "offload", "linkdown", "unresolved", "trap"};
  std::vector<std::string> out;
  for (unsigned bit = 0; bit < std::size(names); ++bit) {
    if (flags & (1u << bit)) out.emplace_back(names[bit]);
  }
  return out;
}

}  // namespace netnsd
