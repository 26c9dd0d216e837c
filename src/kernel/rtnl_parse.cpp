#include "kernel/rtnl_parse.h"

#include <linux/if.h>
#include <linux/if_link.h>
#include <linux/net_namespace.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <cstring>
#include <span>

namespace netnsd {
namespace {

constexpr std::size_t kMaxAddress = 32;  // MAX_ADDR_LEN
constexpr std::size_t kMaxKind = 32;     // link kinds are short words: "veth", "macvlan", ...

using Bytes = std::span<const std::uint8_t>;

std::uint32_t read_u32(Bytes b) {
  std::uint32_t v;
  std::memcpy(&v, b.data(), sizeof v);
  return v;
}

// The attributes of one message or nest, each checked to lie within it.
// Returns false (and stops) at the first malformed one, or when fn does.
template <class F>
bool for_each_attribute(Bytes area, F fn) {
  while (area.size() >= sizeof(nlattr)) {
    nlattr header;
    std::memcpy(&header, area.data(), sizeof header);
    if (header.nla_len < sizeof(nlattr) || header.nla_len > area.size()) return false;
    const auto type = static_cast<std::uint16_t>(header.nla_type & NLA_TYPE_MASK);
    if (!fn(type, area.subspan(sizeof(nlattr), header.nla_len - sizeof(nlattr)))) return false;
    const std::size_t step = NLA_ALIGN(header.nla_len);
    if (step >= area.size()) return true;
    area = area.subspan(step);
  }
  // Trailing bytes shorter than an attribute header: padding at most.
  return area.size() < NLA_ALIGNTO;
}

// A NUL-terminated string attribute of at most `max` bytes before the NUL.
std::optional<std::string_view> string_attribute(Bytes b, std::size_t max) {
  const auto* chars = reinterpret_cast<const char*>(b.data());
  const std::size_t len = ::strnlen(chars, b.size());
  if (len == b.size() || len > max) return std::nullopt;  // no NUL, or too long
  return std::string_view(chars, len);
}

bool kernel_space(unsigned char c) {
  return c == ' ' || (c >= '\t' && c <= '\r') || c == 0xa0;
}

std::string format_mac(Bytes bytes) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    if (i) out.push_back(':');
    out.push_back(hex[bytes[i] >> 4]);
    out.push_back(hex[bytes[i] & 0xf]);
  }
  return out;
}

LinkMessage refuse(std::string why) {
  LinkMessage m;
  m.kind = LinkMessage::Kind::refused;
  m.refusal = std::move(why);
  return m;
}

Bytes payload_of(const nlmsghdr& message) {
  return Bytes(reinterpret_cast<const std::uint8_t*>(&message) + NLMSG_HDRLEN, message.nlmsg_len - NLMSG_HDRLEN);
}

// The attributes after a message's fixed header of `fixed` bytes (padded);
// empty when the message is too short to hold the padded header.
Bytes attributes_after(Bytes payload, std::size_t fixed) {
  const std::size_t start = NLMSG_ALIGN(fixed);
  return start <= payload.size() ? payload.subspan(start) : Bytes();
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

LinkMessage parse_link_message(const nlmsghdr& message, std::optional<NetnsId> self) {
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
  std::uint32_t seen = 0;  // attributes met so far, by bit: each may come once
  std::optional<std::uint32_t> link, link_netnsid;
  auto once = [&](int bit, const char* name) {
    if (seen & (1u << bit)) {
      why = std::string(name) + " given twice";
      return false;
    }
    seen |= 1u << bit;
    return true;
  };
  auto u32 = [&](Bytes b, const char* name, std::uint32_t& into) {
    if (b.size() != 4) {
      why = std::string(name) + " is " + std::to_string(b.size()) + " bytes, not 4";
      return false;
    }
    into = read_u32(b);
    return true;
  };
  const bool ok = for_each_attribute(attributes_after(payload, sizeof(ifinfomsg)), [&](std::uint16_t type, Bytes b) {
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
        return once(2, "IFLA_MTU") && u32(b, "IFLA_MTU", d.mtu);
      case IFLA_MASTER: {
        std::uint32_t master = 0;
        if (!once(3, "IFLA_MASTER") || !u32(b, "IFLA_MASTER", master)) return false;
        if (master != 0) d.master = master;
        return true;
      }
      case IFLA_LINK: {
        std::uint32_t v = 0;
        if (!once(4, "IFLA_LINK") || !u32(b, "IFLA_LINK", v)) return false;
        link = v;
        return true;
      }
      case IFLA_LINK_NETNSID: {
        std::uint32_t v = 0;
        if (!once(5, "IFLA_LINK_NETNSID") || !u32(b, "IFLA_LINK_NETNSID", v)) return false;
        link_netnsid = v;
        return true;
      }
      case IFLA_LINKINFO: {
        if (!once(6, "IFLA_LINKINFO")) return false;
        bool kind_seen = false;
        const bool nested_ok = for_each_attribute(b, [&](std::uint16_t info_type, Bytes ib) {
          if (info_type != IFLA_INFO_KIND) return true;
          if (kind_seen) {
            why = "IFLA_INFO_KIND given twice";
            return false;
          }
          kind_seen = true;
          auto kind = string_attribute(ib, kMaxKind);
          if (!kind || kind->empty()) {
            why = "a link kind that is not a short string";
            return false;
          }
          for (char c : *kind) {
            if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.')) {
              why = "a link kind with unexpected characters";
              return false;
            }
          }
          d.kind = std::string(*kind);
          return true;
        });
        if (!nested_ok && why.empty()) why = "a malformed IFLA_LINKINFO";
        return nested_ok;
      }
      default:
        return true;  // attributes netnsd does not read (the kernel adds new ones)
    }
  });
  if (!ok) return refuse(why.empty() ? "a malformed attribute" : why);
  if (!out.deleted && d.name.empty()) return refuse("a new link without a name");

  // For a veth, IFLA_LINK is the peer's ifindex in the peer's namespace, and
  // IFLA_LINK_NETNSID is present exactly when that namespace is another one.
  if (d.kind == "veth" && link && *link != 0) {
    PeerRef peer;
    peer.ifindex = *link;
    if (link_netnsid) {
      peer.nsid = static_cast<std::int32_t>(*link_netnsid);
    } else {
      peer.netns = self;
    }
    d.peer = peer;
  }
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
