#include "resolver/model.h"

#include <arpa/inet.h>
#include <linux/if_addr.h>
#include <net/if.h>
#include <sys/socket.h>

#include <cstdio>
#include <tuple>

namespace netnsd {

std::string_view to_string(Source source) {
  switch (source) {
    case Source::procfs:
      return "procfs";
    case Source::bind_mount:
      return "bind_mount";
    case Source::ebpf:
      return "ebpf";
    case Source::netlink:
      return "netlink";
  }
  return "unknown";
}

namespace {

bool kernel_space(unsigned char c) {
  return c == ' ' || (c >= '\t' && c <= '\r') || c == 0xa0;
}

}  // namespace

bool valid_interface_name(std::string_view name) {
  if (name.empty() || name.size() >= IFNAMSIZ || name == "." || name == "..") return false;
  for (char ch : name) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '\0' || c == '/' || c == ':' || kernel_space(c)) return false;
  }
  return true;
}

std::string_view to_string(OperState state) {
  switch (state) {
    case OperState::unknown:
      return "unknown";
    case OperState::notpresent:
      return "notpresent";
    case OperState::down:
      return "down";
    case OperState::lowerlayerdown:
      return "lowerlayerdown";
    case OperState::testing:
      return "testing";
    case OperState::dormant:
      return "dormant";
    case OperState::up:
      return "up";
  }
  return "unknown";
}

std::string address_text(const Address& address, bool peer) {
  const auto& bytes = peer && address.peer ? *address.peer : address.local;
  char text[INET6_ADDRSTRLEN] = {};
  const int family = address.family == AF_INET6 ? AF_INET6 : AF_INET;
  if (!::inet_ntop(family, bytes.data(), text, sizeof text)) return {};
  return text;
}

std::string scope_text(std::uint8_t scope) {
  switch (scope) {
    case 0:
      return "global";
    case 200:
      return "site";
    case 253:
      return "link";
    case 254:
      return "host";
    case 255:
      return "nowhere";
    default:
      return std::to_string(scope);
  }
}

std::vector<std::string> address_flag_names(const Address& address) {
  struct Flag {
    std::uint32_t bit;
    const char* name;
  };
  // iproute2's names (ip-address(8)); bit 0x01 is "secondary" for IPv4 and
  // "temporary" for IPv6.
  static constexpr Flag kFlags[] = {
      {IFA_F_NODAD, "nodad"},         {IFA_F_OPTIMISTIC, "optimistic"},         {IFA_F_DADFAILED, "dadfailed"},
      {IFA_F_HOMEADDRESS, "home"},    {IFA_F_DEPRECATED, "deprecated"},         {IFA_F_TENTATIVE, "tentative"},
      {IFA_F_PERMANENT, "permanent"}, {IFA_F_MANAGETEMPADDR, "mngtmpaddr"},     {IFA_F_NOPREFIXROUTE, "noprefixroute"},
      {IFA_F_MCAUTOJOIN, "autojoin"}, {IFA_F_STABLE_PRIVACY, "stable-privacy"},
  };
  std::vector<std::string> names;
  std::uint32_t rest = address.flags;
  if (rest & IFA_F_SECONDARY) names.emplace_back(address.family == AF_INET6 ? "temporary" : "secondary");
  rest &= ~std::uint32_t{IFA_F_SECONDARY};
  for (const Flag& f : kFlags) {
    if (rest & f.bit) names.emplace_back(f.name);
    rest &= ~f.bit;
  }
  if (rest) {
    char hex[16];
    std::snprintf(hex, sizeof hex, "0x%x", rest);
    names.emplace_back(hex);
  }
  return names;
}

bool address_order(const Address& a, const Address& b) {
  return std::tie(a.family, a.local, a.prefix_len, a.peer) < std::tie(b.family, b.local, b.prefix_len, b.peer);
}

}  // namespace netnsd
