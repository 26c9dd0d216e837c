// NamespaceMetrics: every cached namespace, its devices, their counters and
// addresses as Prometheus series (--metrics-namespaces), for a fleet's
// Prometheus to join across nodes.
//
// Series (every one also labelled `node` by the writer they go to):
//   netnsd_netns_info{netns, netns_cookie, netns_name, owner_uid, host_owned, pod, namespace}  1, one per namespace
//   netnsd_netns_container_info{netns, container, container_id, runtime, pod, namespace}      1, one per container
//   netnsd_device_info{netns, device, ifindex, kind, mac, master, peer_netns, peer_device}   1
//   netnsd_device_up, netnsd_device_mtu_bytes{netns, device}
//   netnsd_device_{receive,transmit}_{bytes,packets,errors,drops}_total{netns, device}
//   netnsd_address_info{netns, device, address, prefix_length, family, pod, namespace}       1
// Labels follow cAdvisor and kube-state-metrics where they overlap (`pod`,
// `namespace` is Kubernetes', `container`); `netns` is the inode, and
// `netns_cookie` keeps a reused inode from merging two namespaces' series.
//
// Costs: the info series come from the cache; the counters from one link
// dump per namespace (no addresses), taken at most every min_interval
// however many scrape, on the scraping worker (the metrics lane, never the
// probes'). A scrape that finds another refreshing waits for it at most
// refresh_wait, then takes the last text. Beyond max_series, whole
// namespaces are left out: those owned outside the host's user namespace
// first, then the largest; the host's own never. Counted
// (netnsd_metrics_series_dropped).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "resolver/host.h"
#include "resolver/resolver.h"
#include "util/clock.h"
#include "util/defaults.h"

namespace netnsd {

class MetricsWriter;

struct NamespaceMetricsOptions {
  std::chrono::milliseconds min_interval = defaults::kMetricsMinInterval;
  std::chrono::milliseconds refresh_wait = defaults::kMetricsRefreshWait;
  std::size_t max_series = defaults::kMetricsMaxSeries;
};

struct NamespaceMetricsStats {
  std::uint64_t refreshes = 0;         // link dumps of every namespace taken
  std::uint64_t link_dumps = 0;        // one per namespace per refresh
  std::uint64_t link_dump_errors = 0;  // a namespace gone, say: its info series stay, without counters
  std::uint64_t stale_answers = 0;     // scrapes that waited refresh_wait and took the last text
  std::size_t series = 0;              // in the last refresh
  std::size_t series_dropped = 0;      // left out by max_series in the last refresh
  std::size_t namespaces_dropped = 0;
  double refresh_seconds = 0;  // how long the last refresh took
};

// Threading: every method from any thread.
class NamespaceMetrics {
 public:
  // `node` is the node label's value, escaped (label_value); `host_netns` the
  // host's own namespace, never dropped.
  NamespaceMetrics(Resolver& resolver, HostView& host, const Clock& clock, NetnsId host_netns, std::string node,
                   NamespaceMetricsOptions options = {});

  // The per-namespace series, as exposition text with their HELP and TYPE
  // lines, at most min_interval old (see above).
  std::shared_ptr<const std::string> exposition();
  // Its own numbers (refreshes, link dumps, series, dropped) for /metrics.
  void write_stats(MetricsWriter& out) const;
  NamespaceMetricsStats stats() const;

 private:
  std::shared_ptr<const std::string> refresh();

  Resolver& resolver_;
  HostView& host_;
  const Clock& clock_;
  const NetnsId host_netns_;
  const std::string node_;
  const NamespaceMetricsOptions options_;

  std::timed_mutex refreshing_;  // one refresh at a time
  mutable std::mutex mutex_;     // guards what follows
  std::shared_ptr<const std::string> text_;
  SteadyTime refreshed_at_{};
  NamespaceMetricsStats stats_;
};

}  // namespace netnsd
