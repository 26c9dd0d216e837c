// netnsd side by side with what a user would run instead and with the
// netlink floor, in one run, interleaved. See tests/bench/README.md.
//
// For each size N it grows a topology of N namespaces (ip netns add, a veth
// pair to the host each, a bridge in every 50th), lets a running netnsd pick
// them up from events, then measures:
//   - POST /dump: stream and files, with and without snapshot_interfaces;
//   - `ip -all netns exec ip -j link show` and `lsns -t net -J`;
//   - netlink_floor: one rtnetlink socket per namespace, dumps only;
//   - freshness of a device (ip link add) and of a namespace (ip netns add,
//     unshare -n): from the command's start to visibility through the API;
//   - netnsd's RSS and descriptors, and their growth per cached namespace;
//   - GET /healthz latency from 32 keep-alive clients while dumps run.
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
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace {

using Steady = std::chrono::steady_clock;
using nlohmann::json;

struct Options {
  std::vector<int> sizes = {100, 1000};
  int runs = 10;
  int ip_all_runs = 10;
  int fresh = 200;
  int clients = 32;
  double load_seconds = 5;
  std::string netnsd;
  std::string floor;
};

// --- what we create, and removing it ------------------------------------

std::string g_prefix;  // every namespace we create is named g_prefix + something
std::string g_dir;     // netnsd's socket and dump directory
pid_t g_netnsd = -1;
// The same netnsd without its history journal, beside it: the baseline of
// what the journal costs the freshness of the cache.
pid_t g_plain = -1;
pid_t g_metrics = -1;  // with --metrics-namespaces
std::vector<pid_t> g_children;

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

std::vector<std::string> our_namespaces() {
  std::vector<std::string> names;
  if (DIR* d = opendir("/run/netns")) {
    while (dirent* e = readdir(d)) {
      if (std::string(e->d_name).rfind(g_prefix, 0) == 0) names.push_back(e->d_name);
    }
    closedir(d);
  }
  return names;
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
  auto names = our_namespaces();
  if (!names.empty()) {
    std::string batch = "/tmp/" + g_prefix + "del.batch";
    std::ofstream f(batch);
    for (const auto& n : names) f << "netns del " << n << "\n";
    f.close();
    run({"ip", "-force", "-batch", batch});
    unlink(batch.c_str());
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

std::size_t cached_count() {
  auto res = client().Get("/v1/namespaces");
  if (!res || res->status != 200) return 0;
  return json::parse(res->body)["namespaces"].size();
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
std::string host_end(int i) {
  return "nb" + base36(static_cast<unsigned long>(getpid()) % 46656) + "x" + base36(i);
}

void grow_topology(int from, int to) {
  std::string batch = g_dir + "/grow.batch";
  {
    std::ofstream f(batch);
    for (int i = from; i < to; ++i) {
      f << "netns add " << ns_name(i) << "\n";
      f << "link add " << host_end(i) << " type veth peer name eth0 netns " << ns_name(i) << "\n";
    }
  }
  if (run({"ip", "-batch", batch}) != 0) {
    std::fprintf(stderr, "ip -batch failed\n");
    std::exit(1);
  }
  for (int i = from; i < to; ++i) {
    if (i % 50 != 0) continue;  // a bridge with the veth end enslaved, every 50th namespace
    run({"ip", "-n", ns_name(i), "link", "add", "br0", "type", "bridge"});
    run({"ip", "-n", ns_name(i), "link", "set", "eth0", "master", "br0"});
  }
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
double time_floor(const Options& o, bool links_only = false) {
  std::vector<std::string> argv = {o.floor, "--dir", "/run/netns", "--prefix", g_prefix, "/proc/self/ns/net"};
  if (links_only) argv.insert(argv.begin() + 1, "--links-only");
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

void freshness(const Options& o, int n, Samples& s) {
  auto cli = client(true);
  auto plain = client(true, plain_socket_path());
  // The device appears in the kernel: measured from the RTM_NEWLINK request,
  // in turn on netnsd and on the netnsd without a journal (both see every
  // device; one is timed per sample).
  // Five times the other measures' samples: the ratio of two p99s is
  // all tail.
  std::map<int, int> sockets;
  for (int k = 0; k < 10 * o.fresh; ++k) {
    int i = (k / 2) % n;
    if (!sockets.count(i)) sockets[i] = route_socket_in(ns_name(i));
    std::string inode = std::to_string(inode_of("/run/netns/" + ns_name(i)));
    std::string dev = "fk" + base36(static_cast<unsigned long>(k));
    auto start = Steady::now();
    if (!nl_add_veth(sockets[i], dev, dev + "p")) std::fprintf(stderr, "RTM_NEWLINK %s failed\n", dev.c_str());
    const bool journal = k % 2 == 0;
    s[journal ? "device (RTM_NEWLINK)" : "device (RTM_NEWLINK), journal off"].push_back(
        wait_visible(journal ? cli : plain, start, "/v1/namespaces/" + inode, "\"" + dev + "\""));
    nl_del_link(sockets[i], dev);
  }
  // An address appears on a device: measured from the RTM_NEWADDR request.
  for (int k = 0; k < o.fresh; ++k) {
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
  for (int k = 0; k < o.fresh; ++k) {
    std::string ns = ns_name(k % n);
    std::string inode = std::to_string(inode_of("/run/netns/" + ns));
    std::string dev = "fr" + base36(static_cast<unsigned long>(k));
    auto start = Steady::now();
    run({"ip", "-n", ns, "link", "add", dev, "type", "veth", "peer", "name", dev + "p"});
    s["device (ip link add)"].push_back(wait_visible(cli, start, "/v1/namespaces/" + inode, "\"" + dev + "\""));
    run({"ip", "-n", ns, "link", "del", dev});
  }
  for (int k = 0; k < o.fresh; ++k) {
    std::string name = g_prefix + "f" + std::to_string(n) + "-" + std::to_string(k);
    auto start = Steady::now();
    run({"ip", "netns", "add", name});
    s["ip netns add"].push_back(wait_visible(cli, start, "/v1/namespaces/" + name, ""));
    run({"ip", "netns", "del", name});
  }
  const std::uint64_t host = inode_of("/proc/self/ns/net");
  for (int k = 0; k < o.fresh; ++k) {
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
void history(const Options& o, Samples& s) {
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
  for (int k = 0; k < std::max(50, o.fresh); ++k) {
    auto start = Steady::now();
    auto res = cli.Get("/v1/whois?address=10.251.0.1&at=" + std::string(at));
    s["whois by address at T"].push_back(ms(Steady::now() - start));
    if (!res || res->status != 200 || res->body.find("\"" + dev + "\"") == std::string::npos) {
      std::fprintf(stderr, "whois at %s did not find %s\n", at, dev.c_str());
    }
  }
  for (int k = 0; k < o.runs; ++k) {
    auto start = Steady::now();
    auto res = cli.Get("/v1/namespaces?at=" + std::string(at));
    s["GET /v1/namespaces?at=T"].push_back(ms(Steady::now() - start));
    if (!res || res->status != 200) std::fprintf(stderr, "/v1/namespaces?at= failed\n");
  }
  // The whole cache then and now compared, and a dump of then.
  for (int k = 0; k < o.runs; ++k) {
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

// Starts netnsd on `socket` and waits until it is ready; returns its pid.
pid_t start_netnsd(const Options& o, const std::string& socket, std::vector<std::string> extra) {
  std::vector<std::string> args = {
      o.netnsd, "--socket", socket, "--dump-dir", g_dir + "/dumps", "--journal", socket + ".state/journal.db"};
  args.insert(args.end(), extra.begin(), extra.end());
  std::vector<char*> raw;
  for (auto& a : args) raw.push_back(a.data());
  raw.push_back(nullptr);
  std::string log = socket + ".log";
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 2, log.c_str(), O_WRONLY | O_CREAT, 0600);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, raw[0], &actions, nullptr, raw.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) return -1;
  httplib::Client c(socket);
  c.set_address_family(AF_UNIX);
  c.set_keep_alive(false);
  for (int i = 0; i < 3000; ++i) {
    auto res = c.Get("/readyz");
    if (res && res->status == 200) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return pid;
}

// The cache's own cost, without any request having run: a second netnsd
// started on the same host picks up every namespace in its initial scan.
long fresh_rss_kib(const Options& o) {
  std::string socket = g_dir + "/fresh.sock";
  pid_t pid = start_netnsd(o, socket, {"--no-ebpf"});
  if (pid < 0) return 0;
  g_children.push_back(pid);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  long rss = rss_kib(pid);
  kill(pid, SIGTERM);
  waitpid(pid, nullptr, 0);
  g_children.pop_back();
  return rss;
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
                   "[--clients 32] [--load-seconds 5] [--netnsd PATH] [--floor PATH]\n");
      return 2;
    }
  }
  if (geteuid() != 0) {
    std::fprintf(stderr, "netnsd_bench needs root\n");
    return 2;
  }
  if (!our_namespaces().empty() || !capture({"ip", "netns", "list"}).empty()) {
    std::fprintf(stderr, "note: other named namespaces exist; `ip -all netns exec` will visit them too\n");
  }
  g_prefix = "nsb" + std::to_string(getpid()) + "-";
  char dir_template[] = "/tmp/netnsd-bench-XXXXXX";
  g_dir = mkdtemp(dir_template);
  std::atexit(cleanup);
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  signal(SIGHUP, on_signal);

  // netnsd on its defaults, but on a private socket and dump directory.
  // Defaults, except a short lonely timeout: the freshness runs leave
  // hundreds of namespaces behind, which must be gone before the next size.
  g_netnsd = start_netnsd(o, socket_path(), {"--lonely-timeout", "1", "--flush-period", "0.5"});
  if (g_netnsd < 0) return 1;
  g_plain = start_netnsd(o, plain_socket_path(), {"--lonely-timeout", "1", "--flush-period", "0.5", "--no-journal"});
  if (g_plain < 0) return 1;
  g_metrics = start_netnsd(o, metrics_socket_path(),
                           {"--lonely-timeout", "1", "--flush-period", "0.5", "--no-journal", "--metrics-namespaces",
                            "--metrics-min-interval", "1"});
  if (g_metrics < 0) return 1;
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const long rss0 = rss_kib(g_netnsd);
  const long fresh0 = fresh_rss_kib(o);
  const int fds0 = fd_count(g_netnsd);
  const std::size_t cached0 = cached_count();

  std::ostringstream table;
  char host[256] = {};
  gethostname(host, sizeof host);
  table << "Command: `" << command << "`  \n";
  table << "Machine: " << std::thread::hardware_concurrency() << " CPUs, kernel "
        << capture({"uname", "-r"}).substr(0, capture({"uname", "-r"}).find('\n')) << "; times in ms.\n\n";

  int built = 0;
  long prev_rss = rss0;
  std::size_t prev_cached = cached0;
  for (int n : o.sizes) {
    std::fprintf(stderr, "== N=%d: building the topology\n", n);
    grow_topology(built, n);
    built = n;
    auto wait_start = Steady::now();
    while (cached_count() < cached0 + static_cast<std::size_t>(n)) {
      if (Steady::now() - wait_start > std::chrono::seconds(60)) {
        std::fprintf(stderr, "netnsd did not pick up all namespaces\n");
        return 1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    const std::size_t cached = cached_count();

    std::fprintf(stderr, "== N=%d: dumps, interleaved, %d runs\n", n, o.runs);
    Samples s;
    struct Method {
      std::string name;
      std::function<double()> measure;
      int runs;
    };
    std::vector<Method> methods = {
        {"netnsd stream", [] { return time_dump(R"({"output":"stream"})", false); }, o.runs},
        {"netnsd files", [] { return time_dump("{}", true); }, o.runs},
        {"netnsd stream + snapshot",
         [] { return time_dump(R"({"output":"stream","snapshot_interfaces":true})", false); }, o.runs},
        {"netnsd files + snapshot", [] { return time_dump(R"({"snapshot_interfaces":true})", true); }, o.runs},
        {"GET /metrics, every namespace's series (a refresh)", [] { return time_scrape(); }, o.runs},
        {"netlink floor", [&] { return time_floor(o); }, o.runs},
        {"netlink floor, links only", [&] { return time_floor(o, true); }, o.runs},
        {"ip -all netns exec ip -j link show",
         [] {
           return time_command({"ip", "-all", "netns", "exec", "ip", "-j", "link", "show"});
         },
         o.ip_all_runs},
        {"lsns -t net -J",
         [] {
           return time_command({"lsns", "-t", "net", "-J"});
         },
         o.runs},
    };
    const int rounds = std::max(o.runs, o.ip_all_runs);
    for (int r = 0; r < rounds; ++r) {
      for (std::size_t k = 0; k < methods.size(); ++k) {
        Method& m = methods[(k + static_cast<std::size_t>(r)) % methods.size()];
        if (static_cast<int>(s[m.name].size()) < m.runs) s[m.name].push_back(m.measure());
      }
    }

    std::fprintf(stderr, "== N=%d: freshness, %d samples each\n", n, o.fresh);
    Samples fresh;
    const double loop_calls0 = resolver_stat("loop_netlink_calls"), loop_us0 = resolver_stat("loop_netlink_us");
    freshness(o, n, fresh);
    // What the event thread spent in netlink requests of its own (a new
    // namespace's first listing, a new veth end's peer) while they ran.
    const double loop_calls = resolver_stat("loop_netlink_calls") - loop_calls0;
    const double loop_us = resolver_stat("loop_netlink_us") - loop_us0;
    std::fprintf(stderr, "== N=%d: the history journal\n", n);
    Samples past;
    history(o, past);
    const double journal_bytes = metric("netnsd_journal_bytes");
    const double journal_changes = metric("netnsd_journal_changes_total");
    std::fprintf(stderr, "== N=%d: per-namespace metrics\n", n);
    const double dumps_one = link_dumps_of(1), dumps_ten = link_dumps_of(10);
    const double series = metric("netnsd_metrics_series", metrics_socket_path());
    std::fprintf(stderr, "== N=%d: /healthz from %d keep-alive clients during dumps\n", n, o.clients);
    Samples load;
    int dumps_done = 0;
    healthz_under_load(o, load, &dumps_done);

    // Memory once the freshness leftovers are released: RSS after all that
    // work, and its growth per namespace since the previous size.
    auto settle_start = Steady::now();
    while (cached_count() > cached && Steady::now() - settle_start < std::chrono::seconds(30)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    const long rss = rss_kib(g_netnsd);
    const int fds = fd_count(g_netnsd);
    const long fresh_rss = fresh_rss_kib(o);

    const double floor_med = percentile(s["netlink floor"], 50);
    const double snap_med = percentile(s["netnsd stream + snapshot"], 50);
    const double ip_all_med = percentile(s["ip -all netns exec ip -j link show"], 50);
    table << "### N = " << n << " namespaces (" << cached << " cached, with the host's)\n\n";
    table << "| measure | median | p95 | runs | ÷ netlink floor | ip -all netns exec ÷ this |\n";
    table << "|---|---|---|---|---|---|\n";
    for (const Method& m : methods) {
      const auto& v = s[m.name];
      double med = percentile(v, 50);
      table << "| " << m.name << " | " << fmt(med) << " | " << fmt(percentile(v, 95)) << " | " << v.size() << " | "
            << fmt(med / floor_med) << " | " << fmt(ip_all_med / med) << " |\n";
    }
    table
        << "\n| freshness (request or command start → visible in the API) | p50 | p99 | samples |\n|---|---|---|---|\n";
    for (const char* what : {"device (RTM_NEWLINK)", "device (RTM_NEWLINK), journal off", "address (RTM_NEWADDR)",
                             "device (ip link add)", "ip netns add", "unshare -n"}) {
      const auto& v = fresh[what];
      table << "| " << what << " | " << fmt(percentile(v, 50)) << " | " << fmt(percentile(v, 99)) << " | " << v.size()
            << " |\n";
    }
    const double per_ns_kib = static_cast<double>(rss - prev_rss) / static_cast<double>(cached - prev_cached);
    const double cache_kib = static_cast<double>(fresh_rss - fresh0) / static_cast<double>(cached - cached0);
    const double per_ns_fds = static_cast<double>(fds - fds0) / static_cast<double>(cached - cached0);
    table << "\n| memory (after the runs above) | value |\n|---|---|\n";
    table << "| netnsd RSS at start (" << cached0 << " namespaces) | " << rss0 << " KiB |\n";
    table << "| netnsd RSS with " << cached << " namespaces | " << rss << " KiB |\n";
    table << "| RSS growth per cached namespace (since " << prev_cached << " namespaces) | " << fmt(per_ns_kib)
          << " KiB |\n";
    table << "| open fds | " << fds << " (" << fmt(per_ns_fds) << " per namespace) |\n";
    table << "| a fresh netnsd: RSS with " << cached0 << " / " << cached << " namespaces | " << fresh0 << " / "
          << fresh_rss << " KiB (" << fmt(cache_kib) << " KiB per namespace) |\n";
    prev_rss = rss;
    prev_cached = cached;
    table << "\n| the event thread's own netlink requests during the freshness runs | value |\n|---|---|\n";
    table << "| requests (first listings of new namespaces, peers of new veth ends) | " << fmt(loop_calls) << " |\n";
    table << "| time in them, mean per request | " << fmt(loop_calls > 0 ? loop_us / loop_calls / 1000 : 0)
          << " ms |\n";
    table << "| time in them, per freshness sample | "
          << fmt(loop_us / 1000 / static_cast<double>(std::max(1, o.fresh) * 5)) << " ms |\n";
    table << "\n| the history journal | p50 | p99 | samples |\n|---|---|---|---|\n";
    for (const char* what : {"GET /v1/namespaces?at=T", "POST /dump at=T, stream", "GET /v1/diff?from=T (to now)",
                             "whois by address at T"}) {
      const auto& v = past[what];
      table << "| " << what << " | " << fmt(percentile(v, 50)) << " | " << fmt(percentile(v, 99)) << " | " << v.size()
            << " |\n";
    }
    table << "| journal on disk, per change recorded | " << fmt(journal_bytes / std::max(1.0, journal_changes))
          << " bytes (" << fmt(journal_changes) << " changes, " << fmt(journal_bytes / 1048576) << " MiB) | | |\n";
    const double scrape_med = percentile(s["GET /metrics, every namespace's series (a refresh)"], 50);
    table << "\n| per-namespace metrics (--metrics-namespaces) | value |\n|---|---|\n";
    table << "| series | " << fmt(series) << " |\n";
    table << "| a scrape that refreshes ÷ a snapshot dump (medians) | " << fmt(scrape_med / snap_med) << " |\n";
    table << "| link dumps for 1 scraper / for 10 concurrent scrapers | " << fmt(dumps_one) << " / " << fmt(dumps_ten)
          << " |\n";
    const auto& h = load["healthz"];
    table << "\n| GET /healthz, " << o.clients << " keep-alive clients, " << dumps_done
          << " snapshot dumps running alongside | p50 | p99 | requests |\n|---|---|---|---|\n";
    table << "| latency | " << fmt(percentile(h, 50)) << " | " << fmt(percentile(h, 99)) << " | " << h.size()
          << " |\n\n";
    table << "Targets: snapshot dump " << fmt(snap_med / floor_med) << "× the floor (≤ 2), "
          << fmt(ip_all_med / snap_med) << "× faster than ip -all netns exec (≥ 100); device freshness p99 "
          << fmt(percentile(fresh["device (RTM_NEWLINK)"], 99)) << " ms (≤ 10), address freshness p99 "
          << fmt(percentile(fresh["address (RTM_NEWADDR)"], 99)) << " ms (≤ 10), namespace freshness p99 "
          << fmt(std::max(percentile(fresh["ip netns add"], 99), percentile(fresh["unshare -n"], 99))) << " ms (≤ 50); "
          << fmt(cache_kib) << " KiB RSS per cached namespace, " << fmt(per_ns_kib)
          << " KiB after the load above (≤ 4); /healthz p99 " << fmt(percentile(h, 99)) << " ms (≤ 5); "
          << "GET /v1/namespaces?at=T median " << fmt(percentile(past["GET /v1/namespaces?at=T"], 50))
          << " ms (≤ 50 at N=1000), whois by address at T p99 " << fmt(percentile(past["whois by address at T"], 99))
          << " ms (≤ 5); device freshness with the journal ÷ without: p99 "
          << fmt(percentile(fresh["device (RTM_NEWLINK)"], 99) /
                 percentile(fresh["device (RTM_NEWLINK), journal off"], 99))
          << " (≤ 1.1), p90 "
          << fmt(percentile(fresh["device (RTM_NEWLINK)"], 90) /
                 percentile(fresh["device (RTM_NEWLINK), journal off"], 90))
          << ", p50 "
          << fmt(percentile(fresh["device (RTM_NEWLINK)"], 50) /
                 percentile(fresh["device (RTM_NEWLINK), journal off"], 50))
          << "; a scrape ÷ a snapshot dump " << fmt(scrape_med / snap_med) << " (≤ 1.5), link dumps for 10 concurrent "
          << "scrapers ÷ for one " << fmt(dumps_ten / std::max(1.0, dumps_one)) << " (≤ 1).\n\n";
    std::fputs(table.str().c_str(), stdout);
    std::fflush(stdout);
    table.str("");
  }
  cleanup();
  return 0;
}
