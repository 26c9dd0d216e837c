#include "resolver/stats.h"

#include <array>

namespace netnsd {
namespace {

using S = const ResolverStats&;

// json key, metric, labels, type, help, value.
constexpr std::array kFields = {
    StatField{"capacity", "netnsd_capacity", "", "gauge", "Most namespaces the cache holds.",
              [](S s) -> std::uint64_t { return s.capacity; }},
    StatField{"configured_capacity", "netnsd_capacity_configured", "", "gauge",
              "What --capacity asks for; more than netnsd_capacity when the descriptor budget shrinks it.",
              [](S s) -> std::uint64_t { return s.configured_capacity; }},
    StatField{"max_per_owner", "netnsd_max_per_owner", "", "gauge",
              "Most namespaces cached per owner uid outside the host's user namespace.",
              [](S s) -> std::uint64_t { return s.max_per_owner; }},
    StatField{"max_devices", "netnsd_max_devices", "", "gauge", "Most devices cached per namespace.",
              [](S s) -> std::uint64_t { return s.max_devices; }},
    StatField{"namespaces", "netnsd_namespaces", "", "gauge", "Network namespaces in the cache.",
              [](S s) -> std::uint64_t { return s.namespaces; }},
    StatField{"unprivileged_namespaces", "netnsd_namespaces_unprivileged", "", "gauge",
              "Cached namespaces owned by a user namespace other than the host's.",
              [](S s) -> std::uint64_t { return s.unprivileged_namespaces; }},
    StatField{"not_cached", "netnsd_namespaces_not_cached", "", "gauge",
              "Namespaces the last scan saw that the cache does not hold.",
              [](S s) -> std::uint64_t { return s.not_cached; }},
    StatField{"namespaces_over_device_cap", "netnsd_namespaces_over_device_cap", "", "gauge",
              "Namespaces holding more devices than are cached.",
              [](S s) -> std::uint64_t { return s.namespaces_over_device_cap; }},
    StatField{"evictions", "", "", "", "", [](S s) -> std::uint64_t { return s.evictions; }},
    StatField{"evictions_capacity", "netnsd_evictions_total", "{reason=\"capacity\"}", "counter",
              "Namespaces evicted, by reason: capacity (the cache was full), owner_share (their owner's share was).",
              [](S s) -> std::uint64_t { return s.evictions_capacity; }},
    StatField{"evictions_owner_share", "netnsd_evictions_total", "{reason=\"owner_share\"}", "counter", "",
              [](S s) -> std::uint64_t { return s.evictions_owner_share; }},
    StatField{"refusals_capacity", "netnsd_capture_refusals_total", "{reason=\"capacity\"}", "counter",
              "Namespaces not cached: no room for their owner.",
              [](S s) -> std::uint64_t { return s.refusals_capacity; }},
    StatField{"devices_refused", "netnsd_devices_refused_total", "", "counter",
              "Devices not cached: their namespace was at the device cap.",
              [](S s) -> std::uint64_t { return s.devices_refused; }},
    StatField{"lonely_releases", "netnsd_lonely_releases_total", "", "counter",
              "Lonely namespaces released after the timeout.", [](S s) -> std::uint64_t { return s.lonely_releases; }},
    StatField{"resyncs", "netnsd_resyncs_total", "", "counter", "Full rescans of the host.",
              [](S s) -> std::uint64_t { return s.resyncs; }},
    StatField{"handle_capture_failures", "netnsd_handle_capture_failures_total", "", "counter",
              "Namespaces seen but not opened.", [](S s) -> std::uint64_t { return s.handle_capture_failures; }},
    StatField{"netlink_rejected_foreign", "netnsd_netlink_rejected_total", "{reason=\"foreign\"}", "counter",
              "Netlink messages dropped, by reason: foreign (not sent by the kernel), sequence (answering no "
              "request of ours), policy (an attribute of the wrong type or length).",
              [](S s) -> std::uint64_t { return s.netlink_rejected_foreign; }},
    StatField{"netlink_rejected_sequence", "netnsd_netlink_rejected_total", "{reason=\"sequence\"}", "counter", "",
              [](S s) -> std::uint64_t { return s.netlink_rejected_sequence; }},
    StatField{"netlink_rejected_policy", "netnsd_netlink_rejected_total", "{reason=\"policy\"}", "counter", "",
              [](S s) -> std::uint64_t { return s.netlink_rejected_policy; }},
    StatField{"events", "netnsd_ebpf_events_total", "", "counter", "eBPF namespace events received.",
              [](S s) -> std::uint64_t { return s.live.events; }},
    StatField{"ringbuf_drops", "netnsd_ebpf_ringbuf_drops_total", "", "counter",
              "eBPF events lost to a full ring buffer.", [](S s) -> std::uint64_t { return s.live.ringbuf_drops; }},
    StatField{"inflight_drops", "netnsd_ebpf_inflight_drops_total", "", "counter",
              "unshare/setns calls the eBPF side could not follow.",
              [](S s) -> std::uint64_t { return s.live.inflight_drops; }},
    StatField{"link_events", "netnsd_link_events_total", "", "counter", "rtnetlink link notifications applied.",
              [](S s) -> std::uint64_t { return s.live.link_events; }},
    StatField{"netlink_resyncs", "netnsd_netlink_resyncs_total", "", "counter",
              "Namespaces re-dumped after a netlink overflow.",
              [](S s) -> std::uint64_t { return s.live.netlink_resyncs; }},
    StatField{"exit_watch_fallbacks", "netnsd_exit_watch_fallbacks_total", "", "counter",
              "Process exits left to a timed presence pass: too many were being watched.",
              [](S s) -> std::uint64_t { return s.live.exit_watch_fallbacks; }},
    StatField{"loop_netlink_calls", "netnsd_event_thread_netlink_total", "", "counter",
              "Netlink requests the event thread made itself: a new namespace's first listing, a new veth end's "
              "peer.",
              [](S s) -> std::uint64_t { return s.live.loop_netlink_calls; }},
    StatField{"loop_netlink_us", "netnsd_event_thread_netlink_seconds_total", "", "counter",
              "Time the event thread spent in those requests.",
              [](S s) -> std::uint64_t { return s.live.loop_netlink_us; }, 1e-6},
};

}  // namespace

std::span<const StatField> stat_fields() {
  return kFields;
}

}  // namespace netnsd
