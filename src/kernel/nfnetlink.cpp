#include "kernel/nfnetlink.h"

#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/netlink.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/utsname.h>

#include <fstream>
#include <map>
#include <tuple>

#include "kernel/netns.h"
#include "kernel/nfnetlink_parse.h"
#include "util/defaults.h"

namespace netnsd {
namespace {

// A kernel without the subsystem asked for (no connection tracking, no
// nf_tables) answers so: there is nothing to read, which is not a failure.
bool subsystem_missing(const Status& st) {
  return !st && (st.error().code == EINVAL || st.error().code == EOPNOTSUPP || st.error().code == ENOENT);
}

}  // namespace

Result<NfnetlinkSocket> NfnetlinkSocket::open_in(int netns_fd, NetnsId netns, NetlinkCounters* counters) {
  auto made = run_in_netns(netns_fd, [&] { return NetlinkChannel::open(NETLINK_NETFILTER, netns, counters); });
  if (!made) return made.error();
  if (!*made) return made->error();
  // A reply that never comes (a kernel that answers otherwise than this
  // expects) costs an API worker this long, not forever.
  const timeval timeout{defaults::kNfnetlinkReplyTimeout.count(), 0};
  if (::setsockopt((*made)->fd(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout) != 0) {
    return Error::os("set the netfilter socket's receive timeout");
  }
  return NfnetlinkSocket(std::move(made->value()));
}

Status NfnetlinkSocket::ask(std::uint16_t type, bool dump,
                            const std::function<void(const NetfilterMessage&)>& on_message) {
  struct {
    nlmsghdr header;
    nfgenmsg request;
  } message{};
  message.header.nlmsg_len = sizeof message;
  message.header.nlmsg_type = type;
  // ctnetlink marks even its single statistics reply NLM_F_MULTI, and ends
  // it with no DONE: the acknowledgement that follows ends it instead.
  message.header.nlmsg_flags = NLM_F_REQUEST | (dump ? NLM_F_DUMP : NLM_F_ACK);
  message.request.nfgen_family = AF_UNSPEC;  // every family
  message.request.version = NFNETLINK_V0;
  if (Status st = channel_.send(&message.header); !st) return st;
  return channel_.request(
      message.header.nlmsg_seq,
      [&](const nlmsghdr& h) {
        NetfilterMessage m = parse_netfilter_message(h);
        if (m.kind == NetfilterMessage::Kind::refused) {
          channel_.refused(&NetlinkCounters::policy, m.refusal);
        } else if (m.kind != NetfilterMessage::Kind::other) {
          on_message(m);
        }
      },
      nullptr);
}

Result<ConntrackCount> NfnetlinkSocket::conntrack() {
  ConntrackCount count;
  if (asking_would_load("nf_conntrack") || asking_would_load("nf_conntrack_netlink")) return count;
  bool answered = false;
  Status st = ask(NFNL_SUBSYS_CTNETLINK << 8 | IPCTNL_MSG_CT_GET_STATS, /*dump=*/false, [&](const NetfilterMessage& m) {
    if (m.kind != NetfilterMessage::Kind::conntrack_stats) return;
    count.entries = m.entries;
    count.max = m.max;
    answered = true;
  });
  if (subsystem_missing(st)) return count;
  if (!st) return Error{st.error().code, "conntrack statistics: " + st.error().context};
  count.loaded = answered;
  return count;
}

Result<FirewallSummary> NfnetlinkSocket::nftables() {
  FirewallSummary summary;
  if (asking_would_load("nf_tables")) return summary;
  using Key = std::tuple<std::uint8_t, std::string>;  // family, table
  std::map<Key, std::size_t> table_at;
  std::map<std::tuple<std::uint8_t, std::string, std::string>, NftChain*> chain_at;
  Status st = ask(NFNL_SUBSYS_NFTABLES << 8 | NFT_MSG_GETTABLE, /*dump=*/true, [&](const NetfilterMessage& m) {
    if (m.kind != NetfilterMessage::Kind::table) return;
    if (table_at.emplace(Key{m.family, m.table.name}, summary.tables.size()).second) summary.tables.push_back(m.table);
  });
  if (subsystem_missing(st)) return summary;
  if (!st) return Error{st.error().code, "nf_tables tables: " + st.error().context};
  st = ask(NFNL_SUBSYS_NFTABLES << 8 | NFT_MSG_GETCHAIN, /*dump=*/true, [&](const NetfilterMessage& m) {
    if (m.kind != NetfilterMessage::Kind::chain) return;
    auto t = table_at.find(Key{m.family, m.chain_table});
    if (t == table_at.end()) return;  // made after the tables were listed
    summary.tables[t->second].chains.push_back(m.chain);
  });
  if (!st) return Error{st.error().code, "nf_tables chains: " + st.error().context};
  // Pointers only once every chain is in place.
  std::map<Key, bool> nat_table;
  for (NftTable& t : summary.tables) {
    for (NftChain& c : t.chains) {
      chain_at[{t.family, t.name, c.name}] = &c;
      if (c.type == "nat") nat_table[Key{t.family, t.name}] = true;
    }
  }
  std::uint64_t read = 0;
  st = ask(NFNL_SUBSYS_NFTABLES << 8 | NFT_MSG_GETRULE, /*dump=*/true, [&](const NetfilterMessage& m) {
    if (m.kind != NetfilterMessage::Kind::rule || ++read > defaults::kFirewallRulesRead) return;
    const NftRuleFacts& r = m.rule;
    auto c = chain_at.find({m.family, r.table, r.chain});
    if (c == chain_at.end()) return;
    ++c->second->rules;
    ++summary.nft_rules;
    if (!nat_table.count(Key{m.family, r.table})) return;
    for (const NftRuleFacts::Port& p : r.ports) {
      ++summary.port_rules_total;
      if (summary.port_rules.size() < defaults::kFirewallPortRulesKept) {
        summary.port_rules.push_back({m.family, r.table, r.chain, r.handle, p.protocol, p.port});
      }
    }
  });
  if (!st) return Error{st.error().code, "nf_tables rules: " + st.error().context};
  summary.rules_truncated = read > defaults::kFirewallRulesRead;
  return summary;
}

bool asking_would_load(std::string_view module, const std::string& sys_module, const std::string& lib_modules) {
  struct stat st;
  if (::stat((sys_module + "/" + std::string(module)).c_str(), &st) == 0) return false;  // loaded
  std::string modules = lib_modules;
  if (modules.empty()) {
    utsname u{};
    ::uname(&u);
    modules = std::string("/lib/modules/") + u.release;
  }
  if (::stat(modules.c_str(), &st) != 0) return false;  // nothing it could load
  std::ifstream builtin(modules + "/modules.builtin");
  std::string line;
  std::string suffix = "/";
  suffix.append(module).append(".ko");
  while (std::getline(builtin, line)) {
    if (line.size() >= suffix.size() && line.compare(line.size() - suffix.size(), suffix.size(), suffix) == 0) {
      return false;  // built in
    }
  }
  return true;
}

}  // namespace netnsd
