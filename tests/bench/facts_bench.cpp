// Routes, neighbours and sockets: netnsd side by side with the kernel floor
// and with what a user would run instead, in one run, interleaved. See
// tests/bench/README.md.
//
// It makes N namespaces (ip -batch), starts netnsd (the release build) on a
// private socket, and measures:
//   - the sockets of one namespace (GET /v1/namespaces/{netns}/sockets)
//     against a floor that makes the same sock_diag dumps (TCP and UDP, IPv4
//     and IPv6, every state) from a socket already open in that namespace
//     and finds the listeners' holders with the same walk over every
//     process's descriptors, and against `ip netns exec X ss -tulnp`;
//   - whois by port over every namespace (GET /v1/whois?port=) against the
//     floor summed over them: listening sockets only, one pre-opened socket
//     per namespace, one descriptor walk;
//   - route freshness: from an RTM_NEWROUTE request to the route showing in
//     GET /v1/namespaces/{netns};
//   - a storm of 200,000 routes added with `ip -batch` in one namespace:
//     device freshness in the other namespaces before and during it, a new
//     namespace's freshness during it, netnsd's RSS, and what the storming
//     namespace says after.
// Everything it creates is removed at exit, on SIGINT/SIGTERM too.
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <httplib.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/veth.h>
#include <netinet/in.h>
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
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

extern char** environ;

namespace {

using Steady = std::chrono::steady_clock;
using nlohmann::json;

std::string g_prefix;  // of every namespace we make
std::string g_dir;     // our temporary directory
pid_t g_netnsd = -1;
std::vector<pid_t> g_children;

// --- processes and cleanup ------------------------------------------------

int run(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid;
  int rc = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) return -1;
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

pid_t spawn(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  pid_t pid;
  int rc = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  return rc == 0 ? pid : -1;
}

std::vector<std::string> our_namespaces() {
  std::vector<std::string> out;
  if (DIR* d = opendir("/run/netns")) {
    while (dirent* e = readdir(d)) {
      if (!g_prefix.empty() && std::string(e->d_name).rfind(g_prefix, 0) == 0) out.emplace_back(e->d_name);
    }
    closedir(d);
  }
  return out;
}

void cleanup() {
  for (pid_t pid : g_children) kill(pid, SIGKILL);
  for (pid_t pid : g_children) waitpid(pid, nullptr, 0);
  g_children.clear();
  if (g_netnsd > 0) {
    kill(g_netnsd, SIGTERM);
    waitpid(g_netnsd, nullptr, 0);
    g_netnsd = -1;
  }
  const auto names = our_namespaces();
  if (!names.empty()) {
    std::ofstream batch(g_dir + "/del");
    for (const auto& n : names) batch << "netns del " << n << "\n";
    batch.close();
    run({"ip", "-batch", g_dir + "/del"});
  }
  if (!g_dir.empty()) run({"rm", "-rf", g_dir});
}

void on_signal(int) {
  cleanup();
  std::_Exit(130);
}

// --- numbers ----------------------------------------------------------------

double ms(Steady::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const std::size_t i = std::min(v.size() - 1, static_cast<std::size_t>(p / 100.0 * static_cast<double>(v.size())));
  return v[i];
}

std::string fmt(double v) {
  char b[32];
  std::snprintf(b, sizeof b, v >= 100 ? "%.0f" : v >= 10 ? "%.1f" : "%.2f", v);
  return b;
}

long rss_kib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  }
  return -1;
}

// --- netnsd --------------------------------------------------------------------

std::string socket_path() {
  return g_dir + "/netnsd.sock";
}

// One GET on a fresh connection, read to the end; the body ("" on failure).
std::string get(const std::string& path) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", socket_path().c_str());
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    return "";
  }
  const std::string request = "GET " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  if (write(fd, request.data(), request.size()) != static_cast<ssize_t>(request.size())) {
    close(fd);
    return "";
  }
  std::string answer;
  char buffer[1 << 16];
  for (ssize_t n; (n = read(fd, buffer, sizeof buffer)) > 0;) answer.append(buffer, static_cast<std::size_t>(n));
  close(fd);
  const auto body = answer.find("\r\n\r\n");
  if (answer.compare(0, 12, "HTTP/1.1 200") != 0 || body == std::string::npos) return "";
  std::string out = answer.substr(body + 4);
  if (answer.find("Transfer-Encoding: chunked") != std::string::npos) {
    // Unchunk.
    std::string plain;
    std::size_t at = 0;
    for (;;) {
      const std::size_t eol = out.find("\r\n", at);
      if (eol == std::string::npos) break;
      const std::size_t size = std::strtoul(out.c_str() + at, nullptr, 16);
      if (size == 0) break;
      plain += out.substr(eol + 2, size);
      at = eol + 2 + size + 2;
    }
    return plain;
  }
  return out;
}

double time_get(const std::string& path) {
  auto start = Steady::now();
  const std::string body = get(path);
  const double took = ms(Steady::now() - start);
  if (body.empty()) std::fprintf(stderr, "GET %s failed\n", path.c_str());
  return took;
}

pid_t start_netnsd(const std::string& binary) {
  pid_t pid = spawn({binary, "--socket", socket_path(), "--dump-dir", g_dir + "/dumps", "--no-journal",
                     "--lonely-timeout", "1", "--flush-period", "0.5", "--log-level", "warn"});
  for (int i = 0; i < 300; ++i) {
    if (get("/readyz").find("ready") != std::string::npos) return pid;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::fprintf(stderr, "netnsd did not get ready\n");
  return -1;
}

std::uint64_t inode_of(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 ? st.st_ino : 0;
}

std::string ns_name(int i) {
  return g_prefix + std::to_string(i);
}

// --- inside a namespace ------------------------------------------------------------

// A socket of `protocol` made inside the named namespace.
int socket_in(const std::string& ns, int domain, int type, int protocol) {
  int home = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
  int target = open(("/run/netns/" + ns).c_str(), O_RDONLY | O_CLOEXEC);
  int fd = -1;
  if (home >= 0 && target >= 0 && setns(target, CLONE_NEWNET) == 0) {
    fd = socket(domain, type | SOCK_CLOEXEC, protocol);
    if (setns(home, CLONE_NEWNET) != 0) std::exit(1);
  }
  if (home >= 0) close(home);
  if (target >= 0) close(target);
  return fd;
}

// A TCP or UDP listener on `port` inside the named namespace, held here.
int listen_in(const std::string& ns, int type, int port) {
  int fd = socket_in(ns, AF_INET6, type, 0);
  int zero = 0, one = 1;
  setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in6 addr{};
  addr.sin6_family = AF_INET6;
  addr.sin6_port = htons(static_cast<std::uint16_t>(port));
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return -1;
  if (type == SOCK_STREAM) listen(fd, 16);
  return fd;
}

// --- the floor: sock_diag from a socket already open, and the descriptor walk ---

// One sock_diag dump; calls fn(port, inode) for each socket.
bool diag_dump(int fd, std::uint8_t family, std::uint8_t protocol, std::uint32_t states,
               const std::function<void(int, std::uint32_t)>& fn) {
  struct {
    nlmsghdr h;
    inet_diag_req_v2 r;
  } req{};
  req.h.nlmsg_len = sizeof req;
  req.h.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  req.r.sdiag_family = family;
  req.r.sdiag_protocol = protocol;
  req.r.idiag_states = states;
  if (send(fd, &req, sizeof req, 0) < 0) return false;
  static char buffer[1 << 16];
  for (;;) {
    ssize_t n = recv(fd, buffer, sizeof buffer, 0);
    if (n <= 0) return false;
    for (auto* h = reinterpret_cast<nlmsghdr*>(buffer); NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
      if (h->nlmsg_type == NLMSG_DONE) return true;
      if (h->nlmsg_type == NLMSG_ERROR) return false;
      const auto* d = static_cast<const inet_diag_msg*>(NLMSG_DATA(h));
      fn(ntohs(d->id.idiag_sport), d->idiag_inode);
    }
  }
}

// Every process's descriptors read once: which of `inodes` each holds.
std::size_t walk_holders(const std::unordered_set<std::uint32_t>& inodes) {
  std::size_t found = 0;
  DIR* proc = opendir("/proc");
  while (dirent* p = readdir(proc)) {
    if (p->d_name[0] < '0' || p->d_name[0] > '9') continue;
    const std::string dir = std::string("/proc/") + p->d_name + "/fd";
    DIR* fds = opendir(dir.c_str());
    if (!fds) continue;
    while (dirent* f = readdir(fds)) {
      char target[64];
      ssize_t n = readlinkat(dirfd(fds), f->d_name, target, sizeof target - 1);
      if (n < 9 || std::strncmp(target, "socket:[", 8) != 0) continue;
      target[n] = 0;
      if (inodes.count(static_cast<std::uint32_t>(std::strtoul(target + 8, nullptr, 10)))) ++found;
    }
    closedir(fds);
  }
  closedir(proc);
  return found;
}

constexpr std::uint32_t kListening = (1u << 10) | (1u << 7);  // TCP LISTEN, UDP unconnected

// The floor of one namespace's sockets: every TCP and UDP socket of both
// families, the listeners' holders looked up.
double floor_sockets(int diag_fd) {
  auto start = Steady::now();
  std::unordered_set<std::uint32_t> listeners;
  for (std::uint8_t protocol : {IPPROTO_TCP, IPPROTO_UDP}) {
    for (std::uint8_t family : {AF_INET, AF_INET6}) {
      diag_dump(diag_fd, family, protocol, ~0u, [&](int, std::uint32_t inode) { listeners.insert(inode); });
    }
  }
  walk_holders(listeners);
  return ms(Steady::now() - start);
}

// The floor of a whois by port: each namespace's listeners, filtered, then
// one walk for the holders of those on the port.
double floor_whois(const std::vector<int>& diag_fds, int port) {
  auto start = Steady::now();
  std::unordered_set<std::uint32_t> on_port;
  for (int fd : diag_fds) {
    for (std::uint8_t protocol : {IPPROTO_TCP, IPPROTO_UDP}) {
      for (std::uint8_t family : {AF_INET, AF_INET6}) {
        const std::uint32_t states = protocol == IPPROTO_TCP ? 1u << 10 : 1u << 7;
        diag_dump(fd, family, protocol, states, [&](int p, std::uint32_t inode) {
          if (p == port) on_port.insert(inode);
        });
      }
    }
  }
  walk_holders(on_port);
  (void)kListening;
  return ms(Steady::now() - start);
}

// --- rtnetlink requests, as `ip` makes them ----------------------------------------

bool nl_request(int fd, std::vector<char>& message) {
  auto* h = reinterpret_cast<nlmsghdr*>(message.data());
  h->nlmsg_len = static_cast<std::uint32_t>(message.size());
  h->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
  static std::uint32_t seq = 1;
  h->nlmsg_seq = ++seq;
  if (send(fd, message.data(), message.size(), 0) < 0) return false;
  char buffer[8192];
  ssize_t n = recv(fd, buffer, sizeof buffer, 0);
  if (n < static_cast<ssize_t>(sizeof(nlmsghdr) + sizeof(int))) return false;
  int error;
  std::memcpy(&error, buffer + sizeof(nlmsghdr), sizeof error);
  return error == 0;
}

void put_attr(std::vector<char>& m, std::uint16_t type, const void* data, std::size_t size) {
  nlattr a{static_cast<std::uint16_t>(NLA_HDRLEN + size), type};
  const std::size_t at = m.size();
  m.resize(at + NLA_ALIGN(a.nla_len));
  std::memcpy(m.data() + at, &a, sizeof a);
  std::memcpy(m.data() + at + NLA_HDRLEN, data, size);
}

// A blackhole route to `dst`/32 (or its removal).
bool nl_route(int fd, bool add, std::uint32_t dst_be) {
  std::vector<char> m(NLMSG_ALIGN(sizeof(nlmsghdr)) + NLMSG_ALIGN(sizeof(rtmsg)));
  auto* h = reinterpret_cast<nlmsghdr*>(m.data());
  h->nlmsg_type = add ? RTM_NEWROUTE : RTM_DELROUTE;
  h->nlmsg_flags = add ? NLM_F_CREATE | NLM_F_EXCL : 0;
  auto* r = reinterpret_cast<rtmsg*>(m.data() + NLMSG_ALIGN(sizeof(nlmsghdr)));
  r->rtm_family = AF_INET;
  r->rtm_dst_len = 32;
  r->rtm_table = RT_TABLE_MAIN;
  r->rtm_protocol = RTPROT_STATIC;
  r->rtm_scope = RT_SCOPE_UNIVERSE;
  r->rtm_type = RTN_BLACKHOLE;
  put_attr(m, RTA_DST, &dst_be, 4);
  return nl_request(fd, m);
}

// A veth pair (or its removal), as `ip link add NAME type veth peer name PEER`.
bool nl_veth(int fd, bool add, const std::string& name) {
  std::vector<char> m(NLMSG_ALIGN(sizeof(nlmsghdr)) + NLMSG_ALIGN(sizeof(ifinfomsg)));
  auto* h = reinterpret_cast<nlmsghdr*>(m.data());
  h->nlmsg_type = add ? RTM_NEWLINK : RTM_DELLINK;
  h->nlmsg_flags = add ? NLM_F_CREATE | NLM_F_EXCL : 0;
  put_attr(m, IFLA_IFNAME, name.c_str(), name.size() + 1);
  if (add) {
    // IFLA_LINKINFO { IFLA_INFO_KIND "veth", IFLA_INFO_DATA { VETH_INFO_PEER { ifinfomsg, IFLA_IFNAME } } }
    std::vector<char> peer(NLMSG_ALIGN(sizeof(ifinfomsg)));
    const std::string peer_name = name + "p";
    put_attr(peer, IFLA_IFNAME, peer_name.c_str(), peer_name.size() + 1);
    std::vector<char> data;
    put_attr(data, VETH_INFO_PEER, peer.data(), peer.size());
    std::vector<char> info;
    put_attr(info, IFLA_INFO_KIND, "veth", 5);
    put_attr(info, IFLA_INFO_DATA | NLA_F_NESTED, data.data(), data.size());
    put_attr(m, IFLA_LINKINFO | NLA_F_NESTED, info.data(), info.size());
  }
  return nl_request(fd, m);
}

// Polls `path` on a keep-alive connection every 100 us until its body holds
// `needle` (as netnsd_bench does); ms from `start`.
double wait_for(Steady::time_point start, const std::string& path, const std::string& needle) {
  static httplib::Client poller = [] {
    httplib::Client c(socket_path());
    c.set_address_family(AF_UNIX);
    c.set_keep_alive(true);
    return c;
  }();
  while (Steady::now() - start < std::chrono::seconds(10)) {
    auto res = poller.Get(path);
    if (res && res->status == 200 && res->body.find(needle) != std::string::npos) return ms(Steady::now() - start);
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  std::fprintf(stderr, "%s never showed %s\n", path.c_str(), needle.c_str());
  return 10000;
}

// Device freshness in namespace `ns` (through `fd`, a route socket in it).
double device_freshness(int fd, const std::string& ns, int k) {
  const std::string dev = "fb" + std::to_string(k);
  const std::string path = "/v1/namespaces/" + std::to_string(inode_of("/run/netns/" + ns));
  auto start = Steady::now();
  if (!nl_veth(fd, true, dev)) std::fprintf(stderr, "RTM_NEWLINK %s failed\n", dev.c_str());
  const double took = wait_for(start, path, "\"" + dev + "\"");
  nl_veth(fd, false, dev);
  return took;
}

int route_socket(const std::string& ns) {
  int fd = socket_in(ns, AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
  sockaddr_nl local{};
  local.nl_family = AF_NETLINK;
  bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local);
  return fd;
}

}  // namespace

int main(int argc, char** argv) {
  int n = 1000, runs = 20, fresh = 200, storm = 200000;
  std::string exe_dir = std::string(argv[0]).substr(0, std::string(argv[0]).rfind('/') + 1);
  std::string netnsd = exe_dir + "../../netnsd";
  std::string command;
  for (int i = 0; i < argc; ++i) command += (i ? " " : "") + std::string(argv[i]);
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&] { return i + 1 < argc ? std::string(argv[++i]) : std::string(); };
    if (a == "--namespaces") {
      n = std::atoi(next().c_str());
    } else if (a == "--runs") {
      runs = std::atoi(next().c_str());
    } else if (a == "--fresh") {
      fresh = std::atoi(next().c_str());
    } else if (a == "--storm") {
      storm = std::atoi(next().c_str());
    } else if (a == "--netnsd") {
      netnsd = next();
    } else {
      std::fprintf(stderr,
                   "usage: facts_bench [--namespaces 1000] [--runs 20] [--fresh 200] [--storm 200000] "
                   "[--netnsd PATH]\n");
      return 2;
    }
  }
  if (geteuid() != 0) {
    std::fprintf(stderr, "facts_bench needs root\n");
    return 2;
  }
  g_prefix = "nfb" + std::to_string(getpid()) + "-";
  char dir_template[] = "/tmp/netnsd-facts-bench-XXXXXX";
  g_dir = mkdtemp(dir_template);
  std::atexit(cleanup);
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);

  std::fprintf(stderr, "== %d namespaces\n", n);
  {
    std::ofstream batch(g_dir + "/add");
    for (int i = 0; i < n; ++i) batch << "netns add " << ns_name(i) << "\n";
  }
  run({"ip", "-batch", g_dir + "/add"});
  g_netnsd = start_netnsd(netnsd);
  if (g_netnsd < 0) return 1;
  // Every namespace cached and its routes listed.
  for (auto start = Steady::now(); Steady::now() - start < std::chrono::seconds(60);) {
    json all = json::parse(get("/v1/namespaces"), nullptr, false);
    if (all.is_object() && all["namespaces"].size() >= static_cast<std::size_t>(n)) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }

  // Listeners: in the first namespace a TCP and a UDP one on 8080, and on
  // 8081 in every tenth; netnsd's own sockets aside, that is what a whois
  // by port finds.
  const std::string first = ns_name(0);
  std::vector<int> held{listen_in(first, SOCK_STREAM, 8080), listen_in(first, SOCK_DGRAM, 8080)};
  for (int i = 0; i < n; i += 10) held.push_back(listen_in(ns_name(i), SOCK_STREAM, 8081));
  std::vector<int> diag_fds;
  for (int i = 0; i < n; ++i) diag_fds.push_back(socket_in(ns_name(i), AF_NETLINK, SOCK_RAW, NETLINK_SOCK_DIAG));
  const std::string first_path = "/v1/namespaces/" + std::to_string(inode_of("/run/netns/" + first));

  std::fprintf(stderr, "== sockets and whois by port, interleaved, %d runs\n", runs);
  std::map<std::string, std::vector<double>> s;
  const char* kSockets = "GET /v1/namespaces/{netns}/sockets";
  const char* kSocketsFloor = "floor: sock_diag dumps from an open socket + holders";
  const char* kSs = "ip netns exec X ss -tulnp";
  const char* kWhois = "GET /v1/whois?port=8081 (every namespace)";
  const char* kWhoisFloor = "floor: listeners of every namespace from open sockets + holders";
  for (int r = 0; r < runs; ++r) {
    s[kSockets].push_back(time_get(first_path + "/sockets"));
    s[kSocketsFloor].push_back(floor_sockets(diag_fds[0]));
    auto start = Steady::now();
    run({"ip", "netns", "exec", first, "ss", "-tulnp"});
    s[kSs].push_back(ms(Steady::now() - start));
    s[kWhois].push_back(time_get("/v1/whois?port=8081"));
    s[kWhoisFloor].push_back(floor_whois(diag_fds, 8081));
  }
  json whois = json::parse(get("/v1/whois?port=8081"), nullptr, false);
  const std::size_t matches = whois.is_object() ? whois["matches"].size() : 0;
  for (int fd : diag_fds) close(fd);

  std::fprintf(stderr, "== route freshness, %d samples\n", fresh);
  std::vector<int> route_fds;
  for (int i = 0; i < std::min(n, 50); ++i) route_fds.push_back(route_socket(ns_name(i)));
  std::vector<double> route_fresh;
  for (int k = 0; k < fresh; ++k) {
    const int i = k % static_cast<int>(route_fds.size());
    const std::string path = "/v1/namespaces/" + std::to_string(inode_of("/run/netns/" + ns_name(i)));
    const std::uint32_t dst = htonl(0x0afb0000u | static_cast<std::uint32_t>(k & 0xffff));
    char text[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &dst, text, sizeof text);
    auto start = Steady::now();
    if (!nl_route(route_fds[i], true, dst)) std::fprintf(stderr, "RTM_NEWROUTE %s failed\n", text);
    route_fresh.push_back(wait_for(start, path, "\"" + std::string(text) + "/32\""));
    nl_route(route_fds[i], false, dst);
  }

  std::fprintf(stderr, "== a storm of %d routes\n", storm);
  std::vector<double> quiet, stormy, ns_stormy;
  const std::string storming = ns_name(n - 1);
  for (int k = 0; k < fresh; ++k) {
    const int i = k % static_cast<int>(route_fds.size());
    quiet.push_back(device_freshness(route_fds[i], ns_name(i), k));
  }
  {
    std::ofstream batch(g_dir + "/storm");
    for (int k = 0; k < storm; ++k) {
      batch << "route add blackhole 10." << (k >> 16 & 0xff) << "." << (k >> 8 & 0xff) << "." << (k & 0xff) << "/32\n";
    }
  }
  const long rss_before = rss_kib(g_netnsd);
  long rss_peak = rss_before;
  auto storm_start = Steady::now();
  pid_t storm_pid = spawn({"ip", "-n", storming, "-batch", g_dir + "/storm"});
  g_children.push_back(storm_pid);
  int k = fresh;
  double storm_ms = 0;
  for (;;) {
    int status;
    if (waitpid(storm_pid, &status, WNOHANG) == storm_pid) {
      storm_ms = ms(Steady::now() - storm_start);
      g_children.pop_back();
      break;
    }
    const int i = k % static_cast<int>(route_fds.size());
    if (k % 20 == 0) {
      // A new namespace during the storm.
      const std::string name = g_prefix + "s" + std::to_string(k);
      auto start = Steady::now();
      run({"ip", "netns", "add", name});
      ns_stormy.push_back(wait_for(start, "/v1/namespaces/" + name, "\"netns\""));
    } else {
      stormy.push_back(device_freshness(route_fds[i], ns_name(i), k));
    }
    rss_peak = std::max(rss_peak, rss_kib(g_netnsd));
    ++k;
  }
  // What the storming namespace says once its listing has caught up.
  json after;
  for (auto start = Steady::now(); Steady::now() - start < std::chrono::seconds(30);) {
    after = json::parse(get("/v1/namespaces/" + storming), nullptr, false);
    if (after.is_object() && after["routing"]["routes_total"].is_number() &&
        after["routing"]["routes_total"].get<long>() >= storm) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  const long rss_after = rss_kib(g_netnsd);
  for (int fd : route_fds) close(fd);
  for (int fd : held) close(fd);

  std::ostringstream out;
  out << "Command: `" << command << "`  \nTimes in ms; " << n << " namespaces.\n\n";
  out << "| measure | median | p95 | runs | ÷ floor | ss ÷ this |\n|---|---|---|---|---|---|\n";
  const double floor_sockets_med = percentile(s[kSocketsFloor], 50);
  const double floor_whois_med = percentile(s[kWhoisFloor], 50);
  const double ss_med = percentile(s[kSs], 50);
  for (const char* m : {kSockets, kSocketsFloor, kSs, kWhois, kWhoisFloor}) {
    const double med = percentile(s[m], 50);
    const bool whois_row = m == kWhois || m == kWhoisFloor;
    out << "| " << m << " | " << fmt(med) << " | " << fmt(percentile(s[m], 95)) << " | " << s[m].size() << " | "
        << fmt(med / (whois_row ? floor_whois_med : floor_sockets_med)) << " | "
        << (whois_row ? std::string("") : fmt(ss_med / med)) << " |\n";
  }
  out << "\nwhois by port found " << matches << " listeners in " << n << " namespaces.\n\n";
  out << "| freshness (request start → visible in the API) | p50 | p99 | samples |\n|---|---|---|---|\n";
  out << "| route (RTM_NEWROUTE) | " << fmt(percentile(route_fresh, 50)) << " | " << fmt(percentile(route_fresh, 99))
      << " | " << route_fresh.size() << " |\n";
  out << "| device (RTM_NEWLINK), quiet | " << fmt(percentile(quiet, 50)) << " | " << fmt(percentile(quiet, 99))
      << " | " << quiet.size() << " |\n";
  out << "| device (RTM_NEWLINK), during the storm | " << fmt(percentile(stormy, 50)) << " | "
      << fmt(percentile(stormy, 99)) << " | " << stormy.size() << " |\n";
  out << "| ip netns add, during the storm | " << fmt(percentile(ns_stormy, 50)) << " | "
      << fmt(percentile(ns_stormy, 99)) << " | " << ns_stormy.size() << " |\n";
  out << "\n| the storm | value |\n|---|---|\n";
  out << "| routes added (ip -batch) | " << storm << " in " << fmt(storm_ms) << " ms |\n";
  out << "| the namespace after it: routes kept / routes_total / truncated | "
      << (after.is_object() ? after["routes"].size() : 0) << " / "
      << (after.is_object() ? after["routing"]["routes_total"].dump() : "?") << " / "
      << (after.is_object() ? after["routing"]["routes_truncated"].dump() : "?") << " |\n";
  out << "| netnsd RSS before / peak during / after | " << rss_before << " / " << rss_peak << " / " << rss_after
      << " KiB |\n\n";
  out << "Targets: sockets of one namespace " << fmt(percentile(s[kSockets], 50) / floor_sockets_med)
      << "× the floor (≤ 1.5), " << fmt(ss_med / percentile(s[kSockets], 50)) << "× faster than ss (> 1); whois by "
      << "port " << fmt(percentile(s[kWhois], 50) / floor_whois_med) << "× the floor (≤ 1.5); route freshness p99 "
      << fmt(percentile(route_fresh, 99)) << " ms (≤ 10); device freshness p99 during the storm ÷ quiet "
      << fmt(percentile(stormy, 99) / percentile(quiet, 99)) << " (≤ 2).\n";
  std::fputs(out.str().c_str(), stdout);
  cleanup();
  return 0;
}
