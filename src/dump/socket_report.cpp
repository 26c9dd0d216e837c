#include "dump/socket_report.h"

#include <sys/socket.h>

#include <algorithm>
#include <functional>
#include <map>
#include <thread>
#include <tuple>
#include <unordered_map>
#include <unordered_set>

#include "dump/json_encoder.h"
#include "dump/netfilter_report.h"
#include "util/json_writer.h"

namespace netnsd {
namespace {

using SteadyClock = std::chrono::steady_clock;

// The order of a listing: protocol, family, port, address, then inode.
bool socket_order(const InetSocket& a, const InetSocket& b) {
  return std::tie(a.protocol, a.family, a.local_port, a.local, a.inode) <
         std::tie(b.protocol, b.family, b.local_port, b.local, b.inode);
}

std::unordered_set<std::uint64_t> inodes_of(const std::vector<InetSocket>& sockets) {
  std::unordered_set<std::uint64_t> inodes;
  for (const InetSocket& s : sockets) {
    if (s.inode != 0) inodes.insert(s.inode);
  }
  return inodes;
}

// Writes holders with their command and container, each process described
// once per answer.
class HolderWriter {
 public:
  HolderWriter(const DescribeProcess& describe, const SocketOwners& owners) : describe_(describe), owners_(owners) {}

  void write(JsonWriter& out, std::uint64_t inode) {
    auto it = owners_.by_inode.find(inode);
    out.key("held_by").begin_array();
    if (it != owners_.by_inode.end()) {
      for (const SocketHolder& h : it->second.listed) {
        const std::optional<ProcessInfo>& info = describe(h.pid);
        out.begin_object()
            .field("pid", h.pid)
            .field("comm", info ? info->comm : std::string())
            .field("fd", h.fd)
            .field("netns", h.netns)
            .key("container");
        if (info && info->container) {
          write_container(out, *info->container);
        } else {
          out.null();
        }
        out.end_object();
      }
    }
    out.end_array().field("held_by_total", it == owners_.by_inode.end() ? 0u : it->second.total);
  }

 private:
  const std::optional<ProcessInfo>& describe(std::uint32_t pid) {
    auto [it, fresh] = described_.try_emplace(pid);
    if (fresh) it->second = describe_(pid);
    return it->second;
  }

  const DescribeProcess& describe_;
  const SocketOwners& owners_;
  std::unordered_map<std::uint32_t, std::optional<ProcessInfo>> described_;
};

// One socket's own fields (the caller opened the object).
void write_socket_fields(JsonWriter& out, const InetSocket& s, const NamespaceView& ns) {
  out.field("protocol", protocol_text(s.protocol))
      .field("family", s.family == AF_INET ? "ipv4" : "ipv6")
      .field("address", socket_address_text(s))
      .field("port", static_cast<unsigned>(s.local_port))
      .field("state", socket_state_text(s.protocol, s.state))
      .field("v6only", s.v6only)
      .key("device");
  // Bound to one device: its name as the cache knows it.
  auto device = std::find_if(ns.devices.begin(), ns.devices.end(),
                             [&](const Device& d) { return s.ifindex != 0 && d.ifindex == s.ifindex; });
  if (device != ns.devices.end()) {
    out.value(device->name);
  } else {
    out.null();
  }
  out.field("ifindex", s.ifindex == 0 ? std::optional<std::uint32_t>() : std::optional<std::uint32_t>(s.ifindex))
      .field("uid", s.uid)
      .field("inode", s.inode);
}

}  // namespace

void write_owner_walk(JsonWriter& out, const SocketOwners& owners) {
  out.key("owners")
      .begin_object()
      .field("complete", owners.complete)
      .field("processes_read", owners.processes)
      .end_object();
}

void write_socket_listing(JsonWriter& out, const DescribeProcess& describe, const NamespaceView& ns,
                          const std::vector<InetSocket>& listed, const SocketOwners& owners) {
  std::vector<InetSocket> listening;
  // Per protocol, per state: the sockets that do not listen.
  std::map<std::string, std::map<std::string, std::uint64_t>> others;
  for (const InetSocket& s : listed) {
    if (is_listening(s)) {
      listening.push_back(s);
    } else {
      ++others[protocol_text(s.protocol)][socket_state_text(s.protocol, s.state)];
    }
  }
  std::sort(listening.begin(), listening.end(), socket_order);
  HolderWriter holders(describe, owners);
  out.key("listening").begin_array();
  for (const InetSocket& s : listening) {
    out.begin_object();
    write_socket_fields(out, s, ns);
    holders.write(out, s.inode);
    out.end_object();
  }
  out.end_array().key("others").begin_object();
  for (const auto& [protocol, states] : others) {
    out.key(protocol).begin_object();
    for (const auto& [state, count] : states) out.field(state, count);
    out.end_object();
  }
  out.end_object();
}

Result<std::string> namespace_sockets_json(HostView& host, const NamespaceView& ns, WallTime now,
                                           const SocketReportBudgets& budgets) {
  auto listed = host.list_sockets(*ns.handle, SocketScope::all);
  if (!listed) return listed.error();
  std::vector<InetSocket> listening;
  for (const InetSocket& s : *listed) {
    if (is_listening(s)) listening.push_back(s);
  }
  const SocketOwners owners = host.socket_owners(inodes_of(listening), SteadyClock::now() + budgets.owners);
  JsonWriter out(/*pretty=*/false);
  out.begin_object().field("netns", ns.netns).key("names").begin_array();
  for (const std::string& name : ns.names) out.value(name);
  out.end_array().field("at", format_rfc3339_ms(now));
  write_socket_listing(
      out, [&](std::uint32_t pid) { return host.describe_process(pid); }, ns, *listed, owners);
  write_owner_walk(out, owners);
  out.end_object();
  return out.take();
}

namespace {

// Visits the namespaces on `threads` threads at once (each enters
// namespaces on its own: most of a listing is entering the namespace and
// the kernel's dumps) until `deadline`; `visit` is told which thread it runs
// on. Returns how many namespaces were visited.
std::size_t visit_namespaces(const std::vector<NamespaceView>& namespaces, SteadyClock::time_point deadline,
                             std::size_t threads, const std::function<void(std::size_t, const NamespaceView&)>& visit) {
  std::vector<std::size_t> visited(threads);
  auto run = [&](std::size_t part) {
    for (std::size_t i = part; i < namespaces.size(); i += threads) {
      if (SteadyClock::now() >= deadline) break;
      ++visited[part];
      visit(part, namespaces[i]);
    }
  };
  std::vector<std::thread> helpers;
  for (std::size_t part = 1; part < threads; ++part) helpers.emplace_back(run, part);
  run(0);
  for (std::thread& t : helpers) t.join();
  std::size_t total = 0;
  for (std::size_t n : visited) total += n;
  return total;
}

// The rules of every namespace's nat tables that match the port: asked
// only when nothing listens on it, with what is left of the budget.
struct FirewallHint {
  struct Match {
    const NamespaceView* ns;
    PortRule rule;
  };
  std::vector<Match> matches;
  std::size_t examined = 0;
  bool complete = true;
};

FirewallHint find_port_rules(HostView& host, const std::vector<NamespaceView>& namespaces, std::uint16_t port,
                             std::optional<std::uint8_t> protocol, SteadyClock::time_point deadline,
                             std::size_t threads) {
  std::vector<std::vector<FirewallHint::Match>> found(threads);
  std::vector<char> incomplete(threads, 0);
  FirewallHint hint;
  hint.examined = visit_namespaces(namespaces, deadline, threads, [&](std::size_t part, const NamespaceView& ns) {
    // The port rules are nf_tables': the legacy tables (read whole) are not wanted here.
    auto summary = host.nftables(*ns.handle);
    if (!summary) {
      incomplete[part] = 1;
      return;
    }
    if (summary->port_rules_total > summary->port_rules.size() || summary->rules_truncated) incomplete[part] = 1;
    for (const PortRule& r : summary->port_rules) {
      if (r.port == port && (!protocol || r.protocol == 0 || r.protocol == *protocol)) {
        found[part].push_back({&ns, r});
      }
    }
  });
  for (std::size_t part = 0; part < threads; ++part) {
    hint.matches.insert(hint.matches.end(), found[part].begin(), found[part].end());
    if (incomplete[part]) hint.complete = false;
  }
  hint.complete = hint.complete && hint.examined == namespaces.size();
  std::sort(hint.matches.begin(), hint.matches.end(), [](const auto& a, const auto& b) {
    return std::tie(a.ns->netns, a.rule.family, a.rule.table, a.rule.chain, a.rule.handle) <
           std::tie(b.ns->netns, b.rule.family, b.rule.table, b.rule.chain, b.rule.handle);
  });
  return hint;
}

}  // namespace

std::string whois_port_json(HostView& host, const std::vector<NamespaceView>& namespaces, std::uint16_t port,
                            std::optional<std::uint8_t> protocol, NetnsId host_netns, WallTime now,
                            const SocketReportBudgets& budgets) {
  const auto deadline = SteadyClock::now() + budgets.whois;
  struct Match {
    const NamespaceView* ns;
    InetSocket socket;
  };
  const std::size_t threads = std::clamp<std::size_t>(namespaces.size() / 64, 1, defaults::kWhoisThreads);
  std::vector<std::vector<Match>> found(threads);
  std::vector<std::vector<std::pair<NetnsId, std::string>>> failed(threads);
  const std::size_t examined =
      visit_namespaces(namespaces, deadline, threads, [&](std::size_t part, const NamespaceView& ns) {
        auto listed = host.list_sockets(*ns.handle, SocketScope::listening);
        if (!listed) {
          failed[part].emplace_back(ns.netns, listed.error().message());
          return;
        }
        for (const InetSocket& s : *listed) {
          if (s.local_port == port && is_listening(s) && (!protocol || s.protocol == *protocol)) {
            found[part].push_back(Match{&ns, s});
          }
        }
      });
  std::vector<Match> matches;
  std::vector<std::pair<NetnsId, std::string>> errors;
  for (std::size_t part = 0; part < threads; ++part) {
    matches.insert(matches.end(), found[part].begin(), found[part].end());
    errors.insert(errors.end(), failed[part].begin(), failed[part].end());
  }
  // In namespace order, as the cache lists them.
  std::sort(matches.begin(), matches.end(), [](const Match& a, const Match& b) {
    return std::tie(a.ns->netns, a.socket.protocol, a.socket.family, a.socket.local, a.socket.inode) <
           std::tie(b.ns->netns, b.socket.protocol, b.socket.family, b.socket.local, b.socket.inode);
  });
  std::sort(errors.begin(), errors.end());
  std::unordered_set<std::uint64_t> inodes;
  for (const Match& m : matches) {
    if (m.socket.inode != 0) inodes.insert(m.socket.inode);
  }
  const SocketOwners owners = host.socket_owners(inodes, SteadyClock::now() + budgets.owners);
  const DescribeProcess describe = [&](std::uint32_t pid) { return host.describe_process(pid); };
  HolderWriter holders(describe, owners);

  JsonWriter out(/*pretty=*/false);
  out.begin_object()
      .field("port", static_cast<unsigned>(port))
      .field("protocol", protocol ? std::optional<std::string>(protocol_text(*protocol)) : std::nullopt)
      .field("at", format_rfc3339_ms(now))
      .field("complete", examined == namespaces.size() && errors.empty())
      .field("namespaces_examined", examined)
      .field("namespaces_unexamined", namespaces.size() - examined)
      .key("errors")
      .begin_array();
  for (const auto& [netns, error] : errors) out.begin_object().field("netns", netns).field("error", error).end_object();
  out.end_array().key("matches").begin_array();
  for (const Match& m : matches) {
    out.begin_object();
    write_whereabouts(out, *m.ns, host_netns);
    out.key("socket").begin_object();
    write_socket_fields(out, m.socket, *m.ns);
    holders.write(out, m.socket.inode);
    out.end_object().end_object();
  }
  out.end_array();
  // Nothing listens: a firewall may still take the port somewhere (a
  // Kubernetes hostPort or NodePort is a DNAT rule, not a socket).
  out.key("firewall");
  if (matches.empty()) {
    const FirewallHint hint = find_port_rules(host, namespaces, port, protocol, deadline, threads);
    out.begin_object()
        .field("complete", hint.complete)
        .field("namespaces_examined", hint.examined)
        .key("rules")
        .begin_array();
    for (const FirewallHint::Match& m : hint.matches) {
      out.begin_object();
      write_whereabouts(out, *m.ns, host_netns);
      write_port_rule_fields(out, m.rule);
      out.end_object();
    }
    out.end_array().end_object();
  } else {
    out.null();
  }
  write_owner_walk(out, owners);
  out.end_object();
  return out.take();
}

}  // namespace netnsd
