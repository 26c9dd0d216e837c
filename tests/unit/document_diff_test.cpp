#include "diff/document_diff.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <memory>
#include <string>

#include "dump/json_encoder.h"
#include "fakes.h"

namespace netnsd {
namespace {

using nlohmann::json;
using ordered = nlohmann::ordered_json;
using namespace std::chrono_literals;

Address v4(const char* text, std::uint8_t prefix) {
  Address a;
  a.family = AF_INET;
  ::inet_pton(AF_INET, text, a.local.data());
  a.prefix_len = prefix;
  return a;
}

NamespaceView ns(NetnsId inode, std::uint64_t cookie, std::vector<std::string> names) {
  NamespaceView v;
  v.netns = inode;
  auto handle = std::make_shared<NamespaceHandle>(Fd(), "");
  handle->cookie = cookie;
  v.handle = handle;
  v.names = std::move(names);
  return v;
}

// The host with a veth to "web", "web" with eth0 and an address, "db".
DumpDocument before() {
  DumpDocument doc;
  doc.generated_at = WallTime(std::chrono::seconds(1'800'000'000));
  doc.host = {"box", "6.18.0", 4026531840};
  NamespaceView host = ns(4026531840, 1, {});
  host.devices = {testing::plain(1, "lo"), testing::veth(7, "vweb", 2, 0)};
  NamespaceView web = ns(4026532200, 40, {"web"});
  Device eth0 = testing::veth(2, "eth0", 7, 0);
  eth0.addresses = {v4("10.244.3.17", 24)};
  web.devices = {testing::plain(1, "lo"), eth0};
  ContainerRef c;
  c.runtime = "containerd";
  c.id = "0123456789abcdef0123";
  c.name = "nginx";
  c.pod_name = "web-1";
  c.pod_namespace = "shop";
  web.containers = {c};
  NamespaceView db = ns(4026532300, 41, {"db"});
  db.devices = {testing::plain(1, "lo")};
  doc.namespaces = {host, web, db};
  return doc;
}

json as_json(const DumpDocument& doc) {
  return json::parse(dump_to_json(doc));
}

std::vector<ordered> lines_about(const ordered& diff, const std::string& subject) {
  std::vector<ordered> out;
  for (const ordered& c : diff["changes"]) {
    if (c["subject"] == subject) out.push_back(c);
  }
  return out;
}

TEST(DocumentDiff, TheSameDocumentHasNoDifferences) {
  auto diff = diff_documents(as_json(before()), as_json(before()));
  ASSERT_TRUE(diff) << diff.error().message();
  EXPECT_TRUE((*diff)["changes"].empty()) << (*diff)["changes"].dump();
  EXPECT_EQ((*diff)["from"]["hostname"], "box");
  EXPECT_EQ((*diff)["from"]["schema"], "netnsd");
  EXPECT_NE(diff_to_text(*diff).find(": no differences"), std::string::npos);
}

TEST(DocumentDiff, SaysWhatAppearedVanishedAndChangedWithOldAndNewValues) {
  DumpDocument after = before();
  after.generated_at += 60s;
  NamespaceView& web = after.namespaces[1];
  web.devices[1].mtu = 9000;
  web.devices[1].up = true;
  web.devices[1].addresses.push_back(v4("10.244.3.18", 24));
  web.devices[1].addresses.erase(web.devices[1].addresses.begin());
  web.devices.push_back(testing::plain(3, "dummy0", "dummy"));
  web.containers[0].name = "nginx-2";
  after.namespaces.erase(after.namespaces.begin() + 2);  // db is gone
  NamespaceView cache = ns(4026532400, 42, {"cache"});
  cache.devices = {testing::plain(1, "lo")};
  after.namespaces.push_back(cache);

  auto diff = diff_documents(as_json(before()), as_json(after));
  ASSERT_TRUE(diff) << diff.error().message();
  const ordered& d = *diff;
  EXPECT_EQ(d["summary"]["namespaces"], ordered({{"appeared", 1}, {"vanished", 1}, {"changed", 0}}));
  EXPECT_EQ(d["summary"]["devices"], ordered({{"appeared", 1}, {"vanished", 0}, {"changed", 1}}));
  EXPECT_EQ(d["summary"]["addresses"], ordered({{"appeared", 1}, {"vanished", 1}, {"changed", 0}}));
  EXPECT_EQ(d["summary"]["containers"], ordered({{"appeared", 0}, {"vanished", 0}, {"changed", 1}}));

  auto devices = lines_about(d, "device");
  ASSERT_EQ(devices.size(), 2u);
  EXPECT_EQ(devices[0]["change"], "changed");
  EXPECT_EQ(devices[0]["fields"]["mtu"], ordered({{"old", 1500}, {"new", 9000}}));
  EXPECT_EQ(devices[0]["fields"]["up"], ordered({{"old", false}, {"new", true}}));
  EXPECT_EQ(devices[0]["netns_names"], ordered({"web"}));
  EXPECT_EQ(devices[1]["change"], "appeared");
  EXPECT_EQ(devices[1]["name"], "dummy0");
  auto containers = lines_about(d, "container");
  ASSERT_EQ(containers.size(), 1u);
  EXPECT_EQ(containers[0]["fields"]["name"], ordered({{"old", "nginx"}, {"new", "nginx-2"}}));
  auto namespaces = lines_about(d, "namespace");
  ASSERT_EQ(namespaces.size(), 2u);
  EXPECT_EQ(namespaces[0]["change"], "vanished");
  EXPECT_EQ(namespaces[0]["names"], ordered({"db"}));
  EXPECT_EQ(namespaces[0]["devices"][0]["name"], "lo") << "what went with it is in its line";
  EXPECT_EQ(namespaces[1]["change"], "appeared");
  EXPECT_EQ(namespaces[1]["netns_cookie"], 42);

  const std::string text = diff_to_text(d);
  EXPECT_NE(text.find("~ device eth0 (2) veth in netns 4026532200 (web): mtu 1500 -> 9000; up false -> true\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("- address 10.244.3.17/24 on eth0 (2) in netns 4026532200 (web)\n"), std::string::npos) << text;
  EXPECT_NE(text.find("+ netns 4026532400 (cache): lo\n"), std::string::npos) << text;
  EXPECT_NE(text.find("~ container 0123456789ab nginx-2 (pod shop/web-1) in netns 4026532200 (web): "
                      "name \"nginx\" -> \"nginx-2\"\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("namespaces: 1 appeared, 1 vanished; devices: 1 appeared, 1 changed"), std::string::npos) << text;
}

TEST(DocumentDiff, AnInodeReusedInBetweenIsOneNamespaceGoneAndAnotherNew) {
  DumpDocument after = before();
  after.namespaces[2] = ns(4026532300, 99, {"other"});  // db's inode, another cookie
  auto diff = diff_documents(as_json(before()), as_json(after));
  ASSERT_TRUE(diff);
  auto namespaces = lines_about(*diff, "namespace");
  ASSERT_EQ(namespaces.size(), 2u);
  EXPECT_EQ(namespaces[0]["change"], "vanished");
  EXPECT_EQ(namespaces[0]["netns_cookie"], 41);
  EXPECT_EQ(namespaces[1]["change"], "appeared");
  EXPECT_EQ(namespaces[1]["netns_cookie"], 99);

  // Without cookies (an older dump), the same inode is the same namespace.
  json a = as_json(before()), b = as_json(after);
  for (json* doc : {&a, &b}) {
    for (json& n : (*doc)["namespaces"]) n.erase("netns_cookie");
  }
  diff = diff_documents(a, b);
  ASSERT_TRUE(diff);
  namespaces = lines_about(*diff, "namespace");
  ASSERT_EQ(namespaces.size(), 1u);
  EXPECT_EQ(namespaces[0]["change"], "changed");
  EXPECT_EQ(namespaces[0]["fields"]["names"], ordered({{"old", {"db"}}, {"new", {"other"}}}));
}

TEST(DocumentDiff, AcrossSchemasOnlyWhatBothCarryIsCompared) {
  DumpDocument after = before();
  after.namespaces[1].devices[1].mtu = 9000;  // datadog has no mtu
  after.namespaces[1].devices[1].name = "eth9";
  after.namespaces[1].devices[1].addresses.clear();  // nor addresses
  const json datadog = json::parse(dump_to_datadog_json(after, 30));
  auto diff = diff_documents(as_json(before()), datadog);
  ASSERT_TRUE(diff) << diff.error().message();
  EXPECT_EQ((*diff)["to"]["schema"], "datadog");
  ASSERT_EQ((*diff)["changes"].size(), 1u) << (*diff)["changes"].dump();
  const ordered& line = (*diff)["changes"][0];
  EXPECT_EQ(line["fields"], ordered({{"name", {{"old", "eth0"}, {"new", "eth9"}}}}));
  // And the other way round.
  diff = diff_documents(datadog, as_json(before()));
  ASSERT_TRUE(diff);
  EXPECT_EQ((*diff)["changes"].size(), 1u) << (*diff)["changes"].dump();
}

TEST(DocumentDiff, ADocumentInNeitherSchemaIsAnErrorNotACrash) {
  const json good = as_json(before());
  for (const char* text : {R"("text")", R"(3)", R"({"namespaces": 3})", R"({"namespaces": [{"netns": "x"}]})",
                           R"({"namespaces": [{"netns": -1}]})",
                           R"({"namespaces": [{"netns": 1, "devices": [{"ifindex": 99999999999}]}]})",
                           R"([{"NsID": 1, "Devices": [{"IfIndex": "1"}]}])", R"([1])"}) {
    auto diff = diff_documents(json::parse(text), good);
    EXPECT_FALSE(diff) << text;
    if (!diff) {
      EXPECT_NE(diff.error().message().find("the first document"), std::string::npos) << text;
    }
  }
  // Odd but well-formed values are compared as they are.
  auto odd = diff_documents(json::parse(R"({"namespaces": [{"netns": 1, "names": [1, "x"], "devices": [
      {"ifindex": 1, "name": 5, "addresses": [{"address": null}]}], "containers": [{"id": 3}]}]})"),
                            good);
  ASSERT_TRUE(odd);
  EXPECT_FALSE(diff_to_text(*odd).empty());
}

}  // namespace
}  // namespace netnsd
