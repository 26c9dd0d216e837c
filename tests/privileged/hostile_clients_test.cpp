// The hostile-client battery, against the real binary at 1000 namespaces:
// compression bombs, endless request and header lines, 500 slow connections,
// a connect-and-close flood, 64 concurrent snapshot dumps, and a client that
// never reads its streamed dump. For each: netnsd's peak RSS (VmHWM, reset
// per scenario through clear_refs), its most descriptors, and the latency of
// /healthz probes made all along on fresh connections (as exec probes do).
// Prints a markdown table (tests/hostile_clients.sh shows just that).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>

#include "api/connections.h"
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
using nlohmann::json;
using testing::Daemon;
using testing::Prober;
using testing::RawClient;
using testing::status_of;

struct Row {
  std::string scenario;
  long rss_kib = 0;
  long peak_delta_kib = 0;
  int max_fds = 0;
  double p50 = 0, p99 = 0;
  std::size_t probes = 0;
  int probe_failures = 0;
  std::string outcome;
};

class HostileClients : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (::geteuid() != 0) return;
    many_ = new testing::ManyNamespaces(1000);
  }
  static void TearDownTestSuite() {
    delete many_;
    many_ = nullptr;
    std::printf(
        "\n| scenario | RSS at start (KiB) | peak RSS growth (KiB) | most fds | /healthz p50 / p99 (ms) | probes "
        "(failed) | outcome |\n");
    std::printf("|---|---|---|---|---|---|---|\n");
    for (const Row& r : rows_) {
      std::printf("| %s | %ld | %ld | %d | %.2f / %.2f | %zu (%d) | %s |\n", r.scenario.c_str(), r.rss_kib,
                  r.peak_delta_kib, r.max_fds, r.p50, r.p99, r.probes, r.probe_failures, r.outcome.c_str());
    }
    std::fflush(stdout);
  }
  void SetUp() override {
    NETNSD_REQUIRE_ROOT();
    netnsd_ = std::make_unique<Daemon>(std::vector<std::string>{"--resync-interval", "0"});
    ASSERT_TRUE(netnsd_->ready()) << netnsd_->log();
    ASSERT_TRUE(testing::eventually([&] { return netnsd_->cached().size() >= 1000; }, 20s));
  }
  // netnsd_http_refused_total{server="api",reason="busy"} 4179 and
  // netnsd_http_lane_refused_total{server="api",lane="dump",reason="full"} 54,
  // by reason ("busy", "dump lane full").
  std::map<std::string, long> refusals() {
    std::map<std::string, long> by_reason;
    const std::string metrics = netnsd_->metrics_text();
    auto label = [](std::string_view line, std::string_view name) {
      const auto at = line.find(std::string(name) + "=\"");
      if (at == std::string_view::npos) return std::string();
      std::string_view v = line.substr(at + name.size() + 2);
      return std::string(v.substr(0, v.find('"')));
    };
    for (std::string_view line : split_lines(metrics)) {
      const long value = std::atol(std::string(line.substr(line.rfind(' ') + 1)).c_str());
      if (line.rfind("netnsd_http_refused_total{server=\"api\"", 0) == 0) {
        by_reason[label(line, "reason")] = value;
      } else if (line.rfind("netnsd_http_lane_refused_total{server=\"api\"", 0) == 0) {
        by_reason[label(line, "lane") + " lane " + label(line, "reason")] = value;
      }
    }
    return by_reason;
  }
  // Starts measuring: peak RSS from now, probes from now.
  void begin() {
    std::ofstream("/proc/" + std::to_string(netnsd_->pid()) + "/clear_refs") << "5";
    rss_at_start_ = netnsd_->rss_kib();
    fds_at_start_ = netnsd_->settled_fd_count();
    refused_at_start_ = refusals();
    prober_ = std::make_unique<Prober>(*netnsd_);
  }
  Row end(const std::string& scenario, const std::string& outcome) {
    prober_->finish();
    Row r;
    r.scenario = scenario;
    r.rss_kib = rss_at_start_;
    r.peak_delta_kib = netnsd_->peak_rss_kib() - rss_at_start_;
    r.max_fds = prober_->max_fds();
    r.p50 = prober_->percentile(0.5);
    r.p99 = prober_->percentile(0.99);
    r.probes = prober_->probes();
    r.probe_failures = prober_->failures();
    for (const std::string& why : prober_->reasons())
      std::printf("probe failed during %s: %s\n", scenario.c_str(), why.c_str());
    r.outcome = outcome;
    rows_.push_back(r);
    auto health = netnsd_->get("/healthz");
    EXPECT_TRUE(health && health->status == 200) << "netnsd did not survive " << scenario;
    // How the server turned connections away during this scenario, by reason.
    std::string refused;
    for (const auto& [reason, count] : refusals()) {
      const long during = count - refused_at_start_[reason];
      if (during > 0) refused += (refused.empty() ? "" : ", ") + reason + " " + std::to_string(during);
    }
    std::printf("[ figures ] %s: refused %s\n", scenario.c_str(), refused.empty() ? "none" : refused.c_str());
    return r;
  }
  // A bomb: `zeros` bytes of zeros through `compressor`.
  static std::string bomb(const std::string& compressor, std::size_t zeros) {
    return testing::sh("head -c " + std::to_string(zeros) + " /dev/zero | " + compressor).out;
  }

  static testing::ManyNamespaces* many_;
  static std::vector<Row> rows_;
  std::unique_ptr<Daemon> netnsd_;
  std::unique_ptr<Prober> prober_;
  long rss_at_start_ = 0;
  int fds_at_start_ = 0;
  std::map<std::string, long> refused_at_start_;
};
testing::ManyNamespaces* HostileClients::many_ = nullptr;
std::vector<Row> HostileClients::rows_;

void compression_bombs(HostileClients& t, const Daemon& d, const std::string& encoding, const std::string& body,
                       std::vector<int>& statuses) {
  std::vector<std::thread> senders;
  std::mutex m;
  for (int i = 0; i < 8; ++i) {
    senders.emplace_back([&] {
      RawClient c(d.socket_path());
      c.send("POST /v1/dump HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Encoding: " + encoding +
             "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body);
      const int status = status_of(c.read_until_closed(5s));
      std::lock_guard lock(m);
      statuses.push_back(status);
    });
  }
  for (auto& s : senders) s.join();
  (void)t;
}

TEST_F(HostileClients, GzipAndBrotliBombsGet415AndCostNoMemory) {
  for (const auto& [encoding, compressor, zeros] :
       {std::tuple<std::string, std::string, std::size_t>{"gzip", "gzip -9", 60u << 20},
        std::tuple<std::string, std::string, std::size_t>{"br", "brotli -q 4 -c", 1u << 30}}) {
    const std::string body = bomb(compressor, zeros);
    ASSERT_FALSE(body.empty()) << compressor;
    begin();
    std::vector<int> statuses;
    compression_bombs(*this, *netnsd_, encoding, body, statuses);
    Row r = end("8 concurrent " + encoding + " bombs (" + std::to_string(body.size()) + " bytes, " +
                    std::to_string(zeros >> 20) + " MiB inflated)",
                std::to_string(std::count(statuses.begin(), statuses.end(), 415)) + " of 8 got 415");
    EXPECT_EQ(std::count(statuses.begin(), statuses.end(), 415), 8) << encoding;
    EXPECT_LT(r.peak_delta_kib, 64 * 1024) << encoding;
  }
}

TEST_F(HostileClients, EndlessLinesAreCutOffAtTheirCaps) {
  for (const auto& [what, prefix, expected] :
       {std::tuple<std::string, std::string, int>{"request line", "GET /", 414},
        std::tuple<std::string, std::string, int>{"header line", "GET /healthz HTTP/1.1\r\nX-Flood: ", 431}}) {
    begin();
    RawClient c(netnsd_->socket_path());
    ASSERT_TRUE(c.send(prefix));
    std::size_t sent = 0;
    const std::string chunk(64 * 1024, 'a');
    while (sent < (256u << 20) && c.send(chunk, 500ms)) sent += chunk.size();
    const int status = status_of(c.read_until_closed(3s));
    Row r = end("an endless " + what + " (256 MiB offered)",
                "HTTP " + std::to_string(status) + " after " + std::to_string(sent >> 10) + " KiB accepted");
    EXPECT_EQ(status, expected);
    EXPECT_LT(sent, 8u << 20) << "cut off at the cap, not after reading it all";
#if !defined(__SANITIZE_ADDRESS__) && !defined(NETNSD_SANITIZED)
    // (ASan keeps freed buffers in quarantine: RSS measures that, not netnsd.)
    EXPECT_LT(r.peak_delta_kib, 16 * 1024);
#endif
  }
}

// The slow client, in a process of its own as an attacker would be: 500
// connections to `socket`, one byte of a request on each every 2 s, each
// opened again when the server closed it, until `stop` is readable or
// closed; then the number of reconnects is written to `result`. Runs in a
// forked child of a threaded process: system calls only, nothing allocated.
[[noreturn]] void slow_loris(const sockaddr_un& socket, int stop, int result) {
  constexpr int kConns = 500;
  static const char kRequest[] = "GET /v1/namespaces HTTP/1.1\r\nHost: slow\r\nX-Trickle: ";
  int fds[kConns];
  std::size_t at[kConns];
  long reconnects = 0;
  auto open = [&](int i) {
    fds[i] = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    at[i] = 0;
    timeval wait{1, 0};  // connect() waits up to 1 s while the backlog is full
    ::setsockopt(fds[i], SOL_SOCKET, SO_SNDTIMEO, &wait, sizeof wait);
    if (fds[i] >= 0 && ::connect(fds[i], reinterpret_cast<const sockaddr*>(&socket), sizeof socket) != 0) {
      ::close(fds[i]);
      fds[i] = -1;
    }
  };
  for (int i = 0; i < kConns; ++i) open(i);
  pollfd p{stop, POLLIN, 0};
  while (::poll(&p, 1, 0) == 0) {
    for (int i = 0; i < kConns; ++i) {
      char byte;
      const bool gone = fds[i] < 0 || ::recv(fds[i], &byte, 1, MSG_DONTWAIT) == 0 ||
                        ::send(fds[i], &kRequest[at[i] % (sizeof kRequest - 1)], 1, MSG_NOSIGNAL | MSG_DONTWAIT) != 1;
      if (gone) {
        if (fds[i] >= 0) ::close(fds[i]);
        open(i);
        ++reconnects;
      } else {
        ++at[i];
      }
    }
    ::poll(&p, 1, 2000);
    p.revents = 0;
  }
  [[maybe_unused]] ssize_t n = ::write(result, &reconnects, sizeof reconnects);
  ::_exit(0);
}

TEST_F(HostileClients, FiveHundredSlowConnectionsDoNotBlindHealthChecks) {
  begin();
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", netnsd_->socket_path().c_str());
  int stop[2];
  int result[2];
  ASSERT_EQ(::pipe2(stop, O_CLOEXEC), 0);
  ASSERT_EQ(::pipe2(result, O_CLOEXEC), 0);
  const pid_t attacker = ::fork();
  ASSERT_GE(attacker, 0);
  if (attacker == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    ::close(stop[1]);  // or the attacker would never see its stop
    ::close(result[0]);
    slow_loris(addr, stop[0], result[1]);
  }
  ::close(stop[0]);
  ::close(result[1]);
  // However the test ends, the attacker does not outlive it.
  struct Reaper {
    pid_t pid;
    int stop;
    int result;
    ~Reaper() {
      ::kill(pid, SIGKILL);
      while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
      }
      if (stop >= 0) ::close(stop);
      ::close(result);
    }
  } reaper{attacker, stop[1], result[0]};
  std::this_thread::sleep_for(2s);
  // A dump, from a client that honours Retry-After.
  int dump_status = 0;
  int attempts = 0;
  const auto dump_started = Clock::now();
  while (dump_status != 200 && attempts < 20) {
    ++attempts;
    auto res = netnsd_->post("/v1/dump", R"({"snapshot_interfaces": true})");
    dump_status = res ? res->status : 0;
    if (dump_status == 503) std::this_thread::sleep_for(1s);
  }
  const double dump_s = std::chrono::duration<double>(Clock::now() - dump_started).count();
  std::this_thread::sleep_until(dump_started + 28s);  // 30 s of probing in all
  ::close(std::exchange(reaper.stop, -1));
  long reconnects = 0;
  pollfd done{reaper.result, POLLIN, 0};
  ASSERT_EQ(::poll(&done, 1, 10'000), 1) << "the attacker stops within its 2 s round";
  ASSERT_EQ(::read(reaper.result, &reconnects, sizeof reconnects), static_cast<ssize_t>(sizeof reconnects));
  Row r = end("500 slow connections for 30 s (1 byte / 2 s, reopened when closed)",
              "dump " + std::to_string(dump_status) + " after " + std::to_string(attempts) + " attempt(s), " +
                  std::to_string(dump_s).substr(0, 4) + " s; " + std::to_string(reconnects) + " reconnects");
  EXPECT_EQ(r.probe_failures, 0);
  EXPECT_GE(r.probes, 400u);
  EXPECT_LE(r.p99, 50.0) << "/healthz p99 over 30 s";
  EXPECT_EQ(dump_status, 200);
}

TEST_F(HostileClients, AConnectAndCloseFloodIsAbsorbed) {
  begin();
  std::atomic<bool> stop{false};
  std::atomic<long> connections{0};
  std::vector<std::thread> flooders;
  for (int i = 0; i < 4; ++i) {
    flooders.emplace_back([&] {
      while (!stop) {
        RawClient c(netnsd_->socket_path());
        ++connections;
      }
    });
  }
  std::this_thread::sleep_for(5s);
  stop = true;
  for (auto& t : flooders) t.join();
  Row r = end("connect-and-close flood, 4 clients for 5 s", std::to_string(connections) + " connections");
  // Four local clients outrun two cores: the backlog fills and a probe may
  // wait out its 1 s. What must hold: probes ran all along and nearly all
  // were answered, descriptors stay within what clients may hold (no
  // EMFILE), and the service answers as soon as the flood stops.
  EXPECT_GE(r.probes, 20u) << "the prober ran during the flood";
  EXPECT_LE(r.probe_failures * 10, static_cast<int>(r.probes)) << "at most one probe in ten failed";
  EXPECT_LE(r.max_fds, fds_at_start_ + static_cast<int>(ConnectionLimits{}.max_descriptors()))
      << "connections waiting to be read are bounded";
  EXPECT_TRUE(testing::eventually([&] { return netnsd_->fd_count() <= fds_at_start_ + 2; }, 5s))
      << "connections are let go";
  for (int i = 0; i < 5; ++i) {
    auto health = netnsd_->get("/healthz");
    ASSERT_TRUE(health);
    EXPECT_EQ(health->status, 200);
  }
}

TEST_F(HostileClients, SixtyFourConcurrentSnapshotDumpsAreAdmittedInTurn) {
  begin();
  // How many dumps build at once, sampled all along.
  std::atomic<bool> done{false};
  std::atomic<double> most_running{0};
  std::thread sampler([&] {
    while (!done) {
      most_running = std::max(most_running.load(), netnsd_->metric("netnsd_dumps_running"));
      std::this_thread::sleep_for(10ms);
    }
  });
  std::vector<std::thread> clients;
  std::mutex m;
  std::map<int, int> by_status;
  int refusals_as_documented = 0;
  for (int i = 0; i < 64; ++i) {
    clients.emplace_back([&] {
      auto res = netnsd_->post("/v1/dump", R"({"snapshot_interfaces": true, "output": "stream"})");
      std::lock_guard lock(m);
      ++by_status[res ? res->status : 0];
      if (res && res->status == 503 && res->get_header_value("Retry-After") == "1" &&
          res->body.find("\"code\":\"too_many_dumps\"") != std::string::npos) {
        ++refusals_as_documented;
      }
    });
  }
  for (auto& t : clients) t.join();
  done = true;
  sampler.join();
  std::string outcome;
  for (const auto& [status, n] : by_status) outcome += std::to_string(n) + " x " + std::to_string(status) + " ";
  Row r = end("64 concurrent snapshot dumps (stream)", outcome + "(2 build, 8 wait, the rest 503); at most " +
                                                           std::to_string(static_cast<int>(most_running.load())) +
                                                           " built at once");
  EXPECT_EQ(by_status[200] + by_status[503], 64);
  EXPECT_GE(by_status[200], static_cast<int>(defaults::kMaxConcurrentDumps + defaults::kDumpQueue));
  EXPECT_GE(by_status[503], 1) << "64 at once cannot all be admitted";
  EXPECT_EQ(refusals_as_documented, by_status[503]) << "each refusal is too_many_dumps with Retry-After";
  EXPECT_GE(most_running.load(), 1) << "the sampler saw dumps";
  EXPECT_LE(most_running.load(), static_cast<double>(defaults::kMaxConcurrentDumps));
  EXPECT_EQ(r.probe_failures, 0);
}

TEST_F(HostileClients, AClientThatNeverReadsItsStreamedDumpIsLetGo) {
  begin();
  RawClient c(netnsd_->socket_path());
  const std::string body = R"({"output": "stream", "snapshot_interfaces": true})";
  ASSERT_TRUE(c.send("POST /v1/dump HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: " +
                     std::to_string(body.size()) + "\r\n\r\n" + body));
  // Never reads. The answer (over a megabyte) fills the socket's buffers.
  const auto started = Clock::now();
  const bool abandoned = testing::eventually(
      [&] { return netnsd_->metric("netnsd_http_refused_total{server=\"api\",reason=\"write_timeout\"}") >= 1; }, 20s);
  if (!abandoned) std::ofstream("/tmp/hostile-never-reads.log") << netnsd_->log();
  ASSERT_TRUE(abandoned) << "the stalled answer was never abandoned (log: /tmp/hostile-never-reads.log)";
  const double s = std::chrono::duration<double>(Clock::now() - started).count();
  auto other = netnsd_->post("/v1/dump", "{}");
  Row r = end("a client that never reads its streamed dump",
              "abandoned after " + std::to_string(s).substr(0, 4) +
                  " s; another dump: " + std::to_string(other ? other->status : 0));
  EXPECT_EQ(r.probe_failures, 0);
  EXPECT_EQ(other ? other->status : 0, 200);
}

}  // namespace
}  // namespace netnsd
