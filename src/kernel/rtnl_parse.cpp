#include "kernel/rtnl_parse.h"

#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/net_namespace.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <cstring>
#include <span>

#include "kernel/netlink_attrs.h"

namespace netnsd {
namespace {

constexpr std::size_t kMaxAddress = 32;  // MAX_ADDR_LEN
constexpr std::size_t kMaxKind = 32;     // link kinds are short words: "veth", "macvlan", ...

using netlink::attributes_after;
using netlink::Bytes;
using netlink::for_each_attribute;
using netlink::format_mac;
using netlink::Once;
using netlink::payload_of;
using netlink::read_u32;
using netlink::string_attribute;

LinkMessage refuse(std::string why) {
  LinkMessage m;
  m.kind = LinkMessage::Kind::refused;
  m.refusal = std::move(why);
  return m;
}

}  // namespace

namespace {

// The kind inside IFLA_LINKINFO ("veth", "macvlan", ...): a short word, given once.
bool read_link_kind(Bytes linkinfo, std::string& kind, std::string& why) {
  bool seen = false;
  const bool ok = for_each_attribute(linkinfo, [&](std::uint16_t type, Bytes b) {
    if (type != IFLA_INFO_KIND) return true;
    if (seen) {
      why = "IFLA_INFO_KIND given twice";
      return false;
    }
    seen = true;
    auto text = string_attribute(b, kMaxKind);
    if (!text || text->empty()) {
      why = "a link kind that is not a short string";
      return false;
    }
    for (char c : *text) {
      if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.')) {
        why = "a link kind with unexpected characters";
        return false;
      }
    }
    kind = std::string(*text);
    return true;
  });
  if (!ok && why.empty()) why = "a malformed IFLA_LINKINFO";
  return ok;
}

// The link attributes that name other devices, read as they come and made
// into LinkRefs once all are known (link_refs).
struct RawLinks {
  std::optional<std::uint32_t> link, link_netnsid, new_netnsid, new_ifindex;
};

// One attribute of a link message into `d` (or `raw`); false, with `why`,
// when it breaks the attribute policy.
bool read_link_attribute(std::uint16_t type, Bytes b, bool with_stats, Once& once, Device& d, RawLinks& raw,
                         std::string& why) {
  auto u32 = [&](const char* name, std::uint32_t& into) {
    if (b.size() != 4) {
      why = std::string(name) + " is " + std::to_string(b.size()) + " bytes, not 4";
      return false;
    }
    into = read_u32(b);
    return true;
  };
  auto optional_u32 = [&](int bit, const char* name, std::optional<std::uint32_t>& into) {
    std::uint32_t v = 0;
    if (!once(bit, name) || !u32(name, v)) return false;
    into = v;
    return true;
  };
  auto byte = [&](int bit, const char* name, std::uint8_t& into) {
    if (!once(bit, name)) return false;
    if (b.size() != 1) {
      why = std::string(name) + " is " + std::to_string(b.size()) + " bytes, not 1";
      return false;
    }
    into = b[0];
    return true;
  };
  switch (type) {
    case IFLA_IFNAME: {
      if (!once(0, "IFLA_IFNAME")) return false;
      auto name = string_attribute(b, IFNAMSIZ - 1);
      if (!name || !valid_interface_name(*name)) {
        why = "an interface name the kernel would refuse";
        return false;
      }
      d.name = std::string(*name);
      return true;
    }
    case IFLA_ADDRESS:
      if (!once(1, "IFLA_ADDRESS")) return false;
      if (b.size() > kMaxAddress) {
        why = "a link-layer address of " + std::to_string(b.size()) + " bytes";
        return false;
      }
      d.mac = format_mac(b);
      return true;
    case IFLA_MTU:
      return once(2, "IFLA_MTU") && u32("IFLA_MTU", d.mtu);
    case IFLA_MASTER: {
      std::uint32_t master = 0;
      if (!once(3, "IFLA_MASTER") || !u32("IFLA_MASTER", master)) return false;
      if (master != 0) d.master = master;
      return true;
    }
    case IFLA_LINK:
      return optional_u32(4, "IFLA_LINK", raw.link);
    case IFLA_LINK_NETNSID:
      return optional_u32(5, "IFLA_LINK_NETNSID", raw.link_netnsid);
    case IFLA_NEW_NETNSID:
      return optional_u32(10, "IFLA_NEW_NETNSID", raw.new_netnsid);
    case IFLA_NEW_IFINDEX:
      return optional_u32(11, "IFLA_NEW_IFINDEX", raw.new_ifindex);
    case IFLA_OPERSTATE: {
      std::uint8_t v = 0;
      if (!byte(7, "IFLA_OPERSTATE", v)) return false;
      // IF_OPER_UNKNOWN .. IF_OPER_UP; anything else is unknown.
      d.operstate = v <= IF_OPER_UP ? static_cast<OperState>(v) : OperState::unknown;
      return true;
    }
    case IFLA_CARRIER: {
      std::uint8_t v = 0;
      if (!byte(8, "IFLA_CARRIER", v)) return false;
      d.carrier = v != 0;
      return true;
    }
    case IFLA_STATS64: {
      if (!once(9, "IFLA_STATS64")) return false;
      // rtnl_link_stats64 grows with the kernel; its first eight
      // counters have not moved since it was introduced.
      if (b.size() < 8 * sizeof(std::uint64_t) || b.size() % sizeof(std::uint64_t) != 0) {
        why = "IFLA_STATS64 of " + std::to_string(b.size()) + " bytes";
        return false;
      }
      if (with_stats) {
        std::uint64_t v[8];
        std::memcpy(v, b.data(), sizeof v);
        d.stats = LinkStats{v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]};
      }
      return true;
    }
    case IFLA_LINKINFO:
      return once(6, "IFLA_LINKINFO") && read_link_kind(b, d.kind, why);
    default:
      return true;  // attributes netnsd does not read (the kernel adds new ones)
  }
}

// IFLA_LINK is, for a veth, the peer's ifindex in the peer's namespace, and
// for a stacked device (macvlan, vlan, vxlan, tunnels) the lower device's;
// IFLA_LINK_NETNSID is present exactly when that namespace is another one.
// A device naming itself (some drivers do) has no lower link. A deleted
// device with IFLA_NEW_NETNSID moved to that namespace.
void link_refs(const RawLinks& raw, std::optional<NetnsId> self, LinkMessage& out) {
  Device& d = out.device;
  if (raw.link && *raw.link != 0 && (*raw.link != d.ifindex || raw.link_netnsid)) {
    LinkRef ref;
    ref.ifindex = *raw.link;
    if (raw.link_netnsid) {
      ref.nsid = static_cast<std::int32_t>(*raw.link_netnsid);
    } else {
      ref.netns = self;
    }
    (d.kind == "veth" ? d.peer : d.lower) = ref;
  }
  if (out.deleted && raw.new_netnsid) {
    LinkRef to;
    to.nsid = static_cast<std::int32_t>(*raw.new_netnsid);
    to.ifindex = raw.new_ifindex.value_or(0);
    out.moved_to = to;
  }
}

}  // namespace

LinkMessage parse_link_message(const nlmsghdr& message, std::optional<NetnsId> self, bool with_stats) {
  if (message.nlmsg_type != RTM_NEWLINK && message.nlmsg_type != RTM_DELLINK) return {};
  if (message.nlmsg_len < NLMSG_LENGTH(sizeof(ifinfomsg))) return refuse("link message shorter than its header");
  const Bytes payload = payload_of(message);
  ifinfomsg ifi;
  std::memcpy(&ifi, payload.data(), sizeof ifi);
  // The bridge also announces its ports on RTNLGRP_LINK, as AF_BRIDGE
  // messages with port attributes only (and an RTM_DELLINK when a port
  // leaves the bridge, not the namespace). Only AF_UNSPEC ones describe a device.
  if (ifi.ifi_family != AF_UNSPEC) return {};
  if (ifi.ifi_index <= 0) return refuse("link message without a valid ifindex");

  LinkMessage out;
  out.kind = LinkMessage::Kind::device;
  out.deleted = message.nlmsg_type == RTM_DELLINK;
  Device& d = out.device;
  d.ifindex = static_cast<std::uint32_t>(ifi.ifi_index);
  d.up = (ifi.ifi_flags & IFF_UP) != 0;

  std::string why;
  Once once(why);
  RawLinks raw;
  const bool ok = for_each_attribute(attributes_after(payload, sizeof(ifinfomsg)), [&](std::uint16_t type, Bytes b) {
    return read_link_attribute(type, b, with_stats, once, d, raw, why);
  });
  if (!ok) return refuse(why.empty() ? "a malformed attribute" : why);
  if (!out.deleted && d.name.empty()) return refuse("a new link without a name");
  link_refs(raw, self, out);
  return out;
}

AddressMessage parse_address_message(const nlmsghdr& message) {
  AddressMessage out;
  if (message.nlmsg_type != RTM_NEWADDR && message.nlmsg_type != RTM_DELADDR) return out;
  auto refuse_address = [&](std::string why) {
    out.kind = AddressMessage::Kind::refused;
    out.refusal = std::move(why);
    return out;
  };
  if (message.nlmsg_len < NLMSG_LENGTH(sizeof(ifaddrmsg)))
    return refuse_address("address message shorter than its header");
  const Bytes payload = payload_of(message);
  ifaddrmsg ifa;
  std::memcpy(&ifa, payload.data(), sizeof ifa);
  if (ifa.ifa_family != AF_INET && ifa.ifa_family != AF_INET6) return out;  // DECnet, MPLS, ...: not ours
  const std::size_t size = ifa.ifa_family == AF_INET ? 4 : 16;
  if (ifa.ifa_index == 0) return refuse_address("address message without an ifindex");
  if (ifa.ifa_prefixlen > size * 8) {
    return refuse_address("a prefix length of " + std::to_string(ifa.ifa_prefixlen) + " for a " +
                          std::to_string(size * 8) + "-bit address");
  }

  Address& a = out.address;
  a.family = ifa.ifa_family;
  a.prefix_len = ifa.ifa_prefixlen;
  a.scope = ifa.ifa_scope;
  a.flags = ifa.ifa_flags;
  std::optional<std::array<std::uint8_t, 16>> local, address;
  std::string why;
  Once once(why);
  auto bytes = [&](Bytes b, const char* name, std::optional<std::array<std::uint8_t, 16>>& into) {
    if (b.size() != size) {
      why = std::string(name) + " of " + std::to_string(b.size()) + " bytes for a " + std::to_string(size) +
            "-byte address";
      return false;
    }
    into.emplace();
    std::memcpy(into->data(), b.data(), size);
    return true;
  };
  const bool ok = for_each_attribute(attributes_after(payload, sizeof(ifaddrmsg)), [&](std::uint16_t type, Bytes b) {
    switch (type) {
      case IFA_ADDRESS:
        return once(0, "IFA_ADDRESS") && bytes(b, "IFA_ADDRESS", address);
      case IFA_LOCAL:
        return once(1, "IFA_LOCAL") && bytes(b, "IFA_LOCAL", local);
      case IFA_FLAGS:
        if (!once(2, "IFA_FLAGS")) return false;
        if (b.size() != 4) {
          why = "IFA_FLAGS is " + std::to_string(b.size()) + " bytes, not 4";
          return false;
        }
        a.flags = read_u32(b);  // the full set; ifa_flags holds only its low byte
        return true;
      case IFA_LABEL: {
        if (!once(3, "IFA_LABEL")) return false;
        auto label = string_attribute(b, IFNAMSIZ - 1);
        if (!label) {
          why = "an address label that is not a short string";
          return false;
        }
        a.label = std::string(*label);
        return true;
      }
      default:
        return true;
    }
  });
  if (!ok) return refuse_address(why.empty() ? "a malformed attribute" : why);
  if (!local && !address) return refuse_address("an address message without an address");
  // IFA_LOCAL is the device's own address; IFA_ADDRESS, when both are given
  // and differ, the far end of a point-to-point link.
  a.local = local ? *local : *address;
  if (local && address && *local != *address) a.peer = address;
  out.kind = AddressMessage::Kind::address;
  out.deleted = message.nlmsg_type == RTM_DELADDR;
  out.ifindex = ifa.ifa_index;
  return out;
}

std::optional<std::int32_t> parse_nsid_message(const nlmsghdr& message) {
  if (message.nlmsg_type != RTM_NEWNSID || message.nlmsg_len < NLMSG_LENGTH(sizeof(rtgenmsg))) return std::nullopt;
  std::optional<std::int32_t> nsid;
  const bool ok =
      for_each_attribute(attributes_after(payload_of(message), sizeof(rtgenmsg)), [&](std::uint16_t type, Bytes b) {
        if (type != NETNSA_NSID) return true;
        if (b.size() != 4 || nsid) return false;
        nsid = static_cast<std::int32_t>(read_u32(b));
        return true;
      });
  if (!ok) return std::nullopt;
  return nsid;
}

std::optional<int> parse_error_message(const nlmsghdr& message) {
  if (message.nlmsg_type != NLMSG_ERROR || message.nlmsg_len < NLMSG_LENGTH(sizeof(int))) return std::nullopt;
  int error;
  std::memcpy(&error, payload_of(message).data(), sizeof error);
  if (error > 0) return std::nullopt;  // the kernel sends 0 or a negative errno
  return error;
}

bool for_each_message(const void* data, std::size_t length, const std::function<bool(const nlmsghdr&)>& fn) {
  const auto* bytes = static_cast<const std::uint8_t*>(data);
  std::size_t offset = 0;
  while (length - offset >= sizeof(nlmsghdr)) {
    nlmsghdr header;
    std::memcpy(&header, bytes + offset, sizeof header);
    if (header.nlmsg_len < sizeof(nlmsghdr) || header.nlmsg_len > length - offset) return false;
    // Messages start 4-aligned within the datagram; hand out an aligned copy
    // when this one is not (only a hostile or fuzzed buffer would be).
    const auto* at = bytes + offset;
    if (reinterpret_cast<std::uintptr_t>(at) % alignof(nlmsghdr) != 0) {
      std::vector<std::uint8_t> copy(at, at + header.nlmsg_len);
      if (!fn(*reinterpret_cast<const nlmsghdr*>(copy.data()))) return true;
    } else if (!fn(*reinterpret_cast<const nlmsghdr*>(at))) {
      return true;
    }
    offset += NLMSG_ALIGN(header.nlmsg_len);
    if (offset >= length) return true;
  }
  return length - offset < NLMSG_ALIGNTO || offset == length;
}

}  // namespace netnsd
