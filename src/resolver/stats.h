// What the cache reports about itself: its state and counters, and the one
// list of numbers that both the dump's "resolver" section and GET /metrics
// are generated from.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace netnsd {

// Counters the live event sources keep; the resolver only carries them so
// that one stats() call describes the whole cache.
struct LiveCounters {
  std::uint64_t events = 0;                // eBPF namespace events received
  std::uint64_t ringbuf_drops = 0;         // eBPF records lost to a full ring buffer
  std::uint64_t inflight_drops = 0;        // unshare/setns calls the eBPF side could not follow
  std::uint64_t link_events = 0;           // rtnetlink link messages applied
  std::uint64_t netlink_resyncs = 0;       // namespaces re-dumped after ENOBUFS
  std::uint64_t exit_watch_fallbacks = 0;  // exits left to a timed presence pass (too many watched)
  // Netlink requests the event thread makes itself, beside applying
  // changes: a new namespace's first listing and its peers' nsids, the
  // listing that finds a new veth end's peer. How many, and the time spent.
  std::uint64_t loop_netlink_calls = 0;
  std::uint64_t loop_netlink_us = 0;
};

// Netlink messages refused, counted by the kernel adapters that refuse them
// (from any thread); the resolver holds one set so that stats() reports them.
struct NetlinkCounters {
  std::atomic<std::uint64_t> foreign{0};   // datagrams not from the kernel (nl_pid != 0)
  std::atomic<std::uint64_t> sequence{0};  // replies matching no request of ours
  std::atomic<std::uint64_t> policy{0};    // messages that broke an attribute policy, dropped whole
};

// What the resolver counts itself, held as it counts them and reported as
// they are (ResolverStats is one).
struct CacheCounters {
  std::uint64_t evictions_capacity = 0;
  std::uint64_t evictions_owner_share = 0;
  std::uint64_t refusals_capacity = 0;
  std::uint64_t devices_refused = 0;
  std::uint64_t lonely_releases = 0;
  std::uint64_t resyncs = 0;
  std::uint64_t handle_capture_failures = 0;
};

struct ResolverStats : CacheCounters {
  bool ready = false;           // the initial scan has completed
  bool degraded = false;        // running without eBPF events
  std::string degraded_reason;  // why, when degraded
  // Why the cache may not be the whole host (the fd budget, the device cap,
  // namespaces left out); each is a sentence for /readyz and the dump.
  std::vector<std::string> limits;
  std::size_t capacity = 0;             // what the cache holds at most
  std::size_t configured_capacity = 0;  // what --capacity asked for
  std::size_t max_per_owner = 0;
  std::size_t max_devices = 0;
  std::int64_t lonely_timeout_s = 0;
  std::size_t namespaces = 0;
  std::size_t unprivileged_namespaces = 0;  // owned by a user namespace other than the host's
  std::size_t not_cached = 0;               // seen by the last scan, not in the cache
  std::size_t namespaces_over_device_cap = 0;
  std::uint64_t evictions = 0;  // all reasons
  std::uint64_t netlink_rejected_foreign = 0;
  std::uint64_t netlink_rejected_sequence = 0;
  std::uint64_t netlink_rejected_policy = 0;
  LiveCounters live;
};

// One number of ResolverStats, as the dump (JSON key) and /metrics
// (Prometheus name, labels, type and help) show it. Fields sharing a metric
// name differ by their labels and come one after another.
struct StatField {
  std::string_view json_key;
  std::string_view metric;
  std::string_view labels;  // '{reason="source"}', or empty
  std::string_view type;    // "gauge" or "counter"
  std::string_view help;
  std::uint64_t (*read)(const ResolverStats&);
  double metric_scale = 1;  // the metric's unit per the JSON's (1e-6: microseconds as seconds)
};

// Every numeric field, in the order the dump writes them.
std::span<const StatField> stat_fields();

}  // namespace netnsd
