// The HTTP API on a real Unix socket: every documented error, and the
// service still serving (and the cache intact) after each.
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>

#include "api_checks.h"
#include "privileged.h"
#include "service.h"
#include "system.h"

namespace netnsd {
namespace {

using nlohmann::json;
using testing::expect_error;
using testing::expect_still_serving;
using testing::LiveService;

class Api : public ::testing::Test {
 protected:
  void SetUp() override { NETNSD_REQUIRE_ROOT(); }
};

// A dump directory that cannot be written: 500, the OS reason in the
// sentence, no file left behind, and the next dump works once it can.
TEST_F(Api, UnwritableDumpDirectoryGets500WithTheReason) {
  LiveService service;
  std::filesystem::create_directories(service.dump_dir());
  {
    testing::ScopedMount readonly(service.dump_dir(), MS_RDONLY, "size=1m");
    ASSERT_TRUE(readonly.ok());
    auto res = service.client().Post("/dump");
    expect_error(res, 500, "dump_write_failed");
    json body = json::parse(res->body);
    EXPECT_NE(body["error"].get<std::string>().find("Read-only file system"), std::string::npos) << body;
    EXPECT_TRUE(std::filesystem::is_empty(service.dump_dir()));
  }
  expect_still_serving(service);
}

TEST_F(Api, DatadogSchemaHasExactlyTheSeedsKeysAndTypes) {
  testing::NamedNetns ns(testing::unique_name("dd"));
  LiveService service;
  json dd = service.dump_stream({{"schema", "datadog"}});
  ASSERT_TRUE(dd.is_array());
  bool found = false;
  for (const json& entry : dd) {
    std::set<std::string> keys;
    for (auto& [k, v] : entry.items()) keys.insert(k);
    EXPECT_EQ(keys,
              (std::set<std::string>{"NsID", "HandleFD", "HandlePath", "LonelyTimeout", "Devices", "DevicesInQueue"}));
    EXPECT_TRUE(entry["NsID"].is_number_unsigned());
    EXPECT_TRUE(entry["HandleFD"].is_number_integer());
    EXPECT_TRUE(entry["HandlePath"].is_string());
    EXPECT_TRUE(entry["LonelyTimeout"].is_string());
    EXPECT_TRUE(entry["Devices"].is_array() || entry["Devices"].is_null());
    EXPECT_TRUE(entry["DevicesInQueue"].is_array() || entry["DevicesInQueue"].is_null());
    for (const json& d : entry["Devices"]) {
      EXPECT_EQ(d.size(), 2u);
      EXPECT_TRUE(d["IfName"].is_string());
      EXPECT_TRUE(d["IfIndex"].is_number_integer());
    }
    if (entry["NsID"] == ns.inode()) {
      found = true;
      EXPECT_EQ(entry["HandlePath"], "/run/netns/" + ns.name());
      EXPECT_EQ(entry["LonelyTimeout"], "0001-01-01T00:00:00Z");
      EXPECT_EQ(entry["Devices"], json::array({{{"IfName", "lo"}, {"IfIndex", 1}}}));
    }
  }
  EXPECT_TRUE(found);
}

TEST_F(Api, AnyInterfaceNameTheKernelAcceptsGivesValidJsonAndARenderableGraph) {
  testing::NamedNetns ns(testing::unique_name("odd"));
  const std::vector<std::string> names = {"q\"uote", "back\\slash", "{br}<a>&;'|$", "\xff\xfe\x01", "caf\xc3\xa9"};
  std::vector<std::string> created;
  for (std::size_t i = 0; i < names.size(); ++i) {
    auto r = testing::run(
        {"ip", "-n", ns.name(), "link", "add", names[i], "type", "veth", "peer", "name", "pp" + std::to_string(i)});
    if (r.status == 0) created.push_back(names[i]);
  }
  ASSERT_GE(created.size(), 4u) << "iproute2 refused most of the odd names";
  LiveService service;
  json dump = service.dump_stream({{"netns", {ns.inode()}}});  // parses, so it is valid JSON
  ASSERT_EQ(dump["namespaces"].size(), 1u);
  EXPECT_EQ(dump["namespaces"][0]["devices"].size(), 1 + 2 * created.size());

  auto dot = service.client().Post(
      "/dump", json({{"output", "stream"}, {"format", "dot"}, {"netns", {ns.inode()}}}).dump(), "application/json");
  ASSERT_EQ(dot->status, 200);
  testing::TempDir tmp;
  std::string path = tmp.path() + "/odd.dot";
  FILE* f = std::fopen(path.c_str(), "w");
  std::fwrite(dot->body.data(), 1, dot->body.size(), f);
  std::fclose(f);
  auto svg = testing::run({"dot", "-Tsvg", "-o", tmp.path() + "/odd.svg", path});
  EXPECT_EQ(svg.status, 0) << svg.err;
}

}  // namespace
}  // namespace netnsd
