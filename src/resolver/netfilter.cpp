#include "resolver/netfilter.h"

namespace netnsd {

std::string nft_family_text(std::uint8_t family) {
  switch (family) {
    case 1:
      return "inet";
    case 2:
      return "ip";
    case 3:
      return "arp";
    case 5:
      return "netdev";
    case 7:
      return "bridge";
    case 10:
      return "ip6";
    default:
      return std::to_string(family);
  }
}

std::string nft_hook_text(std::uint8_t family, std::uint32_t hook) {
  if (family == 5) return hook == 0 ? "ingress" : hook == 1 ? "egress" : std::to_string(hook);
  if (family == 3) return hook == 0 ? "input" : hook == 1 ? "output" : std::to_string(hook);
  static constexpr const char* kInet[] = {"prerouting", "input", "forward", "output", "postrouting", "ingress"};
  return hook < std::size(kInet) ? kInet[hook] : std::to_string(hook);
}

}  // namespace netnsd
