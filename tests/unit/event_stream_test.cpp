// GET /v1/events over a real Unix socket, with the in-process service over a
// scripted host: a reader that pauses longer than an answer's write timeout
// keeps its stream and is told what it lost; one that reads nothing for the
// stall limit is let go, and its place with it, also on a quiet stream
// where only heartbeats wait for it. No privileges needed;
// tests/privileged/events_test.cpp follows real namespaces on the binary.
#include "event_stream.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "fakes.h"
#include "service.h"

namespace netnsd {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::EventStream;
using testing::LiveService;

constexpr NetnsId kHost = 4026531840;

class EventStreamTest : public ::testing::Test {
 protected:
  EventStreamTest() {
    host_.tasks[kHost] = {80, "/proc/1/task/1/ns/net", {}, {}};
    host_.links[kHost] = {testing::plain(1, "lo")};
    // Writes of an answer give up after 200 ms; the stream's queue is short.
    options_.http.connections.write_timeout = 200ms;
    options_.feed.queue = 64;
  }

  // `count` IPv4 addresses on lo, each one change on the stream (some
  // 200 bytes of NDJSON each).
  static void add_addresses(LiveService& service, int count, int first = 0) {
    for (int i = first; i < first + count; ++i) {
      Address a;
      a.family = AF_INET;
      a.prefix_len = 32;
      a.local = {10, 99, static_cast<std::uint8_t>(i / 250), static_cast<std::uint8_t>(i % 250 + 1)};
      ASSERT_TRUE(service.resolver().upsert_address(kHost, 1, a));
    }
  }

  static bool is_address(const json& e) { return e["type"] == "address_added"; }

  testing::FakeHost host_;
  testing::LiveServiceOptions options_;
};

// Also when the path is percent-encoded: the stall limit goes with the
// route httplib chooses, which is the decoded path.
class PausedReader : public EventStreamTest, public ::testing::WithParamInterface<const char*> {};

TEST_P(PausedReader, KeepsItsStreamPastAWriteTimeoutAndIsToldWhatItLost) {
  options_.http.event_stall_limit = 20s;
  LiveService service(host_, options_);
  EventStream paused(service.socket_path(), "", GetParam());
  ASSERT_EQ(paused.status(), 200);
  ASSERT_TRUE(paused.wait_for([](const json& e) { return e["type"] == "subscribed"; }, 2s));

  // Far more than the queue (64) and the socket's buffer hold: the server's
  // write blocks while the reader pauses, for 8 times the write timeout.
  constexpr int kChanges = 4000;
  add_addresses(service, kChanges);
  std::this_thread::sleep_for(1600ms);

  // What fitted in the buffers, the gap (one lost event or more, each
  // where changes went missing), what the queue held after it.
  int got = 0, gaps = 0;
  std::uint64_t lost = 0;
  for (const json& e : paused.drain(1s)) {
    if (is_address(e)) ++got;
    if (e["type"] == "lost") {
      ++gaps;
      lost += e["count"].get<std::uint64_t>();
    }
  }
  EXPECT_FALSE(paused.ended()) << "the stream ended during the pause";
  EXPECT_GT(got, 0);
  EXPECT_GE(gaps, 1);
  EXPECT_EQ(got + static_cast<int>(lost), kChanges) << "every change is delivered or counted as lost";
  add_addresses(service, 1, kChanges);
  EXPECT_TRUE(paused.wait_for(is_address, 2s)) << "the stream did not go on after the pause";
  EXPECT_FALSE(paused.ended());
}

INSTANTIATE_TEST_SUITE_P(EventStreamTest, PausedReader, ::testing::Values("/v1/events", "/v1/%65vents"),
                         [](const auto& info) { return info.index == 0 ? "AsSent" : "PercentEncoded"; });

TEST_F(EventStreamTest, AReaderThatReadsNothingForTheStallLimitIsLetGoAndItsPlaceFreed) {
  options_.http.event_stall_limit = 1s;
  options_.feed.max_subscribers = 1;
  LiveService service(host_, options_);
  auto stalled = std::make_unique<EventStream>(service.socket_path());
  ASSERT_EQ(stalled->status(), 200);
  {
    EventStream second(service.socket_path());
    EXPECT_EQ(second.status(), 503) << "one subscriber at a time here";
  }
  // The server gives up on it once a write has waited the stall limit
  // (1 s): a write that began after the first of these changes.
  const auto changes_began = std::chrono::steady_clock::now();
  add_addresses(service, 4000);
  EXPECT_TRUE(testing::eventually([&] { return service.feed().stats().subscribers == 0; }, 5s))
      << "a subscriber that reads nothing keeps its place";
  const auto took = std::chrono::steady_clock::now() - changes_began;
  EXPECT_GE(took, 950ms) << "let go before the stall limit";
  stalled.reset();
  EventStream next(service.socket_path());
  EXPECT_EQ(next.status(), 200) << "the place is free again";
}

// On a quiet host only heartbeats flow, and they would fit in the socket's
// buffer for hours: a reader that stopped (a suspended `netnsctl watch`)
// is let go when it has taken nothing for the stall limit, while one that
// reads its heartbeats keeps its stream.
TEST_F(EventStreamTest, AReaderThatStopsReadingAQuietStreamIsLetGoAndOneThatReadsIsNot) {
  options_.http.event_stall_limit = 1s;
  options_.http.event_heartbeat = 200ms;
  options_.feed.max_subscribers = 2;
  LiveService service(host_, options_);
  const auto subscribed = std::chrono::steady_clock::now();
  EventStream silent(service.socket_path());
  EventStream reading(service.socket_path());
  ASSERT_EQ(silent.status(), 200);
  ASSERT_EQ(reading.status(), 200);

  int heartbeats = 0;
  auto read_on = [&](std::chrono::milliseconds for_how_long) {
    const auto until = std::chrono::steady_clock::now() + for_how_long;
    while (std::chrono::steady_clock::now() < until) {
      for (const json& e : reading.drain(100ms)) heartbeats += e["type"] == "heartbeat";
    }
  };
  read_on(700ms);
  EXPECT_EQ(service.feed().stats().subscribers, 2u) << "let go before the stall limit";
  bool one_left = false;
  const auto deadline = std::chrono::steady_clock::now() + 4s;
  while (!one_left && std::chrono::steady_clock::now() < deadline) {
    read_on(100ms);
    one_left = service.feed().stats().subscribers == 1;
  }
  ASSERT_TRUE(one_left) << "a reader that takes nothing keeps its place";
  const auto took = std::chrono::steady_clock::now() - subscribed;
  EXPECT_GE(took, 950ms);
  read_on(1500ms);  // longer than the stall limit again: still served
  EXPECT_FALSE(reading.ended()) << "a reader that reads its heartbeats was let go";
  EXPECT_EQ(service.feed().stats().subscribers, 1u);
  EXPECT_GE(heartbeats, 8) << "heartbeats every 200 ms for some 3 s";
  silent.drain(100ms);
  EXPECT_TRUE(silent.ended()) << "the silent reader's stream was not ended";
  auto metrics = service.client().Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_NE(metrics->body.find("netnsd_http_refused_total{server=\"api\",reason=\"write_timeout\"} 1\n"),
            std::string::npos)
      << "the stream let go is counted";
}

TEST_F(EventStreamTest, StoppingTheServerDoesNotWaitForAStalledReader) {
  options_.http.event_stall_limit = 60s;
  auto service = std::make_unique<LiveService>(host_, options_);
  EventStream stalled(service->socket_path());
  ASSERT_EQ(stalled.status(), 200);
  add_addresses(*service, 4000);  // its write now waits for a reader that reads nothing
  std::this_thread::sleep_for(300ms);
  const auto stopping = std::chrono::steady_clock::now();
  service.reset();
  const auto took = std::chrono::steady_clock::now() - stopping;
  EXPECT_LT(took, 2s) << "stop waited for the stalled stream";
  std::printf("[ figures ] stopped in %lld ms with a stalled subscriber\n",
              static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(took).count()));
}

}  // namespace
}  // namespace netnsd
