#include "api/namespace_metrics.h"

#include <sys/socket.h>

#include <algorithm>
#include <map>
#include <unordered_map>

#include "api/telemetry.h"

namespace netnsd {
namespace {

// Series per device: its info, up, MTU and eight counters.
constexpr std::size_t kSeriesPerDevice = 11;

std::size_t series_of(const NamespaceView& ns) {
  std::size_t n = 1 + ns.containers.size() + kSeriesPerDevice * ns.devices.size();
  for (const Device& d : ns.devices) n += d.addresses.size();
  return n;
}

const Device* device_at(const std::vector<Device>& devices, std::uint32_t ifindex) {
  auto it = std::lower_bound(devices.begin(), devices.end(), ifindex,
                             [](const Device& d, std::uint32_t i) { return d.ifindex < i; });
  return it != devices.end() && it->ifindex == ifindex ? &*it : nullptr;
}

// The pod a namespace belongs to: the first of its containers that names one.
const ContainerRef* pod_of(const NamespaceView& ns) {
  for (const ContainerRef& c : ns.containers) {
    if (!c.pod_name.empty()) return &c;
  }
  return nullptr;
}

// ',name="value"' (the value escaped), to append to a label list.
void add_label(std::string& labels, std::string_view name, std::string_view value) {
  if (!labels.empty()) labels += ',';
  labels.append(name).append("=\"").append(label_value(value)).append("\"");
}

std::string braced(const std::string& labels) {
  return "{" + labels + "}";
}

// Administratively up and, as far as the kernel says, working: lo and many
// virtual devices report their operational state as unknown while they work.
bool is_up(const Device& d) {
  return d.up && (d.operstate == OperState::up || d.operstate == OperState::unknown);
}

struct Counter {
  const char* name;
  const char* help;
  std::uint64_t LinkStats::*field;
};

constexpr Counter kCounters[] = {
    {"netnsd_device_receive_bytes_total", "Bytes received by the device (IFLA_STATS64).", &LinkStats::rx_bytes},
    {"netnsd_device_transmit_bytes_total", "Bytes transmitted by the device.", &LinkStats::tx_bytes},
    {"netnsd_device_receive_packets_total", "Packets received by the device.", &LinkStats::rx_packets},
    {"netnsd_device_transmit_packets_total", "Packets transmitted by the device.", &LinkStats::tx_packets},
    {"netnsd_device_receive_errors_total", "Receive errors of the device.", &LinkStats::rx_errors},
    {"netnsd_device_transmit_errors_total", "Transmit errors of the device.", &LinkStats::tx_errors},
    {"netnsd_device_receive_drops_total", "Received packets the device dropped.", &LinkStats::rx_dropped},
    {"netnsd_device_transmit_drops_total", "Packets to transmit the device dropped.", &LinkStats::tx_dropped},
};

}  // namespace

NamespaceMetrics::NamespaceMetrics(Resolver& resolver, HostView& host, const Clock& clock, NetnsId host_netns,
                                   std::string node, NamespaceMetricsOptions options)
    : resolver_(resolver),
      host_(host),
      clock_(clock),
      host_netns_(host_netns),
      node_(std::move(node)),
      options_(options) {}

std::shared_ptr<const std::string> NamespaceMetrics::exposition() {
  auto fresh = [&]() -> std::shared_ptr<const std::string> {
    std::lock_guard lock(mutex_);
    if (text_ && clock_.steady() - refreshed_at_ < options_.min_interval) return text_;
    return nullptr;
  };
  if (auto text = fresh()) return text;
  std::unique_lock refreshing(refreshing_, std::defer_lock);
  if (!refreshing.try_lock_for(options_.refresh_wait)) {
    std::lock_guard lock(mutex_);
    ++stats_.stale_answers;
    return text_ ? text_ : std::make_shared<const std::string>();
  }
  if (auto text = fresh()) return text;  // refreshed by the scrape we waited for
  return refresh();
}

std::shared_ptr<const std::string> NamespaceMetrics::refresh() {
  const SteadyTime started = clock_.steady();
  const std::vector<NamespaceView> views = resolver_.snapshot();
  std::unordered_map<NetnsId, const NamespaceView*> by_inode;
  by_inode.reserve(views.size());
  for (const NamespaceView& ns : views) by_inode.emplace(ns.netns, &ns);

  // Within the cap: whole namespaces are left out, those owned outside the
  // host's user namespace first, then the largest; never the host's own.
  std::vector<std::size_t> series(views.size());
  std::size_t total = 0;
  for (std::size_t i = 0; i < views.size(); ++i) total += series[i] = series_of(views[i]);
  std::vector<bool> dropped(views.size(), false);
  std::size_t series_dropped = 0, namespaces_dropped = 0;
  if (total > options_.max_series) {
    std::vector<std::size_t> order;
    for (std::size_t i = 0; i < views.size(); ++i) {
      if (views[i].netns != host_netns_) order.push_back(i);
    }
    auto host_owned = [&](std::size_t i) { return !views[i].handle || views[i].handle->owner.host; };
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
      if (host_owned(a) != host_owned(b)) return !host_owned(a);
      return series[a] > series[b];
    });
    for (std::size_t i : order) {
      if (total <= options_.max_series) break;
      dropped[i] = true;
      total -= series[i];
      series_dropped += series[i];
      ++namespaces_dropped;
    }
  }

  // One link dump per namespace kept: the counters, state and MTU now.
  std::uint64_t dumps = 0, errors = 0;
  std::vector<std::vector<Device>> live(views.size());
  for (std::size_t i = 0; i < views.size(); ++i) {
    if (dropped[i] || !views[i].handle) continue;
    ++dumps;
    auto links = host_.link_counters(*views[i].handle, views[i].netns);
    if (!links) {
      ++errors;
      continue;
    }
    live[i] = std::move(links.value());
    std::sort(live[i].begin(), live[i].end(), [](const Device& a, const Device& b) { return a.ifindex < b.ifindex; });
  }

  MetricsWriter out(node_.empty() ? std::string() : "node=\"" + node_ + "\"");
  // Each family's samples are written in one pass, so that families come
  // out whole and in this order.
  out.family("netnsd_netns_info", "gauge",
             "One per cached network namespace: its inode, cookie, ip-netns names, owner and pod. Always 1.");
  out.family("netnsd_netns_container_info", "gauge",
             "One per container with a process in a namespace (a pod's containers share one). Always 1.");
  out.family("netnsd_device_info", "gauge",
             "One per device: its kind, MAC, master and veth peer (namespace and device). Always 1.");
  out.family("netnsd_device_up", "gauge", "1 when the device is up and its operational state up (or unknown).");
  out.family("netnsd_device_mtu_bytes", "gauge", "The device's MTU.");
  for (const Counter& c : kCounters) out.family(c.name, "counter", c.help);
  out.family("netnsd_address_info", "gauge", "One per address of a device, with the pod of its namespace. Always 1.");

  for (std::size_t i = 0; i < views.size(); ++i) {
    if (dropped[i]) continue;
    const NamespaceView& ns = views[i];
    const std::string netns = std::to_string(ns.netns);
    const ContainerRef* pod = pod_of(ns);
    std::string names;
    for (const std::string& name : ns.names) names += (names.empty() ? "" : ",") + name;

    std::string labels;
    add_label(labels, "netns", netns);
    add_label(labels, "netns_cookie", ns.handle && ns.handle->cookie ? std::to_string(ns.handle->cookie) : "");
    add_label(labels, "netns_name", names);
    add_label(labels, "owner_uid", ns.handle ? std::to_string(ns.handle->owner.uid) : "");
    add_label(labels, "host_owned", !ns.handle || ns.handle->owner.host ? "true" : "false");
    add_label(labels, "pod", pod ? pod->pod_name : "");
    add_label(labels, "namespace", pod ? pod->pod_namespace : "");
    out.family("netnsd_netns_info", "", "");
    out.integer("netnsd_netns_info", braced(labels), 1);

    out.family("netnsd_netns_container_info", "", "");
    for (const ContainerRef& c : ns.containers) {
      labels.clear();
      add_label(labels, "netns", netns);
      add_label(labels, "container", c.name);
      add_label(labels, "container_id", c.id);
      add_label(labels, "runtime", c.runtime);
      add_label(labels, "pod", c.pod_name);
      add_label(labels, "namespace", c.pod_namespace);
      out.integer("netnsd_netns_container_info", braced(labels), 1);
    }

    for (const Device& d : ns.devices) {
      std::string device;
      add_label(device, "netns", netns);
      add_label(device, "device", d.name);
      const Device* now = device_at(live[i], d.ifindex);

      labels = device;
      add_label(labels, "ifindex", std::to_string(d.ifindex));
      add_label(labels, "kind", d.kind);
      add_label(labels, "mac", d.mac);
      const Device* master = d.master ? device_at(ns.devices, *d.master) : nullptr;
      add_label(labels, "master", master ? master->name : "");
      std::string peer_netns, peer_device;
      if (d.peer) {
        const NetnsId where = d.peer->netns.value_or(d.peer->nsid ? 0 : ns.netns);
        if (where) peer_netns = std::to_string(where);
        auto it = by_inode.find(where);
        if (it != by_inode.end()) {
          if (const Device* p = device_at(it->second->devices, d.peer->ifindex)) peer_device = p->name;
        }
      }
      add_label(labels, "peer_netns", peer_netns);
      add_label(labels, "peer_device", peer_device);
      out.family("netnsd_device_info", "", "");
      out.integer("netnsd_device_info", braced(labels), 1);

      const std::string brace = braced(device);
      const Device& state = now ? *now : d;
      out.family("netnsd_device_up", "", "");
      out.integer("netnsd_device_up", brace, is_up(state) ? 1 : 0);
      out.family("netnsd_device_mtu_bytes", "", "");
      out.integer("netnsd_device_mtu_bytes", brace, state.mtu);
      if (now && now->stats) {
        for (const Counter& c : kCounters) {
          out.family(c.name, "", "");
          out.integer(c.name, brace, (*now->stats).*c.field);
        }
      }

      out.family("netnsd_address_info", "", "");
      const Address* last = nullptr;
      for (const Address& a : d.addresses) {
        // Two point-to-point addresses may differ only in their peer: one
        // series (a repeated label set would fail the whole scrape).
        if (last && last->family == a.family && last->local == a.local && last->prefix_len == a.prefix_len) continue;
        last = &a;
        labels = device;
        add_label(labels, "address", address_text(a));
        add_label(labels, "prefix_length", std::to_string(a.prefix_len));
        add_label(labels, "family", a.family == AF_INET6 ? "inet6" : "inet");
        add_label(labels, "pod", pod ? pod->pod_name : "");
        add_label(labels, "namespace", pod ? pod->pod_namespace : "");
        out.integer("netnsd_address_info", braced(labels), 1);
      }
    }
  }

  auto text = std::make_shared<const std::string>(out.take());
  std::lock_guard lock(mutex_);
  text_ = text;
  refreshed_at_ = clock_.steady();
  ++stats_.refreshes;
  stats_.link_dumps += dumps;
  stats_.link_dump_errors += errors;
  stats_.series = total;
  stats_.series_dropped = series_dropped;
  stats_.namespaces_dropped = namespaces_dropped;
  stats_.refresh_seconds = std::chrono::duration<double>(refreshed_at_ - started).count();
  return text;
}

NamespaceMetricsStats NamespaceMetrics::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

void NamespaceMetrics::write_stats(MetricsWriter& out) const {
  const NamespaceMetricsStats s = stats();
  out.sample("netnsd_metrics_series", "", "gauge", "Per-namespace series in the last refresh (--metrics-namespaces).",
             static_cast<double>(s.series));
  out.sample("netnsd_metrics_series_dropped", "", "gauge",
             "Per-namespace series left out of the last refresh by --metrics-max-series.",
             static_cast<double>(s.series_dropped));
  out.sample("netnsd_metrics_namespaces_dropped", "", "gauge",
             "Namespaces whose series were left out of the last refresh by --metrics-max-series.",
             static_cast<double>(s.namespaces_dropped));
  out.sample("netnsd_metrics_refreshes_total", "", "counter",
             "Refreshes of the per-namespace series (at most one per --metrics-min-interval).",
             static_cast<double>(s.refreshes));
  out.sample("netnsd_metrics_link_dumps_total", "", "counter",
             "Link dumps taken for the per-namespace counters (one per namespace per refresh).",
             static_cast<double>(s.link_dumps));
  out.sample("netnsd_metrics_link_dump_errors_total", "", "counter",
             "Link dumps that failed (a namespace gone, say): its series went out without counters.",
             static_cast<double>(s.link_dump_errors));
  out.sample("netnsd_metrics_stale_answers_total", "", "counter",
             "Scrapes that waited for another's refresh too long and got the previous series.",
             static_cast<double>(s.stale_answers));
  out.sample("netnsd_metrics_refresh_seconds", "", "gauge", "How long the last refresh took.", s.refresh_seconds);
}

}  // namespace netnsd
