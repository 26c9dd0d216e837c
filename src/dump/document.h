// The dump document: everything one POST /dump reports, before encoding.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "resolver/host.h"
#include "resolver/model.h"
#include "resolver/stats.h"
#include "util/clock.h"

namespace netnsd {

// A live listing of one namespace's interfaces compared with the cache.
struct InterfaceSnapshot {
  std::vector<Device> devices;
  std::optional<std::string> error;               // the listing failed; devices is empty
  std::vector<std::uint32_t> missing_from_cache;  // live, not cached
  std::vector<std::uint32_t> stale_in_cache;      // cached, no longer live
};

struct DumpDocument {
  WallTime generated_at;
  HostInfo host;
  bool snapshot_interfaces = false;
  ResolverStats resolver;
  std::vector<NamespaceView> namespaces;           // sorted by inode
  std::map<NetnsId, InterfaceSnapshot> snapshots;  // when snapshot_interfaces
};

constexpr int kDumpSchemaVersion = 1;

}  // namespace netnsd
