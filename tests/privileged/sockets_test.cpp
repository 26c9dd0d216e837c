// Sockets on demand, with the real netnsd binary and real sockets held by
// real processes, against `ss` run inside each namespace as the oracle
// (parsed fields, not text): listening TCP and UDP sockets of both families,
// bound to an address, to any, to a device, dual-stack and v6-only; the
// processes holding them, one of which lives in another namespace; and the
// connections counted per state.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "daemon.h"
#include "privileged.h"
#include "system.h"

namespace netnsd {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::Background;
using testing::Daemon;
using testing::eventually;
using testing::HeldNetns;
using testing::NamedNetns;
using testing::unique_name;

// One listening socket as both sides describe it: protocol, address as
// `ss` writes it ("*" for a dual-stack IPv6 one), device, port, and the
// (pid, fd) of each holder.
struct Listener {
  std::string protocol, address, device;
  int port = 0;
  std::set<std::pair<long, long>> holders;
  bool operator<(const Listener& o) const {
    return std::tie(protocol, address, device, port, holders) <
           std::tie(o.protocol, o.address, o.device, o.port, o.holders);
  }
  bool operator==(const Listener& o) const { return !(*this < o) && !(o < *this); }
};

std::ostream& operator<<(std::ostream& out, const Listener& l) {
  out << l.protocol << " " << l.address << "%" << l.device << ":" << l.port << " held by";
  for (const auto& [pid, fd] : l.holders) out << " " << pid << "/" << fd;
  return out;
}

// `ss -H -tulnp` inside the namespace at `netns_path`, parsed.
std::set<Listener> ss_listeners(const std::string& netns_path) {
  auto got = testing::run({"nsenter", "--net=" + netns_path, "ss", "-H", "-tulnp"});
  EXPECT_EQ(got.status, 0) << got.err;
  std::set<Listener> out;
  std::istringstream lines(got.out);
  std::string line;
  static const std::regex holder(R"(pid=(\d+),fd=(\d+))");
  while (std::getline(lines, line)) {
    std::istringstream fields(line);
    std::string netid, state, recvq, sendq, local;
    fields >> netid >> state >> recvq >> sendq >> local;
    if (local.empty()) continue;
    Listener l;
    l.protocol = netid;
    const auto colon = local.rfind(':');
    l.port = std::stoi(local.substr(colon + 1));
    std::string address = local.substr(0, colon);
    if (auto percent = address.find('%'); percent != std::string::npos) {
      l.device = address.substr(percent + 1);
      address.resize(percent);
    }
    if (address.size() > 1 && address.front() == '[') address = address.substr(1, address.size() - 2);
    l.address = address;
    for (std::sregex_iterator it(line.begin(), line.end(), holder), end; it != end; ++it) {
      l.holders.emplace(std::stol((*it)[1]), std::stol((*it)[2]));
    }
    out.insert(l);
  }
  return out;
}

// The API's answer in the same terms.
std::set<Listener> api_listeners(const json& doc) {
  std::set<Listener> out;
  for (const json& s : doc["listening"]) {
    Listener l;
    l.protocol = s["protocol"];
    l.address = s["address"];
    if (s["family"] == "ipv6" && l.address == "::" && s["v6only"] == false) l.address = "*";
    l.device = s["device"].is_string() ? s["device"].get<std::string>() : "";
    l.port = s["port"];
    for (const json& h : s["held_by"]) l.holders.emplace(h["pid"].get<long>(), h["fd"].get<long>());
    out.insert(l);
  }
  return out;
}

// TCP sockets per state as `ss -H -tan` counts them inside the namespace,
// in the API's names; listening ones left out.
std::map<std::string, std::uint64_t> ss_tcp_states(const std::string& netns_path) {
  auto got = testing::run({"nsenter", "--net=" + netns_path, "ss", "-H", "-tan"});
  EXPECT_EQ(got.status, 0) << got.err;
  std::map<std::string, std::uint64_t> out;
  std::istringstream lines(got.out);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream fields(line);
    std::string state;
    fields >> state;
    if (state.empty() || state == "LISTEN") continue;
    if (state == "ESTAB") state = "established";
    for (char& c : state) c = c == '-' ? '_' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    ++out[state];
  }
  return out;
}

std::string listener_script() {
  return std::string(NETNSD_TEST_SUPPORT) + "/listener.py";
}

class Sockets : public ::testing::Test {
 protected:
  void SetUp() override { NETNSD_REQUIRE_ROOT(); }
};

TEST_F(Sockets, EveryNamespacesListenersAndTheirHoldersEqualSs) {
  NamedNetns a(unique_name("sa"));
  NamedNetns b(unique_name("sb"));
  HeldNetns c;  // no bind mount: only its process keeps it
  for (const std::string& target : {a.name(), b.name()}) {
    testing::must({"ip", "-n", target, "link", "set", "lo", "up"});
  }
  c.ip({"link", "set", "lo", "up"});
  a.ip({"link", "add", "v0", "type", "veth", "peer", "name", "v1"});
  a.ip({"link", "set", "v0", "up"});

  // In a: every kind, and two connections (one TCP, one UDP).
  Background in_a({"ip", "netns", "exec", a.name(), "/usr/bin/python3", listener_script(), "tcp:127.0.0.1:8080",
                   "tcp6:[::]:8081:v6only", "tcp6:[::]:8082:dual", "tcp:0.0.0.0:8083:dev=v0", "udp:0.0.0.0:5353",
                   "udp6:[::]:5354:dual", "udp6:[::1]:5355:v6only", "tcp:127.0.0.1:8080:connect",
                   "udp:127.0.0.1:0:connect=127.0.0.2"});
  // In b: sockets made there by a process that lives in the host's
  // namespace; in c, the same for a namespace no mount names.
  Background into_b({"/usr/bin/python3", listener_script(), "--netns", "/run/netns/" + b.name(), "tcp:0.0.0.0:9090",
                     "udp6:[::]:9091:dual"});
  Background into_c({"/usr/bin/python3", listener_script(), "--netns", "/proc/" + std::to_string(c.pid()) + "/ns/net",
                     "tcp6:[::]:9092:dual"});
  for (Background* p : {&in_a, &into_b, &into_c}) {
    auto ready = p->read_line();
    ASSERT_TRUE(ready && ready->rfind("ready", 0) == 0) << "a listener did not start";
  }

  Daemon netnsd({"--resync-interval", "0"});
  ASSERT_TRUE(netnsd.ready());
  ASSERT_TRUE(eventually([&] { return !netnsd.find_netns(c.inode()).is_null(); }, 3s));
  const std::uint64_t host = testing::inode_of("/proc/self/ns/net");

  struct Case {
    std::string key, path;  // how the API names it, and its namespace file for ss
    std::uint64_t inode;
    std::size_t listeners;
  };
  for (const Case& k :
       {Case{a.name(), "/run/netns/" + a.name(), a.inode(), 7},
        Case{std::to_string(b.inode()), "/run/netns/" + b.name(), b.inode(), 2},
        Case{std::to_string(c.inode()), "/proc/" + std::to_string(c.pid()) + "/ns/net", c.inode(), 1}}) {
    SCOPED_TRACE(k.key);
    auto res = netnsd.get("/v1/namespaces/" + k.key + "/sockets");
    ASSERT_TRUE(res);
    ASSERT_EQ(res->status, 200) << res->body;
    const json doc = json::parse(res->body);
    EXPECT_EQ(doc["netns"], k.inode);
    EXPECT_EQ(doc["owners"]["complete"], true);
    const std::set<Listener> ours = api_listeners(doc), theirs = ss_listeners(k.path);
    EXPECT_EQ(ours.size(), k.listeners) << doc.dump(1);
    EXPECT_EQ(ours, theirs) << "netnsd:\n"
                            << ::testing::PrintToString(ours) << "\nss:\n"
                            << ::testing::PrintToString(theirs);
    for (const json& s : doc["listening"]) {
      // Every holder lives where the test put it: in a for a, in the
      // host's namespace for b and c.
      for (const json& h : s["held_by"]) EXPECT_EQ(h["netns"], k.inode == a.inode() ? a.inode() : host) << s.dump();
      EXPECT_EQ(s["held_by_total"], s["held_by"].size());
      EXPECT_GT(s["inode"].get<std::uint64_t>(), 0u);
    }
    std::map<std::string, std::uint64_t> states;
    if (doc["others"].contains("tcp")) states = doc["others"]["tcp"].get<std::map<std::string, std::uint64_t>>();
    EXPECT_EQ(states, ss_tcp_states(k.path)) << doc["others"].dump();
  }
  // a's connected UDP socket is not a listener, but is counted.
  const json a_doc = netnsd.get_json("/v1/namespaces/" + a.name() + "/sockets");
  EXPECT_EQ(a_doc["others"]["udp"]["established"], 1) << a_doc["others"].dump();
  EXPECT_EQ(a_doc["others"]["tcp"]["established"], 2) << a_doc["others"].dump();

  // netnsctl sockets: one line per listener, as ss writes its address.
  auto printed = testing::run({NETNSCTL_BINARY, "--socket", netnsd.socket_path(), "sockets", a.name()});
  ASSERT_EQ(printed.status, 0) << printed.err;
  EXPECT_NE(printed.out.find("tcp 127.0.0.1:8080 held by python3 pid " + std::to_string(in_a.pid())), std::string::npos)
      << printed.out;
  EXPECT_NE(printed.out.find("tcp 0.0.0.0%v0:8083"), std::string::npos) << printed.out;
  EXPECT_NE(printed.out.find("tcp *:8082"), std::string::npos) << "dual-stack, as ss writes it: " << printed.out;
  EXPECT_NE(printed.out.find("tcp [::]:8081"), std::string::npos) << printed.out;
  EXPECT_NE(printed.out.find("tcp: established 2"), std::string::npos) << printed.out;
  std::printf("[ figures ] netnsctl sockets %s:\n%s", a.name().c_str(), printed.out.c_str());
}

TEST_F(Sockets, BadRequestsGetAStableCodeAndAVanishingNamespaceNeverA500) {
  Daemon netnsd({"--resync-interval", "0", "--lonely-timeout", "1", "--flush-period", "1"});
  ASSERT_TRUE(netnsd.ready());
  struct Bad {
    std::string path;
    int status;
    std::string code;
  };
  for (const Bad& bad :
       {Bad{"/v1/namespaces/" + unique_name("none") + "/sockets", 404, "namespace_not_found"},
        Bad{"/v1/namespaces/4026531/sockets", 404, "namespace_not_found"},
        Bad{"/v1/namespaces/0/sockets", 400, "invalid_netns"},
        Bad{"/v1/namespaces/99999999999/sockets", 400, "invalid_netns"},
        Bad{"/v1/namespaces/1/sockets?at=-1m", 400, "sockets_have_no_past"},
        Bad{"/v1/namespaces/1/sockets?x=1", 400, "unknown_parameter"}, Bad{"/v1/whois?port=0", 400, "invalid_port"},
        Bad{"/v1/whois?port=70000", 400, "invalid_port"}, Bad{"/v1/whois?port=abc", 400, "invalid_port"},
        Bad{"/v1/whois?port=", 400, "invalid_port"}, Bad{"/v1/whois?port=-1", 400, "invalid_port"},
        Bad{"/v1/whois?port=80&proto=foo", 400, "invalid_protocol"}, Bad{"/v1/whois?proto=tcp", 400, "missing_subject"},
        Bad{"/v1/whois?port=80&at=-1m", 400, "port_has_no_past"},
        Bad{"/v1/whois?port=80&address=127.0.0.1", 400, "too_many_subjects"},
        Bad{"/v1/whois?port=80&port=81", 400, "invalid_port"}}) {
    auto res = netnsd.get(bad.path);
    ASSERT_TRUE(res) << bad.path;
    EXPECT_EQ(res->status, bad.status) << bad.path << ": " << res->body;
    const json body = json::parse(res->body, nullptr, false);
    EXPECT_EQ(body["code"], bad.code) << bad.path << ": " << res->body;
    EXPECT_TRUE(body["error"].is_string()) << bad.path;
  }
  // netnsctl refuses a port with --at before asking.
  auto past = testing::run({NETNSCTL_BINARY, "--socket", netnsd.socket_path(), "whois", ":80", "--at", "-1m"});
  EXPECT_NE(past.status, 0);
  EXPECT_NE(past.err.find("no --at"), std::string::npos) << past.err;

  // A namespace deleted while its sockets are asked for, again and again,
  // until the cache lets it go: 200 while it is held, then 404, never else.
  std::map<int, int> statuses;
  for (int round = 0; round < 3; ++round) {
    auto ns = std::make_unique<NamedNetns>(unique_name("sv"));
    const std::string key = std::to_string(ns->inode());
    ASSERT_TRUE(eventually([&] { return !netnsd.find_netns(ns->inode()).is_null(); }, 3s));
    ns.reset();  // ip netns del
    const auto until = std::chrono::steady_clock::now() + 6s;
    int last = 0;
    while (std::chrono::steady_clock::now() < until && last != 404) {
      auto res = netnsd.get("/v1/namespaces/" + key + "/sockets");
      ASSERT_TRUE(res);
      last = res->status;
      ++statuses[last];
      ASSERT_TRUE(last == 200 || last == 404) << res->status << " " << res->body;
      if (last == 404) {
        EXPECT_EQ(json::parse(res->body)["code"], "namespace_not_found");
      }
    }
    EXPECT_EQ(last, 404) << "the deleted namespace was still listed after 6 s";
  }
  std::printf("[ figures ] sockets of a namespace being deleted: %d answers 200, %d answers 404\n", statuses[200],
              statuses[404]);
  EXPECT_EQ(netnsd.get_json("/healthz")["status"], "ok");
}

}  // namespace
}  // namespace netnsd
