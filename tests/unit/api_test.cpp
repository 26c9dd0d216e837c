// The HTTP API on a real Unix socket, over a scripted host: every documented
// error, and the service still serving (and the cache intact) after each.
// No privileges needed; tests/privileged/api_test.cpp covers what needs the
// real kernel.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

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
using namespace std::chrono_literals;

// Two namespaces: one held by tasks, one bind-mounted as "blue".
class Api : public ::testing::Test {
 protected:
  Api() {
    host_.tasks[4026531840] = {80, "/proc/1/task/1/ns/net", {}, {}};
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

TEST_F(Api, GraphsAreRenderedAsSvgAndPngAndTooLargeOnesGet422) {
  LiveService service(host_);
  auto cli = service.client();
  auto svg = cli.Post("/v1/dump?output=stream&format=svg", "{}", "application/json");
  ASSERT_TRUE(svg);
  ASSERT_EQ(svg->status, 200) << svg->body;
  EXPECT_EQ(svg->get_header_value("Content-Type"), "image/svg+xml");
  EXPECT_NE(svg->body.find("<svg"), std::string::npos);
  EXPECT_NE(svg->body.find(">c0 (2)<"), std::string::npos) << "the devices are named";
  EXPECT_NE(svg->body.find(">v0 (4)<"), std::string::npos);
  auto png = cli.Post("/v1/dump", R"({"output": "stream", "format": "png"})", "application/json");
  ASSERT_TRUE(png);
  ASSERT_EQ(png->status, 200) << png->body;
  EXPECT_EQ(png->get_header_value("Content-Type"), "image/png");
  EXPECT_EQ(png->body.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  expect_error(cli.Post("/v1/dump?format=svg", "{}", "application/json"), 400, "format_requires_stream");
  expect_error(cli.Post("/v1/dump?output=stream&format=gif", "{}", "application/json"), 400, "invalid_value");

  // 600 namespaces of 3 devices: 2400 nodes, past what the service renders.
  testing::FakeHost big;
  for (NetnsId i = 0; i < 600; ++i) {
    big.mounts.push_back({5000 + i, "/run/netns/n" + std::to_string(i)});
    big.links[5000 + i] = {testing::plain(1, "lo"), testing::plain(2, "eth0"), testing::plain(3, "eth1")};
  }
  LiveService large(big);
  auto refused = large.client().Post("/v1/dump?output=stream&format=svg", "{}", "application/json");
  expect_error(refused, 422, "graph_too_large");
  ASSERT_TRUE(refused);
  EXPECT_NE(refused->body.find("format=dot"), std::string::npos) << "says what to do instead";
  auto dot = large.client().Post("/v1/dump?output=stream&format=dot", "{}", "application/json");
  ASSERT_TRUE(dot);
  EXPECT_EQ(dot->status, 200);
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
  from_file.erase("at");  // the live cache: at is generated_at
  from_stream.erase("at");
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

// --- Request armour: what a hostile client meets ------------------------------

TEST_F(Api, EncodedBodiesAreRefusedBeforeAnyByteIsInflated) {
  LiveService service(host_);
  for (const char* encoding : {"gzip", "br", "deflate"}) {
    testing::RawClient c(service.socket_path());
    ASSERT_TRUE(c.send(std::string("POST /dump HTTP/1.1\r\nHost: x\r\nContent-Encoding: ") + encoding +
                       "\r\nContent-Length: 4\r\n\r\n\x1f\x8b\x08\x00"));
    std::string answer = c.read_until_closed(2s);
    EXPECT_EQ(testing::status_of(answer), 415) << answer;
    EXPECT_NE(answer.find("\"code\":\"encoded_body_refused\""), std::string::npos) << answer;
    EXPECT_TRUE(c.closed_by_server()) << "an unread body: the connection closes";
  }
  expect_still_serving(service);
}

TEST_F(Api, AnEndlessRequestLineIsCutOffAtItsCap) {
  LiveService service(host_);
  testing::RawClient c(service.socket_path());
  ASSERT_TRUE(c.send("GET /"));
  std::size_t sent = 0;
  while (sent < (64u << 20) && c.send(std::string(64 * 1024, 'a'), 500ms)) sent += 64 * 1024;
  std::string answer = c.read_until_closed(2s);
  EXPECT_EQ(testing::status_of(answer), 414) << answer.substr(0, 200);
  EXPECT_TRUE(c.closed_by_server());
  EXPECT_LT(sent, 8u << 20) << "the server stopped reading long before 64 MiB";
  expect_still_serving(service);
}

TEST_F(Api, AnEndlessHeaderLineIsCutOffAtItsCap) {
  LiveService service(host_);
  testing::RawClient c(service.socket_path());
  ASSERT_TRUE(c.send("GET /healthz HTTP/1.1\r\nX-Flood: "));
  std::size_t sent = 0;
  while (sent < (64u << 20) && c.send(std::string(64 * 1024, 'h'), 500ms)) sent += 64 * 1024;
  std::string answer = c.read_until_closed(2s);
  EXPECT_EQ(testing::status_of(answer), 431) << answer.substr(0, 200);
  EXPECT_NE(answer.find("header_too_large"), std::string::npos);
  EXPECT_LT(sent, 8u << 20);
}

TEST_F(Api, ARequestNotWholeWithinItsDeadlineGets408) {
  testing::LiveServiceOptions options;
  options.http.connections.request_deadline = 300ms;
  LiveService service(host_, options);
  testing::RawClient c(service.socket_path());
  const auto started = std::chrono::steady_clock::now();
  ASSERT_TRUE(c.send("GET /healthz HTTP/1.1\r\nHo"));
  // Trickling does not extend the deadline: it is for the whole request.
  for (int i = 0; i < 10 && !c.closed_by_server(); ++i) {
    std::this_thread::sleep_for(50ms);
    c.send("s");
  }
  std::string answer = c.read_until_closed(2s);
  const auto took = std::chrono::steady_clock::now() - started;
  EXPECT_EQ(testing::status_of(answer), 408) << answer;
  EXPECT_TRUE(c.closed_by_server());
  EXPECT_LT(took, 1s);
}

TEST_F(Api, KeepAliveConnectionsServeManyRequestsAndPipelining) {
  LiveService service(host_);
  testing::RawClient c(service.socket_path());
  const std::string health = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_TRUE(c.send(health + health + health));
  for (int i = 0; i < 3; ++i) {
    std::string answer = c.read_answer(2s);
    EXPECT_EQ(testing::status_of(answer), 200) << i << ": " << answer;
  }
  ASSERT_TRUE(c.send("POST /v1/dump HTTP/1.1\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n"));
  std::string interim = c.read_answer(2s);
  EXPECT_EQ(testing::status_of(interim), 100) << interim;
  ASSERT_TRUE(c.send("{}"));
  std::string answer = c.read_answer(5s);
  EXPECT_EQ(testing::status_of(answer), 200) << answer;
  EXPECT_FALSE(c.closed_by_server());
}

TEST_F(Api, AtTheConnectionCapSlowConnectionsMakeRoomAndProbesAreAlwaysAnswered) {
  testing::LiveServiceOptions options;
  options.http.connections.max_connections = 4;
  options.http.connections.slow_after = 100ms;
  LiveService service(host_, options);
  // Four clients that started a request and stalled.
  std::vector<std::unique_ptr<testing::RawClient>> slow;
  for (int i = 0; i < 4; ++i) {
    slow.push_back(std::make_unique<testing::RawClient>(service.socket_path()));
    ASSERT_TRUE(slow.back()->send("GET /v1/namespaces HTTP/1.1\r\nX: "));
  }
  std::this_thread::sleep_for(200ms);  // now they are slow
  // One kept-alive connection gets in (a slow one gives way) and is served
  // throughout; a second newcomer gets in beside it. (Not ten connections
  // one after the other: each closes as the next arrives, and whether the
  // server has seen the close yet is a race the test would time.)
  auto kept = service.client();
  kept.set_keep_alive(true);
  for (int i = 0; i < 10; ++i) {
    auto res = kept.Get("/v1/namespaces");
    ASSERT_TRUE(res) << "request " << i;
    EXPECT_EQ(res->status, 200);
  }
  auto another = service.client().Get("/v1/namespaces");
  ASSERT_TRUE(another);
  EXPECT_EQ(another->status, 200);
  int evicted = 0;
  for (auto& c : slow) {
    c->read_until_closed(100ms);
    evicted += c->closed_by_server();
  }
  EXPECT_GE(evicted, 1) << "a slow connection gave way";
}

// A dump that waits (here: for readiness) keeps its connection busy.
TEST_F(Api, WhenEveryConnectionIsBusyProbesAreAnsweredAndOthersGet503) {
  testing::LiveServiceOptions options;
  options.http.connections.max_connections = 3;
  std::atomic<bool> ready{false};
  options.wait_ready = [&](std::chrono::milliseconds wait) {
    const auto until = std::chrono::steady_clock::now() + wait;
    while (!ready && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(5ms);
    return ready.load();
  };
  options.http.ready_wait = 3s;
  LiveService service(host_, options);
  std::vector<std::unique_ptr<testing::RawClient>> busy;
  for (int i = 0; i < 3; ++i) {
    busy.push_back(std::make_unique<testing::RawClient>(service.socket_path()));
    ASSERT_TRUE(busy.back()->send("POST /dump HTTP/1.1\r\nContent-Length: 0\r\n\r\n"));
  }
  std::this_thread::sleep_for(100ms);
  for (const char* probe : {"/healthz", "/readyz", "/metrics"}) {
    const auto started = std::chrono::steady_clock::now();
    auto res = service.client().Get(probe);
    ASSERT_TRUE(res) << probe;
    EXPECT_EQ(res->status, 200) << probe;
    EXPECT_LT(std::chrono::steady_clock::now() - started, 500ms) << probe;
  }
  // HEAD is a probe too, whichever probe it asks for.
  for (const char* probe : {"/healthz", "/readyz", "/metrics"}) {
    testing::RawClient head(service.socket_path());
    ASSERT_TRUE(head.send(std::string("HEAD ") + probe + " HTTP/1.1\r\n\r\n"));
    const std::string answer = head.read_until_closed(2s);
    EXPECT_EQ(testing::status_of(answer), 200) << "HEAD " << probe << ": " << answer;
  }
  testing::RawClient other(service.socket_path());
  ASSERT_TRUE(other.send("GET /v1/namespaces HTTP/1.1\r\n\r\n"));
  std::string answer = other.read_until_closed(2s);
  EXPECT_EQ(testing::status_of(answer), 503) << answer;
  EXPECT_NE(answer.find("Retry-After"), std::string::npos);
  ready = true;
  for (auto& c : busy) EXPECT_EQ(testing::status_of(c->read_answer(5s)), 200);
}

TEST_F(Api, DumpsBeyondTheRunningAndWaitingOnesGet503WithRetryAfter) {
  testing::LiveServiceOptions options;
  options.http.max_concurrent_dumps = 1;
  options.http.dump_queue = 1;
  std::atomic<bool> go{false};
  LiveService service(host_, options);
  // The running dump (a snapshot) lists links through the host: hold it there.
  host_.before_listing = [&](NetnsId) {
    while (!go) std::this_thread::sleep_for(5ms);
  };
  std::vector<std::unique_ptr<testing::RawClient>> clients;
  const std::string body = "{\"snapshot_interfaces\": true}";
  const std::string snapshot =
      "POST /dump HTTP/1.1\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  for (int i = 0; i < 3; ++i) {
    clients.push_back(std::make_unique<testing::RawClient>(service.socket_path()));
    ASSERT_TRUE(clients.back()->send(snapshot));
    std::this_thread::sleep_for(100ms);
  }
  std::string third = clients[2]->read_answer(2s);
  EXPECT_EQ(testing::status_of(third), 503) << third;
  EXPECT_NE(third.find("too_many_dumps"), std::string::npos);
  EXPECT_NE(third.find("Retry-After: 1"), std::string::npos);
  go = true;
  EXPECT_EQ(testing::status_of(clients[0]->read_answer(5s)), 200);
  EXPECT_EQ(testing::status_of(clients[1]->read_answer(5s)), 200);
  host_.before_listing = nullptr;
}

TEST_F(Api, HttpEdgeCasesAreAnsweredAsTheRfcsSay) {
  LiveService service(host_);
  {
    testing::RawClient absolute(service.socket_path());
    ASSERT_TRUE(absolute.send("GET http://localhost/healthz HTTP/1.1\r\nHost: localhost\r\n\r\n"));
    const std::string answer = absolute.read_answer(2s);
    EXPECT_EQ(testing::status_of(answer), 200) << answer;
    EXPECT_NE(answer.find("{\"status\":\"ok\"}"), std::string::npos) << answer;
  }
  {
    testing::RawClient absolute_dump(service.socket_path());
    ASSERT_TRUE(
        absolute_dump.send("POST http://localhost/v1/dump?output=stream HTTP/1.1\r\nContent-Length: 0\r\n\r\n"));
    EXPECT_EQ(testing::status_of(absolute_dump.read_answer(5s)), 200);
  }
  {
    testing::RawClient spaced(service.socket_path());
    ASSERT_TRUE(spaced.send("GET /healthz HTTP/1.1\r\nHost : x\r\n\r\n"));
    const std::string answer = spaced.read_until_closed(2s);
    EXPECT_EQ(testing::status_of(answer), 400) << answer;
    EXPECT_NE(answer.find("\"code\":\"bad_request\""), std::string::npos) << answer;
  }
  auto twice = service.client().Post("/dump", R"({"output":"stream","output":"files"})", "application/json");
  expect_error(twice, 400, "duplicate_parameter");
  expect_still_serving(service);
}

TEST_F(Api, AQueuedDumpWaitsAtMostItsTimeThenGets503WithRetryAfter) {
  testing::LiveServiceOptions options;
  options.http.max_concurrent_dumps = 1;
  options.http.dump_queue = 2;
  options.http.dump_queue_wait = 300ms;
  std::atomic<bool> go{false};
  LiveService service(host_, options);
  host_.before_listing = [&](NetnsId) {
    while (!go) std::this_thread::sleep_for(5ms);
  };
  const std::string body = "{\"snapshot_interfaces\": true}";
  const std::string snapshot =
      "POST /dump HTTP/1.1\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  testing::RawClient running(service.socket_path()), queued(service.socket_path());
  ASSERT_TRUE(running.send(snapshot));
  std::this_thread::sleep_for(100ms);
  const auto asked = std::chrono::steady_clock::now();
  ASSERT_TRUE(queued.send(snapshot));
  const std::string answer = queued.read_answer(3s);
  const auto waited = std::chrono::steady_clock::now() - asked;
  EXPECT_EQ(testing::status_of(answer), 503) << answer;
  EXPECT_NE(answer.find("too_many_dumps"), std::string::npos) << answer;
  EXPECT_NE(answer.find("Retry-After: 1"), std::string::npos) << answer;
  EXPECT_GE(waited, 250ms) << "it waited in line";
  EXPECT_LT(waited, 1500ms) << "no longer than the queue's wait (and a reader's tick)";
  go = true;
  EXPECT_EQ(testing::status_of(running.read_answer(5s)), 200);
  host_.before_listing = nullptr;
  auto metrics = service.client().Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_NE(metrics->body.find("netnsd_http_lane_refused_total{server=\"api\",lane=\"dump\",reason=\"waited\"} 1"),
            std::string::npos)
      << metrics->body;
}

// The API's lane is full: the next request gets 503 at once, while probes,
// dumps and change streams keep their own workers.
TEST_F(Api, WhenEveryApiWorkerIsBusyTheNextGets503AtOnceAndOtherLanesServe) {
  testing::LiveServiceOptions options;
  options.http.api_workers = 2;
  std::atomic<bool> go{false};
  LiveService service(host_, options);
  // GET /v1/namespaces/{netns} reads counters through a listing: hold it there.
  host_.before_listing = [&](NetnsId) {
    while (!go) std::this_thread::sleep_for(5ms);
  };
  std::vector<std::unique_ptr<testing::RawClient>> busy;
  for (int i = 0; i < 2; ++i) {
    busy.push_back(std::make_unique<testing::RawClient>(service.socket_path()));
    ASSERT_TRUE(busy.back()->send("GET /v1/namespaces/blue HTTP/1.1\r\n\r\n"));
  }
  std::this_thread::sleep_for(100ms);
  testing::RawClient third(service.socket_path());
  const auto asked = std::chrono::steady_clock::now();
  ASSERT_TRUE(third.send("GET /v1/namespaces HTTP/1.1\r\n\r\n"));
  const std::string answer = third.read_until_closed(2s);
  EXPECT_EQ(testing::status_of(answer), 503) << answer;
  EXPECT_NE(answer.find("\"busy\""), std::string::npos) << answer;
  EXPECT_NE(answer.find("Retry-After"), std::string::npos) << answer;
  EXPECT_LT(std::chrono::steady_clock::now() - asked, 500ms) << "at once, not after a wait";
  EXPECT_EQ(service.client().Get("/healthz")->status, 200);
  auto dump = service.client().Post("/dump", "{\"output\": \"stream\"}", "application/json");
  ASSERT_TRUE(dump);
  EXPECT_EQ(dump->status, 200) << "dumps have workers of their own";
  go = true;
  for (auto& c : busy) EXPECT_EQ(testing::status_of(c->read_answer(5s)), 200);
  host_.before_listing = nullptr;
}

TEST_F(Api, ADumpBeforeTheInitialScanWaitsThenGets503NotAPartialCache) {
  testing::LiveServiceOptions options;
  options.wait_ready = [](std::chrono::milliseconds) { return false; };
  options.http.ready_wait = 200ms;
  LiveService service(host_, options);
  auto res = service.client().Post("/dump", "{\"output\": \"stream\"}", "application/json");
  expect_error(res, 503, "not_ready");
  EXPECT_EQ(res->get_header_value("Retry-After"), "1");
  EXPECT_EQ(service.client().Get("/healthz")->status, 200) << "health checks do not wait";
}

}  // namespace
}  // namespace netnsd
