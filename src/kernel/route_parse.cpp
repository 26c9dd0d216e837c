#include "kernel/route_parse.h"

#include <linux/fib_rules.h>
#include <linux/if.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <cstdint>
#include <cstring>

#include "kernel/netlink_attrs.h"
#include "resolver/model.h"
#include "util/defaults.h"

namespace netnsd {
namespace {

using netlink::attributes_after;
using netlink::Bytes;
using netlink::for_each_attribute;
using netlink::Once;
using netlink::payload_of;
using netlink::read_u32;
using netlink::string_attribute;

constexpr std::size_t kMaxLinkLayerAddress = 32;  // MAX_ADDR_LEN

std::size_t address_size(std::uint8_t family) {
  return family == AF_INET ? 4 : 16;
}

// The checks every attribute of these messages shares: sizes exact, each
// attribute at most once. `why` says which broke.
class Reader {
 public:
  Reader(std::uint8_t family, std::string& why) : family_(family), why_(why), once_(why) {}

  bool once(int bit, const char* name) { return once_(bit, name); }
  bool u32(Bytes b, const char* name, std::uint32_t& into) {
    if (b.size() != 4) return wrong(name, b.size(), 4);
    into = read_u32(b);
    return true;
  }
  bool u8(Bytes b, const char* name, std::uint8_t& into) {
    if (b.size() != 1) return wrong(name, b.size(), 1);
    into = b[0];
    return true;
  }
  bool address(Bytes b, const char* name, IpBytes& into) {
    if (b.size() != address_size(family_)) return wrong(name, b.size(), address_size(family_));
    into = {};
    std::memcpy(into.data(), b.data(), b.size());
    return true;
  }
  bool name(Bytes b, const char* attribute, std::string& into) {
    auto text = string_attribute(b, IFNAMSIZ - 1);
    if (!text || !valid_interface_name(*text)) {
      why_ = std::string(attribute) + " is not an interface name";
      return false;
    }
    into = std::string(*text);
    return true;
  }

 private:
  bool wrong(const char* name, std::size_t got, std::size_t want) {
    why_ = std::string(name) + " is " + std::to_string(got) + " bytes, not " + std::to_string(want);
    return false;
  }
  std::uint8_t family_;
  std::string& why_;
  Once once_;
};

bool inet_family(std::uint8_t family) {
  return family == AF_INET || family == AF_INET6;
}

template <class Message>
Message refuse(std::string why) {
  Message m;
  m.kind = FactKind::refused;
  m.refusal = std::move(why);
  return m;
}

// RTA_MULTIPATH: rtnexthop headers, each followed by its own attributes.
bool read_multipath(Bytes area, std::uint8_t family, std::vector<NextHop>& out, std::string& why) {
  while (area.size() >= sizeof(rtnexthop)) {
    rtnexthop nh;
    std::memcpy(&nh, area.data(), sizeof nh);
    if (nh.rtnh_len < sizeof nh || nh.rtnh_len > area.size()) {
      why = "a next hop whose length overruns RTA_MULTIPATH";
      return false;
    }
    if (out.size() >= defaults::kMaxNextHops) {
      why = "more than " + std::to_string(defaults::kMaxNextHops) + " next hops";
      return false;
    }
    NextHop hop;
    hop.ifindex = static_cast<std::uint32_t>(nh.rtnh_ifindex);
    hop.weight = static_cast<std::uint16_t>(nh.rtnh_hops + 1);
    hop.flags = nh.rtnh_flags;
    Reader read(family, why);
    const bool ok = for_each_attribute(area.subspan(RTNH_ALIGN(sizeof nh), nh.rtnh_len - RTNH_ALIGN(sizeof nh)),
                                       [&](std::uint16_t type, Bytes b) {
                                         if (type != RTA_GATEWAY) return true;
                                         IpBytes gateway;
                                         if (!read.once(0, "RTA_GATEWAY") || !read.address(b, "RTA_GATEWAY", gateway))
                                           return false;
                                         hop.gateway = gateway;
                                         return true;
                                       });
    if (!ok) {
      if (why.empty()) why = "a next hop whose attributes overrun it";
      return false;
    }
    out.push_back(hop);
    const std::size_t step = RTNH_ALIGN(nh.rtnh_len);
    if (step >= area.size()) return true;
    area = area.subspan(step);
  }
  if (!area.empty()) why = "trailing bytes in RTA_MULTIPATH";
  return area.empty();
}

}  // namespace

RouteMessage parse_route_message(const nlmsghdr& message) {
  if (message.nlmsg_type != RTM_NEWROUTE && message.nlmsg_type != RTM_DELROUTE) return {};
  const Bytes payload = payload_of(message);
  if (payload.size() < sizeof(rtmsg)) return refuse<RouteMessage>("a route message shorter than rtmsg");
  rtmsg rtm;
  std::memcpy(&rtm, payload.data(), sizeof rtm);
  // Multicast routes (RTNL_FAMILY_IPMR) and clones the kernel caches (IPv6
  // exceptions) are not what `ip route show` lists.
  if (!inet_family(rtm.rtm_family) || (rtm.rtm_flags & RTM_F_CLONED)) return {};
  const unsigned bits = rtm.rtm_family == AF_INET ? 32 : 128;
  if (rtm.rtm_dst_len > bits || rtm.rtm_src_len > bits) {
    return refuse<RouteMessage>("a prefix longer than its family's addresses");
  }
  RouteMessage out;
  Route& r = out.route;
  r.family = rtm.rtm_family;
  r.dst_len = rtm.rtm_dst_len;
  r.src_len = rtm.rtm_src_len;
  r.tos = rtm.rtm_tos;
  r.protocol = rtm.rtm_protocol;
  r.scope = rtm.rtm_scope;
  r.type = rtm.rtm_type;
  r.table = rtm.rtm_table;
  r.flags = rtm.rtm_flags;
  std::optional<IpBytes> gateway;
  std::optional<std::uint32_t> oif;
  std::vector<NextHop> multipath;
  std::string why;
  Reader read(r.family, why);
  const bool ok = for_each_attribute(attributes_after(payload, sizeof rtm), [&](std::uint16_t type, Bytes b) {
    std::uint32_t u = 0;
    IpBytes a{};
    switch (type) {
      case RTA_DST:
        return read.once(0, "RTA_DST") && read.address(b, "RTA_DST", r.dst);
      case RTA_SRC:
        return read.once(1, "RTA_SRC") && read.address(b, "RTA_SRC", r.src);
      case RTA_GATEWAY:
        if (!read.once(2, "RTA_GATEWAY") || !read.address(b, "RTA_GATEWAY", a)) return false;
        gateway = a;
        return true;
      case RTA_PREFSRC:
        if (!read.once(3, "RTA_PREFSRC") || !read.address(b, "RTA_PREFSRC", a)) return false;
        r.prefsrc = a;
        return true;
      case RTA_OIF:
        if (!read.once(4, "RTA_OIF") || !read.u32(b, "RTA_OIF", u)) return false;
        oif = u;
        return true;
      case RTA_PRIORITY:
        if (!read.once(5, "RTA_PRIORITY") || !read.u32(b, "RTA_PRIORITY", u)) return false;
        r.priority = u;
        return true;
      case RTA_TABLE:
        return read.once(6, "RTA_TABLE") && read.u32(b, "RTA_TABLE", r.table);
      case RTA_MULTIPATH:
        return read.once(7, "RTA_MULTIPATH") && read_multipath(b, r.family, multipath, why);
      default:
        return true;
    }
  });
  if (!ok) return refuse<RouteMessage>(why.empty() ? "a route message whose attributes overrun it" : why);
  if (!multipath.empty()) {
    r.nexthops = std::move(multipath);
  } else if (gateway || oif) {
    r.nexthops.push_back(NextHop{gateway, oif.value_or(0), 1, static_cast<std::uint8_t>(r.flags & 0xff)});
  }
  out.kind = FactKind::fact;
  out.deleted = message.nlmsg_type == RTM_DELROUTE;
  out.append = !out.deleted && (message.nlmsg_flags & NLM_F_APPEND);
  return out;
}

RuleMessage parse_rule_message(const nlmsghdr& message) {
  if (message.nlmsg_type != RTM_NEWRULE && message.nlmsg_type != RTM_DELRULE) return {};
  const Bytes payload = payload_of(message);
  if (payload.size() < sizeof(fib_rule_hdr)) return refuse<RuleMessage>("a rule message shorter than fib_rule_hdr");
  fib_rule_hdr hdr;
  std::memcpy(&hdr, payload.data(), sizeof hdr);
  if (!inet_family(hdr.family)) return {};
  const unsigned bits = hdr.family == AF_INET ? 32 : 128;
  if (hdr.dst_len > bits || hdr.src_len > bits) return refuse<RuleMessage>("a prefix longer than its family's");
  RuleMessage out;
  Rule& rule = out.rule;
  rule.family = hdr.family;
  rule.dst_len = hdr.dst_len;
  rule.src_len = hdr.src_len;
  rule.tos = hdr.tos;
  rule.action = hdr.action;
  rule.flags = hdr.flags;
  rule.table = hdr.table;
  std::string why;
  Reader read(rule.family, why);
  auto optional_u32 = [&](Bytes b, int bit, const char* name, std::optional<std::uint32_t>& into) {
    std::uint32_t u = 0;
    if (!read.once(bit, name) || !read.u32(b, name, u)) return false;
    into = u;
    return true;
  };
  const bool ok = for_each_attribute(attributes_after(payload, sizeof hdr), [&](std::uint16_t type, Bytes b) {
    switch (type) {
      case FRA_DST:
        return read.once(0, "FRA_DST") && read.address(b, "FRA_DST", rule.dst);
      case FRA_SRC:
        return read.once(1, "FRA_SRC") && read.address(b, "FRA_SRC", rule.src);
      case FRA_IIFNAME:
        return read.once(2, "FRA_IIFNAME") && read.name(b, "FRA_IIFNAME", rule.iif);
      case FRA_OIFNAME:
        return read.once(3, "FRA_OIFNAME") && read.name(b, "FRA_OIFNAME", rule.oif);
      case FRA_PRIORITY:
        return read.once(4, "FRA_PRIORITY") && read.u32(b, "FRA_PRIORITY", rule.priority);
      case FRA_TABLE:
        return read.once(5, "FRA_TABLE") && read.u32(b, "FRA_TABLE", rule.table);
      case FRA_FWMARK:
        return optional_u32(b, 6, "FRA_FWMARK", rule.fwmark);
      case FRA_FWMASK:
        return optional_u32(b, 7, "FRA_FWMASK", rule.fwmask);
      case FRA_GOTO:
        return optional_u32(b, 8, "FRA_GOTO", rule.goto_target);
      case FRA_SUPPRESS_PREFIXLEN:
        return optional_u32(b, 9, "FRA_SUPPRESS_PREFIXLEN", rule.suppress_prefixlen);
      case FRA_PROTOCOL:
        return read.once(10, "FRA_PROTOCOL") && read.u8(b, "FRA_PROTOCOL", rule.protocol);
      default:
        return true;
    }
  });
  if (!ok) return refuse<RuleMessage>(why.empty() ? "a rule message whose attributes overrun it" : why);
  // The kernel says "no suppress_prefixlength" with all ones.
  if (rule.suppress_prefixlen == UINT32_MAX) rule.suppress_prefixlen.reset();
  out.kind = FactKind::fact;
  out.deleted = message.nlmsg_type == RTM_DELRULE;
  return out;
}

NeighbourMessage parse_neighbour_message(const nlmsghdr& message) {
  if (message.nlmsg_type != RTM_NEWNEIGH && message.nlmsg_type != RTM_DELNEIGH) return {};
  const Bytes payload = payload_of(message);
  if (payload.size() < sizeof(ndmsg)) return refuse<NeighbourMessage>("a neighbour message shorter than ndmsg");
  ndmsg ndm;
  std::memcpy(&ndm, payload.data(), sizeof ndm);
  // AF_BRIDGE entries are a bridge's forwarding database, not ARP or NDP.
  if (!inet_family(ndm.ndm_family)) return {};
  if (ndm.ndm_ifindex <= 0) return refuse<NeighbourMessage>("a neighbour on no device");
  NeighbourMessage out;
  Neighbour& n = out.neighbour;
  n.family = ndm.ndm_family;
  n.ifindex = static_cast<std::uint32_t>(ndm.ndm_ifindex);
  n.state = ndm.ndm_state;
  n.flags = ndm.ndm_flags;
  bool has_dst = false;
  std::string why;
  Reader read(n.family, why);
  const bool ok = for_each_attribute(attributes_after(payload, sizeof ndm), [&](std::uint16_t type, Bytes b) {
    switch (type) {
      case NDA_DST:
        has_dst = true;
        return read.once(0, "NDA_DST") && read.address(b, "NDA_DST", n.dst);
      case NDA_LLADDR:
        if (!read.once(1, "NDA_LLADDR")) return false;
        if (b.size() > kMaxLinkLayerAddress) {
          why = "NDA_LLADDR longer than " + std::to_string(kMaxLinkLayerAddress) + " bytes";
          return false;
        }
        n.lladdr = netlink::format_mac(b);
        return true;
      default:
        return true;
    }
  });
  if (!ok) return refuse<NeighbourMessage>(why.empty() ? "a neighbour message whose attributes overrun it" : why);
  if (!has_dst) return refuse<NeighbourMessage>("a neighbour without NDA_DST");
  out.kind = FactKind::fact;
  // Entries of devices that resolve nothing (NUD_NOARP: multicast, point
  // to point) and entries in no state are not neighbours as `ip neigh`
  // shows them: one becoming so is one gone.
  out.deleted = message.nlmsg_type == RTM_DELNEIGH || n.state == 0 || (n.state & NUD_NOARP);
  return out;
}

}  // namespace netnsd
