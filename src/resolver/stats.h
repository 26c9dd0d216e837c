// What the cache reports about itself: its state and counters, and the one
// list of numbers that both the dump's "resolver" section and GET /metrics
// are generated from.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace netnsd {

// Counters the live event sources keep; the resolver only carries them so
// that one stats() call describes the whole cache.
struct LiveCounters {
  std::uint64_t events = 0;           // eBPF namespace events received
  std::uint64_t ringbuf_drops = 0;    // eBPF records lost to a full ring buffer
  std::uint64_t inflight_drops = 0;   // unshare/setns calls the eBPF side could not follow
  std::uint64_t link_events = 0;      // rtnetlink link messages applied
  std::uint64_t netlink_resyncs = 0;  // namespaces re-dumped after ENOBUFS
};

struct ResolverStats {
  bool ready = false;           // the initial scan has completed
  bool degraded = false;        // running without eBPF events
  std::string degraded_reason;  // why, when degraded
  std::size_t capacity = 0;
  std::int64_t lonely_timeout_s = 0;
  std::size_t namespaces = 0;
  std::uint64_t evictions = 0;
  std::uint64_t lonely_releases = 0;
  std::uint64_t resyncs = 0;
  std::uint64_t handle_capture_failures = 0;
  LiveCounters live;
};

// One number of ResolverStats, as the dump (JSON key) and /metrics
// (Prometheus name, type and help) show it.
struct StatField {
  std::string_view json_key;
  std::string_view metric;
  std::string_view type;  // "gauge" or "counter"
  std::string_view help;
  std::uint64_t (*read)(const ResolverStats&);
};

// Every numeric field, in the order the dump writes them.
std::span<const StatField> stat_fields();

}  // namespace netnsd
