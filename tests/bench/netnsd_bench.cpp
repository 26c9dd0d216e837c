// netnsd side by side with what a user would run instead and with the
// netlink floor, in one run, interleaved. See tests/bench/README.md.
//
// For each size N it grows a topology of N namespaces with `ip -batch`
// (ip netns add; a veth pair to the host in each of the first 1000 and in
// every 5th after them; a bridge in every 50th), lets a running netnsd pick
// them up from events, then measures:
//   - POST /dump: stream and files, with and without snapshot_interfaces;
//   - `ip -all netns exec ip -j addr show` and `lsns -t net -J`;
//   - netlink_floor: one rtnetlink socket per namespace, dumps only;
//   - freshness of a device (ip link add) and of a namespace (ip netns add,
//     unshare -n): from the command's start to visibility through the API;
//   - netnsd's RSS and descriptors, and their growth per cached namespace;
//   - GET /healthz latency from 32 keep-alive clients while dumps run;
//   - the initial scan: a fresh netnsd on its defaults started with the N
//     namespaces present: time to /readyz, /healthz meanwhile, what it
//     caches, its descriptors, RSS and time to exit.
// Every netnsd it starts runs under the unit's LimitNOFILE (16384). Above
// 1000 namespaces only the netnsd being measured runs: the two beside it
// (no journal; per-namespace metrics) are stopped first, and what needs them
// is left out.
// Everything it creates is removed at exit, on SIGINT/SIGTERM too.
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <httplib.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "util/defaults.h"

extern char** environ;

namespace {

using Steady = std::chrono::steady_clock;
using nlohmann::json;

struct Options {
  std::vector<int> sizes = {100, 1000};
  int runs = 10;
  int ip_all_runs = 10;
  int fresh = 200;
  // Above kBigSize namespaces: one `ip -all netns exec` at 10,000 takes a
  // minute or more, and every other sample costs ten times what it does at
  // 1000.
  int big_runs = 5;
  int big_ip_all_runs = 2;
  int big_fresh = 100;
  int clients = 32;
  double load_seconds = 5;
  std::string netnsd;
  std::string floor;
};

// Past this many namespaces a size is "big": fewer samples, and only the
// netnsd being measured runs (see main).
constexpr int kBigSize = 1000;

// What one size measures: its samples.
struct Plan {
  bool big = false;
  int runs = 0;
  int ip_all_runs = 0;
  int fresh = 0;
};

Plan plan_for(const Options& o, int n) {
  const bool big = n > kBigSize;
  return Plan{big, big ? o.big_runs : o.runs, big ? o.big_ip_all_runs : o.ip_all_runs, big ? o.big_fresh : o.fresh};
}

// The shipped unit's LimitNOFILE (deploy/systemd/netnsd.service): every
// netnsd the bench starts runs under it, soft and hard.
constexpr int kUnitNofile = 16384;

// A bound for work proportional to the namespaces: `base` plus `per_ns` for
// each of `n`.
Steady::duration scaled(std::chrono::seconds base, std::chrono::milliseconds per_ns, int n) {
  return base + per_ns * n;
}

// --- what we create, and removing it ------------------------------------

std::string g_prefix;  // every namespace we create is named g_prefix + something
std::string g_dir;     // netnsd's socket and dump directory
pid_t g_netnsd = -1;
// The same netnsd without its history journal, beside it: the baseline of
// what the journal costs the freshness of the cache.
pid_t g_plain = -1;
pid_t g_metrics = -1;  // with --metrics-namespaces
std::vector<pid_t> g_children;

std::string base36(unsigned long v) {
  static const char* digits = "0123456789abcdefghijklmnopqrstuvwxyz";
  std::string s;
  do {
    s.insert(s.begin(), digits[v % 36]);
    v /= 36;
  } while (v);
  return s;
}

std::string ns_name(int i) {
  return g_prefix + std::to_string(i);
}
// The host's end of namespace i's veth: every one we make starts so.
std::string host_end_prefix() {
  return "nb" + base36(static_cast<unsigned long>(getpid()) % 46656) + "x";
}
std::string host_end(int i) {
  return host_end_prefix() + base36(static_cast<unsigned long>(i));
}

int run(const std::vector<std::string>& argv, bool quiet = true) {
  std::vector<char*> raw;
  for (const auto& a : argv) raw.push_back(const_cast<char*>(a.c_str()));
  raw.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (quiet) {
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  }
  pid_t pid;
  int rc = posix_spawnp(&pid, raw[0], &actions, nullptr, raw.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) return -1;
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string capture(const std::vector<std::string>& argv) {
  int p[2];
  if (pipe(p) != 0) return "";
  std::vector<char*> raw;
  for (const auto& a : argv) raw.push_back(const_cast<char*>(a.c_str()));
  raw.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, p[1], 1);
  posix_spawn_file_actions_addclose(&actions, p[0]);
  pid_t pid;
  int rc = posix_spawnp(&pid, raw[0], &actions, nullptr, raw.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(p[1]);
  std::string out;
  char buf[4096];
  ssize_t n;
  while (rc == 0 && (n = read(p[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
  close(p[0]);
  if (rc == 0) waitpid(pid, nullptr, 0);
  return out;
}

std::vector<std::string> entries_with_prefix(const char* dir, const std::string& prefix) {
  std::vector<std::string> names;
  if (DIR* d = opendir(dir)) {
    while (dirent* e = readdir(d)) {
      if (std::string(e->d_name).rfind(prefix, 0) == 0) names.push_back(e->d_name);
    }
    closedir(d);
  }
  return names;
}

std::vector<std::string> our_namespaces() {
  return entries_with_prefix("/run/netns", g_prefix);
}

// Host veth ends still there. Deleting a namespace takes its veth (both
// ends) only once nothing holds it, and any netnsd on the host (not only
// ours) holds every namespace until its lonely timeout has passed: deleting
// the host ends takes the veths at once.
std::vector<std::string> our_host_ends() {
  return entries_with_prefix("/sys/class/net", host_end_prefix());
}

void cleanup() {
  static std::atomic<bool> done{false};
  if (done.exchange(true)) return;
  for (pid_t child : g_children) kill(child, SIGKILL);
  for (pid_t daemon : {g_netnsd, g_plain, g_metrics}) {
    if (daemon <= 0) continue;
    kill(daemon, SIGTERM);
    waitpid(daemon, nullptr, 0);
  }
  // One `ip -batch` for all of it: a process per namespace would take
  // minutes at 10,000.
  const auto ends = our_host_ends();
  const auto names = our_namespaces();
  if (!ends.empty() || !names.empty()) {
    const auto start = std::chrono::steady_clock::now();
    std::string batch = "/tmp/" + g_prefix + "del.batch";
    std::ofstream f(batch);
    for (const auto& e : ends) f << "link del " << e << "\n";
    for (const auto& n : names) f << "netns del " << n << "\n";
    f.close();
    run({"ip", "-force", "-batch", batch});
    unlink(batch.c_str());
    std::fprintf(stderr, "== removed %zu host veths and %zu namespaces in %.1f s\n", ends.size(), names.size(),
                 std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  if (!g_dir.empty()) run({"rm", "-rf", g_dir});
}

void on_signal(int) {
  cleanup();
  _exit(130);
}

// --- numbers ---------------------------------------------------------------

double ms(Steady::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  std::size_t i = static_cast<std::size_t>(p / 100.0 * static_cast<double>(v.size()));
  return v[std::min(i, v.size() - 1)];
}

std::string fmt(double v) {
  char buf[32];
  if (v >= 100) {
    std::snprintf(buf, sizeof buf, "%.0f", v);
  } else if (v >= 10) {
    std::snprintf(buf, sizeof buf, "%.1f", v);
  } else {
    std::snprintf(buf, sizeof buf, "%.2f", v);
  }
  return buf;
}

// --- talking to netnsd -------------------------------------------------------

std::string socket_path() {
  return g_dir + "/netnsd.sock";
}

std::string plain_socket_path() {
  return g_dir + "/plain.sock";
}

std::string metrics_socket_path() {
  return g_dir + "/metrics.sock";
}

httplib::Client client(bool keep_alive = false, const std::string& socket = socket_path()) {
  httplib::Client c(socket);
  c.set_address_family(AF_UNIX);
  c.set_keep_alive(keep_alive);
  c.set_read_timeout(300, 0);
  return c;
}

// One sample of GET /metrics by its series name (without the node label
// every sample has); -1 when absent.
double metric(const std::string& series, const std::string& socket = socket_path()) {
  auto res = client(false, socket).Get("/metrics");
  if (!res || res->status != 200) return -1;
  std::istringstream lines(res->body);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] == '#') continue;
    const std::size_t node = line.find("node=\"");
    if (node != std::string::npos) {
      const std::size_t end = line.find('"', node + 6);
      const bool alone = line.compare(end + 1, 1, "}") == 0;
      line.erase(alone ? node - 1 : node, alone ? end + 2 - (node - 1) : end + 2 - node);
    }
    if (line.rfind(series + " ", 0) == 0) return std::atof(line.c_str() + series.size() + 1);
  }
  return -1;
}

// The namespaces netnsd caches (netnsd_namespaces): asked of /metrics, not
// of the whole cache as JSON, which at 10,000 namespaces is megabytes to
// serialise each time the bench polls it.
std::size_t cached_count(const std::string& socket = socket_path()) {
  const double n = metric("netnsd_namespaces", socket);
  return n < 0 ? 0 : static_cast<std::size_t>(n);
}

// The resolver's own numbers (the dump's "resolver" section), by JSON key.
double resolver_stat(const std::string& key) {
  auto res = client().Get("/v1/namespaces");
  if (!res || res->status != 200) return -1;
  return json::parse(res->body)["resolver"].value(key, -1.0);
}

long rss_kib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  }
  return 0;
}

int fd_count(pid_t pid) {
  int n = 0;
  if (DIR* d = opendir(("/proc/" + std::to_string(pid) + "/fd").c_str())) {
    while (dirent* e = readdir(d)) n += e->d_name[0] != '.';
    closedir(d);
  }
  return n;
}

// --- the topology ---------------------------------------------------------------

// Whether namespace i has a veth to the host: each of the first 1000, then
// every 5th (2,800 host ends at 10,000 namespaces; as many as 10,000 would
// make the host's own device table, not the namespaces, the subject).
constexpr int kEveryVethUpTo = 1000;
bool has_host_veth(int i) {
  return i < kEveryVethUpTo || i % 5 == 0;
}

// Namespaces [from, to): the namespaces and veths in one `ip -batch` (not a
// process per namespace), then a bridge with the veth end enslaved in every
// 50th, one `ip -n NS -batch` each. Returns how long it took, in ms.
double grow_topology(int from, int to) {
  auto start = Steady::now();
  std::string batch = g_dir + "/grow.batch";
  {
    std::ofstream f(batch);
    for (int i = from; i < to; ++i) {
      f << "netns add " << ns_name(i) << "\n";
      if (has_host_veth(i)) {
        f << "link add " << host_end(i) << " type veth peer name eth0 netns " << ns_name(i) << "\n";
      }
    }
  }
  if (run({"ip", "-batch", batch}) != 0) {
    std::fprintf(stderr, "ip -batch failed\n");
    std::exit(1);
  }
  const double namespaces_ms = ms(Steady::now() - start);
  std::string bridge = g_dir + "/bridge.batch";
  {
    std::ofstream f(bridge);
    f << "link add br0 type bridge\n";
    f << "link set eth0 master br0\n";
  }
  int bridges = 0;
  for (int i = from; i < to; ++i) {
    if (i % 50 != 0) continue;  // every 50th has a host veth too
    run({"ip", "-n", ns_name(i), "-batch", bridge});
    ++bridges;
  }
  const double total_ms = ms(Steady::now() - start);
  std::fprintf(stderr, "   ip -batch of %d namespaces: %.1f s; %d bridges: %.1f s\n", to - from, namespaces_ms / 1000,
               bridges, (total_ms - namespaces_ms) / 1000);
  return total_ms;
}

std::uint64_t inode_of(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 ? st.st_ino : 0;
}

// --- measurements ---------------------------------------------------------------------

using Samples = std::map<std::string, std::vector<double>>;

// One request on a fresh connection, read to the end as fast as the socket
// allows: the measuring client must not be the slow part (cpp-httplib's
// client reads 4 KiB at a time and took 20 ms of a 70 ms dump).
std::string raw_post(const std::string& path, const std::string& body) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", socket_path().c_str());
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return "";
  std::string request = "POST " + path + " HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n" +
                        "Content-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
  if (write(fd, request.data(), request.size()) != static_cast<ssize_t>(request.size())) return "";
  std::string answer;
  std::vector<char> buf(1 << 20);
  ssize_t n;
  while ((n = read(fd, buf.data(), buf.size())) > 0) answer.append(buf.data(), static_cast<std::size_t>(n));
  close(fd);
  return answer;
}

double time_dump(const std::string& body, bool files) {
  auto start = Steady::now();
  std::string answer = raw_post("/v1/dump", body);
  double took = ms(Steady::now() - start);
  if (answer.rfind("HTTP/1.1 200", 0) != 0) {
    std::fprintf(stderr, "dump failed: %s\n", answer.substr(0, 300).c_str());
    std::exit(1);
  }
  if (files) {
    json paths = json::parse(answer.substr(answer.find("\r\n\r\n") + 4));
    unlink(paths["dump_filename"].get<std::string>().c_str());
    unlink(paths["graph_filename"].get<std::string>().c_str());
  }
  return took;
}

double time_command(const std::vector<std::string>& argv) {
  auto start = Steady::now();
  if (run(argv) != 0) std::fprintf(stderr, "%s failed\n", argv[0].c_str());
  return ms(Steady::now() - start);
}

// The floor's own timing: its dump loop only, sockets already open. The
// floor of a snapshot lists links with counters and addresses; links only
// (without counters) is what a scan needs.
double time_floor(const Options& o, bool links_only = false, int threads = 1) {
  std::vector<std::string> argv = {o.floor, "--dir", "/run/netns", "--prefix", g_prefix, "/proc/self/ns/net"};
  if (links_only) argv.insert(argv.begin() + 1, "--links-only");
  if (threads > 1) argv.insert(argv.begin() + 1, {"--threads", std::to_string(threads)});
  std::string out = capture(argv);
  return std::atof(out.c_str()) / 1000.0;
}

// Polls GET path until its body contains `needle` (or just 200 when empty).
bool visible(httplib::Client& cli, const std::string& path, const std::string& needle) {
  auto res = cli.Get(path);
  return res && res->status == 200 && (needle.empty() || res->body.find(needle) != std::string::npos);
}

double wait_visible(httplib::Client& cli, Steady::time_point start, const std::string& path,
                    const std::string& needle) {
  while (!visible(cli, path, needle)) {
    if (Steady::now() - start > std::chrono::seconds(10)) {
      std::fprintf(stderr, "never visible: %s %s\n", path.c_str(), needle.c_str());
      return ms(Steady::now() - start);
    }
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  return ms(Steady::now() - start);
}

// --- creating a veth over rtnetlink, as `ip link add` does, minus starting a
// process (which at 1000 namespaces takes 6-8 ms on its own: `ip -n` copies
// the mount namespace).

struct NlBuilder {
  alignas(nlmsghdr) char buf[1024] = {};
  nlmsghdr* h = reinterpret_cast<nlmsghdr*>(buf);
  NlBuilder(std::uint16_t type, std::uint16_t flags) {
    h->nlmsg_len = NLMSG_LENGTH(sizeof(ifinfomsg));
    h->nlmsg_type = type;
    h->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
  }
  nlattr* put(std::uint16_t type, const void* data, std::size_t len) {
    auto* a = reinterpret_cast<nlattr*>(buf + NLMSG_ALIGN(h->nlmsg_len));
    a->nla_type = type;
    a->nla_len = static_cast<std::uint16_t>(NLA_HDRLEN + len);
    if (len) std::memcpy(reinterpret_cast<char*>(a) + NLA_HDRLEN, data, len);
    h->nlmsg_len = NLMSG_ALIGN(h->nlmsg_len) + NLA_ALIGN(a->nla_len);
    return a;
  }
  nlattr* begin(std::uint16_t type) { return put(type, nullptr, 0); }
  void end(nlattr* a) { a->nla_len = static_cast<std::uint16_t>(buf + h->nlmsg_len - reinterpret_cast<char*>(a)); }
};

bool nl_request(int fd, NlBuilder& m) {
  if (send(fd, m.buf, m.h->nlmsg_len, 0) < 0) return false;
  char reply[4096];
  ssize_t n = recv(fd, reply, sizeof reply, 0);
  auto* r = reinterpret_cast<nlmsghdr*>(reply);
  return n > 0 && r->nlmsg_type == NLMSG_ERROR && reinterpret_cast<nlmsgerr*>(NLMSG_DATA(r))->error == 0;
}

bool nl_add_veth(int fd, const std::string& name, const std::string& peer) {
  NlBuilder m(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
  m.put(IFLA_IFNAME, name.c_str(), name.size() + 1);
  nlattr* info = m.begin(IFLA_LINKINFO);
  m.put(IFLA_INFO_KIND, "veth", 5);
  nlattr* data = m.begin(IFLA_INFO_DATA);
  nlattr* peer_attr = m.begin(VETH_INFO_PEER);
  ifinfomsg peer_ifi{};
  std::memcpy(m.buf + NLMSG_ALIGN(m.h->nlmsg_len), &peer_ifi, sizeof peer_ifi);
  m.h->nlmsg_len = NLMSG_ALIGN(m.h->nlmsg_len) + sizeof peer_ifi;
  m.put(IFLA_IFNAME, peer.c_str(), peer.size() + 1);
  m.end(peer_attr);
  m.end(data);
  m.end(info);
  return nl_request(fd, m);
}

// The ifindex of device `name` (RTM_GETLINK by name), or 0.
int nl_ifindex(int fd, const std::string& name) {
  NlBuilder m(RTM_GETLINK, 0);
  m.h->nlmsg_flags = NLM_F_REQUEST;
  m.put(IFLA_IFNAME, name.c_str(), name.size() + 1);
  if (send(fd, m.buf, m.h->nlmsg_len, 0) < 0) return 0;
  alignas(nlmsghdr) char reply[8192];
  ssize_t n = recv(fd, reply, sizeof reply, 0);
  auto* r = reinterpret_cast<nlmsghdr*>(reply);
  if (n <= 0 || r->nlmsg_type != RTM_NEWLINK) return 0;
  return reinterpret_cast<ifinfomsg*>(NLMSG_DATA(r))->ifi_index;
}

// Adds (or deletes) an IPv4 /32 on device `ifindex`, as `ip addr add` does.
bool nl_address(int fd, bool add, int ifindex, std::uint32_t address_be) {
  NlBuilder m(add ? RTM_NEWADDR : RTM_DELADDR, add ? NLM_F_CREATE | NLM_F_EXCL : 0);
  m.h->nlmsg_len = NLMSG_LENGTH(sizeof(ifaddrmsg));
  auto* ifa = reinterpret_cast<ifaddrmsg*>(NLMSG_DATA(m.h));
  *ifa = ifaddrmsg{};
  ifa->ifa_family = AF_INET;
  ifa->ifa_prefixlen = 32;
  ifa->ifa_index = static_cast<unsigned>(ifindex);
  m.put(IFA_LOCAL, &address_be, 4);
  m.put(IFA_ADDRESS, &address_be, 4);
  return nl_request(fd, m);
}

bool nl_del_link(int fd, const std::string& name) {
  NlBuilder m(RTM_DELLINK, 0);
  m.put(IFLA_IFNAME, name.c_str(), name.size() + 1);
  return nl_request(fd, m);
}

// A NETLINK_ROUTE socket inside the named namespace.
int route_socket_in(const std::string& ns) {
  int home = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
  int target = open(("/run/netns/" + ns).c_str(), O_RDONLY | O_CLOEXEC);
  int fd = -1;
  if (home >= 0 && target >= 0 && setns(target, CLONE_NEWNET) == 0) {
    fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (setns(home, CLONE_NEWNET) != 0) std::exit(1);
  }
  if (home >= 0) close(home);
  if (target >= 0) close(target);
  return fd;
}

// `fresh` samples of each kind (five times that of a device's). With
// `with_plain`, device samples alternate with the netnsd without a journal.
void freshness(int fresh, int n, bool with_plain, Samples& s) {
  auto cli = client(true);
  auto plain = client(true, plain_socket_path());
  // The device appears in the kernel: measured from the RTM_NEWLINK request,
  // in turn on netnsd and on the netnsd without a journal (both see every
  // device; one is timed per sample).
  // Five times the other measures' samples: the ratio of two p99s is
  // all tail.
  std::map<int, int> sockets;
  for (int k = 0; k < 10 * fresh; ++k) {
    const bool journal = k % 2 == 0;
    if (!journal && !with_plain) continue;
    int i = (k / 2) % n;
    if (!sockets.count(i)) sockets[i] = route_socket_in(ns_name(i));
    std::string inode = std::to_string(inode_of("/run/netns/" + ns_name(i)));
    std::string dev = "fk" + base36(static_cast<unsigned long>(k));
    auto start = Steady::now();
    if (!nl_add_veth(sockets[i], dev, dev + "p")) std::fprintf(stderr, "RTM_NEWLINK %s failed\n", dev.c_str());
    s[journal ? "device (RTM_NEWLINK)" : "device (RTM_NEWLINK), journal off"].push_back(
        wait_visible(journal ? cli : plain, start, "/v1/namespaces/" + inode, "\"" + dev + "\""));
    nl_del_link(sockets[i], dev);
  }
  // An address appears on a device: measured from the RTM_NEWADDR request.
  for (int k = 0; k < fresh; ++k) {
    int i = k % n;
    std::string inode = std::to_string(inode_of("/run/netns/" + ns_name(i)));
    std::string dev = "fa" + base36(static_cast<unsigned long>(k));
    nl_add_veth(sockets[i], dev, dev + "p");
    const int ifindex = nl_ifindex(sockets[i], dev);
    // 10.250.k/32, one per sample.
    const std::uint32_t address = htonl(0x0afa0000u | static_cast<std::uint32_t>(k & 0xffff));
    char text[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &address, text, sizeof text);
    auto start = Steady::now();
    if (!nl_address(sockets[i], true, ifindex, address))
      std::fprintf(stderr, "RTM_NEWADDR on %s failed\n", dev.c_str());
    s["address (RTM_NEWADDR)"].push_back(
        wait_visible(cli, start, "/v1/namespaces/" + inode, "\"" + std::string(text) + "\""));
    nl_del_link(sockets[i], dev);
  }
  for (auto& [i, fd] : sockets) close(fd);
  // The same through the command a user types, process start included.
  for (int k = 0; k < fresh; ++k) {
    std::string ns = ns_name(k % n);
    std::string inode = std::to_string(inode_of("/run/netns/" + ns));
    std::string dev = "fr" + base36(static_cast<unsigned long>(k));
    auto start = Steady::now();
    run({"ip", "-n", ns, "link", "add", dev, "type", "veth", "peer", "name", dev + "p"});
    s["device (ip link add)"].push_back(wait_visible(cli, start, "/v1/namespaces/" + inode, "\"" + dev + "\""));
    run({"ip", "-n", ns, "link", "del", dev});
  }
  for (int k = 0; k < fresh; ++k) {
    std::string name = g_prefix + "f" + std::to_string(n) + "-" + std::to_string(k);
    auto start = Steady::now();
    run({"ip", "netns", "add", name});
    s["ip netns add"].push_back(wait_visible(cli, start, "/v1/namespaces/" + name, ""));
    run({"ip", "netns", "del", name});
  }
  const std::uint64_t host = inode_of("/proc/self/ns/net");
  for (int k = 0; k < fresh; ++k) {
    auto start = Steady::now();
    pid_t pid;
    const char* argv[] = {"unshare", "-n", "sleep", "1000", nullptr};
    if (posix_spawnp(&pid, "unshare", nullptr, nullptr, const_cast<char* const*>(argv), environ) != 0) break;
    g_children.push_back(pid);
    std::uint64_t inode = 0;
    while ((inode = inode_of("/proc/" + std::to_string(pid) + "/ns/net")) == host || inode == 0) {
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
    s["unshare -n"].push_back(wait_visible(cli, start, "/v1/namespaces/" + std::to_string(inode), ""));
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    g_children.pop_back();
  }
}

// A scrape of the netnsd with --metrics-namespaces, in ms; each one
// refreshes (it waits out the refresh interval first, untimed).
double time_scrape() {
  static Steady::time_point last{};
  std::this_thread::sleep_until(last + std::chrono::milliseconds(1050));
  auto start = Steady::now();
  auto res = client(false, metrics_socket_path()).Get("/metrics");
  last = Steady::now();
  if (!res || res->status != 200) return -1;
  return ms(last - start);
}

// The link dumps `scrapers` concurrent scrapes cost, the refresh interval
// having passed: one refresh's, however many ask.
double link_dumps_of(int scrapers) {
  const double before = metric("netnsd_metrics_link_dumps_total", metrics_socket_path());
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  std::vector<std::thread> threads;
  for (int i = 0; i < scrapers; ++i) {
    threads.emplace_back([] { client(false, metrics_socket_path()).Get("/metrics"); });
  }
  for (auto& t : threads) t.join();
  return metric("netnsd_metrics_link_dumps_total", metrics_socket_path()) - before;
}

// Questions to the history journal about an instant that has passed: an
// address that existed then (on a veth made for it in the first namespace,
// removed since) asked by whois, and the whole cache at that instant.
void history(const Plan& p, Samples& s) {
  const std::string ns = ns_name(0), dev = "hq" + base36(static_cast<unsigned long>(getpid()) % 46656);
  run({"ip", "-n", ns, "link", "add", dev, "type", "veth", "peer", "name", dev + "p"});
  run({"ip", "-n", ns, "addr", "add", "10.251.0.1/32", "dev", dev});
  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  const auto then = std::chrono::system_clock::now();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  run({"ip", "-n", ns, "link", "del", dev});
  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  const auto secs = std::chrono::duration_cast<std::chrono::milliseconds>(then.time_since_epoch()).count();
  char at[64];
  const std::time_t t = static_cast<std::time_t>(secs / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  std::snprintf(at, sizeof at, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(secs % 1000));
  auto cli = client(true);
  for (int k = 0; k < std::max(50, p.fresh); ++k) {
    auto start = Steady::now();
    auto res = cli.Get("/v1/whois?address=10.251.0.1&at=" + std::string(at));
    s["whois by address at T"].push_back(ms(Steady::now() - start));
    if (!res || res->status != 200 || res->body.find("\"" + dev + "\"") == std::string::npos) {
      std::fprintf(stderr, "whois at %s did not find %s\n", at, dev.c_str());
    }
  }
  for (int k = 0; k < p.runs; ++k) {
    auto start = Steady::now();
    auto res = cli.Get("/v1/namespaces?at=" + std::string(at));
    s["GET /v1/namespaces?at=T"].push_back(ms(Steady::now() - start));
    if (!res || res->status != 200) std::fprintf(stderr, "/v1/namespaces?at= failed\n");
  }
  // The whole cache then and now compared, and a dump of then.
  for (int k = 0; k < p.runs; ++k) {
    auto start = Steady::now();
    auto res = cli.Get("/v1/diff?from=" + std::string(at));
    s["GET /v1/diff?from=T (to now)"].push_back(ms(Steady::now() - start));
    if (!res || res->status != 200 || res->body.find("\"" + dev + "\"") == std::string::npos) {
      std::fprintf(stderr, "/v1/diff?from= did not name %s\n", dev.c_str());
    }
    start = Steady::now();
    res = cli.Post("/v1/dump", "{\"output\":\"stream\",\"at\":\"" + std::string(at) + "\"}", "application/json");
    s["POST /dump at=T, stream"].push_back(ms(Steady::now() - start));
    if (!res || res->status != 200) std::fprintf(stderr, "POST /dump at= failed\n");
  }
}

void healthz_under_load(const Options& o, Samples& s, int* dumps_done) {
  std::atomic<bool> stop{false};
  std::mutex mutex;
  std::vector<double> latencies;
  std::atomic<int> dumps{0}, errors{0};
  std::thread dumper([&] {
    while (!stop) {
      auto res = client().Post("/v1/dump", R"({"output":"stream","snapshot_interfaces":true})", "application/json");
      if (res && res->status == 200) ++dumps;
    }
  });
  std::vector<std::thread> clients;
  for (int c = 0; c < o.clients; ++c) {
    clients.emplace_back([&] {
      auto cli = client(true);
      std::vector<double> mine;
      while (!stop) {
        auto start = Steady::now();
        auto res = cli.Get("/healthz");
        if (!res || res->status != 200) ++errors;
        mine.push_back(ms(Steady::now() - start));
      }
      std::lock_guard lock(mutex);
      latencies.insert(latencies.end(), mine.begin(), mine.end());
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(o.load_seconds));
  stop = true;
  for (auto& t : clients) t.join();
  dumper.join();
  if (errors) std::fprintf(stderr, "%d /healthz requests failed\n", errors.load());
  s["healthz"] = std::move(latencies);
  *dumps_done = dumps;
}

// Spawns netnsd on `socket` (its journal beside it, its stderr in
// socket.log) under the unit's descriptor limit: prlimit sets it, soft and
// hard, and execs netnsd, so the pid is netnsd's. -1 on failure.
pid_t spawn_netnsd(const Options& o, const std::string& socket, const std::vector<std::string>& extra) {
  const std::string nofile = std::to_string(kUnitNofile);
  std::vector<std::string> args = {"prlimit",    "--nofile=" + nofile + ":" + nofile,
                                   "--",         o.netnsd,
                                   "--socket",   socket,
                                   "--dump-dir", g_dir + "/dumps",
                                   "--journal",  socket + ".state/journal.db"};
  args.insert(args.end(), extra.begin(), extra.end());
  std::vector<char*> raw;
  for (auto& a : args) raw.push_back(a.data());
  raw.push_back(nullptr);
  std::string log = socket + ".log";
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 2, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  pid_t pid = -1;
  int rc = posix_spawnp(&pid, raw[0], &actions, nullptr, raw.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    std::fprintf(stderr, "cannot start prlimit %s: %s\n", o.netnsd.c_str(), std::strerror(rc));
    return -1;
  }
  return pid;
}

// The last `lines` lines of netnsd's log, for a start that failed (the
// directory is gone once the bench exits).
void print_log_tail(const std::string& socket, std::size_t lines = 10) {
  std::ifstream in(socket + ".log");
  std::vector<std::string> tail;
  for (std::string line; std::getline(in, line);) {
    tail.push_back(line);
    if (tail.size() > lines) tail.erase(tail.begin());
  }
  for (const auto& line : tail) std::fprintf(stderr, "  %s\n", line.c_str());
}

// Polls GET /readyz of the netnsd `pid` serves on `socket`, on a fresh
// connection every `every`, until it answers 200; returns the answer's
// body, or nothing if `bound` passed first or netnsd exited (reaped: `pid`
// becomes -1).
std::optional<std::string> wait_ready(pid_t& pid, const std::string& socket, std::chrono::milliseconds every,
                                      Steady::duration bound) {
  const auto start = Steady::now();
  while (Steady::now() - start < bound) {
    if (auto res = client(false, socket).Get("/readyz"); res && res->status == 200) return res->body;
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) {
      std::fprintf(stderr, "netnsd on %s exited (status %d); its log ends:\n", socket.c_str(), status);
      print_log_tail(socket);
      pid = -1;
      return std::nullopt;
    }
    std::this_thread::sleep_for(every);
  }
  std::fprintf(stderr, "netnsd on %s not ready after %.0f s; its log ends:\n", socket.c_str(), ms(bound) / 1000);
  print_log_tail(socket);
  return std::nullopt;
}

// Starts netnsd on `socket` and waits until it is ready; returns its pid,
// or -1 (it is stopped) if it never was.
pid_t start_netnsd(const Options& o, const std::string& socket, const std::vector<std::string>& extra) {
  pid_t pid = spawn_netnsd(o, socket, extra);
  if (pid < 0) return -1;
  if (!wait_ready(pid, socket, std::chrono::milliseconds(10), std::chrono::seconds(30))) {
    if (pid > 0) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
    return -1;
  }
  return pid;
}

// SIGTERM, and the time until it is reaped, in ms.
double stop_netnsd(pid_t pid) {
  const auto start = Steady::now();
  kill(pid, SIGTERM);
  while (waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
  }
  return ms(Steady::now() - start);
}

// The bench's own netnsds, on their defaults but for a short lonely timeout
// (the freshness runs leave hundreds of namespaces behind, which must be
// gone before the next size): the one measured, the same without its
// journal, and one with every namespace's series. False when it never got
// ready.
bool start_measured(const Options& o) {
  g_netnsd = start_netnsd(o, socket_path(), {"--lonely-timeout", "1", "--flush-period", "0.5"});
  return g_netnsd > 0;
}
bool start_plain(const Options& o) {
  g_plain = start_netnsd(o, plain_socket_path(), {"--lonely-timeout", "1", "--flush-period", "0.5", "--no-journal"});
  return g_plain > 0;
}
bool start_metrics(const Options& o) {
  g_metrics = start_netnsd(o, metrics_socket_path(),
                           {"--lonely-timeout", "1", "--flush-period", "0.5", "--no-journal", "--metrics-namespaces",
                            "--metrics-min-interval", "1"});
  return g_metrics > 0;
}
// Stops those of `daemons` that run, and marks them stopped.
void stop_daemons(std::initializer_list<pid_t*> daemons) {
  for (pid_t* daemon : daemons) {
    if (*daemon <= 0) continue;
    const pid_t pid = *daemon;
    *daemon = -1;
    stop_netnsd(pid);
  }
}

// RLIMIT_NOFILE of `pid` as /proc/PID/limits says it: "soft / hard".
std::string nofile_of(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/limits");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("Max open files", 0) != 0) continue;
    std::istringstream fields(line.substr(std::strlen("Max open files")));
    std::string soft, hard;
    fields >> soft >> hard;
    return soft + " / " + hard;
  }
  return "?";
}

// A netnsd started on a host where the namespaces already exist, on the
// shipped defaults (journal, routes and neighbours, eBPF; the unit's
// descriptor limit), on a socket and journal of its own: the initial scan.
struct InitialScan {
  bool ok = false;
  double ready_ms = 0;     // spawn → the first 200 of /readyz, nothing else asking
  std::string status;      // /readyz's status then ("ready", or "degraded: why")
  std::size_t cached = 0;  // netnsd_namespaces then
  double not_cached = 0;   // netnsd_namespaces_not_cached then
  int fds = 0;
  std::string nofile;  // from /proc/PID/limits
  long rss_ready_kib = 0;
  long rss_flushed_kib = 0;  // two flush periods (and 0.5 s) after ready: the journal has caught up
  double exit_ms = 0;        // SIGTERM → reaped
  // A second start, with kScanProbes clients asking GET /healthz back to back
  // on keep-alive connections from spawn until ready.
  double probed_ready_ms = 0;
  std::vector<double> healthz;  // latencies of the requests answered 200
  int healthz_failed = 0;       // once served, requests that were not
};

constexpr int kScanProbes = 4;

InitialScan initial_scan(const Options& o, int n) {
  InitialScan scan;
  const std::string socket = g_dir + "/scan.sock";
  const auto bound = scaled(std::chrono::seconds(30), std::chrono::milliseconds(10), n);
  auto fresh_start = [&](Steady::time_point* spawned) {
    run({"rm", "-rf", socket + ".state"});  // a journal of its own each time
    *spawned = Steady::now();
    pid_t pid = spawn_netnsd(o, socket, {});
    if (pid > 0) g_children.push_back(pid);
    return pid;
  };
  auto finish = [&](pid_t pid) {
    const double took = pid > 0 ? stop_netnsd(pid) : 0;
    g_children.pop_back();
    return took;
  };

  Steady::time_point spawned;
  pid_t pid = fresh_start(&spawned);
  if (pid < 0) return scan;
  auto body = wait_ready(pid, socket, std::chrono::milliseconds(5), bound);
  const auto ready_at = Steady::now();
  if (!body) {
    finish(pid);
    return scan;
  }
  scan.ready_ms = ms(ready_at - spawned);
  scan.rss_ready_kib = rss_kib(pid);
  scan.fds = fd_count(pid);
  scan.nofile = nofile_of(pid);
  json ready = json::parse(*body, nullptr, false);
  scan.status = ready.is_object() ? ready.value("status", "?") : "?";
  if (ready.is_object() && ready.contains("reasons")) scan.status += ": " + ready["reasons"].dump();
  scan.cached = cached_count(socket);
  scan.not_cached = metric("netnsd_namespaces_not_cached", socket);
  std::this_thread::sleep_until(ready_at + 2 * netnsd::defaults::kFlushPeriod + std::chrono::milliseconds(500));
  scan.rss_flushed_kib = rss_kib(pid);
  scan.exit_ms = finish(pid);

  std::atomic<bool> stop{false};
  std::mutex mutex;
  std::vector<std::thread> probes;
  for (int c = 0; c < kScanProbes; ++c) {
    probes.emplace_back([&] {
      auto cli = client(true, socket);
      std::vector<double> mine;
      int failed = 0;
      bool served = false;
      while (!stop) {
        auto start = Steady::now();
        auto res = cli.Get("/healthz");
        if (res && res->status == 200) {
          mine.push_back(ms(Steady::now() - start));
          served = true;
        } else if (!res && !served) {
          // No socket yet, or nobody listening on it: not a request.
          std::this_thread::sleep_for(std::chrono::milliseconds(1));
        } else {
          ++failed;
        }
      }
      std::lock_guard lock(mutex);
      scan.healthz.insert(scan.healthz.end(), mine.begin(), mine.end());
      scan.healthz_failed += failed;
    });
  }
  pid = fresh_start(&spawned);
  const bool spawned_ok = pid > 0;
  if (spawned_ok) {
    body = wait_ready(pid, socket, std::chrono::milliseconds(5), bound);
    scan.probed_ready_ms = ms(Steady::now() - spawned);
  }
  stop = true;
  for (auto& t : probes) t.join();
  if (!spawned_ok) return scan;
  finish(pid);
  scan.ok = body.has_value();
  return scan;
}

std::vector<int> parse_sizes(const std::string& text) {
  std::vector<int> out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) out.push_back(std::atoi(item.c_str()));
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  std::string exe_dir = std::string(argv[0]).substr(0, std::string(argv[0]).rfind('/') + 1);
  o.netnsd = exe_dir + "../../netnsd";
  o.floor = exe_dir + "netlink_floor";
  std::string command;
  for (int i = 0; i < argc; ++i) command += (i ? " " : "") + std::string(argv[i]);
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&] { return i + 1 < argc ? std::string(argv[++i]) : std::string(); };
    if (a == "--sizes")
      o.sizes = parse_sizes(next());
    else if (a == "--runs")
      o.runs = std::atoi(next().c_str());
    else if (a == "--ip-all-runs")
      o.ip_all_runs = std::atoi(next().c_str());
    else if (a == "--fresh")
      o.fresh = std::atoi(next().c_str());
    else if (a == "--big-runs")
      o.big_runs = std::atoi(next().c_str());
    else if (a == "--big-ip-all-runs")
      o.big_ip_all_runs = std::atoi(next().c_str());
    else if (a == "--big-fresh")
      o.big_fresh = std::atoi(next().c_str());
    else if (a == "--clients")
      o.clients = std::atoi(next().c_str());
    else if (a == "--load-seconds")
      o.load_seconds = std::atof(next().c_str());
    else if (a == "--netnsd")
      o.netnsd = next();
    else if (a == "--floor")
      o.floor = next();
    else {
      std::fprintf(stderr,
                   "usage: netnsd_bench [--sizes 100,1000] [--runs 10] [--ip-all-runs 10] [--fresh 200] "
                   "[--big-runs 5] [--big-ip-all-runs 2] [--big-fresh 100] [--clients 32] [--load-seconds 5] "
                   "[--netnsd PATH] [--floor PATH]\n"
                   "  sizes in increasing order; the --big-* counts apply to sizes above %d\n",
                   kBigSize);
      return 2;
    }
  }
  if (o.sizes.empty() || !std::is_sorted(o.sizes.begin(), o.sizes.end()) || o.sizes.front() <= 0) {
    std::fprintf(stderr, "--sizes: positive and increasing (each size grows the previous topology)\n");
    return 2;
  }
  if (geteuid() != 0) {
    std::fprintf(stderr, "netnsd_bench needs root\n");
    return 2;
  }
  if (!our_namespaces().empty() || !capture({"ip", "netns", "list"}).empty()) {
    std::fprintf(stderr, "note: other named namespaces exist; `ip -all netns exec` will visit them too\n");
  }
  // netlink_floor holds a socket per namespace and inherits this limit.
  if (rlimit files{}; getrlimit(RLIMIT_NOFILE, &files) == 0) {
    const rlim_t want = static_cast<rlim_t>(o.sizes.back()) + 1024;
    if (files.rlim_cur < want) {
      files.rlim_cur = std::min(want, files.rlim_max);
      setrlimit(RLIMIT_NOFILE, &files);
    }
  }
  g_prefix = "nsb" + std::to_string(getpid()) + "-";
  char dir_template[] = "/tmp/netnsd-bench-XXXXXX";
  g_dir = mkdtemp(dir_template);
  std::atexit(cleanup);
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  signal(SIGHUP, on_signal);

  // Alone on the host, as each initial scan below: every netnsd holds a
  // subscribed socket per namespace, and the kernel walks all of them for
  // each notification (and each subscription) on the host.
  std::fprintf(stderr, "== the initial scan with the host's namespaces alone (the baseline)\n");
  const InitialScan scan0 = initial_scan(o, 0);
  if (!scan0.ok) return 1;

  // netnsd on a private socket and dump directory (start_measured).
  if (!start_measured(o)) return 1;
  // The two beside it serve the small sizes only (they are stopped before
  // the first big one): not started if there is none.
  if (o.sizes.front() <= kBigSize && !(start_plain(o) && start_metrics(o))) return 1;
  const std::string unit_nofile = std::to_string(kUnitNofile) + " / " + std::to_string(kUnitNofile);
  for (pid_t daemon : {g_netnsd, g_plain, g_metrics}) {
    if (daemon > 0 && nofile_of(daemon) != unit_nofile) {
      std::fprintf(stderr, "netnsd %d runs with a descriptor limit of %s, not %s\n", daemon, nofile_of(daemon).c_str(),
                   unit_nofile.c_str());
      return 1;
    }
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const long rss0 = rss_kib(g_netnsd);
  const int fds0 = fd_count(g_netnsd);
  const std::size_t cached0 = cached_count();

  std::ostringstream table;
  char host[256] = {};
  gethostname(host, sizeof host);
  table << "Command: `" << command << "`  \n";
  table << "Machine: " << std::thread::hardware_concurrency() << " CPUs, kernel "
        << capture({"uname", "-r"}).substr(0, capture({"uname", "-r"}).find('\n')) << "; times in ms.\n\n";

  const std::string ip_all = "ip -all netns exec ip -j addr show";
  const std::string scrape = "GET /metrics, every namespace's series (a refresh)";
  int built = 0;
  long prev_rss = rss0;
  std::size_t prev_cached = cached0;
  for (int n : o.sizes) {
    const Plan p = plan_for(o, n);
    if (p.big && (g_plain > 0 || g_metrics > 0)) {
      // Each holds a subscribed rtnetlink socket per namespace, and the
      // kernel walks every subscribed socket on the host for each
      // notification: they would slow the netnsd being measured.
      std::fprintf(stderr, "== N=%d: stopping the netnsds without a journal and with metrics\n", n);
      stop_daemons({&g_plain, &g_metrics});
    }
    const bool with_plain = g_plain > 0, with_metrics = g_metrics > 0;

    std::fprintf(stderr, "== N=%d: building the topology\n", n);
    const double grow_ms = grow_topology(built, n);
    built = n;
    int host_veths = 0;
    for (int i = 0; i < n; ++i) host_veths += has_host_veth(i);
    const auto pick_up_bound = scaled(std::chrono::seconds(60), std::chrono::milliseconds(10), n);
    auto wait_start = Steady::now();
    while (cached_count() < cached0 + static_cast<std::size_t>(n)) {
      if (Steady::now() - wait_start > pick_up_bound) {
        std::fprintf(stderr, "netnsd did not pick up all namespaces in %.0f s\n", ms(pick_up_bound) / 1000);
        return 1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    const double pick_up_ms = ms(Steady::now() - wait_start);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    const std::size_t cached = cached_count();

    std::fprintf(stderr, "== N=%d: dumps, interleaved, %d runs (%d of ip -all)\n", n, p.runs, p.ip_all_runs);
    Samples s;
    struct Method {
      std::string name;
      std::function<double()> measure;
      int runs;
    };
    std::vector<Method> methods = {
        {"netnsd stream", [] { return time_dump(R"({"output":"stream"})", false); }, p.runs},
        {"netnsd files", [] { return time_dump("{}", true); }, p.runs},
        {"netnsd stream + snapshot",
         [] { return time_dump(R"({"output":"stream","snapshot_interfaces":true})", false); }, p.runs},
        {"netnsd files + snapshot", [] { return time_dump(R"({"snapshot_interfaces":true})", true); }, p.runs},
        {"netlink floor", [&] { return time_floor(o); }, p.runs},
        {"netlink floor, links only", [&] { return time_floor(o, true); }, p.runs},
        // The snapshot lists on two threads (defaults::kSnapshotListers);
        // the floor of that, for comparison (the floor above is one thread).
        {"netlink floor, 2 threads", [&] { return time_floor(o, false, 2); }, p.runs},
        {ip_all,
         [] {
           return time_command({"ip", "-all", "netns", "exec", "ip", "-j", "addr", "show"});
         },
         p.ip_all_runs},
        {"lsns -t net -J",
         [] {
           return time_command({"lsns", "-t", "net", "-J"});
         },
         p.runs},
    };
    if (with_metrics) methods.insert(methods.begin() + 4, Method{scrape, [] { return time_scrape(); }, p.runs});
    const int rounds = std::max(p.runs, p.ip_all_runs);
    for (int r = 0; r < rounds; ++r) {
      for (std::size_t k = 0; k < methods.size(); ++k) {
        Method& m = methods[(k + static_cast<std::size_t>(r)) % methods.size()];
        if (static_cast<int>(s[m.name].size()) < m.runs) s[m.name].push_back(m.measure());
      }
    }

    std::fprintf(stderr, "== N=%d: freshness, %d samples each\n", n, p.fresh);
    Samples fresh;
    const double loop_calls0 = resolver_stat("loop_netlink_calls"), loop_us0 = resolver_stat("loop_netlink_us");
    freshness(p.fresh, n, with_plain, fresh);
    // What the event thread spent in netlink requests of its own (a new
    // namespace's first listing, a new veth end's peer) while they ran.
    const double loop_calls = resolver_stat("loop_netlink_calls") - loop_calls0;
    const double loop_us = resolver_stat("loop_netlink_us") - loop_us0;
    std::fprintf(stderr, "== N=%d: the history journal\n", n);
    Samples past;
    history(p, past);
    const double journal_bytes = metric("netnsd_journal_bytes");
    const double journal_changes = metric("netnsd_journal_changes_total");
    double dumps_one = 0, dumps_ten = 0, series = 0;
    if (with_metrics) {
      std::fprintf(stderr, "== N=%d: per-namespace metrics\n", n);
      dumps_one = link_dumps_of(1);
      dumps_ten = link_dumps_of(10);
      series = metric("netnsd_metrics_series", metrics_socket_path());
    }
    std::fprintf(stderr, "== N=%d: /healthz from %d keep-alive clients during dumps\n", n, o.clients);
    Samples load;
    int dumps_done = 0;
    healthz_under_load(o, load, &dumps_done);

    // Memory once the freshness leftovers are released: RSS after all that
    // work, and its growth per namespace since the previous size.
    const auto settle_bound = scaled(std::chrono::seconds(30), std::chrono::milliseconds(3), n);
    auto settle_start = Steady::now();
    while (cached_count() > cached && Steady::now() - settle_start < settle_bound) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    const long rss = rss_kib(g_netnsd);
    const int fds = fd_count(g_netnsd);
    // The fresh netnsd scans alone, as under the shipped unit: the others
    // are stopped meanwhile (each holds a subscribed socket per namespace,
    // which the kernel walks for every notification on the host) and
    // started again after it.
    std::fprintf(stderr, "== N=%d: the initial scan of a fresh netnsd, alone\n", n);
    const bool had_plain = g_plain > 0, had_metrics = g_metrics > 0;
    stop_daemons({&g_netnsd, &g_plain, &g_metrics});
    const InitialScan scan = initial_scan(o, n);
    if (!start_measured(o) || (had_plain && !start_plain(o)) || (had_metrics && !start_metrics(o))) return 1;

    const double floor_med = percentile(s["netlink floor"], 50);
    const double snap_med = percentile(s["netnsd stream + snapshot"], 50);
    const double ip_all_addr_med = percentile(s[ip_all], 50);
    table << "### N = " << n << " namespaces (" << cached << " cached, with the host's)\n\n";
    table << "Topology: " << host_veths
          << " veths to the host, a bridge in every 50th namespace; grown by `ip -batch` in " << fmt(grow_ms / 1000)
          << " s, all cached " << fmt(pick_up_ms / 1000) << " s after."
          << (p.big ? " Big size: only the netnsd measured runs (no journal-off or metrics rows)." : "") << "\n\n";
    table << "| measure | median | p95 | runs | ÷ netlink floor | ip -all netns exec ÷ this |\n";
    table << "|---|---|---|---|---|---|\n";
    for (const Method& m : methods) {
      const auto& v = s[m.name];
      double med = percentile(v, 50);
      table << "| " << m.name << " | " << fmt(med) << " | " << fmt(percentile(v, 95)) << " | " << v.size() << " | "
            << fmt(med / floor_med) << " | " << fmt(ip_all_addr_med / med) << " |\n";
    }
    table
        << "\n| freshness (request or command start → visible in the API) | p50 | p99 | samples |\n|---|---|---|---|\n";
    for (const char* what : {"device (RTM_NEWLINK)", "device (RTM_NEWLINK), journal off", "address (RTM_NEWADDR)",
                             "device (ip link add)", "ip netns add", "unshare -n"}) {
      const auto& v = fresh[what];
      if (v.empty()) continue;
      table << "| " << what << " | " << fmt(percentile(v, 50)) << " | " << fmt(percentile(v, 99)) << " | " << v.size()
            << " |\n";
    }
    const double per_ns_kib = static_cast<double>(rss - prev_rss) / static_cast<double>(cached - prev_cached);
    const double per_ns_fds = static_cast<double>(fds - fds0) / static_cast<double>(cached - cached0);
    table << "\n| memory (after the runs above) | value |\n|---|---|\n";
    table << "| netnsd RSS at start (" << cached0 << " namespaces) | " << rss0 << " KiB |\n";
    table << "| netnsd RSS with " << cached << " namespaces | " << rss << " KiB |\n";
    table << "| RSS growth per cached namespace (since " << prev_cached << " namespaces) | " << fmt(per_ns_kib)
          << " KiB |\n";
    table << "| open fds | " << fds << " (" << fmt(per_ns_fds) << " per namespace) |\n";
    prev_rss = rss;
    prev_cached = cached;

    // The initial scan, beside the same with the host's namespaces alone.
    const double scanned = static_cast<double>(scan.cached) - static_cast<double>(scan0.cached);
    auto per_scanned = [&](long kib, long kib0) {
      return scanned > 0 ? fmt(static_cast<double>(kib - kib0) / scanned) + " KiB per namespace" : std::string("—");
    };
    auto kib = [](long v) { return std::to_string(v) + " KiB"; };
    auto scan_row = [&](const std::string& what, const std::string& alone, const std::string& with_n) {
      table << "| " << what << " | " << alone << " | " << with_n << " |\n";
    };
    table << "\n| the initial scan (a netnsd started with N namespaces present, defaults, LimitNOFILE " << kUnitNofile
          << ") | the host's alone | N = " << n << " |\n|---|---|---|\n";
    scan_row("namespaces cached once ready (the running netnsd: " + std::to_string(cached) + ")",
             std::to_string(scan0.cached), std::to_string(scan.cached));
    scan_row("netnsd_namespaces_not_cached", fmt(scan0.not_cached), fmt(scan.not_cached));
    scan_row("spawn → GET /readyz 200 (polled every 5 ms)", fmt(scan0.ready_ms), fmt(scan.ready_ms));
    scan_row("/readyz then", scan0.status, scan.status);
    scan_row("spawn → GET /readyz 200, with " + std::to_string(kScanProbes) + " clients asking /healthz meanwhile",
             fmt(scan0.probed_ready_ms), fmt(scan.probed_ready_ms));
    auto healthz_cell = [](const InitialScan& sc) {
      return fmt(percentile(sc.healthz, 50)) + " / " + fmt(percentile(sc.healthz, 99)) + " (" +
             std::to_string(sc.healthz.size()) + " requests, " + std::to_string(sc.healthz_failed) + " failed)";
    };
    scan_row("GET /healthz meanwhile, keep-alive, back to back: p50 / p99", healthz_cell(scan0), healthz_cell(scan));
    scan_row("open descriptors once ready (limit: soft / hard)", std::to_string(scan0.fds) + " (" + scan0.nofile + ")",
             std::to_string(scan.fds) + " (" + scan.nofile + ")");
    scan_row("RSS once ready", kib(scan0.rss_ready_kib),
             kib(scan.rss_ready_kib) + " (" + per_scanned(scan.rss_ready_kib, scan0.rss_ready_kib) + ")");
    const double flush_s = 2 * std::chrono::duration<double>(netnsd::defaults::kFlushPeriod).count() + 0.5;
    scan_row("RSS " + fmt(flush_s) + " s after ready (two flush periods and 0.5 s)", kib(scan0.rss_flushed_kib),
             kib(scan.rss_flushed_kib) + " (" + per_scanned(scan.rss_flushed_kib, scan0.rss_flushed_kib) + ")");
    scan_row("SIGTERM → exited", fmt(scan0.exit_ms), fmt(scan.exit_ms));

    table << "\n| the event thread's own netlink requests during the freshness runs | value |\n|---|---|\n";
    table << "| requests (first listings of new namespaces, peers of new veth ends) | " << fmt(loop_calls) << " |\n";
    table << "| time in them, mean per request | " << fmt(loop_calls > 0 ? loop_us / loop_calls / 1000 : 0)
          << " ms |\n";
    table << "| time in them, per freshness sample | "
          << fmt(loop_us / 1000 / static_cast<double>(std::max(1, p.fresh) * 5)) << " ms |\n";
    table << "\n| the history journal | p50 | p99 | samples |\n|---|---|---|---|\n";
    for (const char* what : {"GET /v1/namespaces?at=T", "POST /dump at=T, stream", "GET /v1/diff?from=T (to now)",
                             "whois by address at T"}) {
      const auto& v = past[what];
      table << "| " << what << " | " << fmt(percentile(v, 50)) << " | " << fmt(percentile(v, 99)) << " | " << v.size()
            << " |\n";
    }
    table << "| journal on disk, per change recorded | " << fmt(journal_bytes / std::max(1.0, journal_changes))
          << " bytes (" << fmt(journal_changes) << " changes, " << fmt(journal_bytes / 1048576) << " MiB) | | |\n";
    const double scrape_med = with_metrics ? percentile(s[scrape], 50) : 0;
    if (with_metrics) {
      table << "\n| per-namespace metrics (--metrics-namespaces) | value |\n|---|---|\n";
      table << "| series | " << fmt(series) << " |\n";
      table << "| a scrape that refreshes ÷ a snapshot dump (medians) | " << fmt(scrape_med / snap_med) << " |\n";
      table << "| link dumps for 1 scraper / for 10 concurrent scrapers | " << fmt(dumps_one) << " / " << fmt(dumps_ten)
            << " |\n";
    }
    const auto& h = load["healthz"];
    table << "\n| GET /healthz, " << o.clients << " keep-alive clients, " << dumps_done
          << " snapshot dumps running alongside | p50 | p99 | requests |\n|---|---|---|---|\n";
    table << "| latency | " << fmt(percentile(h, 50)) << " | " << fmt(percentile(h, 99)) << " | " << h.size()
          << " |\n\n";

    const double device_p99 = percentile(fresh["device (RTM_NEWLINK)"], 99);
    table << "Targets: snapshot dump " << fmt(snap_med / floor_med) << "× the floor (≤ 1.25), "
          << fmt(ip_all_addr_med / snap_med) << "× faster than " << ip_all
          << " (≥ 100 at N=1000); device freshness p99 " << fmt(device_p99) << " ms (≤ 5), address freshness p99 "
          << fmt(percentile(fresh["address (RTM_NEWADDR)"], 99)) << " ms (≤ 10), namespace freshness p99 "
          << fmt(std::max(percentile(fresh["ip netns add"], 99), percentile(fresh["unshare -n"], 99))) << " ms (≤ 25); "
          << "the initial scan: " << scan.cached << " of " << cached << " namespaces cached (all), ready in "
          << fmt(scan.ready_ms / 1000) << " s (≤ 3), /healthz p99 meanwhile " << fmt(percentile(scan.healthz, 99))
          << " ms (≤ 5), " << per_scanned(scan.rss_ready_kib, scan0.rss_ready_kib) << " once ready and "
          << per_scanned(scan.rss_flushed_kib, scan0.rss_flushed_kib) << " after two flush periods (≤ 3 KiB); "
          << fmt(per_ns_kib) << " KiB RSS growth per namespace after the load above; /healthz p99 under dumps "
          << fmt(percentile(h, 99)) << " ms (≤ 5); GET /v1/namespaces?at=T median "
          << fmt(percentile(past["GET /v1/namespaces?at=T"], 50)) << " ms (≤ 50 at N=1000), whois by address at T p99 "
          << fmt(percentile(past["whois by address at T"], 99)) << " ms (≤ 5)";
    if (with_plain) {
      const auto& off = fresh["device (RTM_NEWLINK), journal off"];
      const auto& on = fresh["device (RTM_NEWLINK)"];
      table << "; device freshness with the journal ÷ without: p99 " << fmt(percentile(on, 99) / percentile(off, 99))
            << " (≤ 1.1), p90 " << fmt(percentile(on, 90) / percentile(off, 90)) << ", p50 "
            << fmt(percentile(on, 50) / percentile(off, 50));
    }
    if (with_metrics) {
      table << "; a scrape ÷ a snapshot dump " << fmt(scrape_med / snap_med)
            << " (≤ 1.5), link dumps for 10 concurrent scrapers ÷ for one " << fmt(dumps_ten / std::max(1.0, dumps_one))
            << " (≤ 1)";
    }
    table << ".\n\n";
    std::fputs(table.str().c_str(), stdout);
    std::fflush(stdout);
    table.str("");
  }
  cleanup();
  return 0;
}
