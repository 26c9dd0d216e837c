// Sockets on demand: one namespace's (GET /v1/namespaces/{netns}/sockets)
// and every namespace's listeners on one port (GET /v1/whois?port=), each
// listening socket with the processes that hold it, in whatever namespace
// they live, and their containers.
//
// Nothing here is cached: sockets are listed with sock_diag when asked
// (HostView::list_sockets) and their holders found by one walk over every
// process's descriptors (HostView::socket_owners), bounded in time; an
// answer that ran out of time says so rather than wait.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "resolver/host.h"
#include "util/clock.h"
#include "util/defaults.h"
#include "util/json_writer.h"
#include "util/result.h"

namespace netnsd {

struct SocketReportBudgets {
  std::chrono::milliseconds owners = defaults::kSocketOwnersBudget;  // the descriptor walk
  std::chrono::milliseconds whois = defaults::kWhoisPortBudget;      // listing every namespace
};

// The sockets of namespace `ns` as JSON: its listening TCP/UDP (and SCTP)
// sockets with their holders, and how many others there are per protocol
// and state. Fails when the kernel would not list them.
Result<std::string> namespace_sockets_json(HostView& host, const NamespaceView& ns, WallTime now,
                                           const SocketReportBudgets& budgets = {});

// "listening" (each with its holders, from `owners`) and "others" (counted
// per protocol and state) of one namespace's sockets `listed`: for one
// namespace's answer and for each namespace of a dump with include=sockets,
// whose holders come from one walk over the processes.
using DescribeProcess = std::function<std::optional<ProcessInfo>(std::uint32_t pid)>;
void write_socket_listing(JsonWriter& out, const DescribeProcess& describe, const NamespaceView& ns,
                          const std::vector<InetSocket>& listed, const SocketOwners& owners);
// "owners": how complete the walk over the processes' descriptors was.
void write_owner_walk(JsonWriter& out, const SocketOwners& owners);

// Every cached namespace with a socket listening on `port` (TCP, UDP or
// SCTP; only `protocol` when given), with its holders, as JSON. Namespaces
// are listed until the budget runs out; the answer says how many were not.
std::string whois_port_json(HostView& host, const std::vector<NamespaceView>& namespaces, std::uint16_t port,
                            std::optional<std::uint8_t> protocol, NetnsId host_netns, WallTime now,
                            const SocketReportBudgets& budgets = {});

}  // namespace netnsd
