#include "dump/json_encoder.h"

#include <gtest/gtest.h>
#include <linux/if_addr.h>
#include <sys/socket.h>

#include "dump/dot_encoder.h"
#include "dump/event_encoder.h"
#include "fakes.h"

namespace netnsd {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

DumpDocument sample() {
  DumpDocument doc;
  doc.generated_at = WallTime(std::chrono::seconds(1'800'000'000)) + 123ms;
  doc.host = {"box", "6.18.0", 4026531840};
  doc.resolver.ready = true;
  doc.resolver.capacity = 4096;
  doc.resolver.lonely_timeout_s = 30;
  doc.resolver.namespaces = 2;

  NamespaceView host;
  host.netns = 4026531840;
  host.handle = std::make_shared<const NamespaceHandle>(NamespaceHandle{Fd(), "/proc/1/task/1/ns/net"});
  host.first_seen = doc.generated_at;
  host.pids = 80;
  Device br = testing::plain(3, "br0", "bridge");
  br.up = true;
  br.mac = "aa:bb:cc:dd:ee:ff";
  Device port = testing::veth(4, "v0", 2, 0);
  port.master = 3;
  port.peer->netns = 4026532177;
  host.devices = {testing::plain(1, "lo"), br, port};

  NamespaceView lonely;
  lonely.netns = 4026532177;
  lonely.names = {"blue"};
  lonely.discovered_by = Source::bind_mount;
  lonely.first_seen = doc.generated_at;
  lonely.lonely_since = doc.generated_at + 1500ms;
  doc.namespaces = {host, lonely};
  return doc;
}

TEST(JsonEncoder, APastDocumentSaysWhichInstantAndWhetherItWasObserved) {
  DumpDocument past = sample();
  DumpInstant as_of;
  as_of.at = past.generated_at - 3600s;
  as_of.past = true;
  as_of.observed = false;
  as_of.gap_from = as_of.at - 10s;
  as_of.gap_to = as_of.at + 5s;
  as_of.gap_reason = "crashed";
  past.as_of = as_of;
  json doc = json::parse(dump_to_json(past));
  EXPECT_EQ(doc["at"], "2027-01-15T07:00:00.123Z");
  EXPECT_EQ(doc["observed"], false);
  EXPECT_EQ(doc["from_history"], true);
  EXPECT_EQ(doc["gap"],
            json({{"from", "2027-01-15T06:59:50.123Z"}, {"to", "2027-01-15T07:00:05.123Z"}, {"reason", "crashed"}}));
  const std::string dot = dump_to_dot(past);
  EXPECT_NE(dot.find("as it was at 2027-01-15T07:00:00.123Z"), std::string::npos);
  EXPECT_NE(dot.find("not observed: crashed from 2027-01-15T06:59:50.123Z"), std::string::npos);
}

TEST(JsonEncoder, NetnsdSchemaHasEveryDocumentedField) {
  json doc = json::parse(dump_to_json(sample()));
  EXPECT_EQ(doc["schema_version"], 1);
  EXPECT_EQ(doc["generated_at"], "2027-01-15T08:00:00.123Z");
  EXPECT_EQ(doc["host"], json({{"hostname", "box"}, {"kernel", "6.18.0"}, {"netns", 4026531840u}}));
  EXPECT_EQ(doc["snapshot_interfaces"], false);
  EXPECT_EQ(doc["at"], doc["generated_at"]) << "the live cache describes the moment it was generated";
  EXPECT_EQ(doc["observed"], true);
  EXPECT_EQ(doc["from_history"], false);
  EXPECT_TRUE(doc["gap"].is_null());
  for (const char* key : {"state", "capacity", "lonely_timeout_s", "namespaces", "evictions"}) {
    EXPECT_TRUE(doc["resolver"].contains(key)) << key;
  }
  EXPECT_EQ(doc["resolver"]["state"], "ready");

  const json& host = doc["namespaces"][0];
  EXPECT_EQ(host["netns"], 4026531840u);
  EXPECT_EQ(host["handle"]["path"], "/proc/1/task/1/ns/net");
  EXPECT_TRUE(host["handle"]["fd"].is_number_integer());
  EXPECT_EQ(host["names"], json::array());
  EXPECT_EQ(host["discovered_by"], "procfs");
  EXPECT_TRUE(host["lonely_since"].is_null());
  EXPECT_EQ(host["pids"], 80);
  EXPECT_TRUE(host["snapshot"].is_null());
  const json& port = host["devices"][2];
  EXPECT_EQ(port, json({{"ifindex", 4},
                        {"name", "v0"},
                        {"kind", "veth"},
                        {"mac", ""},
                        {"mtu", 1500},
                        {"up", false},
                        {"operstate", "unknown"},
                        {"carrier", nullptr},
                        {"master", 3},
                        {"peer", {{"ifindex", 2}, {"netns", 4026532177u}, {"nsid", 0}}},
                        {"lower", nullptr},
                        {"addresses", json::array()}}))
      << "no \"stats\": the cache keeps no counters";
  EXPECT_TRUE(host["devices"][0]["master"].is_null());
  EXPECT_TRUE(host["devices"][0]["peer"].is_null());

  const json& lonely = doc["namespaces"][1];
  EXPECT_TRUE(lonely["handle"].is_null());
  EXPECT_EQ(lonely["names"], json::array({"blue"}));
  EXPECT_EQ(lonely["lonely_since"], "2027-01-15T08:00:01.623Z");
  EXPECT_EQ(lonely["queued_devices"], json::array()) << "kept in schema 1, always empty";
}

TEST(JsonEncoder, DevicesCarryTheirStateAddressesLowerLinkAndLiveCounters) {
  Device mv = testing::plain(5, "mv0", "macvlan");
  mv.up = true;
  mv.operstate = OperState::lowerlayerdown;
  mv.carrier = false;
  mv.lower = LinkRef{2, NetnsId{4026531840}, 0};
  Address v4;
  v4.family = AF_INET;
  v4.prefix_len = 24;
  v4.flags = IFA_F_PERMANENT | IFA_F_SECONDARY;
  v4.local = {192, 0, 2, 5};
  v4.label = "mv0:1";
  Address v6;
  v6.family = AF_INET6;
  v6.prefix_len = 64;
  v6.scope = 253;
  v6.flags = IFA_F_TENTATIVE;
  v6.local = {0xfe, 0x80};
  v6.local[15] = 5;
  Address ptp;
  ptp.family = AF_INET;
  ptp.prefix_len = 32;
  ptp.local = {10, 0, 0, 1};
  ptp.peer = std::array<std::uint8_t, 16>{10, 0, 0, 2};
  ptp.label = "mv0";  // the device's own name: not worth repeating
  mv.addresses = {ptp, v4, v6};
  mv.stats = LinkStats{10, 20, 1000, 2000, 1, 2, 3, 4};

  JsonWriter out(false);
  write_device(out, mv);
  json d = json::parse(out.take());
  EXPECT_EQ(d["operstate"], "lowerlayerdown");
  EXPECT_EQ(d["carrier"], false);
  EXPECT_EQ(d["lower"], json({{"ifindex", 2}, {"netns", 4026531840u}, {"nsid", 0}}));
  ASSERT_EQ(d["addresses"].size(), 3u);
  EXPECT_EQ(d["addresses"][0], json({{"family", "inet"},
                                     {"address", "10.0.0.1"},
                                     {"prefixlen", 32},
                                     {"scope", "global"},
                                     {"flags", json::array()},
                                     {"peer", "10.0.0.2"}}));
  EXPECT_EQ(d["addresses"][1]["flags"], json::array({"secondary", "permanent"}));
  EXPECT_EQ(d["addresses"][1]["label"], "mv0:1");
  EXPECT_EQ(d["addresses"][2], json({{"family", "inet6"},
                                     {"address", "fe80::5"},
                                     {"prefixlen", 64},
                                     {"scope", "link"},
                                     {"flags", json::array({"tentative"})}}));
  EXPECT_EQ(d["stats"], json({{"rx_bytes", 1000},
                              {"tx_bytes", 2000},
                              {"rx_packets", 10},
                              {"tx_packets", 20},
                              {"rx_errors", 1},
                              {"tx_errors", 2},
                              {"rx_dropped", 3},
                              {"tx_dropped", 4}}));
}

TEST(JsonEncoder, NamespacesListTheirProcessesAndContainers) {
  DumpDocument doc = sample();
  NamespaceView& ns = doc.namespaces[1];
  ContainerRef pause{"containerd", std::string(64, 'c'), "6a1c2b3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", 0u, "POD", "nginx-0",
                     "default"};
  ContainerRef theirs{"docker", std::string(64, 'd'), "", 1000u, "", "", ""};
  ns.processes = {{41, "pause", pause}, {42, "bash", std::nullopt}};
  ns.containers = {pause, theirs};
  json out = json::parse(dump_to_json(doc))["namespaces"][1];
  EXPECT_EQ(out["processes"], json::array({{{"pid", 41}, {"comm", "pause"}, {"container", std::string(64, 'c')}},
                                           {{"pid", 42}, {"comm", "bash"}, {"container", nullptr}}}));
  EXPECT_EQ(out["containers"][0], json({{"runtime", "containerd"},
                                        {"id", std::string(64, 'c')},
                                        {"pod_uid", "6a1c2b3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"},
                                        {"name", "POD"},
                                        {"pod_name", "nginx-0"},
                                        {"pod_namespace", "default"},
                                        {"cgroup_owner", 0}}));
  EXPECT_EQ(out["containers"][1]["cgroup_owner"], 1000);
  EXPECT_TRUE(out["containers"][1]["name"].is_null());
  EXPECT_TRUE(out["containers"][1]["pod_uid"].is_null());
  EXPECT_EQ(json::parse(dump_to_json(doc))["namespaces"][0]["processes"], json::array());
}

TEST(JsonEncoder, SnapshotSectionReportsDrift) {
  DumpDocument doc = sample();
  doc.snapshot_interfaces = true;
  InterfaceSnapshot snap;
  snap.devices = {testing::plain(1, "lo"), testing::plain(7, "new0")};
  snap.missing_from_cache = {7};
  snap.stale_in_cache = {3, 4};
  doc.snapshots[4026531840] = snap;
  InterfaceSnapshot failed;
  failed.error = "setns: Operation not permitted";
  doc.snapshots[4026532177] = failed;
  json out = json::parse(dump_to_json(doc));
  EXPECT_EQ(out["snapshot_interfaces"], true);
  const json& s = out["namespaces"][0]["snapshot"];
  EXPECT_EQ(s["devices"].size(), 2u);
  EXPECT_TRUE(s["error"].is_null());
  EXPECT_EQ(s["missing_from_cache"], json::array({7}));
  EXPECT_EQ(s["stale_in_cache"], json::array({3, 4}));
  EXPECT_EQ(out["namespaces"][1]["snapshot"]["error"], "setns: Operation not permitted");
}

TEST(JsonEncoder, DatadogLayoutMatchesTheSeedAgentExactly) {
  json out = json::parse(dump_to_datadog_json(sample(), 30));
  ASSERT_TRUE(out.is_array());
  ASSERT_EQ(out.size(), 2u);
  const std::vector<std::string> keys = {"NsID",          "HandleFD", "HandlePath",
                                         "LonelyTimeout", "Devices",  "DevicesInQueue"};
  for (const json& ns : out) {
    std::vector<std::string> got;
    for (auto& [k, v] : ns.items()) got.push_back(k);
    std::sort(got.begin(), got.end());
    std::vector<std::string> want = keys;
    std::sort(want.begin(), want.end());
    EXPECT_EQ(got, want);
    EXPECT_TRUE(ns["NsID"].is_number_unsigned());
    EXPECT_TRUE(ns["HandleFD"].is_number_integer());
    EXPECT_TRUE(ns["HandlePath"].is_string());
    EXPECT_TRUE(ns["LonelyTimeout"].is_string());
  }
  EXPECT_EQ(out[0]["NsID"], 4026531840u);
  EXPECT_EQ(out[0]["LonelyTimeout"], "0001-01-01T00:00:00Z");
  EXPECT_EQ(out[0]["Devices"][1], json({{"IfName", "br0"}, {"IfIndex", 3}}));
  EXPECT_TRUE(out[0]["DevicesInQueue"].is_null()) << "Go encodes an empty (nil) slice as null";
  // LonelyTimeout is when the namespace will be released: lonely_since + 30 s.
  EXPECT_EQ(out[1]["LonelyTimeout"], "2027-01-15T08:00:31.623Z");
  EXPECT_EQ(out[1]["HandleFD"], -1);
  EXPECT_TRUE(out[1]["Devices"].is_null());
  EXPECT_TRUE(out[1]["DevicesInQueue"].is_null()) << "kept for the seed's layout, always empty";
}

TEST(JsonEncoder, DatadogKeysComeInTheSeedsFieldOrder) {
  std::string text = dump_to_datadog_json(sample(), 30);
  auto pos = [&](const char* key) { return text.find(std::string("\"") + key + "\""); };
  EXPECT_LT(pos("NsID"), pos("HandleFD"));
  EXPECT_LT(pos("HandleFD"), pos("HandlePath"));
  EXPECT_LT(pos("HandlePath"), pos("LonelyTimeout"));
  EXPECT_LT(pos("LonelyTimeout"), pos("Devices"));
}

TEST(JsonEncoder, AnyInterfaceNameGivesValidJson) {
  DumpDocument doc = sample();
  doc.namespaces[0].devices[0].name = std::string("a\"b\\c\x01\xff\xfe{}", 10);
  std::string text = dump_to_json(doc);
  json parsed = json::parse(text);  // throws on invalid JSON
  std::string name = parsed["namespaces"][0]["devices"][0]["name"];
  EXPECT_EQ(name.substr(0, 6), std::string("a\"b\\c\x01"));
  EXPECT_NE(name.find("\xEF\xBF\xBD"), std::string::npos) << "invalid UTF-8 becomes U+FFFD";
}

TEST(EventEncoder, EachChangeIsOneLineOfJsonWithWhatItsTypeSays) {
  Change renamed;
  renamed.seq = 7;
  renamed.at = WallTime(std::chrono::seconds(1'800'000'000));
  renamed.kind = ChangeKind::device_changed;
  renamed.netns = 4026532177;
  renamed.old = testing::plain(2, "eth0");
  renamed.device = testing::plain(2, "wan\n0");
  renamed.changed = {"name"};
  const std::string line = change_to_ndjson(renamed);
  ASSERT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1) << "one line, whatever the names hold";
  auto j = nlohmann::json::parse(line);
  EXPECT_EQ(j["seq"], 7);
  EXPECT_EQ(j["type"], "device_changed");
  EXPECT_EQ(j["time"], "2027-01-15T08:00:00.000Z");
  EXPECT_EQ(j["old"]["name"], "eth0");
  EXPECT_EQ(j["device"]["name"], "wan\n0");
  EXPECT_EQ(j["changed"], nlohmann::json::array({"name"}));
  EXPECT_FALSE(j.contains("moved_to"));
  Change moved;
  moved.kind = ChangeKind::device_removed;
  moved.device = testing::plain(3, "vp1");
  moved.moved_to = LinkRef{12, 4026532999, 4};
  j = nlohmann::json::parse(change_to_ndjson(moved));
  EXPECT_EQ(j["moved_to"], (nlohmann::json{{"netns", 4026532999u}, {"nsid", 4}, {"ifindex", 12}}));

  Change address;
  address.kind = ChangeKind::address_removed;
  address.netns = 9;
  address.ifindex = 3;
  address.device_name = "eth0";
  Address a;
  a.family = AF_INET6;
  a.prefix_len = 64;
  a.local = {0x20, 0x01, 0x0d, 0xb8};
  a.flags = IFA_F_NODAD;
  address.address = a;
  j = nlohmann::json::parse(change_to_ndjson(address));
  EXPECT_EQ(j["device"], (nlohmann::json{{"ifindex", 3}, {"name", "eth0"}}));
  EXPECT_EQ(j["address"]["address"], "2001:db8::");
  EXPECT_EQ(j["address"]["family"], "inet6");

  Change gone;
  gone.kind = ChangeKind::netns_removed;
  gone.netns = 9;
  gone.names = {"blue"};
  gone.reason = "released";
  j = nlohmann::json::parse(change_to_ndjson(gone));
  EXPECT_EQ(j["names"], nlohmann::json::array({"blue"}));
  EXPECT_EQ(j["reason"], "released");
  EXPECT_TRUE(j["lonely_since"].is_null());
  EXPECT_EQ(j["containers"], nlohmann::json::array());

  Change joined;
  joined.kind = ChangeKind::netns_changed;
  joined.netns = 9;
  joined.changed = {"containers"};
  joined.containers = {ContainerRef{"docker", "3f2a", "", 0u, "web-1", "", ""}};
  j = nlohmann::json::parse(change_to_ndjson(joined));
  EXPECT_EQ(j["changed"], nlohmann::json::array({"containers"}));
  ASSERT_EQ(j["containers"].size(), 1u);
  EXPECT_EQ(j["containers"][0]["runtime"], "docker");
  EXPECT_EQ(j["containers"][0]["name"], "web-1");

  EXPECT_EQ(nlohmann::json::parse(lost_to_ndjson(40, renamed.at))["count"], 40);
  EXPECT_EQ(nlohmann::json::parse(marker_to_ndjson("heartbeat", 12, renamed.at))["seq"], 12);
}

}  // namespace
}  // namespace netnsd
