// Client trust with the real binary: the socket group with real users made by
// the test, durable and bounded dumps across kill -9, and no dump answered
// from a cache still being filled.
#include <dirent.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include "daemon.h"
#include "privileged.h"
#include "system.h"

namespace netnsd {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::Daemon;
using testing::eventually;

class Clients : public ::testing::Test {
 protected:
  void SetUp() override { NETNSD_REQUIRE_ROOT(); }
};

std::vector<std::string> entries(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

// Every file is half of a complete pair, nothing else is there, and every dump parses.
void expect_only_complete_pairs(const std::string& dir, std::size_t* pairs_out = nullptr) {
  std::map<std::string, int> halves;
  for (const std::string& name : entries(dir)) {
    std::string stamp;
    if (name.rfind("network-namespace-dump-", 0) == 0 && name.size() > 28) {
      stamp = name.substr(23, name.size() - 23 - 5);
      std::ifstream in(dir + "/" + name);
      EXPECT_FALSE(json::parse(in, nullptr, false).is_discarded()) << name << " is not whole";
    } else if (name.rfind("network-namespace-graph-", 0) == 0 && name.size() > 28) {
      stamp = name.substr(24, name.size() - 24 - 4);
    } else {
      ADD_FAILURE() << "left behind: " << name;
      continue;
    }
    ++halves[stamp];
  }
  for (const auto& [stamp, count] : halves) EXPECT_EQ(count, 2) << "an unpaired file: " << stamp;
  if (pairs_out) *pairs_out = halves.size();
}

TEST_F(Clients, TheSocketGroupCanConnectAndReadItsDumpsAndNobodyElseCan) {
  testing::TestGroup group;
  testing::TestUser member(&group);
  testing::TestUser outsider;
  ASSERT_TRUE(member.ok() && outsider.ok());
  Daemon netnsd({"--socket-group", group.name()});
  ASSERT_TRUE(netnsd.ready()) << netnsd.log();
  testing::SharedCopy netnsctl(NETNSCTL_BINARY);
  const std::string socket = netnsd.socket_path();

  struct stat st {};
  ASSERT_EQ(::stat(socket.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0660u);
  EXPECT_EQ(st.st_gid, group.gid());
  const std::string dir = std::filesystem::path(socket).parent_path();
  ASSERT_EQ(::stat(dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0750u);
  EXPECT_EQ(st.st_gid, group.gid());

  // A member streams a dump, and reads the files netnsctl names.
  auto streamed = testing::run(member.as_user({netnsctl.path(), "--socket", socket, "dump", "--stream"}));
  EXPECT_EQ(streamed.status, 0) << streamed.err;
  EXPECT_TRUE(json::parse(streamed.out, nullptr, false).is_object()) << streamed.out.substr(0, 200);
  auto files = testing::run(member.as_user({netnsctl.path(), "--socket", socket, "dump"}));
  ASSERT_EQ(files.status, 0) << files.err;
  std::istringstream lines(files.out);
  std::string line;
  int read = 0;
  while (std::getline(lines, line)) {
    const std::string path = line.substr(line.find(": ") + 2);
    auto cat = testing::run(member.as_user({"cat", path}));
    EXPECT_EQ(cat.status, 0) << "member cannot read " << path << ": " << cat.err;
    EXPECT_FALSE(cat.out.empty());
    ++read;
  }
  EXPECT_EQ(read, 2);

  // Anybody else cannot even connect, nor read a dump.
  auto refused = testing::run(outsider.as_user({netnsctl.path(), "--socket", socket, "health"}));
  EXPECT_NE(refused.status, 0);
  EXPECT_NE(refused.err.find("cannot reach netnsd"), std::string::npos) << refused.err;
  auto peek = testing::run(outsider.as_user({"ls", dir + "/dumps"}));
  EXPECT_NE(peek.status, 0) << "an outsider listed the dumps";
}

TEST_F(Clients, AfterKillNineDuringDumpsOnlyCompletePairsRemain) {
  testing::TempDir dumps;
  const std::string dir = dumps.path() + "/dumps";
  for (int round = 0; round < 4; ++round) {
    auto netnsd = std::make_unique<Daemon>(std::vector<std::string>{"--dump-dir", dir, "--max-dumps", "0"});
    ASSERT_TRUE(netnsd->ready()) << netnsd->log();
    std::atomic<bool> stop{false};
    std::atomic<int> written{0};
    std::vector<std::thread> clients;
    for (int c = 0; c < 4; ++c) {
      clients.emplace_back([&] {
        while (!stop) {
          auto res = netnsd->post("/v1/dump", R"({"snapshot_interfaces": true})");
          if (res && res->status == 200) ++written;
        }
      });
    }
    std::this_thread::sleep_for(300ms + round * 70ms);
    netnsd->kill();  // in the middle of writing
    stop = true;
    for (auto& t : clients) t.join();
    EXPECT_GT(written, 0) << "round " << round;
  }
  std::size_t left = 0;  // temporaries the crashes left (the restart removes them)
  for (const std::string& name : entries(dir)) left += name.size() > 4 && name.substr(name.size() - 4) == ".tmp";
  // A restart sweeps what the crashes left.
  Daemon restarted({"--dump-dir", dir, "--max-dumps", "0"});
  ASSERT_TRUE(restarted.ready());
  std::size_t pairs = 0;
  expect_only_complete_pairs(dir, &pairs);
  EXPECT_GT(pairs, 0u);
  std::printf("after 4 kill -9 during concurrent dumps: %zu temporaries left, swept at restart; %zu complete pairs\n",
              left, pairs);
}

TEST_F(Clients, MaxDumpsKeepsTheNewestPairs) {
  testing::TempDir dumps;
  const std::string dir = dumps.path() + "/dumps";
  Daemon netnsd({"--dump-dir", dir, "--max-dumps", "5"});
  ASSERT_TRUE(netnsd.ready());
  std::vector<std::string> named;
  for (int i = 0; i < 12; ++i) {
    auto res = netnsd.post("/v1/dump", "{}");
    ASSERT_TRUE(res && res->status == 200);
    named.push_back(json::parse(res->body)["dump_filename"]);
  }
  std::size_t pairs = 0;
  expect_only_complete_pairs(dir, &pairs);
  EXPECT_EQ(pairs, 5u);
  for (std::size_t i = 7; i < 12; ++i) EXPECT_TRUE(std::filesystem::exists(named[i])) << "the newest are kept";
}

TEST_F(Clients, ADumpAskedForTheMomentTheSocketExistsIsNeverPartial) {
  testing::ManyNamespaces many(300);
  const std::size_t on_host = 300;
  auto netnsd = Daemon::spawn({"--resync-interval", "0"});
  ASSERT_TRUE(eventually([&] { return std::filesystem::exists(netnsd->socket_path()); }, 10s));
  // At once, before the initial scan can be done.
  auto res = netnsd->post("/v1/dump", R"({"output": "stream"})");
  ASSERT_TRUE(res);
  if (res->status == 200) {
    json dump = json::parse(res->body);
    EXPECT_EQ(dump["resolver"]["state"], "ready");
    EXPECT_GE(dump["namespaces"].size(), on_host) << "a partial cache was answered";
  } else {
    EXPECT_EQ(res->status, 503) << res->body;
    EXPECT_EQ(json::parse(res->body)["code"], "not_ready");
  }
}

}  // namespace
}  // namespace netnsd
