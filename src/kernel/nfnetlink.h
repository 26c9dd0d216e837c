// nfnetlink: a namespace's conntrack count and nf_tables firewall, read on
// demand.
#pragma once

#include <string_view>

#include "kernel/netlink_channel.h"
#include "resolver/netfilter.h"
#include "util/result.h"

namespace netnsd {

// A NETLINK_NETFILTER socket, bound to the namespace it was created in.
// Replies go through the NetlinkChannel's trust rules (kernel-sent,
// sequence-checked) and nfnetlink_parse.h's policies; refusals are counted
// in the NetlinkCounters given at open.
//
// Not thread-safe: one thread uses a socket at a time.
class NfnetlinkSocket {
 public:
  // A socket in the namespace behind `netns_fd` (entered on this thread only
  // for the socket() call), `netns` for logs.
  static Result<NfnetlinkSocket> open_in(int netns_fd, NetnsId netns = 0, NetlinkCounters* counters = nullptr);

  // ctnetlink's statistics: the namespace's entries and nf_conntrack_max.
  // Never asked when it would load a module (loaded stays false).
  Result<ConntrackCount> conntrack();
  // nf_tables' tables, chains and rules of every family, the rules counted
  // per chain (at most kFirewallRulesRead read) and those of tables with a
  // nat chain that match a port kept (at most kFirewallPortRulesKept).
  // Empty when nf_tables is not loaded and asking would load it.
  Result<FirewallSummary> nftables();

 private:
  explicit NfnetlinkSocket(NetlinkChannel channel) : channel_(std::move(channel)) {}
  // Sends one request of nfnetlink `type` (NFNL_SUBSYS << 8 | message) and
  // hands each parsed reply on.
  Status ask(std::uint16_t type, bool dump, const std::function<void(const struct NetfilterMessage&)>& on_message);

  NetlinkChannel channel_;
};

// Whether asking the kernel for what `module` provides could load it: it
// is not loaded (`sys_module`/NAME), not built in (`lib_modules`/
// modules.builtin lists it), and the kernel has modules it could load
// (`lib_modules` exists). A kernel built without modules loads none.
bool asking_would_load(std::string_view module, const std::string& sys_module = "/sys/module",
                       const std::string& lib_modules = "");

}  // namespace netnsd
