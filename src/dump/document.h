// The dump document: everything one POST /dump reports, before encoding.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "resolver/facts.h"
#include "resolver/host.h"
#include "resolver/model.h"
#include "resolver/stats.h"
#include "util/clock.h"
#include "util/result.h"

namespace netnsd {

// A live listing of one namespace's interfaces compared with the cache.
struct InterfaceSnapshot {
  std::vector<Device> devices;
  std::optional<std::string> error;               // the listing failed; devices is empty
  std::vector<std::uint32_t> missing_from_cache;  // live, not cached
  std::vector<std::uint32_t> stale_in_cache;      // cached, no longer live
};

// The instant a dump describes: now, or (at=) one in the past read from the
// history journal; inside a gap nothing was observed and the state is the
// last one known before it.
struct DumpInstant {
  WallTime at;
  bool observed = true;
  bool past = false;  // from the journal, not the live cache
  std::optional<WallTime> gap_from, gap_to;
  std::string gap_reason;
};

// What POST /dump include= adds to each namespace of the netnsd schema:
// read when the dump is made (routes and neighbours from the store that
// keeps them live, the rest from the kernel), never recorded.
struct DumpIncludes {
  bool routes = false;  // routes and policy rules
  bool neighbours = false;
  bool sockets = false;
  bool conntrack = false;
  bool firewall = false;
  bool any() const { return routes || neighbours || sockets || conntrack || firewall; }
};

struct NamespaceExtras {
  bool read = false;                    // false: the dump's budget ran out before this namespace
  std::optional<NamespaceFacts> facts;  // routes or neighbours asked for; nullopt: not kept (--no-routes)
  std::optional<Result<std::vector<InetSocket>>> sockets;
  std::optional<Result<ConntrackCount>> conntrack;
  std::optional<Result<FirewallSummary>> firewall;
};

struct DumpDocument {
  WallTime generated_at;
  std::optional<DumpInstant> as_of;  // unset: the live cache at generated_at
  HostInfo host;
  bool snapshot_interfaces = false;
  ResolverStats resolver;
  std::vector<NamespaceView> namespaces;           // sorted by inode
  std::map<NetnsId, InterfaceSnapshot> snapshots;  // when snapshot_interfaces
  DumpIncludes include;
  std::map<NetnsId, NamespaceExtras> extras;                    // when include.any()
  SocketOwners owners;                                          // of every namespace's listening sockets, one walk
  std::map<std::uint32_t, std::optional<ProcessInfo>> holders;  // each holder described once
  std::map<NetnsId, std::vector<Route>> default_routes;         // the live cache's, for the graph
};

constexpr int kDumpSchemaVersion = 1;

}  // namespace netnsd
