// Builds rtnetlink and sock_diag messages byte by byte, for the parser's tests and the
// fuzzers' seeds: well-formed ones as the kernel sends them, and broken ones
// as a hostile sender would.
#pragma once

#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace netnsd::testing {

class NetlinkMessage {
 public:
  NetlinkMessage(std::uint16_t type, std::uint16_t flags = 0, std::uint32_t seq = 0) {
    nlmsghdr h{};
    h.nlmsg_type = type;
    h.nlmsg_flags = flags;
    h.nlmsg_seq = seq;
    append(&h, sizeof h);
  }

  // The fixed header of a link message.
  NetlinkMessage& ifinfo(int index, unsigned flags = 0, unsigned char family = AF_UNSPEC) {
    ifinfomsg ifi{};
    ifi.ifi_family = family;
    ifi.ifi_index = index;
    ifi.ifi_flags = flags;
    append(&ifi, sizeof ifi);
    return *this;
  }
  // The fixed header of an address message.
  NetlinkMessage& ifaddr(unsigned index, unsigned char family, unsigned char prefix_len, unsigned char flags = 0,
                         unsigned char scope = 0) {
    ifaddrmsg ifa{};
    ifa.ifa_family = family;
    ifa.ifa_prefixlen = prefix_len;
    ifa.ifa_flags = flags;
    ifa.ifa_scope = scope;
    ifa.ifa_index = index;
    append(&ifa, sizeof ifa);
    return *this;
  }
  // The fixed header of a sock_diag reply: a socket of `family` in `state`,
  // local port `port` (host order), inode `inode`.
  NetlinkMessage& inet_diag(unsigned char family, unsigned char state, std::uint16_t port, std::uint32_t inode,
                            const void* local = nullptr, std::uint32_t ifindex = 0) {
    inet_diag_msg d{};
    d.idiag_family = family;
    d.idiag_state = state;
    d.id.idiag_sport = static_cast<std::uint16_t>((port >> 8) | (port << 8));
    if (local) std::memcpy(d.id.idiag_src, local, family == AF_INET ? 4 : 16);
    d.id.idiag_if = ifindex;
    d.idiag_uid = 1000;
    d.idiag_inode = inode;
    append(&d, sizeof d);
    return *this;
  }
  NetlinkMessage& u8(std::uint16_t type, std::uint8_t v) { return attr(type, &v, sizeof v); }
  NetlinkMessage& raw(const void* data, std::size_t size) {
    append(data, size);
    pad();
    return *this;
  }
  // An attribute with any payload (its length is the payload's).
  NetlinkMessage& attr(std::uint16_t type, const void* data, std::size_t size) {
    nlattr a{};
    a.nla_len = static_cast<std::uint16_t>(sizeof a + size);
    a.nla_type = type;
    append(&a, sizeof a);
    append(data, size);
    pad();
    return *this;
  }
  NetlinkMessage& u32(std::uint16_t type, std::uint32_t v) { return attr(type, &v, sizeof v); }
  // A string attribute with its NUL, as the kernel sends it.
  NetlinkMessage& str(std::uint16_t type, const std::string& s) { return attr(type, s.c_str(), s.size() + 1); }
  // A nest holding one string attribute.
  NetlinkMessage& nested_str(std::uint16_t type, std::uint16_t inner, const std::string& s) {
    NetlinkMessage body(0);
    body.bytes_.clear();
    body.str(inner, s);
    return attr(type | NLA_F_NESTED, body.bytes_.data(), body.bytes_.size());
  }

  // The message with its header's length filled in.
  std::vector<std::uint8_t> bytes() const {
    std::vector<std::uint8_t> out = bytes_;
    auto len = static_cast<std::uint32_t>(out.size());
    std::memcpy(out.data(), &len, sizeof len);
    return out;
  }
  const nlmsghdr& header() {
    built_ = bytes();
    return *reinterpret_cast<const nlmsghdr*>(built_.data());
  }

 private:
  // resize + memcpy, not insert: GCC 12 warns (-Wstringop-overflow) about
  // inserting into the empty vector.
  void append(const void* data, std::size_t size) {
    const std::size_t at = bytes_.size();
    bytes_.resize(at + size);
    if (size) std::memcpy(bytes_.data() + at, data, size);
  }
  void pad() { bytes_.resize(NLMSG_ALIGN(bytes_.size()), 0); }

  std::vector<std::uint8_t> bytes_;
  std::vector<std::uint8_t> built_;
};

// Several messages in one datagram.
inline std::vector<std::uint8_t> datagram(std::vector<NetlinkMessage> messages) {
  std::vector<std::uint8_t> out;
  for (auto& m : messages) {
    auto b = m.bytes();
    out.insert(out.end(), b.begin(), b.end());
  }
  return out;
}

}  // namespace netnsd::testing
