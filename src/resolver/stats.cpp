#include "resolver/stats.h"

#include <array>

namespace netnsd {
namespace {

constexpr std::array kFields = {
    StatField{"capacity", "netnsd_capacity", "gauge", "Most namespaces the cache holds.",
              [](const ResolverStats& s) -> std::uint64_t { return s.capacity; }},
    StatField{"namespaces", "netnsd_namespaces", "gauge", "Network namespaces in the cache.",
              [](const ResolverStats& s) -> std::uint64_t { return s.namespaces; }},
    StatField{"evictions", "netnsd_evictions_total", "counter", "Namespaces evicted to stay within capacity.",
              [](const ResolverStats& s) { return s.evictions; }},
    StatField{"lonely_releases", "netnsd_lonely_releases_total", "counter",
              "Lonely namespaces released after the timeout.",
              [](const ResolverStats& s) { return s.lonely_releases; }},
    StatField{"resyncs", "netnsd_resyncs_total", "counter", "Full rescans of the host.",
              [](const ResolverStats& s) { return s.resyncs; }},
    StatField{"handle_capture_failures", "netnsd_handle_capture_failures_total", "counter",
              "Namespaces seen but not opened.", [](const ResolverStats& s) { return s.handle_capture_failures; }},
    StatField{"events", "netnsd_ebpf_events_total", "counter", "eBPF namespace events received.",
              [](const ResolverStats& s) { return s.live.events; }},
    StatField{"ringbuf_drops", "netnsd_ebpf_ringbuf_drops_total", "counter", "eBPF events lost to a full ring buffer.",
              [](const ResolverStats& s) { return s.live.ringbuf_drops; }},
    StatField{"inflight_drops", "netnsd_ebpf_inflight_drops_total", "counter",
              "unshare/setns calls the eBPF side could not follow.",
              [](const ResolverStats& s) { return s.live.inflight_drops; }},
    StatField{"link_events", "netnsd_link_events_total", "counter", "rtnetlink link notifications applied.",
              [](const ResolverStats& s) { return s.live.link_events; }},
    StatField{"netlink_resyncs", "netnsd_netlink_resyncs_total", "counter",
              "Namespaces re-dumped after a netlink overflow.",
              [](const ResolverStats& s) { return s.live.netlink_resyncs; }},
};

}  // namespace

std::span<const StatField> stat_fields() {
  return kFields;
}

}  // namespace netnsd
