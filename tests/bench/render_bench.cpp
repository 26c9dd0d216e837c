// The cost of rendering the dump's graph in-process (src/dump/graph_render.h),
// which sets defaults::kMaxRenderedNodes: synthetic dumps shaped like a
// container host, N namespaces each with lo and an eth0 veth whose peer is
// in the host's namespace, enslaved to one bridge there. For each N it
// encodes the dump to DOT (dump_to_dot, as the API does) and times
// render_dot to SVG and to PNG. Graphs over the limit are timed with the
// limit lifted and marked "refused": what the limit saves.
//
// usage: render_bench [--runs R] [N...]   (default: 100 250 375 500 750 1000, 3 runs)
// Prints a markdown table on stdout, progress on stderr. Needs no privilege.
// Each size runs in a process of its own, so that its memory figures are its own.
// Those are the caller's: render_dot forks a child per render, whose memory
// (over 100 MiB at the limit, Graphviz's leaks included) goes with it, so
// "leaked per render" shows what the caller keeps (0).
#include <malloc.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include "dump/dot_encoder.h"
#include "dump/graph_render.h"

namespace {

using netnsd::Device;
using netnsd::DumpDocument;
using netnsd::NamespaceView;

constexpr netnsd::NetnsId kHostNetns = 4026531840;

std::string mac(std::uint32_t n) {
  char buf[18];
  std::snprintf(buf, sizeof buf, "02:42:ac:%02x:%02x:%02x", (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff);
  return buf;
}

Device device(std::uint32_t ifindex, std::string name, std::string kind, std::uint32_t n) {
  Device d;
  d.ifindex = ifindex;
  d.name = std::move(name);
  d.kind = std::move(kind);
  d.mtu = 1500;
  d.up = true;
  d.operstate = netnsd::OperState::up;
  d.mac = mac(n);
  return d;
}

netnsd::Address ipv4(std::uint32_t host, std::uint8_t prefix_len) {
  netnsd::Address a;
  a.family = AF_INET;
  a.prefix_len = prefix_len;
  a.local = {10, static_cast<std::uint8_t>(host >> 16), static_cast<std::uint8_t>(host >> 8),
             static_cast<std::uint8_t>(host)};
  return a;
}

// A container's namespace: a name and a container as the runtime's state
// would give them, lo, and eth0 with an address, peered to the host.
NamespaceView container(std::uint32_t i, std::uint32_t host_ifindex) {
  NamespaceView ns;
  ns.netns = kHostNetns + 1000 + i;
  ns.pids = 1;
  netnsd::ContainerRef c;
  c.runtime = "containerd";
  c.id = std::string(64, 'a' + i % 6);
  c.name = "app-" + std::to_string(i);
  c.pod_name = "app-" + std::to_string(i) + "-7d9f8b6c5-x2k4q";
  c.pod_namespace = "default";
  ns.containers = {c};
  Device lo = device(1, "lo", "", 0);
  lo.mac.clear();
  Device eth = device(2, "eth0", "veth", i + 1);
  eth.peer = netnsd::LinkRef{host_ifindex, kHostNetns, 0};
  eth.addresses = {ipv4(i + 2, 16)};
  ns.devices = {lo, eth};
  return ns;
}

DumpDocument container_host(std::uint32_t n) {
  DumpDocument doc;
  doc.host = {"bench", "6.1.0", kHostNetns, 4026531837};
  NamespaceView host;
  host.netns = kHostNetns;
  host.pids = 200;
  Device lo = device(1, "lo", "", 0);
  lo.mac.clear();
  Device bridge = device(3, "cni0", "bridge", 0xfffffe);
  bridge.addresses = {ipv4(1, 16)};
  host.devices = {lo, device(2, "eth0", "", 0xffffff), bridge};
  doc.namespaces.push_back(host);
  for (std::uint32_t i = 0; i < n; ++i) {
    std::uint32_t host_ifindex = 4 + i;
    Device end = device(host_ifindex, "veth" + std::to_string(i), "veth", 0x800000 + i);
    end.master = 3;
    end.peer = netnsd::LinkRef{2, kHostNetns + 1000 + i, static_cast<std::int32_t>(i)};
    doc.namespaces[0].devices.push_back(end);
    doc.namespaces.push_back(container(i, host_ifindex));
  }
  return doc;
}

// "VmRSS" (now) or "VmHWM" (the peak since reset_peak_rss), in MiB.
double status_mib(const std::string& field) {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind(field + ":", 0) == 0) return std::strtod(line.c_str() + field.size() + 1, nullptr) / 1024;
  }
  return 0;
}

void reset_peak_rss() {
  std::ofstream("/proc/self/clear_refs") << "5";
}

struct Timing {
  double median_ms = 0;
  std::size_t bytes = 0;
  double peak_mib = 0;  // the process's peak RSS during these renders
  std::string error;
};

Timing time_render(const std::string& dot, netnsd::ImageFormat format, int runs) {
  std::vector<double> ms;
  Timing t;
  reset_peak_rss();
  for (int r = 0; r < runs; ++r) {
    auto start = std::chrono::steady_clock::now();
    auto image = netnsd::render_dot(dot, format, std::numeric_limits<std::size_t>::max());
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
    if (!image) {
      t.error = image.error().message();
      return t;
    }
    t.bytes = image->size();
  }
  std::sort(ms.begin(), ms.end());
  t.median_ms = ms[ms.size() / 2];
  t.peak_mib = status_mib("VmHWM");
  return t;
}

std::string cell(const Timing& t) {
  if (!t.error.empty()) return "failed: " + t.error;
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.0f", t.median_ms);
  return buf;
}

std::size_t count(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (auto pos = text.find(needle); pos != std::string::npos; pos = text.find(needle, pos + 1)) ++n;
  return n;
}

// One row of the table. The first render, with the default limit, says
// whether the API would render this graph (its RSS is the daemon's after
// one render); the timed ones lift the limit. What stays allocated after
// them is what Graphviz leaks (its dot layout does, with clusters).
void measure(std::uint32_t n, int runs) {
  std::string dot = netnsd::dump_to_dot(container_host(n));
  auto guarded = netnsd::render_dot(dot, netnsd::ImageFormat::svg);
  double rss_first = status_mib("VmRSS");
  // A refusal's context is the sentence the API answers with (422).
  std::fprintf(stderr, "N=%u: %s\n", n, guarded ? "rendered" : guarded.error().context.c_str());
  // Set-up (fonts, the PNG renderer's plugin) is paid before the leak is measured.
  const std::string small = netnsd::dump_to_dot(container_host(2));
  if (!netnsd::render_dot(small, netnsd::ImageFormat::svg) || !netnsd::render_dot(small, netnsd::ImageFormat::png)) {
    std::fprintf(stderr, "N=%u: a small graph does not render\n", n);
    std::_Exit(1);
  }
  std::size_t in_use = mallinfo2().uordblks;
  Timing svg = time_render(dot, netnsd::ImageFormat::svg, runs);
  Timing png = time_render(dot, netnsd::ImageFormat::png, runs);
  double leaked_kib = (double(mallinfo2().uordblks) - double(in_use)) / (2.0 * runs) / 1024;
  auto unguarded = netnsd::render_dot(dot, netnsd::ImageFormat::svg, std::numeric_limits<std::size_t>::max());
  std::size_t nodes = unguarded ? count(*unguarded, "class=\"node\"") : 0;
  std::printf("| %u | %zu | %zu | %s | %s | %s | %zu | %zu | %.1f | %.1f | %.1f | %.0f |\n", n, nodes, dot.size(),
              guarded ? "rendered" : "refused", cell(svg).c_str(), cell(png).c_str(), svg.bytes, png.bytes, rss_first,
              svg.peak_mib, png.peak_mib, leaked_kib);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  int runs = 3;
  std::vector<std::uint32_t> sizes;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--runs") == 0 && i + 1 < argc) {
      runs = std::max(1, std::atoi(argv[++i]));
    } else {
      sizes.push_back(static_cast<std::uint32_t>(std::strtoul(argv[i], nullptr, 10)));
    }
  }
  if (sizes.empty()) sizes = {100, 250, 375, 500, 750, 1000};

  std::printf("limit: %zu nodes (defaults::kMaxRenderedNodes); medians of %d runs; RSS before any render %.1f MiB\n\n",
              netnsd::defaults::kMaxRenderedNodes, runs, status_mib("VmRSS"));
  std::printf(
      "| N | nodes | DOT bytes | limit | svg ms | png ms | svg bytes | png bytes | RSS after 1st render, MiB "
      "| peak RSS svg, MiB | peak RSS png, MiB | leaked per render, KiB |\n");
  std::printf("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n");
  std::fflush(stdout);
  // Each size in a fresh process: Graphviz's caches and leaks do not carry over.
  for (std::uint32_t n : sizes) {
    pid_t child = fork();
    if (child == 0) {
      measure(n, runs);
      std::_Exit(0);
    }
    int status = 0;
    if (child < 0 || waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      std::fprintf(stderr, "N=%u: the measuring process failed\n", n);
      return 1;
    }
  }
  return 0;
}
