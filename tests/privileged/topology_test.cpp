// The acceptance topology: 50 real namespaces (ip netns add and process-held
// unshare -n), veth pairs between them and to the host, a bridge with
// enslaved ports and a macvlan; the dump from the real server on a real Unix
// socket must match what iproute2 reports, device by device.
#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <memory>
#include <set>

#include "daemon.h"
#include "privileged.h"
#include "service.h"
#include "system.h"

namespace netnsd {
namespace {

using nlohmann::json;
using testing::HeldNetns;
using testing::HostLinks;
using testing::LiveService;
using testing::NamedNetns;
using testing::run;
using testing::unique_name;

// One test namespace, whichever way it is held.
struct Ns {
  std::uint64_t inode = 0;
  std::string name;    // ip netns name, empty for a held one
  std::string target;  // what `ip link ... netns X` takes
  std::function<std::string(std::vector<std::string>)> ip;
};

// A veth end: which namespace (index; -1 = host) and which name.
struct End {
  int ns;
  std::string name;
};

class Topology : public ::testing::Test {
 protected:
  static constexpr int kNamed = 25;
  static constexpr int kHeld = 25;

  void SetUp() override {
    NETNSD_REQUIRE_ROOT();
    prefix_ = unique_name("t");
    for (int i = 0; i < kNamed; ++i) {
      named_.push_back(std::make_unique<NamedNetns>(prefix_ + "-" + std::to_string(i)));
      auto* n = named_.back().get();
      namespaces_.push_back({n->inode(), n->name(), n->target(), [n](auto args) { return n->ip(args); }});
    }
    for (int i = 0; i < kHeld; ++i) {
      held_.push_back(std::make_unique<HeldNetns>());
      auto* h = held_.back().get();
      namespaces_.push_back({h->inode(), "", h->target(), [h](auto args) { return h->ip(args); }});
    }
    for (const Ns& ns : namespaces_) ASSERT_NE(ns.inode, 0u);

    // veth pairs to the host: five into named namespaces, five into held ones.
    for (int i : {0, 1, 2, 3, 4, 25, 26, 27, 28, 29}) {
      std::string host_end = unique_name("h");
      host_links_.add(host_end);
      testing::must(
          {"ip", "link", "add", host_end, "type", "veth", "peer", "name", "eth0", "netns", namespaces_[i].target});
      pairs_.push_back({{-1, host_end}, {i, "eth0"}});
      if (i % 2 == 0) namespaces_[i].ip({"link", "set", "eth0", "up"});
    }
    // veth pairs between namespaces: named-held, named-named, held-held.
    for (auto [a, b] : std::vector<std::pair<int, int>>{
             {10, 35}, {11, 36}, {12, 37}, {13, 38}, {14, 39}, {15, 16}, {17, 18}, {40, 41}, {42, 43}}) {
      namespaces_[a].ip({"link", "add", "to" + std::to_string(b), "type", "veth", "peer", "name",
                         "to" + std::to_string(a), "netns", namespaces_[b].target});
      pairs_.push_back({{a, "to" + std::to_string(b)}, {b, "to" + std::to_string(a)}});
    }
    // A bridge in namespace 19 with two enslaved ports, each a veth to 20 / 21.
    namespaces_[19].ip({"link", "add", "br0", "type", "bridge"});
    for (int other : {20, 21}) {
      std::string port = std::string("p").append(std::to_string(other));  // not "p" + ...: GCC 12 -Wrestrict
      namespaces_[19].ip(
          {"link", "add", port, "type", "veth", "peer", "name", "uplink", "netns", namespaces_[other].target});
      namespaces_[19].ip({"link", "set", port, "master", "br0"});
      pairs_.push_back({{19, port}, {other, "uplink"}});
    }
    namespaces_[19].ip({"link", "set", "br0", "up"});
    // A macvlan in namespace 22 on a veth to held namespace 44.
    namespaces_[22].ip(
        {"link", "add", "lower0", "type", "veth", "peer", "name", "lower1", "netns", namespaces_[44].target});
    pairs_.push_back({{22, "lower0"}, {44, "lower1"}});
    namespaces_[22].ip({"link", "add", "mv0", "link", "lower0", "type", "macvlan", "mode", "bridge"});
  }

  // `ip -j -d link show` in namespace i (-1 = host), by interface name.
  std::map<std::string, json> truth(int i) const {
    std::string out =
        i < 0 ? testing::must({"ip", "-j", "-d", "link", "show"}) : namespaces_[i].ip({"-j", "-d", "link", "show"});
    std::map<std::string, json> by_name;
    for (json& link : json::parse(out)) by_name[link["ifname"].get<std::string>()] = link;
    return by_name;
  }

  std::uint64_t inode_of(int i) const { return i < 0 ? testing::host_netns() : namespaces_[i].inode; }

  std::vector<std::uint64_t> our_inodes() const {
    std::vector<std::uint64_t> ids;
    for (const Ns& ns : namespaces_) ids.push_back(ns.inode);
    return ids;
  }

  std::string prefix_;
  std::vector<std::unique_ptr<NamedNetns>> named_;
  std::vector<std::unique_ptr<HeldNetns>> held_;
  std::vector<Ns> namespaces_;
  HostLinks host_links_;
  std::vector<std::pair<End, End>> pairs_;
};

TEST_F(Topology, DumpMatchesTheKernelDeviceByDevice) {
  LiveService service;
  json dump = service.dump_stream({});
  ASSERT_TRUE(dump.is_object());
  std::map<std::uint64_t, json> by_inode;
  for (const json& ns : dump["namespaces"]) by_inode[ns["netns"].get<std::uint64_t>()] = ns;

  for (int i = 0; i < static_cast<int>(namespaces_.size()); ++i) {
    SCOPED_TRACE("namespace " + std::to_string(i));
    const Ns& ns = namespaces_[i];
    ASSERT_TRUE(by_inode.count(ns.inode)) << "namespace " << ns.inode << " missing from the dump";
    const json& got = by_inode[ns.inode];
    if (!ns.name.empty()) {
      EXPECT_EQ(got["names"], json::array({ns.name}));
    } else {
      EXPECT_EQ(got["names"], json::array());
      EXPECT_GE(got["pids"].get<int>(), 1) << "held by the unshare process";
    }
    EXPECT_FALSE(got["handle"].is_null());

    auto kernel = truth(i);
    ASSERT_EQ(got["devices"].size(), kernel.size());
    for (const auto& [name, link] : kernel) {
      SCOPED_TRACE(name);
      const json* dev = testing::device_in(got, name);
      ASSERT_NE(dev, nullptr);
      EXPECT_EQ((*dev)["ifindex"], link["ifindex"]);
      std::string kind = link.contains("linkinfo") ? link["linkinfo"].value("info_kind", "") : "";
      EXPECT_EQ((*dev)["kind"], kind);
      EXPECT_EQ((*dev)["mtu"], link["mtu"]);
      EXPECT_EQ((*dev)["mac"], link.value("address", ""));
      bool up = false;
      for (const json& flag : link["flags"]) up = up || flag == "UP";
      EXPECT_EQ((*dev)["up"], up);
      if (link.contains("master")) {
        ASSERT_TRUE((*dev)["master"].is_number());
        EXPECT_EQ((*dev)["master"], kernel.at(link["master"].get<std::string>())["ifindex"]);
      } else {
        EXPECT_TRUE((*dev)["master"].is_null());
      }
    }
  }

  // Every veth pair: each end names the other's ifindex and namespace inode.
  auto device_in = [&](int i, const std::string& name) -> const json* {
    if (i >= 0) return testing::device_in(by_inode[inode_of(i)], name);
    return testing::device_in(by_inode[testing::host_netns()], name);
  };
  for (const auto& [a, b] : pairs_) {
    SCOPED_TRACE(a.name + " <-> " + b.name);
    const json* da = device_in(a.ns, a.name);
    const json* db = device_in(b.ns, b.name);
    ASSERT_NE(da, nullptr);
    ASSERT_NE(db, nullptr);
    EXPECT_EQ((*da)["kind"], "veth");
    EXPECT_EQ((*da)["peer"]["ifindex"], (*db)["ifindex"]);
    EXPECT_EQ((*db)["peer"]["ifindex"], (*da)["ifindex"]);
    EXPECT_EQ((*da)["peer"]["netns"], inode_of(b.ns));
    EXPECT_EQ((*db)["peer"]["netns"], inode_of(a.ns));
    EXPECT_TRUE((*da)["peer"]["nsid"].is_number()) << "the kernel's nsid is reported too";
  }

  // The bridge and the macvlan.
  const json& bridged = by_inode[inode_of(19)];
  EXPECT_EQ((*testing::device_in(bridged, "br0"))["kind"], "bridge");
  EXPECT_EQ((*testing::device_in(bridged, "p20"))["master"], (*testing::device_in(bridged, "br0"))["ifindex"]);
  EXPECT_EQ((*testing::device_in(bridged, "p21"))["master"], (*testing::device_in(bridged, "br0"))["ifindex"]);
  EXPECT_EQ((*testing::device_in(by_inode[inode_of(22)], "mv0"))["kind"], "macvlan");
}

TEST_F(Topology, SnapshotShowsNoDriftThenAStaleDeviceUntilTheNextResync) {
  LiveService service;
  json ids = our_inodes();
  json dump = service.dump_stream({{"snapshot_interfaces", true}, {"netns", ids}});
  ASSERT_EQ(dump["namespaces"].size(), namespaces_.size());
  EXPECT_EQ(dump["snapshot_interfaces"], true);
  for (const json& ns : dump["namespaces"]) {
    SCOPED_TRACE(ns["netns"].dump());
    ASSERT_TRUE(ns["snapshot"].is_object());
    EXPECT_TRUE(ns["snapshot"]["error"].is_null());
    EXPECT_EQ(ns["snapshot"]["missing_from_cache"], json::array());
    EXPECT_EQ(ns["snapshot"]["stale_in_cache"], json::array());
    // The live view equals the cache, and adds what the cache never keeps: counters.
    json live = ns["snapshot"]["devices"];
    for (json& d : live) {
      EXPECT_TRUE(d.contains("stats")) << d.dump();
      d.erase("stats");
    }
    EXPECT_EQ(live, ns["devices"]) << "the live view equals the cache";
  }

  // Delete the macvlan: the snapshot shows it stale, the cache still has it...
  const std::uint64_t ns22 = inode_of(22);
  std::uint64_t mv_index = truth(22)["mv0"]["ifindex"];
  namespaces_[22].ip({"link", "del", "mv0"});
  json after = service.dump_stream({{"snapshot_interfaces", true}, {"netns", {ns22}}});
  ASSERT_EQ(after["namespaces"].size(), 1u);
  const json& ns = after["namespaces"][0];
  EXPECT_EQ(ns["snapshot"]["stale_in_cache"], json::array({mv_index}));
  EXPECT_EQ(ns["snapshot"]["missing_from_cache"], json::array());
  EXPECT_NE(testing::device_in(ns, "mv0"), nullptr) << "a snapshot never edits the cache";

  // ...until the next resync drops it.
  service.rescan();
  json resynced = service.dump_stream({{"snapshot_interfaces", true}, {"netns", {ns22}}});
  const json& fresh = resynced["namespaces"][0];
  EXPECT_EQ(testing::device_in(fresh, "mv0"), nullptr);
  EXPECT_EQ(fresh["snapshot"]["stale_in_cache"], json::array());
  EXPECT_EQ(fresh["snapshot"]["missing_from_cache"], json::array());
}

TEST_F(Topology, GraphRendersWithOneEdgePerVethPair) {
  LiveService service;
  json ids = our_inodes();
  auto res = service.client().Post("/v1/dump", json({{"output", "stream"}, {"format", "dot"}, {"netns", ids}}).dump(),
                                   "application/json");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200);
  EXPECT_EQ(res->get_header_value("Content-Type"), "text/vnd.graphviz");
  const std::string& dot = res->body;
  // Pairs between two of our namespaces (host ends are outside the filter).
  std::size_t internal = 0;
  for (const auto& [a, b] : pairs_) internal += (a.ns >= 0 && b.ns >= 0);
  std::size_t edges = 0;
  for (auto pos = dot.find("label=\"veth\""); pos != std::string::npos; pos = dot.find("label=\"veth\"", pos + 1)) {
    ++edges;
  }
  EXPECT_EQ(edges, internal);
  for (const Ns& n : namespaces_) EXPECT_NE(dot.find("ns_" + std::to_string(n.inode) + " ["), std::string::npos);

  testing::TempDir tmp;
  std::string dot_path = tmp.path() + "/g.dot";
  FILE* f = std::fopen(dot_path.c_str(), "w");
  std::fwrite(dot.data(), 1, dot.size(), f);
  std::fclose(f);
  auto svg = run({"dot", "-Tsvg", "-o", tmp.path() + "/g.svg", dot_path});
  EXPECT_EQ(svg.status, 0) << svg.err;
  EXPECT_EQ(svg.err, "") << "dot warnings";
}

}  // namespace
}  // namespace netnsd
