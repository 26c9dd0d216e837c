// The HTTP API on a real Unix socket, over a scripted host: every documented
// error, and the service still serving (and the cache intact) after each.
// No privileges needed; tests/privileged/api_test.cpp covers what needs the
// real kernel.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <fstream>

#include "api_checks.h"
#include "fakes.h"
#include "service.h"

namespace netnsd {
namespace {

using nlohmann::json;
using testing::expect_error;
using testing::expect_still_serving;
using testing::LiveService;
using testing::raw_exchange;

// Two namespaces: one held by tasks, one bind-mounted as "blue".
class Api : public ::testing::Test {
 protected:
  Api() {
    host_.tasks[4026531840] = {80, "/proc/1/task/1/ns/net"};
    host_.mounts = {{4026532177, "/run/netns/blue"}};
    host_.links[4026531840] = {testing::plain(1, "lo"), testing::veth(4, "v0", 2, 0)};
    host_.links[4026532177] = {testing::plain(1, "lo"), testing::veth(2, "c0", 4, 0)};
    host_.nsid_table[{4026531840, 4026532177}] = 0;
    host_.nsid_table[{4026532177, 4026531840}] = 0;
  }
  testing::FakeHost host_;
};

TEST_F(Api, BarePostWithoutContentLengthIsAnsweredAtOnce) {
  LiveService service(host_);
  bool in_time = false;
  const auto started = std::chrono::steady_clock::now();
  std::string answer = raw_exchange(service.socket_path(), "POST /dump HTTP/1.1\r\nHost: localhost\r\n\r\n",
                                    std::chrono::seconds(5), &in_time);
  auto took = std::chrono::steady_clock::now() - started;
  ASSERT_TRUE(in_time) << "no complete answer: " << answer;
  EXPECT_LT(took, std::chrono::seconds(2));
  EXPECT_EQ(answer.rfind("HTTP/1.1 200", 0), 0u) << answer;
  EXPECT_NE(answer.find("dump_filename"), std::string::npos);
  // Also for a query-string-only request and for the /v1 alias.
  answer =
      raw_exchange(service.socket_path(), "POST /v1/dump?output=stream&format=dot HTTP/1.1\r\nHost: localhost\r\n\r\n",
                   std::chrono::seconds(5), &in_time);
  EXPECT_TRUE(in_time) << answer;
  EXPECT_EQ(answer.rfind("HTTP/1.1 200", 0), 0u) << answer;
  EXPECT_NE(answer.find("digraph netnsd"), std::string::npos);
}

TEST_F(Api, BadDumpParametersGet400) {
  LiveService service(host_);
  auto cli = service.client();
  expect_error(cli.Post("/dump", "{\"snapshot_interfaces\": tru", "application/json"), 400, "malformed_json");
  expect_error(cli.Post("/dump", "[1]", "application/json"), 400, "invalid_body");
  // A number too large for any type (found by tests/fuzz/dump_params_fuzz: it threw past the parser).
  expect_error(cli.Post("/dump", "[66666E666666666]", "application/json"), 400, "malformed_json");
  expect_error(cli.Post("/dump", R"({"snapshot_interfaces": "yes"})", "application/json"), 400, "invalid_type");
  expect_error(cli.Post("/dump", R"({"verbose": true})", "application/json"), 400, "unknown_parameter");
  expect_error(cli.Post("/dump?verbose=1"), 400, "unknown_parameter");
  expect_error(cli.Post("/dump", R"({"format": "dot"})", "application/json"), 400, "format_requires_stream");
  expect_error(cli.Post("/dump", R"({"netns": [-4]})", "application/json"), 400, "invalid_netns");
  expect_error(cli.Post("/dump?netns=abc"), 400, "invalid_netns");
  expect_error(cli.Post("/dump", R"({"output": "disk"})", "application/json"), 400, "invalid_value");
  expect_error(cli.Get("/v1/namespaces/99999999999"), 400, "invalid_netns");
  expect_still_serving(service);
}

TEST_F(Api, UnknownPathsAndWrongMethods) {
  LiveService service(host_);
  auto cli = service.client();
  expect_error(cli.Get("/nope"), 404, "not_found");
  expect_error(cli.Post("/nope", "{}", "application/json"), 404, "not_found");
  expect_error(cli.Get("/v1/namespaces/1"), 404, "namespace_not_found");
  expect_error(cli.Get("/v1/namespaces/no-such-name"), 404, "namespace_not_found");
  auto get_dump = cli.Get("/dump");
  expect_error(get_dump, 405, "method_not_allowed");
  EXPECT_EQ(get_dump->get_header_value("Allow"), "POST");
  expect_error(cli.Delete("/v1/dump"), 405, "method_not_allowed");
  auto post_health = cli.Post("/healthz", "{}", "application/json");
  expect_error(post_health, 405, "method_not_allowed");
  EXPECT_EQ(post_health->get_header_value("Allow"), "GET, HEAD");
  expect_error(cli.Put("/v1/namespaces", "{}", "application/json"), 405, "method_not_allowed");
  // A bodiless POST to a GET-only path is refused at once, not after a timeout.
  bool in_time = false;
  std::string answer = raw_exchange(service.socket_path(), "POST /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
                                    std::chrono::seconds(5), &in_time);
  EXPECT_TRUE(in_time);
  EXPECT_EQ(answer.rfind("HTTP/1.1 405", 0), 0u) << answer;
  expect_still_serving(service);
}

TEST_F(Api, OversizedBodiesGet413) {
  LiveService service(host_);
  std::string body = "{\"netns\": [" + std::string(70 * 1024, ' ') + "1]}";
  expect_error(service.client().Post("/dump", body, "application/json"), 413, "payload_too_large");
  expect_still_serving(service);
}

TEST_F(Api, GarbageRequestsGetJson400) {
  LiveService service(host_);
  bool in_time = false;
  std::string answer =
      raw_exchange(service.socket_path(), "THIS IS NOT HTTP\r\n\r\n", std::chrono::seconds(5), &in_time);
  EXPECT_EQ(answer.rfind("HTTP/1.1 400", 0), 0u) << answer;
  EXPECT_NE(answer.find("\"code\":\"bad_request\""), std::string::npos) << answer;
  expect_still_serving(service);
}

TEST_F(Api, FilesAreReadOnlyAndMatchTheStream) {
  LiveService service(host_);
  auto res = service.client().Post("/dump", R"({"snapshot_interfaces": false})", "application/json");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200);
  json paths = json::parse(res->body);
  struct stat st {};
  ASSERT_EQ(::stat(paths["dump_filename"].get<std::string>().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0400u);
  ASSERT_EQ(::stat(paths["graph_filename"].get<std::string>().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0400u);
  ASSERT_EQ(::stat(service.dump_dir().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);

  std::ifstream in(paths["dump_filename"].get<std::string>());
  json from_file = json::parse(in);
  json from_stream = service.dump_stream({});
  from_file.erase("generated_at");
  from_stream.erase("generated_at");
  EXPECT_EQ(from_file, from_stream) << "output=stream gives the same document as the file";

  // The same holds for the datadog schema.
  auto dd = service.client().Post("/dump", R"({"schema": "datadog"})", "application/json");
  ASSERT_EQ(dd->status, 200);
  std::ifstream dd_in(json::parse(dd->body)["dump_filename"].get<std::string>());
  json dd_file = json::parse(dd_in);
  json dd_stream = service.dump_stream({{"schema", "datadog"}});
  EXPECT_EQ(dd_file, dd_stream);
}

TEST_F(Api, NamespacesEndpointsAndHealth) {
  LiveService service(host_);
  auto cli = service.client();
  auto health = cli.Get("/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  EXPECT_EQ(json::parse(health->body), json({{"status", "ok"}}));

  auto list = cli.Get("/v1/namespaces");
  ASSERT_EQ(list->status, 200);
  json doc = json::parse(list->body);
  EXPECT_EQ(doc["resolver"]["state"], "ready");
  bool listed = false;
  for (const json& n : doc["namespaces"]) listed = listed || n["netns"] == 4026532177u;
  EXPECT_TRUE(listed);

  for (const std::string& key : {std::string("4026532177"), std::string("blue")}) {
    auto one = cli.Get("/v1/namespaces/" + key);
    ASSERT_EQ(one->status, 200) << key;
    json got = json::parse(one->body);
    EXPECT_EQ(got["netns"], 4026532177u);
    EXPECT_EQ(got["names"], json::array({"blue"}));
    EXPECT_EQ(got["devices"][1]["peer"]["netns"], 4026531840u) << "the veth peer is resolved";
  }
}

}  // namespace
}  // namespace netnsd
