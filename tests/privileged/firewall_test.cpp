// Conntrack and the firewall on demand, with the real netnsd binary and
// real rules and connections in namespaces the test makes, against the
// tools operators use as the oracle (parsed fields, not text): `conntrack
// -C` for the count, `nft -j list ruleset` for nf_tables (iptables-nft's
// rules included), `iptables-legacy-save` for the legacy tables; and whois
// by port saying which rule takes a port nothing listens on.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <tuple>

#include "daemon.h"
#include "privileged.h"
#include "system.h"

namespace netnsd {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::Daemon;
using testing::eventually;
using testing::NamedNetns;
using testing::unique_name;

class Firewall : public ::testing::Test {
 protected:
  void SetUp() override { NETNSD_REQUIRE_ROOT(); }
};

std::string in_netns(const NamedNetns& ns, const std::string& command) {
  auto got = testing::sh("ip netns exec " + ns.name() + " " + command);
  EXPECT_EQ(got.status, 0) << command << ": " << got.err;
  return got.out;
}

// One chain as both sides describe it.
struct Chain {
  std::string family, table, name, type, hook, policy;
  long long priority = 0;
  std::uint64_t rules = 0;
  auto key() const { return std::tie(family, table, name, type, hook, policy, priority, rules); }
  bool operator<(const Chain& o) const { return key() < o.key(); }
  bool operator==(const Chain& o) const { return key() == o.key(); }
};

std::ostream& operator<<(std::ostream& out, const Chain& c) {
  return out << c.family << " " << c.table << " " << c.name << " type=" << c.type << " hook=" << c.hook
             << " prio=" << c.priority << " policy=" << c.policy << " rules=" << c.rules;
}

// `nft -j list ruleset` inside the namespace, as chains with rule counts.
std::set<Chain> nft_chains(const NamedNetns& ns) {
  const json doc = json::parse(in_netns(ns, "nft -j list ruleset"));
  std::map<std::tuple<std::string, std::string, std::string>, Chain> chains;
  for (const json& item : doc["nftables"]) {
    if (item.contains("chain")) {
      const json& c = item["chain"];
      Chain& out = chains[{c["family"], c["table"], c["name"]}];
      out.family = c["family"];
      out.table = c["table"];
      out.name = c["name"];
      if (c.contains("hook")) {
        out.type = c["type"];
        out.hook = c["hook"];
        out.priority = c["prio"];
        out.policy = c.value("policy", "accept");
      }
    } else if (item.contains("rule")) {
      const json& r = item["rule"];
      ++chains[{r["family"], r["table"], r["chain"]}].rules;
    }
  }
  std::set<Chain> out;
  for (auto& [key, chain] : chains) out.insert(chain);
  return out;
}

std::set<Chain> api_chains(const json& doc) {
  std::set<Chain> out;
  for (const json& t : doc["nftables"]["tables"]) {
    for (const json& c : t["chains"]) {
      Chain chain;
      chain.family = t["family"];
      chain.table = t["name"];
      chain.name = c["name"];
      if (c["hook"].is_string()) {
        chain.type = c["type"];
        chain.hook = c["hook"];
        chain.priority = c["priority"];
        chain.policy = c["policy"];
      }
      chain.rules = c["rules"];
      out.insert(chain);
    }
  }
  return out;
}

// `iptables-legacy-save` (or ip6tables-) inside the namespace: per table,
// its rules and user chains.
std::map<std::string, std::pair<std::uint64_t, std::uint64_t>> legacy_save(const NamedNetns& ns, const char* tool) {
  std::map<std::string, std::pair<std::uint64_t, std::uint64_t>> out;
  std::istringstream lines(in_netns(ns, tool));
  std::string line, table;
  while (std::getline(lines, line)) {
    if (line.rfind("*", 0) == 0) {
      table = line.substr(1);
      out[table];
    } else if (line.rfind("-A ", 0) == 0) {
      ++out[table].first;
    } else if (line.rfind(":", 0) == 0 && line.find(" - ") != std::string::npos) {
      ++out[table].second;  // ":NAME - [0:0]": a user chain (a built-in one has a policy)
    }
  }
  return out;
}

TEST_F(Firewall, ConntrackAndTheFirewallOfEachNamespaceEqualTheToolsOperatorsUse) {
  NamedNetns a(unique_name("fa"));
  NamedNetns b(unique_name("fb"));
  NamedNetns c(unique_name("fc"));
  a.ip({"link", "add", "fwa", "type", "veth", "peer", "name", "fwb", "netns", b.name()});
  a.ip({"addr", "add", "10.209.0.1/24", "dev", "fwa"});
  b.ip({"addr", "add", "10.209.0.2/24", "dev", "fwb"});
  a.ip({"link", "set", "fwa", "up"});
  b.ip({"link", "set", "fwb", "up"});

  // a: an inet filter that tracks connections, a nat table with DNATs on
  // two ports, and a regular chain; the rules made by nft itself.
  const std::string rules = "/tmp/" + unique_name("fw") + ".nft";
  testing::sh("cat > " + rules + R"( <<'EOF'
table inet filt {
  chain input { type filter hook input priority 0; policy accept; ct state established,related accept; tcp dport 22 accept; }
  chain forward { type filter hook forward priority 0; policy drop; }
  chain extra { counter; udp dport 53 accept; }
}
table ip nat {
  chain prerouting { type nat hook prerouting priority -100; policy accept; tcp dport 18080 dnat to 10.209.0.2:80; udp dport 15300 dnat to 10.209.0.2:53; }
  chain postrouting { type nat hook postrouting priority 100; policy accept; }
}
EOF)");
  in_netns(a, "nft -f " + rules);
  std::remove(rules.c_str());
  // b: iptables-nft's rules (a DNAT as a CNI portmap makes one) and legacy
  // ones; c: legacy only, with a user chain, in filter and nat, v4 and v6.
  in_netns(b, "iptables-nft -t nat -A PREROUTING -p tcp --dport 19091 -j DNAT --to-destination 10.209.0.1:80");
  in_netns(b, "iptables-nft -A INPUT -p udp --dport 19092 -j ACCEPT");
  in_netns(c, "iptables-legacy -N CHK");
  in_netns(c, "iptables-legacy -A CHK -p tcp --dport 80 -j ACCEPT");
  in_netns(c, "iptables-legacy -A CHK -j RETURN");
  in_netns(c, "iptables-legacy -A INPUT -j CHK");
  in_netns(c, "iptables-legacy -t nat -A PREROUTING -p tcp --dport 19093 -j DNAT --to-destination 10.0.0.1");
  in_netns(c, "ip6tables-legacy -A INPUT -p tcp --dport 443 -j ACCEPT");

  // Connections a tracks: five pings from b, each its own ICMP id.
  for (int i = 0; i < 5; ++i) in_netns(b, "ping -c 1 -W 1 10.209.0.1");

  Daemon netnsd({"--resync-interval", "0"});
  ASSERT_TRUE(netnsd.ready());

  // Conntrack: a's count equals conntrack -C there, max the machine's.
  const json ct = netnsd.get_json("/v1/namespaces/" + a.name() + "/conntrack");
  ASSERT_TRUE(ct.is_object());
  EXPECT_EQ(ct["netns"], a.inode());
  EXPECT_EQ(ct["loaded"], true) << ct.dump();
  const std::uint64_t counted = std::stoull(in_netns(a, "conntrack -C"));
  EXPECT_GE(counted, 5u);
  EXPECT_EQ(ct["entries"], counted) << ct.dump();
  EXPECT_EQ(ct["max"], std::stoull(testing::read_file("/proc/sys/net/netfilter/nf_conntrack_max")));
  EXPECT_EQ(ct["max_scope"], "machine");
  EXPECT_EQ(ct["nearly_full"], false);
  // c tracks nothing of its own.
  EXPECT_EQ(netnsd.get_json("/v1/namespaces/" + c.name() + "/conntrack")["entries"],
            std::stoull(in_netns(c, "conntrack -C")));

  // The firewall of each: chains and rule counts equal nft's; legacy
  // tables equal iptables-legacy-save's.
  for (const NamedNetns* ns : {&a, &b, &c}) {
    SCOPED_TRACE(ns->name());
    const json fw = netnsd.get_json("/v1/namespaces/" + ns->name() + "/firewall");
    ASSERT_TRUE(fw.is_object());
    const std::set<Chain> ours = api_chains(fw), theirs = nft_chains(*ns);
    EXPECT_EQ(ours, theirs) << "netnsd:\n"
                            << ::testing::PrintToString(ours) << "\nnft:\n"
                            << ::testing::PrintToString(theirs);
    std::uint64_t total = 0;
    for (const Chain& chain : theirs) total += chain.rules;
    EXPECT_EQ(fw["nftables"]["rules"], total);
    std::map<std::string, std::pair<std::uint64_t, std::uint64_t>> ours_legacy, theirs_legacy;
    for (const auto& [family, tool] : {std::pair{"ipv4", "iptables-legacy-save"}, {"ipv6", "ip6tables-legacy-save"}}) {
      for (const auto& [table, counts] : legacy_save(*ns, tool))
        theirs_legacy[std::string(family) + "/" + table] = counts;
    }
    for (const json& t : fw["iptables_legacy"]) {
      ours_legacy[t["family"].get<std::string>() + "/" + t["table"].get<std::string>()] = {t["rules"],
                                                                                           t["user_chains"]};
    }
    EXPECT_EQ(ours_legacy, theirs_legacy) << fw["iptables_legacy"].dump();
  }
  const json fw_a = netnsd.get_json("/v1/namespaces/" + a.name() + "/firewall");
  std::set<std::tuple<std::string, std::string, unsigned>> ports;
  for (const json& r : fw_a["port_rules"]) ports.emplace(r["chain"], r["protocol"], r["port"]);
  EXPECT_EQ(ports, (std::set<std::tuple<std::string, std::string, unsigned>>{{"prerouting", "tcp", 18080},
                                                                             {"prerouting", "udp", 15300}}))
      << fw_a["port_rules"].dump();
  EXPECT_EQ(netnsd.get_json("/v1/namespaces/" + c.name() + "/firewall")["iptables_legacy"].size(), 3u);

  // Whois by port where nothing listens: the DNAT rules that take it, in
  // the namespace that has them, nft's and iptables-nft's alike.
  for (const auto& [port, ns, chain] : {std::tuple{18080, &a, "prerouting"}, {19091, &b, "PREROUTING"}}) {
    const json who = netnsd.get_json("/v1/whois?port=" + std::to_string(port));
    EXPECT_TRUE(who["matches"].empty()) << who.dump();
    ASSERT_TRUE(who["firewall"].is_object()) << who.dump();
    bool found = false;
    for (const json& r : who["firewall"]["rules"]) {
      if (r["netns"] == ns->inode() && r["chain"] == chain && r["protocol"] == "tcp" && r["port"] == port) found = true;
      EXPECT_EQ(r["port"], port) << r.dump();
    }
    EXPECT_TRUE(found) << who["firewall"].dump();
  }
  // A legacy DNAT is not seen (nfnetlink cannot show x_tables' rules); a
  // port with a listener gets no firewall hint.
  EXPECT_TRUE(netnsd.get_json("/v1/whois?port=19093")["firewall"]["rules"].empty());
  EXPECT_EQ(netnsd.get_json("/v1/whois?port=18080&proto=udp")["firewall"]["rules"].size(), 0u);

  std::printf("[ figures ] conntrack in %s: %s\n", a.name().c_str(), ct.dump().c_str());
}

// POST /dump include= puts in each namespace what its own answers say:
// routes, rules and neighbours as GET /v1/namespaces/{netns} has them, and
// the sockets, conntrack count and firewall their endpoints read; without
// include the dump is what it always was.
TEST_F(Firewall, ADumpWithIncludeCarriesWhatEachNamespacesOwnAnswersSay) {
  NamedNetns a(unique_name("da"));
  a.ip({"link", "set", "lo", "up"});
  a.ip({"link", "add", "da0", "type", "veth", "peer", "name", "da1"});
  a.ip({"addr", "add", "10.213.0.1/24", "dev", "da0"});
  a.ip({"link", "set", "da0", "up"});
  a.ip({"route", "add", "10.214.0.0/24", "via", "10.213.0.2"});
  a.ip({"route", "add", "default", "via", "10.213.0.2"});
  a.ip({"neigh", "add", "10.213.0.2", "lladdr", "02:00:00:00:02:02", "dev", "da0", "nud", "permanent"});
  in_netns(a,
           "nft 'add table ip nat; add chain ip nat pre { type nat hook prerouting priority -100; }; "
           "add rule ip nat pre tcp dport 18092 dnat to 10.213.0.2'");
  testing::Background listener({"ip", "netns", "exec", a.name(), "/usr/bin/python3",
                                std::string(NETNSD_TEST_SUPPORT) + "/listener.py", "tcp:127.0.0.1:18091"});
  auto ready = listener.read_line();
  ASSERT_TRUE(ready && ready->rfind("ready", 0) == 0);

  Daemon netnsd({"--resync-interval", "0"});
  ASSERT_TRUE(netnsd.ready());
  const std::string netns = std::to_string(a.inode());
  ASSERT_TRUE(eventually(
      [&] {
        const json ns = netnsd.get_json("/v1/namespaces/" + netns);
        return ns.is_object() && ns["routing"].is_object() && ns["routing"]["listed"] == true;
      },
      5s));
  auto res =
      netnsd.post("/dump?output=stream&netns=" + netns + "&include=routes,neighbours,sockets,conntrack,firewall", "");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  const json doc = json::parse(res->body);
  EXPECT_EQ(doc["include"], json({"routes", "neighbours", "sockets", "conntrack", "firewall"}));
  EXPECT_EQ(doc["include_unread"], 0);
  ASSERT_EQ(doc["namespaces"].size(), 1u);
  const json& ns = doc["namespaces"][0];
  EXPECT_EQ(ns["read"], true);

  const json own = netnsd.get_json("/v1/namespaces/" + netns);
  for (const char* key : {"routes", "rules", "neighbours"}) EXPECT_EQ(ns[key], own[key]) << key;
  bool gateway_route = false;
  for (const json& r : ns["routes"])
    gateway_route = gateway_route || (r["dst"] == "10.214.0.0/24" && r["gateway"] == "10.213.0.2");
  EXPECT_TRUE(gateway_route) << ns["routes"].dump();
  EXPECT_EQ(ns["neighbours"].size(), 1u) << ns["neighbours"].dump();

  auto without_answer_fields = [](json j) {
    for (const char* key : {"netns", "names", "at", "owners"}) j.erase(key);
    return j;
  };
  EXPECT_EQ(ns["conntrack"], without_answer_fields(netnsd.get_json("/v1/namespaces/" + netns + "/conntrack")));
  EXPECT_EQ(ns["firewall"], without_answer_fields(netnsd.get_json("/v1/namespaces/" + netns + "/firewall")));
  EXPECT_EQ(ns["firewall"]["port_rules"][0]["port"], 18092);
  EXPECT_EQ(ns["sockets"], without_answer_fields(netnsd.get_json("/v1/namespaces/" + netns + "/sockets")));
  ASSERT_EQ(ns["sockets"]["listening"].size(), 1u) << ns["sockets"].dump();
  EXPECT_EQ(ns["sockets"]["listening"][0]["port"], 18091);
  EXPECT_EQ(ns["sockets"]["listening"][0]["held_by"][0]["pid"], listener.pid());
  EXPECT_EQ(doc["owners"]["complete"], true);

  // The graph says where each namespace's traffic goes, include or not.
  auto dot = netnsd.post("/dump?output=stream&format=dot&netns=" + netns, "");
  ASSERT_TRUE(dot);
  EXPECT_NE(dot->body.find("\\ndefault via 10.213.0.2 dev da0"), std::string::npos) << dot->body;

  // Without include: none of it.
  auto plain = netnsd.post("/dump?output=stream&netns=" + netns, "");
  ASSERT_TRUE(plain);
  const json plain_doc = json::parse(plain->body);
  EXPECT_FALSE(plain_doc.contains("include"));
  for (const char* key : {"routes", "neighbours", "sockets", "conntrack", "firewall", "read"}) {
    EXPECT_FALSE(plain_doc["namespaces"][0].contains(key)) << key;
  }
}

TEST_F(Firewall, BadRequestsGetAStableCode) {
  Daemon netnsd({"--resync-interval", "0"});
  ASSERT_TRUE(netnsd.ready());
  struct Bad {
    std::string path;
    int status;
    std::string code;
  };
  for (const Bad& bad : {Bad{"/v1/namespaces/" + unique_name("none") + "/firewall", 404, "namespace_not_found"},
                         Bad{"/v1/namespaces/0/conntrack", 400, "invalid_netns"},
                         Bad{"/v1/namespaces/1/conntrack?at=-1m", 400, "conntrack_has_no_past"},
                         Bad{"/v1/namespaces/1/firewall?at=-1m", 400, "firewall_has_no_past"},
                         Bad{"/v1/namespaces/1/firewall?x=1", 400, "unknown_parameter"}}) {
    auto res = netnsd.get(bad.path);
    ASSERT_TRUE(res) << bad.path;
    EXPECT_EQ(res->status, bad.status) << bad.path << ": " << res->body;
    const json body = json::parse(res->body, nullptr, false);
    EXPECT_EQ(body["code"], bad.code) << bad.path << ": " << res->body;
  }
}

}  // namespace
}  // namespace netnsd
