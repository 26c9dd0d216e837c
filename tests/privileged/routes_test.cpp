// Routes, policy rules and neighbours, cached live from each namespace's
// rtnetlink traffic, with the real netnsd binary, against iproute2 run in
// the same namespace as the oracle: `ip -j route show table all` (and -6),
// `ip -j -4 rule` and `ip -j -6 rule`, `ip -j neigh`. Fields are parsed and
// compared, not text. The periodic rescan is off: what the cache shows
// after the start, it learnt from notifications.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "daemon.h"
#include "event_stream.h"
#include "privileged.h"
#include "system.h"

namespace netnsd {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::Daemon;
using testing::EventStream;
using testing::eventually;
using testing::NamedNetns;
using testing::unique_name;

std::string text_or(const json& v, const std::string& fallback = "") {
  return v.is_string() ? v.get<std::string>() : v.is_number() ? v.dump() : fallback;
}

// A member of an object, null when it has none (`ip -j` leaves fields out).
json at(const json& object, const char* key) {
  return object.contains(key) ? object[key] : json();
}

// "10.0.0.1" -> "10.0.0.1/32": `ip` leaves a host route's length out.
std::string with_length(const std::string& dst, bool v6) {
  if (dst == "default" || dst.find('/') != std::string::npos) return dst;
  return dst + (v6 ? "/128" : "/32");
}

// One route in terms both sides give: table, type, destination, metric,
// protocol, scope, preferred source, and its ways out (gateway, device,
// weight, each).
using RouteRow = std::tuple<std::string, std::string, std::string, std::string, std::string, std::string, std::string,
                            std::set<std::string>>;

std::set<RouteRow> ip_routes(const std::string& netns, bool v6) {
  json got = json::parse(testing::must({"ip", "-n", netns, "-j", v6 ? "-6" : "-4", "route", "show", "table", "all"}));
  std::set<RouteRow> out;
  for (const json& r : got) {
    std::set<std::string> hops;
    if (r.contains("nexthops")) {
      for (const json& h : at(r, "nexthops")) {
        hops.insert(text_or(at(h, "gateway")) + "|" + text_or(at(h, "dev")) + "|" + text_or(at(h, "weight"), "1"));
      }
    } else if (r.contains("gateway") || r.contains("dev")) {
      hops.insert(text_or(at(r, "gateway")) + "|" + text_or(at(r, "dev")) + "|1");
    }
    out.emplace(text_or(at(r, "table"), "main"), text_or(at(r, "type"), "unicast"),
                with_length(text_or(at(r, "dst")), v6), text_or(at(r, "metric")), text_or(at(r, "protocol"), "boot"),
                text_or(at(r, "scope"), "global"), text_or(at(r, "prefsrc")), hops);
  }
  return out;
}

std::set<RouteRow> api_routes(const json& ns, bool v6) {
  std::set<RouteRow> out;
  for (const json& r : ns["routes"]) {
    if ((r["family"] == "inet6") != v6) continue;
    std::set<std::string> hops;
    if (!r["nexthops"].empty()) {
      for (const json& h : r["nexthops"]) {
        hops.insert(text_or(h["gateway"]) + "|" + text_or(h["dev"]) + "|" + text_or(h["weight"]));
      }
    } else if (!r["gateway"].is_null() || !r["dev"].is_null()) {
      hops.insert(text_or(r["gateway"]) + "|" + text_or(r["dev"]) + "|1");
    }
    // `ip` prints the scope only when it is not global, the protocol only
    // when it is not boot; IPv6 routes have no scope of their own.
    std::string scope = v6 ? "global" : r["scope"].get<std::string>();
    out.emplace(r["table"], r["type"], r["dst"], text_or(r["metric"]), r["protocol"], scope, text_or(r["prefsrc"]),
                hops);
  }
  return out;
}

// One rule: priority, selectors, devices, mark, table or action, "not".
using RuleRow = std::tuple<long, std::string, std::string, std::string, std::string, std::string, std::string, bool>;

std::set<RuleRow> ip_rules(const std::string& netns, bool v6) {
  json got = json::parse(testing::must({"ip", "-n", netns, "-j", v6 ? "-6" : "-4", "rule"}));
  std::set<RuleRow> out;
  auto prefix = [](const json& r, const char* key, const char* len) {
    std::string a = text_or(at(r, key), "all");
    return r.contains(len) ? a + "/" + at(r, len).dump() : a;
  };
  for (const json& r : got) {
    std::string mark = r.contains("fwmark")
                           ? std::to_string(std::stoul(at(r, "fwmark").get<std::string>(), nullptr, 16))
                           : std::string();
    std::string target = r.contains("action") ? at(r, "action").get<std::string>() : "to " + text_or(at(r, "table"));
    out.emplace(at(r, "priority").get<long>(), prefix(r, "src", "srclen"), prefix(r, "dst", "dstlen"),
                text_or(at(r, "iif")), text_or(at(r, "oif")), mark, target, r.contains("not"));
  }
  return out;
}

std::set<RuleRow> api_rules(const json& ns, bool v6) {
  std::set<RuleRow> out;
  for (const json& r : ns["rules"]) {
    if ((r["family"] == "inet6") != v6) continue;
    std::string target =
        r["action"] == "to_tbl" ? "to " + r["table"].get<std::string>() : r["action"].get<std::string>();
    out.emplace(r["priority"].get<long>(), r["src"], r["dst"], text_or(r["iif"]), text_or(r["oif"]),
                text_or(r["fwmark"]), target, r["not"].get<bool>());
  }
  return out;
}

// One neighbour: address, device, link-layer address, states.
using NeighbourRow = std::tuple<std::string, std::string, std::string, std::string>;

std::set<NeighbourRow> ip_neighbours(const std::string& netns) {
  json got = json::parse(testing::must({"ip", "-n", netns, "-j", "neigh"}));
  std::set<NeighbourRow> out;
  for (const json& n : got) {
    std::string states;
    for (const json& s : at(n, "state")) states += (states.empty() ? "" : ",") + s.get<std::string>();
    for (char& c : states) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    out.emplace(at(n, "dst"), at(n, "dev"), text_or(at(n, "lladdr")), states);
  }
  return out;
}

std::set<NeighbourRow> api_neighbours(const json& ns) {
  std::set<NeighbourRow> out;
  for (const json& n : ns["neighbours"]) {
    std::string states;
    for (const json& s : n["state"]) states += (states.empty() ? "" : ",") + s.get<std::string>();
    // `ip neigh` leaves out entries in no state at all.
    if (states == "none") continue;
    out.emplace(n["dst"], text_or(n["dev"]), text_or(n["lladdr"]), states);
  }
  return out;
}

// What is in one set and not the other, printed.
template <class Row>
std::string one_sided(const std::set<Row>& ours, const std::set<Row>& theirs) {
  std::ostringstream out;
  for (const Row& r : ours) {
    if (!theirs.contains(r)) out << "\n  only netnsd: " << ::testing::PrintToString(r);
  }
  for (const Row& r : theirs) {
    if (!ours.contains(r)) out << "\n  only ip: " << ::testing::PrintToString(r);
  }
  return out.str();
}

// Everything of `a` as the API and iproute2 see it, compared; "" when equal.
std::string differences(const Daemon& netnsd, const NamedNetns& a) {
  const json ns = netnsd.find_netns(a.inode());
  if (ns.is_null() || !ns["routing"].is_object() || ns["routing"]["listed"] != true) return "not listed yet";
  std::ostringstream out;
  for (bool v6 : {false, true}) {
    out << one_sided(api_routes(ns, v6), ip_routes(a.name(), v6));
    out << one_sided(api_rules(ns, v6), ip_rules(a.name(), v6));
  }
  out << one_sided(api_neighbours(ns), ip_neighbours(a.name()));
  return out.str();
}

class Routes : public ::testing::Test {
 protected:
  void SetUp() override { NETNSD_REQUIRE_ROOT(); }
};

TEST_F(Routes, RoutesRulesAndNeighboursEqualIproute2AndFollowItsChanges) {
  NamedNetns a(unique_name("ra"));
  NamedNetns b(unique_name("rb"));
  // a's v0 faces b's w0; a's v1 stays inside a.
  a.ip({"link", "set", "lo", "up"});
  a.ip({"link", "add", "v0", "type", "veth", "peer", "name", "w0", "netns", b.name()});
  a.ip({"link", "add", "v1", "type", "veth", "peer", "name", "v2"});
  for (const char* dev : {"v0", "v1", "v2"}) a.ip({"link", "set", dev, "up"});
  b.ip({"link", "set", "w0", "up"});
  a.ip({"addr", "add", "10.61.0.1/24", "dev", "v0"});
  a.ip({"addr", "add", "10.62.0.1/24", "dev", "v1"});
  a.ip({"-6", "addr", "add", "2001:db8:61::1/64", "dev", "v0", "nodad"});
  b.ip({"addr", "add", "10.61.0.2/24", "dev", "w0"});
  // Routes in several tables, both families; a multipath one, a blackhole.
  a.ip({"route", "add", "10.70.0.0/16", "via", "10.61.0.2", "metric", "7"});
  a.ip({"route", "add", "default", "via", "10.61.0.2", "table", "100"});
  a.ip({"route", "add", "10.71.0.0/16", "nexthop", "via", "10.61.0.2", "weight", "2", "nexthop", "via", "10.62.0.2"});
  a.ip({"route", "add", "blackhole", "10.72.0.0/16", "table", "200"});
  a.ip({"-6", "route", "add", "2001:db8:70::/48", "via", "2001:db8:61::2", "table", "100"});
  a.ip({"-6", "route", "add", "unreachable", "2001:db8:71::/48"});
  // Rules, both families.
  a.ip({"rule", "add", "from", "10.61.0.0/24", "table", "100", "pref", "100"});
  a.ip({"rule", "add", "fwmark", "0x7", "table", "200", "pref", "200"});
  a.ip({"rule", "add", "not", "iif", "v1", "table", "100", "pref", "300"});
  a.ip({"-6", "rule", "add", "to", "2001:db8:70::/48", "table", "100", "pref", "100"});
  // Neighbours: static ones, and one learnt by talking to b.
  a.ip({"neigh", "add", "10.62.0.9", "lladdr", "02:00:00:00:62:09", "dev", "v1"});
  a.ip({"-6", "neigh", "add", "2001:db8:61::9", "lladdr", "02:00:00:00:61:09", "dev", "v0", "nud", "stale"});
  testing::must({"ip", "netns", "exec", a.name(), "ping", "-c", "1", "-W", "2", "10.61.0.2"});

  Daemon netnsd({"--resync-interval", "0"});
  ASSERT_TRUE(netnsd.ready());
  std::string diff;
  EXPECT_TRUE(eventually([&] { return (diff = differences(netnsd, a)).empty(); }, 3s)) << diff;
  json ns = netnsd.find_netns(a.inode());
  bool learnt = false;
  for (const json& n : ns["neighbours"]) learnt = learnt || (n["dst"] == "10.61.0.2" && !n["lladdr"].is_null());
  EXPECT_TRUE(learnt) << "the neighbour learnt by the ping: " << ns["neighbours"].dump();
  EXPECT_EQ(ns["routing"]["routes_truncated"], false);

  // Changes, each followed live (the bench times them).
  a.ip({"route", "add", "10.73.0.0/16", "via", "10.62.0.2", "table", "100"});
  a.ip({"route", "del", "10.70.0.0/16", "via", "10.61.0.2", "metric", "7"});
  a.ip({"route", "replace", "10.71.0.0/16", "via", "10.62.0.3"});
  a.ip({"-6", "route", "add", "2001:db8:72::/48", "dev", "v0", "metric", "5"});
  a.ip({"rule", "del", "pref", "200"});
  a.ip({"rule", "add", "to", "10.73.0.0/16", "unreachable", "pref", "250"});
  a.ip({"neigh", "del", "10.62.0.9", "dev", "v1"});
  a.ip({"neigh", "add", "10.62.0.10", "lladdr", "02:00:00:00:62:10", "dev", "v1", "nud", "reachable"});
  a.ip({"link", "set", "v1", "down"});  // its routes go with it
  // A device change lists the namespace again, at most once a second.
  EXPECT_TRUE(eventually([&] { return (diff = differences(netnsd, a)).empty(); }, 3s)) << diff;

  // netnsd's own namespace: the same, for the host (the test touches
  // nothing there; it only compares).
  const std::string host = std::to_string(testing::inode_of("/proc/self/ns/net"));
  json host_ns = netnsd.get_json("/v1/namespaces/" + host);
  ASSERT_TRUE(host_ns["routing"].is_object());
  EXPECT_GT(host_ns["routes"].size(), 0u);
  std::printf("[ figures ] namespace %s: %zu routes, %zu rules, %zu neighbours; the host: %zu routes\n",
              a.name().c_str(), ns["routes"].size(), ns["rules"].size(), ns["neighbours"].size(),
              host_ns["routes"].size());
}

TEST_F(Routes, ANamespaceBeyondTheRouteBudgetKeepsTheFirstAndCountsTheRest) {
  NamedNetns a(unique_name("rt"));
  a.ip({"link", "set", "lo", "up"});
  a.ip({"link", "add", "v0", "type", "veth", "peer", "name", "v1"});
  a.ip({"link", "set", "v0", "up"});
  a.ip({"link", "set", "v1", "up"});
  // 10,100 routes in one batch: 100 more than a namespace's budget.
  testing::TempDir dir;
  const std::string batch = dir.path() + "/routes";
  {
    std::ofstream out(batch);
    for (int i = 0; i < 10100; ++i) out << "route add 10." << (100 + i / 256) << "." << (i % 256) << ".0/24 dev v0\n";
  }
  testing::must({"ip", "-n", a.name(), "-batch", batch});
  // The kernel's count, asked each time: IPv6 link-local routes come a
  // moment after their devices are up.
  auto kernel = [&] {
    return json::parse(testing::must({"ip", "-n", a.name(), "-j", "-4", "route", "show", "table", "all"})).size() +
           json::parse(testing::must({"ip", "-n", a.name(), "-j", "-6", "route", "show", "table", "all"})).size();
  };

  Daemon netnsd({"--resync-interval", "0"});
  ASSERT_TRUE(netnsd.ready());
  json ns;
  ASSERT_TRUE(eventually(
      [&] {
        ns = netnsd.find_netns(a.inode());
        return ns.is_object() && ns["routing"].is_object() && ns["routing"]["listed"] == true &&
               ns["routing"]["routes_total"] == kernel();
      },
      5s))
      << ns["routing"].dump() << " while the kernel has " << kernel();
  EXPECT_EQ(ns["routes"].size(), 10000u);
  EXPECT_EQ(ns["routing"]["routes_truncated"], true);
  EXPECT_EQ(netnsd.metric("netnsd_routes_dropped"), ns["routing"]["routes_total"].get<double>() - 10000);

  // Room again: once enough are gone, a listing fills it back (a namespace
  // is listed at most once a second).
  std::ofstream(batch) << [] {
    std::string out;
    for (int i = 0; i < 200; ++i) {
      out += "route del 10." + std::to_string(100 + i / 256) + "." + std::to_string(i % 256) + ".0/24 dev v0\n";
    }
    return out;
  }();
  testing::must({"ip", "-n", a.name(), "-batch", batch});
  EXPECT_TRUE(eventually(
      [&] {
        ns = netnsd.find_netns(a.inode());
        return ns["routing"]["routes_truncated"] == false && ns["routing"]["routes_total"] == kernel() &&
               ns["routes"].size() == ns["routing"]["routes_total"].get<std::size_t>();
      },
      8s))
      << ns["routing"].dump() << " while the kernel has " << kernel();
  EXPECT_EQ(netnsd.get_json("/healthz")["status"], "ok");
}

// The change stream carries route and neighbour changes as they happen (a
// neighbour's state changes only to a subscriber that asks for them); the
// journal records neighbours appearing and vanishing, and no routes.
TEST_F(Routes, RouteAndNeighbourChangesAreOnTheStreamAndNeighboursInTheJournal) {
  NamedNetns a(unique_name("ea"));
  NamedNetns b(unique_name("eb"));
  a.ip({"link", "add", "ea0", "type", "veth", "peer", "name", "eb0", "netns", b.name()});
  a.ip({"addr", "add", "10.211.0.1/24", "dev", "ea0"});
  b.ip({"addr", "add", "10.211.0.2/24", "dev", "eb0"});
  a.ip({"link", "set", "ea0", "up"});
  b.ip({"link", "set", "eb0", "up"});
  Daemon netnsd({"--resync-interval", "0"});
  ASSERT_TRUE(netnsd.ready());
  const std::string netns = std::to_string(a.inode());
  ASSERT_TRUE(eventually(
      [&] {
        const json ns = netnsd.get_json("/v1/namespaces/" + netns);
        return ns.is_object() && ns["routing"].is_object() && ns["routing"]["listed"] == true;
      },
      5s));
  // Routes and neighbours come to those that ask for them; a subscriber
  // asking for nothing in particular gets the stream as it always was.
  EventStream unasked(netnsd.socket_path(), "?netns=" + netns);
  EventStream plain(netnsd.socket_path(), "?netns=" + netns + "&type=route,neighbour_added,neighbour_removed");
  EventStream asked(netnsd.socket_path(), "?netns=" + netns + "&type=neighbour_changed,route");
  for (EventStream* s : {&unasked, &plain, &asked}) {
    ASSERT_EQ(s->status(), 200);
    ASSERT_TRUE(s->wait_for([](const json& e) { return e["type"] == "subscribed"; }, 2s));
  }

  a.ip({"route", "add", "10.212.0.0/24", "via", "10.211.0.2"});
  a.ip({"neigh", "add", "10.211.0.9", "lladdr", "02:00:00:00:00:09", "dev", "ea0", "nud", "permanent"});
  a.ip({"neigh", "replace", "10.211.0.9", "lladdr", "02:00:00:00:00:0a", "dev", "ea0", "nud", "permanent"});
  a.ip({"route", "del", "10.212.0.0/24"});
  a.ip({"neigh", "del", "10.211.0.9", "dev", "ea0"});

  auto route_is = [](const json& e, const char* type) {
    return e["type"] == type && e["route"]["dst"] == "10.212.0.0/24";
  };
  auto neighbour_is = [](const json& e, const char* type) {
    return e["type"] == type && e["neighbour"]["dst"] == "10.211.0.9";
  };
  auto added = plain.wait_for([&](const json& e) { return route_is(e, "route_added"); }, 3s);
  ASSERT_TRUE(added);
  EXPECT_EQ(added->body["route"]["gateway"], "10.211.0.2") << added->body.dump();
  EXPECT_EQ(added->body["route"]["dev"], "ea0") << added->body.dump();
  auto appeared = plain.wait_for([&](const json& e) { return neighbour_is(e, "neighbour_added"); }, 3s);
  ASSERT_TRUE(appeared);
  EXPECT_EQ(appeared->body["neighbour"]["lladdr"], "02:00:00:00:00:09") << appeared->body.dump();
  EXPECT_EQ(appeared->body["neighbour"]["dev"], "ea0") << appeared->body.dump();
  ASSERT_TRUE(plain.wait_for([&](const json& e) { return route_is(e, "route_removed"); }, 3s));
  std::vector<std::string> plain_types;
  ASSERT_TRUE(plain.wait_for(
      [&](const json& e) {
        plain_types.push_back(e["type"]);
        return neighbour_is(e, "neighbour_removed");
      },
      3s));
  // The neighbour's change came between its appearing and vanishing: not
  // to a subscriber that did not ask for it.
  for (const std::string& type : plain_types) EXPECT_NE(type, "neighbour_changed");
  for (const json& e : unasked.drain(300ms)) {
    const std::string type = e["type"];
    EXPECT_TRUE(type.rfind("route_", 0) != 0 && type.rfind("neighbour_", 0) != 0) << e.dump();
  }
  // Only the subscriber that asked sees the neighbour change; it sees no
  // neighbour appearing, which it did not ask for.
  std::vector<std::string> asked_types;
  const auto changed = asked.wait_for(
      [&](const json& e) {
        asked_types.push_back(e["type"]);
        return neighbour_is(e, "neighbour_changed");
      },
      3s);
  ASSERT_TRUE(changed) << ::testing::PrintToString(asked_types);
  EXPECT_EQ(changed->body["neighbour"]["lladdr"], "02:00:00:00:00:0a");
  for (const json& e : asked.drain(500ms)) asked_types.push_back(e["type"]);
  for (const std::string& type : asked_types) EXPECT_NE(type, "neighbour_added");
  EXPECT_NE(std::find(asked_types.begin(), asked_types.end(), "route_removed"), asked_types.end());

  // The journal: the neighbour's appearing and vanishing, by its address;
  // not its change, and no route of the namespace.
  std::vector<std::string> recorded;
  ASSERT_TRUE(eventually(
      [&] {
        recorded.clear();
        auto res = netnsd.get("/v1/history?address=10.211.0.9");
        if (!res || res->status != 200) return false;
        std::istringstream lines(res->body);
        std::string line;
        while (std::getline(lines, line)) {
          const json e = json::parse(line, nullptr, false);
          if (e.is_object() && e.contains("type")) recorded.push_back(e["type"]);
        }
        return recorded.size() >= 2;
      },
      5s))
      << ::testing::PrintToString(recorded);
  EXPECT_EQ(recorded, (std::vector<std::string>{"neighbour_added", "neighbour_removed"}));
  auto all = netnsd.get("/v1/history?netns=" + netns);
  ASSERT_TRUE(all);
  EXPECT_EQ(all->body.find("route_"), std::string::npos) << all->body.substr(0, 2000);
  EXPECT_EQ(all->body.find("neighbour_changed"), std::string::npos);
}

}  // namespace
}  // namespace netnsd
