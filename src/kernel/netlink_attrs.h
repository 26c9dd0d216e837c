// Reading netlink messages as untrusted bytes: what every parser of
// kernel/ (rtnl_parse, sock_diag_parse) checks the same way. Internal to
// kernel/.
#pragma once

#include <linux/netlink.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace netnsd::netlink {

using Bytes = std::span<const std::uint8_t>;

inline std::uint32_t read_u32(Bytes b) {
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

// A message's payload; its length must already be known to lie within the
// datagram (for_each_message checks it).
inline Bytes payload_of(const nlmsghdr& message) {
  return Bytes(reinterpret_cast<const std::uint8_t*>(&message) + NLMSG_HDRLEN, message.nlmsg_len - NLMSG_HDRLEN);
}

// The attributes after a message's fixed header of `fixed` bytes (padded);
// empty when the message is too short to hold the padded header.
inline Bytes attributes_after(Bytes payload, std::size_t fixed) {
  const std::size_t start = NLMSG_ALIGN(fixed);
  return start <= payload.size() ? payload.subspan(start) : Bytes();
}

// A NUL-terminated string attribute of at most `max` bytes before the NUL.
inline std::optional<std::string_view> string_attribute(Bytes b, std::size_t max) {
  const auto* chars = reinterpret_cast<const char*>(b.data());
  const std::size_t len = ::strnlen(chars, b.size());
  if (len == b.size() || len > max) return std::nullopt;  // no NUL, or too long
  return std::string_view(chars, len);
}

// "aa:bb:cc:dd:ee:ff": a link-layer address, however long.
inline std::string format_mac(Bytes bytes) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    if (i) out.push_back(':');
    out.push_back(hex[bytes[i] >> 4]);
    out.push_back(hex[bytes[i] & 0xf]);
  }
  return out;
}

// Attributes that may each come once: a second copy of one is a refusal
// (the kernel never repeats them; a forger would, to confuse a parser).
class Once {
 public:
  explicit Once(std::string& why) : why_(why) {}
  bool operator()(int bit, const char* name) {
    if (seen_ & (1u << bit)) {
      why_ = std::string(name) + " given twice";
      return false;
    }
    seen_ |= 1u << bit;
    return true;
  }

 private:
  std::string& why_;
  std::uint32_t seen_ = 0;
};

}  // namespace netnsd::netlink
