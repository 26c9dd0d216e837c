// The HTTP API on a real Unix socket: every documented error, and the
// service still serving (and the cache intact) after each.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <chrono>
#include <filesystem>

#include "privileged.h"
#include "service.h"
#include "system.h"

namespace netnsd {
namespace {

using nlohmann::json;
using testing::LiveService;

// Sends raw bytes and returns whatever the server answers within `timeout`.
std::string raw_exchange(const std::string& socket_path, const std::string& request,
                         std::chrono::milliseconds timeout, bool* answered_in_time) {
  Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", socket_path.c_str());
  EXPECT_EQ(::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  EXPECT_EQ(::write(fd.get(), request.data(), request.size()), static_cast<ssize_t>(request.size()));
  // We keep our side open, as curl does while it waits.
  std::string answer;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  *answered_in_time = false;
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd.get(), POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    char buf[65536];
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n <= 0) break;
    answer.append(buf, static_cast<std::size_t>(n));
    auto header_end = answer.find("\r\n\r\n");
    if (header_end == std::string::npos) continue;
    if (answer.find("Transfer-Encoding: chunked") < header_end &&
        answer.find("\r\n0\r\n\r\n", header_end) != std::string::npos) {
      *answered_in_time = true;  // the last chunk has arrived
      break;
    }
    auto cl = answer.find("Content-Length: ");
    if (cl != std::string::npos && cl < header_end) {
      std::size_t length = std::stoul(answer.substr(cl + 16));
      if (answer.size() >= header_end + 4 + length) {
        *answered_in_time = true;
        break;
      }
    }
  }
  return answer;
}

class Api : public ::testing::Test {
 protected:
  void SetUp() override { NETNSD_REQUIRE_ROOT(); }

  // The service must still dump successfully, with the same namespaces.
  void expect_still_serving(LiveService& service) {
    auto before = service.resolver().stats().namespaces;
    auto res = service.client().Post("/dump");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200) << res->body;
    json paths = json::parse(res->body);
    EXPECT_TRUE(std::filesystem::exists(paths["dump_filename"].get<std::string>()));
    EXPECT_EQ(service.resolver().stats().namespaces, before);
  }

  static void expect_error(const httplib::Result& res, int status, const std::string& code) {
    ASSERT_TRUE(res) << "no answer";
    EXPECT_EQ(res->status, status) << res->body;
    EXPECT_EQ(res->get_header_value("Content-Type"), "application/json");
    json body = json::parse(res->body, nullptr, false);
    ASSERT_TRUE(body.is_object()) << res->body;
    EXPECT_EQ(body["code"], code) << res->body;
    EXPECT_TRUE(body["error"].is_string());
    EXPECT_FALSE(body["error"].get<std::string>().empty());
  }
};

TEST_F(Api, BarePostWithoutContentLengthIsAnsweredAtOnce) {
  LiveService service;
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
  answer = raw_exchange(service.socket_path(),
                        "POST /v1/dump?output=stream&format=dot HTTP/1.1\r\nHost: localhost\r\n\r\n",
                        std::chrono::seconds(5), &in_time);
  EXPECT_TRUE(in_time) << answer;
  EXPECT_EQ(answer.rfind("HTTP/1.1 200", 0), 0u) << answer;
  EXPECT_NE(answer.find("digraph netnsd"), std::string::npos);
}

TEST_F(Api, BadDumpParametersGet400) {
  LiveService service;
  auto cli = service.client();
  expect_error(cli.Post("/dump", "{\"snapshot_interfaces\": tru", "application/json"), 400, "malformed_json");
  expect_error(cli.Post("/dump", "[1]", "application/json"), 400, "invalid_body");
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
  LiveService service;
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
  LiveService service;
  std::string body = "{\"netns\": [" + std::string(70 * 1024, ' ') + "1]}";
  expect_error(service.client().Post("/dump", body, "application/json"), 413, "payload_too_large");
  expect_still_serving(service);
}

TEST_F(Api, GarbageRequestsGetJson400) {
  LiveService service;
  bool in_time = false;
  std::string answer = raw_exchange(service.socket_path(), "THIS IS NOT HTTP\r\n\r\n", std::chrono::seconds(5), &in_time);
  EXPECT_EQ(answer.rfind("HTTP/1.1 400", 0), 0u) << answer;
  EXPECT_NE(answer.find("\"code\":\"bad_request\""), std::string::npos) << answer;
  expect_still_serving(service);
}

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

TEST_F(Api, FilesAreReadOnlyAndMatchTheStream) {
  LiveService service;
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

TEST_F(Api, DatadogSchemaHasExactlyTheSeedsKeysAndTypes) {
  testing::NamedNetns ns(testing::unique_name("dd"));
  LiveService service;
  json dd = service.dump_stream({{"schema", "datadog"}});
  ASSERT_TRUE(dd.is_array());
  bool found = false;
  for (const json& entry : dd) {
    std::set<std::string> keys;
    for (auto& [k, v] : entry.items()) keys.insert(k);
    EXPECT_EQ(keys, (std::set<std::string>{"NsID", "HandleFD", "HandlePath", "LonelyTimeout", "Devices",
                                            "DevicesInQueue"}));
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

TEST_F(Api, NamespacesEndpointsAndHealth) {
  testing::NamedNetns ns(testing::unique_name("ls"));
  LiveService service;
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
  for (const json& n : doc["namespaces"]) listed = listed || n["netns"] == ns.inode();
  EXPECT_TRUE(listed);

  for (const std::string& key : {std::to_string(ns.inode()), ns.name()}) {
    auto one = cli.Get("/v1/namespaces/" + key);
    ASSERT_EQ(one->status, 200) << key;
    json got = json::parse(one->body);
    EXPECT_EQ(got["netns"], ns.inode());
    EXPECT_EQ(got["names"], json::array({ns.name()}));
  }
}

TEST_F(Api, AnyInterfaceNameTheKernelAcceptsGivesValidJsonAndARenderableGraph) {
  testing::NamedNetns ns(testing::unique_name("odd"));
  const std::vector<std::string> names = {"q\"uote", "back\\slash", "{br}<a>&;'|$", "\xff\xfe\x01", "caf\xc3\xa9"};
  std::vector<std::string> created;
  for (std::size_t i = 0; i < names.size(); ++i) {
    auto r = testing::run({"ip", "-n", ns.name(), "link", "add", names[i], "type", "veth", "peer", "name",
                           "pp" + std::to_string(i)});
    if (r.status == 0) created.push_back(names[i]);
  }
  ASSERT_GE(created.size(), 4u) << "iproute2 refused most of the odd names";
  LiveService service;
  json dump = service.dump_stream({{"netns", {ns.inode()}}});  // parses, so it is valid JSON
  ASSERT_EQ(dump["namespaces"].size(), 1u);
  EXPECT_EQ(dump["namespaces"][0]["devices"].size(), 1 + 2 * created.size());

  auto dot = service.client().Post("/dump",
                                   json({{"output", "stream"}, {"format", "dot"}, {"netns", {ns.inode()}}}).dump(),
                                   "application/json");
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
