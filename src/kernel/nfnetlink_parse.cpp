#include "kernel/nfnetlink_parse.h"

#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <netinet/in.h>

#include <cstring>
#include <optional>
#include <unordered_map>

#include "kernel/netlink_attrs.h"

namespace netnsd {
namespace {

using netlink::Bytes;

// nf_tables names (tables, chains, types) are at most NFT_NAME_MAXLEN - 1
// bytes before their NUL.
constexpr std::size_t kNameMax = NFT_NAME_MAXLEN - 1;
// Expressions one rule may hold before it is refused: the kernel's own
// limit on a rule's size makes thousands impossible.
constexpr std::size_t kExpressionsMax = 4096;

NetfilterMessage refused_message(std::string why) {
  NetfilterMessage m;
  m.kind = NetfilterMessage::Kind::refused;
  m.refusal = std::move(why);
  return m;
}

// nf_tables and ctnetlink numbers are big-endian.
std::optional<std::uint32_t> be32(Bytes b) {
  if (b.size() != 4) return std::nullopt;
  return ntohl(netlink::read_u32(b));
}

std::optional<std::uint64_t> be64(Bytes b) {
  if (b.size() != 8) return std::nullopt;
  std::uint64_t v;
  std::memcpy(&v, b.data(), sizeof v);
  return be64toh(v);
}

std::optional<std::string> name_attribute(Bytes b) {
  auto s = netlink::string_attribute(b, kNameMax);
  if (!s || s->empty()) return std::nullopt;
  return std::string(*s);
}

NetfilterMessage parse_stats(Bytes attributes) {
  NetfilterMessage out;
  out.kind = NetfilterMessage::Kind::conntrack_stats;
  std::string why;
  netlink::Once once(why);
  bool have_entries = false;
  const bool well_formed = netlink::for_each_attribute(attributes, [&](std::uint16_t type, Bytes b) {
    if (type != CTA_STATS_GLOBAL_ENTRIES && type != CTA_STATS_GLOBAL_MAX_ENTRIES) return true;
    auto v = be32(b);
    if (!v) {
      why = "a conntrack count that is not 4 bytes";
      return false;
    }
    if (type == CTA_STATS_GLOBAL_ENTRIES) {
      if (!once(0, "CTA_STATS_GLOBAL_ENTRIES")) return false;
      out.entries = *v;
      have_entries = true;
    } else {
      if (!once(1, "CTA_STATS_GLOBAL_MAX_ENTRIES")) return false;
      out.max = *v;
    }
    return true;
  });
  if (!why.empty()) return refused_message(why);
  if (!well_formed) return refused_message("conntrack statistics whose attributes overrun them");
  if (!have_entries) return refused_message("conntrack statistics without CTA_STATS_GLOBAL_ENTRIES");
  return out;
}

NetfilterMessage parse_table(std::uint8_t family, Bytes attributes) {
  NetfilterMessage out;
  out.kind = NetfilterMessage::Kind::table;
  out.table.family = family;
  std::string why;
  netlink::Once once(why);
  const bool well_formed = netlink::for_each_attribute(attributes, [&](std::uint16_t type, Bytes b) {
    if (type == NFTA_TABLE_NAME) {
      if (!once(0, "NFTA_TABLE_NAME")) return false;
      auto name = name_attribute(b);
      if (!name) return why = "a table name that is empty, unterminated or too long", false;
      out.table.name = std::move(*name);
    } else if (type == NFTA_TABLE_FLAGS) {
      if (!once(1, "NFTA_TABLE_FLAGS")) return false;
      auto v = be32(b);
      if (!v) return why = "NFTA_TABLE_FLAGS not 4 bytes", false;
      out.table.flags = *v;
    }
    return true;
  });
  if (!why.empty()) return refused_message(why);
  if (!well_formed) return refused_message("a table whose attributes overrun it");
  if (out.table.name.empty()) return refused_message("a table without a name");
  return out;
}

bool parse_hook(Bytes nest, NftChain& chain, std::string& why) {
  netlink::Once once(why);
  const bool well_formed = netlink::for_each_attribute(nest, [&](std::uint16_t type, Bytes b) {
    if (type == NFTA_HOOK_HOOKNUM) {
      if (!once(0, "NFTA_HOOK_HOOKNUM")) return false;
      auto v = be32(b);
      if (!v) return why = "NFTA_HOOK_HOOKNUM not 4 bytes", false;
      chain.hook = *v;
    } else if (type == NFTA_HOOK_PRIORITY) {
      if (!once(1, "NFTA_HOOK_PRIORITY")) return false;
      auto v = be32(b);
      if (!v) return why = "NFTA_HOOK_PRIORITY not 4 bytes", false;
      chain.priority = static_cast<std::int32_t>(*v);
    }
    return true;
  });
  if (!why.empty()) return false;
  if (!well_formed) return why = "a chain hook whose attributes overrun it", false;
  return true;
}

NetfilterMessage parse_chain(Bytes attributes) {
  NetfilterMessage out;
  out.kind = NetfilterMessage::Kind::chain;
  NftChain& chain = out.chain;
  std::string why;
  netlink::Once once(why);
  const bool well_formed = netlink::for_each_attribute(attributes, [&](std::uint16_t type, Bytes b) {
    switch (type) {
      case NFTA_CHAIN_TABLE: {
        if (!once(0, "NFTA_CHAIN_TABLE")) return false;
        auto name = name_attribute(b);
        if (!name) return why = "a chain's table name that is empty, unterminated or too long", false;
        out.chain_table = std::move(*name);
        return true;
      }
      case NFTA_CHAIN_NAME: {
        if (!once(1, "NFTA_CHAIN_NAME")) return false;
        auto name = name_attribute(b);
        if (!name) return why = "a chain name that is empty, unterminated or too long", false;
        chain.name = std::move(*name);
        return true;
      }
      case NFTA_CHAIN_HOOK:
        if (!once(2, "NFTA_CHAIN_HOOK")) return false;
        return parse_hook(b, chain, why);
      case NFTA_CHAIN_POLICY: {
        if (!once(3, "NFTA_CHAIN_POLICY")) return false;
        auto v = be32(b);
        if (!v) return why = "NFTA_CHAIN_POLICY not 4 bytes", false;
        chain.policy = *v;
        return true;
      }
      case NFTA_CHAIN_TYPE: {
        if (!once(4, "NFTA_CHAIN_TYPE")) return false;
        auto name = name_attribute(b);
        if (!name) return why = "a chain type that is empty, unterminated or too long", false;
        chain.type = std::move(*name);
        return true;
      }
      default:
        return true;
    }
  });
  if (!why.empty()) return refused_message(why);
  if (!well_formed) return refused_message("a chain whose attributes overrun it");
  if (chain.name.empty() || out.chain_table.empty()) return refused_message("a chain without its name or table");
  if (chain.hook.has_value() != chain.priority.has_value()) {
    return refused_message("a base chain's hook without its priority, or the other way round");
  }
  return out;
}

// What one expression says, as far as ports go.
struct Expression {
  std::string name;
  std::unordered_map<std::uint16_t, Bytes> data;  // NFTA_<expr>_* attributes, each once
};

bool parse_expression(Bytes nest, Expression& e, std::string& why) {
  netlink::Once once(why);
  const bool well_formed = netlink::for_each_attribute(nest, [&](std::uint16_t type, Bytes b) {
    if (type == NFTA_EXPR_NAME) {
      if (!once(0, "NFTA_EXPR_NAME")) return false;
      auto name = name_attribute(b);
      if (!name) return why = "an expression name that is empty, unterminated or too long", false;
      e.name = std::move(*name);
    } else if (type == NFTA_EXPR_DATA) {
      if (!once(1, "NFTA_EXPR_DATA")) return false;
      return netlink::for_each_attribute(b,
                                         [&](std::uint16_t key, Bytes value) {
                                           if (!e.data.emplace(key, value).second)
                                             return why = e.name + " attribute " + std::to_string(key) + " given twice",
                                                    false;
                                           return true;
                                         }) ||
             (why.empty() ? (why = "an expression whose data overruns it", false) : false);
    }
    return true;
  });
  if (!why.empty()) return false;
  if (!well_formed) return why = "an expression that overruns its list", false;
  if (e.name.empty()) return why = "an expression without a name", false;
  return true;
}

std::optional<std::uint32_t> field(const Expression& e, std::uint16_t key) {
  auto it = e.data.find(key);
  return it == e.data.end() ? std::nullopt : be32(it->second);
}

// The value a cmp compares with: its NFTA_DATA_VALUE.
std::optional<Bytes> compared_value(const Expression& e) {
  auto it = e.data.find(NFTA_CMP_DATA);
  if (it == e.data.end()) return std::nullopt;
  std::optional<Bytes> value;
  netlink::for_each_attribute(it->second, [&](std::uint16_t type, Bytes b) {
    if (type == NFTA_DATA_VALUE) value = b;
    return true;
  });
  return value;
}

// Follows the registers through the rule: a load of the layer-4 protocol
// (meta l4proto, or the IPv4 protocol / IPv6 next header field) or of the
// transport destination port, then a cmp of that register for equality.
void find_ports(const std::vector<Expression>& expressions, NftRuleFacts& rule) {
  enum class Loaded { protocol, port };
  std::unordered_map<std::uint32_t, Loaded> registers;
  std::uint8_t protocol = 0;
  for (const Expression& e : expressions) {
    if (e.name == "meta") {
      auto key = field(e, NFTA_META_KEY), dreg = field(e, NFTA_META_DREG);
      if (dreg) registers.erase(*dreg);
      if (key && dreg && *key == NFT_META_L4PROTO) registers[*dreg] = Loaded::protocol;
    } else if (e.name == "payload") {
      auto dreg = field(e, NFTA_PAYLOAD_DREG), base = field(e, NFTA_PAYLOAD_BASE);
      auto offset = field(e, NFTA_PAYLOAD_OFFSET), len = field(e, NFTA_PAYLOAD_LEN);
      if (!dreg) continue;
      registers.erase(*dreg);
      if (!base || !offset || !len) continue;
      if (*base == NFT_PAYLOAD_TRANSPORT_HEADER && *offset == 2 && *len == 2) registers[*dreg] = Loaded::port;
      // IPv4's protocol field, IPv6's next header: what iptables-nft loads for -p.
      const bool ip_protocol =
          (rule.family == NFPROTO_IPV4 && *offset == 9) || (rule.family == NFPROTO_IPV6 && *offset == 6);
      if (*base == NFT_PAYLOAD_NETWORK_HEADER && ip_protocol && *len == 1) registers[*dreg] = Loaded::protocol;
    } else if (e.name == "cmp") {
      auto sreg = field(e, NFTA_CMP_SREG), op = field(e, NFTA_CMP_OP);
      auto value = compared_value(e);
      if (!sreg || !op || *op != NFT_CMP_EQ || !value) continue;
      auto loaded = registers.find(*sreg);
      if (loaded == registers.end()) continue;
      if (loaded->second == Loaded::protocol && value->size() == 1) {
        protocol = (*value)[0];
      } else if (loaded->second == Loaded::port && value->size() == 2) {
        rule.ports.push_back({protocol, static_cast<std::uint16_t>(((*value)[0] << 8) | (*value)[1])});
      }
    }
  }
}

NetfilterMessage parse_rule(std::uint8_t family, Bytes attributes) {
  NetfilterMessage out;
  out.kind = NetfilterMessage::Kind::rule;
  NftRuleFacts& rule = out.rule;
  rule.family = family;
  std::vector<Expression> expressions;
  std::string why;
  netlink::Once once(why);
  const bool well_formed = netlink::for_each_attribute(attributes, [&](std::uint16_t type, Bytes b) {
    switch (type) {
      case NFTA_RULE_TABLE: {
        if (!once(0, "NFTA_RULE_TABLE")) return false;
        auto name = name_attribute(b);
        if (!name) return why = "a rule's table name that is empty, unterminated or too long", false;
        rule.table = std::move(*name);
        return true;
      }
      case NFTA_RULE_CHAIN: {
        if (!once(1, "NFTA_RULE_CHAIN")) return false;
        auto name = name_attribute(b);
        if (!name) return why = "a rule's chain name that is empty, unterminated or too long", false;
        rule.chain = std::move(*name);
        return true;
      }
      case NFTA_RULE_HANDLE: {
        if (!once(2, "NFTA_RULE_HANDLE")) return false;
        auto v = be64(b);
        if (!v) return why = "NFTA_RULE_HANDLE not 8 bytes", false;
        rule.handle = *v;
        return true;
      }
      case NFTA_RULE_EXPRESSIONS:
        if (!once(3, "NFTA_RULE_EXPRESSIONS")) return false;
        return netlink::for_each_attribute(b,
                                           [&](std::uint16_t element, Bytes nest) {
                                             if (element != NFTA_LIST_ELEM) return true;
                                             if (expressions.size() == kExpressionsMax)
                                               return why = "a rule of more expressions than a rule can hold", false;
                                             return parse_expression(nest, expressions.emplace_back(), why);
                                           }) ||
               (why.empty() ? (why = "a rule whose expressions overrun it", false) : false);
      default:
        return true;
    }
  });
  if (!why.empty()) return refused_message(why);
  if (!well_formed) return refused_message("a rule whose attributes overrun it");
  if (rule.table.empty() || rule.chain.empty()) return refused_message("a rule without its table or chain");
  find_ports(expressions, rule);
  return out;
}

}  // namespace

NetfilterMessage parse_netfilter_message(const nlmsghdr& message) {
  const std::uint8_t subsystem = NFNL_SUBSYS_ID(message.nlmsg_type);
  const std::uint8_t type = NFNL_MSG_TYPE(message.nlmsg_type);
  const bool conntrack = subsystem == NFNL_SUBSYS_CTNETLINK && type == IPCTNL_MSG_CT_GET_STATS;
  const bool nftables = subsystem == NFNL_SUBSYS_NFTABLES &&
                        (type == NFT_MSG_NEWTABLE || type == NFT_MSG_NEWCHAIN || type == NFT_MSG_NEWRULE);
  if (!conntrack && !nftables) return {};
  const Bytes payload = netlink::payload_of(message);
  if (payload.size() < sizeof(nfgenmsg)) return refused_message("a netfilter message shorter than nfgenmsg");
  nfgenmsg header;
  std::memcpy(&header, payload.data(), sizeof header);
  if (header.version != NFNETLINK_V0) {
    return refused_message("a netfilter message of version " + std::to_string(header.version));
  }
  const Bytes attributes = netlink::attributes_after(payload, sizeof header);
  NetfilterMessage m = conntrack                  ? parse_stats(attributes)
                       : type == NFT_MSG_NEWTABLE ? parse_table(header.nfgen_family, attributes)
                       : type == NFT_MSG_NEWCHAIN ? parse_chain(attributes)
                                                  : parse_rule(header.nfgen_family, attributes);
  m.family = header.nfgen_family;
  return m;
}

}  // namespace netnsd
