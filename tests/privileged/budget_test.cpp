// Every client gets an answer: an answer read too slowly is cut within its
// budget and gives its dump slot back, a queued dump waits a bounded time,
// and change streams and dumps never take the workers the rest of the API
// needs. Against the real binary, over 400 real namespaces.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <thread>

#include "api_checks.h"
#include "daemon.h"
#include "privileged.h"
#include "prober.h"
#include "system.h"
#include "util/defaults.h"
#include "util/text.h"

namespace netnsd {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using testing::Daemon;
using testing::RawClient;
using testing::status_of;

double seconds(Clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

// GET /healthz and GET /v1/namespaces on fresh connections every 200 ms,
// until stopped.
struct Watch {
  explicit Watch(const Daemon& d) : health(d, "/healthz", 200ms), namespaces(d, "/v1/namespaces", 200ms) {}
  void finish() {
    health.finish();
    namespaces.finish();
  }
  testing::Prober health, namespaces;
};

std::string post(const std::string& target, const std::string& body = "") {
  return "POST " + target +
         " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\n\r\n" + body;
}

class Budgets : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (::geteuid() == 0) many_ = new testing::ManyNamespaces(400);
  }
  static void TearDownTestSuite() {
    delete many_;
    many_ = nullptr;
  }
  void SetUp() override { NETNSD_REQUIRE_ROOT(); }
  static testing::ManyNamespaces* many_;
};
testing::ManyNamespaces* Budgets::many_ = nullptr;

// A client that reads its streamed answer 64 KiB at a time, every 1.5 s
// (about 43 KB/s), until the server closes it.
struct SlowReader {
  explicit SlowReader(const std::string& socket) : client(socket) {}
  void run(const std::string& request) {
    asked = Clock::now();
    if (!client.send(request)) return;
    char buf[64 * 1024];
    const auto give_up = asked + 120s;
    while (Clock::now() < give_up) {
      pollfd p{client.fd(), POLLIN, 0};
      if (::poll(&p, 1, 1000) <= 0) continue;
      const ssize_t n = ::recv(client.fd(), buf, sizeof buf, 0);
      if (n <= 0) {
        closed_at = Clock::now();
        return;
      }
      if (got == 0) {
        first_byte = Clock::now();
        head = std::string(buf, static_cast<std::size_t>(std::min<ssize_t>(n, 200)));
      }
      got += static_cast<std::size_t>(n);
      std::this_thread::sleep_for(1500ms);
    }
  }
  RawClient client;
  std::size_t got = 0;
  std::string head;
  Clock::time_point asked, first_byte, closed_at;
};

TEST_F(Budgets, SlowReadersOfAStreamedSvgAreCutWithinTheBudgetAndGiveTheirSlotsBack) {
  Daemon netnsd({"--resync-interval", "0"});
  ASSERT_TRUE(netnsd.ready()) << netnsd.log();
  ASSERT_TRUE(testing::eventually([&] { return netnsd.cached().size() > 400; }, 20s));
  const std::string svg_target = "/v1/dump?output=stream&format=svg";
  auto whole = netnsd.post(svg_target, "");
  ASSERT_TRUE(whole);
  ASSERT_EQ(whole->status, 200) << whole->body.substr(0, 300);
  const std::size_t size = whole->body.size();
  const std::string slow_series = "netnsd_http_refused_total{server=\"api\",reason=\"slow_reader\"}";
  const long slow_before = netnsd.metric(slow_series);
  ASSERT_GE(slow_before, 0);

  Watch watch(netnsd);
  // When the server cuts them: what a reader sees later, once it has taken
  // what the socket still held.
  std::vector<Clock::time_point> cuts;
  std::atomic<bool> readers_done{false};
  std::thread counting([&] {
    long seen = slow_before;
    while (!readers_done) {
      const long now = netnsd.metric(slow_series);
      for (; seen < now; ++seen) cuts.push_back(Clock::now());
      std::this_thread::sleep_for(50ms);
    }
  });
  SlowReader a(netnsd.socket_path()), b(netnsd.socket_path());
  std::thread ta([&] { a.run(post(svg_target)); });
  std::thread tb([&] { b.run(post(svg_target)); });
  // Both hold the dump slots now (rendering or sending): a third asks.
  ASSERT_TRUE(testing::eventually(
      [&] { return netnsd.metric("netnsd_dumps_running") == static_cast<long>(defaults::kMaxConcurrentDumps); }, 10s));
  RawClient third(netnsd.socket_path());
  const auto third_asked = Clock::now();
  ASSERT_TRUE(third.send(post("/v1/dump?output=stream")));
  const std::string third_answer = third.read_answer(15s);
  const double third_s = seconds(Clock::now() - third_asked);
  const int third_status = status_of(third_answer);
  ta.join();
  tb.join();
  readers_done = true;
  counting.join();
  // Right after the cut, the slots are free.
  auto after = netnsd.post("/v1/dump", "{}");
  watch.finish();

  // 10 s of grace, then the minimum rate over the whole image.
  const double budget_s =
      seconds(defaults::kReadGrace) + static_cast<double>(size) / static_cast<double>(defaults::kMinReadRate);
  ASSERT_EQ(cuts.size(), 2u) << "both cuts counted";
  std::sort(cuts.begin(), cuts.end());
  std::vector<const SlowReader*> by_start = {&a, &b};
  std::sort(by_start.begin(), by_start.end(),
            [](const SlowReader* x, const SlowReader* y) { return x->first_byte < y->first_byte; });
  for (std::size_t i = 0; i < 2; ++i) {
    const SlowReader& r = *by_start[i];
    ASSERT_NE(r.closed_at, Clock::time_point{}) << "a slow reader was never cut";
    ASSERT_EQ(status_of(r.head), 200) << r.head;
    const double cut_after = seconds(cuts[i] - r.first_byte);
    std::printf(
        "[ figures ] slow reader: %zu of %zu bytes taken, cut %.1f s after its first byte (budget %.1f s), saw the "
        "end %.1f s later\n",
        r.got, size, cut_after, budget_s, seconds(r.closed_at - cuts[i]));
    EXPECT_LT(r.got, size) << "it was cut, not served whole";
    // Never before what was sent was due (the reader took all of it, up to
    // the cut): the grace, then the minimum rate. (0.3 s: the client saw its
    // first byte a little after netnsd sent it.)
    const double sent_due_s =
        seconds(defaults::kReadGrace) + static_cast<double>(r.got) / static_cast<double>(defaults::kMinReadRate);
    EXPECT_GE(cut_after, sent_due_s - 0.3);
    EXPECT_LE(cut_after, budget_s + 1.0);
  }
  const double slowest_health_s = watch.health.percentile(1.0) / 1000;
  const double slowest_namespaces_s = watch.namespaces.percentile(1.0) / 1000;
  const int asked = static_cast<int>(watch.health.probes() + watch.namespaces.probes());
  const int failed = watch.health.failures() + watch.namespaces.failures();
  std::printf(
      "[ figures ] third dump: %d after %.2f s; /healthz slowest %.3f s, /v1/namespaces slowest %.3f s (%d "
      "asked, %d failed)\n",
      third_status, third_s, slowest_health_s, slowest_namespaces_s, asked, failed);
  EXPECT_TRUE(third_status == 200 || (third_status == 503 && third_answer.find("Retry-After") != std::string::npos))
      << third_answer.substr(0, 300);
  EXPECT_LE(third_s, seconds(defaults::kDumpQueueWait) + 0.5);
  ASSERT_TRUE(after);
  EXPECT_EQ(after->status, 200) << after->body;
  EXPECT_EQ(failed, 0);
  EXPECT_GT(asked, 20);
  EXPECT_LT(slowest_health_s, 1.0);
  EXPECT_LT(slowest_namespaces_s, 1.0);
}

TEST_F(Budgets, SilentSubscribersAndSilentDumpsLeaveTheApiAnswering) {
  Daemon netnsd({"--resync-interval", "0"});
  ASSERT_TRUE(netnsd.ready()) << netnsd.log();
  ASSERT_TRUE(testing::eventually([&] { return netnsd.cached().size() > 400; }, 20s));
  std::vector<std::unique_ptr<RawClient>> silent;
  for (std::size_t i = 0; i < defaults::kMaxEventSubscribers; ++i) {
    silent.push_back(std::make_unique<RawClient>(netnsd.socket_path()));
    ASSERT_TRUE(silent.back()->send("GET /v1/events HTTP/1.1\r\nHost: x\r\n\r\n"));
  }
  // Snapshot dumps of 400 namespaces: far more than a socket holds.
  const std::string dump = post("/v1/dump", R"({"output": "stream", "snapshot_interfaces": true})");
  std::vector<std::unique_ptr<RawClient>> dumps;
  const std::size_t admitted = defaults::kMaxConcurrentDumps + defaults::kDumpQueue;
  for (std::size_t i = 0; i < admitted; ++i) {
    dumps.push_back(std::make_unique<RawClient>(netnsd.socket_path()));
    ASSERT_TRUE(dumps.back()->send(dump));
  }
  const auto asked = Clock::now();
  ASSERT_TRUE(testing::eventually(
      [&] {
        return netnsd.metric("netnsd_event_subscribers") == static_cast<long>(defaults::kMaxEventSubscribers) &&
               netnsd.metric("netnsd_dumps_running") == static_cast<long>(defaults::kMaxConcurrentDumps) &&
               netnsd.metric("netnsd_dumps_waiting") == static_cast<long>(defaults::kDumpQueue);
      },
      5s))
      << "every stream and every dump is in its place";

  double slowest = 0;
  for (int i = 0; i < 10; ++i) {
    const auto t0 = Clock::now();
    auto res = netnsd.get("/v1/namespaces");
    slowest = std::max(slowest, seconds(Clock::now() - t0));
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200);
    EXPECT_EQ(netnsd.get("/healthz")->status, 200);
  }
  std::printf("[ figures ] %zu silent streams, %zu silent dumps: GET /v1/namespaces slowest %.3f s\n", silent.size(),
              dumps.size(), slowest);
  EXPECT_LT(slowest, 1.0);

  // One more of each is turned away at once.
  for (const std::string& request : {dump, std::string("GET /v1/events HTTP/1.1\r\nHost: x\r\n\r\n")}) {
    RawClient extra(netnsd.socket_path());
    const auto t0 = Clock::now();
    ASSERT_TRUE(extra.send(request));
    const std::string answer = extra.read_answer(3s);
    EXPECT_EQ(status_of(answer), 503) << answer;
    EXPECT_NE(answer.find("Retry-After"), std::string::npos) << answer;
    EXPECT_LT(seconds(Clock::now() - t0), 1.0);
  }

  // The waiting dumps are told to come back once they have waited their time.
  ASSERT_TRUE(
      testing::eventually([&] { return netnsd.metric("netnsd_dumps_waiting") == 0; }, defaults::kDumpQueueWait + 3s));
  const double waited = seconds(Clock::now() - asked);
  EXPECT_LT(waited, seconds(defaults::kDumpQueueWait) + 2.0);
  std::size_t told = 0;
  for (auto& c : dumps) {
    const std::string answer = c->read_answer(2s);  // the running ones are still streaming
    if (status_of(answer) == 503 && answer.find("too_many_dumps") != std::string::npos &&
        answer.find("Retry-After") != std::string::npos) {
      ++told;
    }
  }
  EXPECT_EQ(told, defaults::kDumpQueue) << "each waiting dump got 503 (after " << waited << " s)";
  EXPECT_EQ(netnsd.get("/healthz")->status, 200);
}

}  // namespace
}  // namespace netnsd
