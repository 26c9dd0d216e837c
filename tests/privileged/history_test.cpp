// The history journal with the real binary and real namespaces: the past as
// the test itself recorded it, across kill -9, and on a disk that fills up
// or turns read-only.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "daemon.h"
#include "event_stream.h"
#include "privileged.h"
#include "system.h"
#include "util/clock.h"
#include "util/text.h"

namespace netnsd {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::Daemon;
using testing::eventually;

class History : public ::testing::Test {
 protected:
  void SetUp() override { NETNSD_REQUIRE_ROOT(); }
};

// Namespaces made in bursts with `ip -batch`, each with a veth pair (the
// host's end named after it) and an address on its end; whatever is left is
// removed at scope exit, failed test or not.
class Churn {
 public:
  struct Made {
    std::string host_end;
    std::string address;  // on eth0 inside, /24
  };

  explicit Churn(std::string tag) : tag_(std::move(tag)) {}
  ~Churn() {
    std::string batch;
    for (const auto& [name, made] : alive_) batch += "netns del " + name + "\nlink del " + made.host_end + "\n";
    if (!batch.empty()) testing::sh("ip -force -batch - >/dev/null 2>&1 <<'EOF'\n" + batch + "EOF");
    settle();
  }

  // The kernel tears namespaces down on a work queue, under the rtnl lock:
  // after hundreds, the next test's `ip link add` would wait seconds for it.
  // Waits (up to 30 s) until a device is made in a fresh namespace quickly.
  void settle() const {
    const std::string probe = tag_ + "s";
    const auto until = std::chrono::steady_clock::now() + 30s;
    int quick = 0;
    while (quick < 2 && std::chrono::steady_clock::now() < until) {
      const auto start = std::chrono::steady_clock::now();
      testing::sh("ip netns add " + probe + " && ip -n " + probe + " link add d0 type dummy; ip netns del " + probe);
      quick = std::chrono::steady_clock::now() - start < 100ms ? quick + 1 : 0;
      if (!quick) std::this_thread::sleep_for(200ms);
    }
  }

  // Adds `n` namespaces; true when every command worked.
  bool add(int n) {
    std::string batch;
    std::vector<std::pair<std::string, Made>> made;
    for (int i = 0; i < n; ++i) {
      const int k = next_++;
      const std::string name = tag_ + "n" + std::to_string(k);
      Made m{tag_ + "h" + std::to_string(k), "10." + std::to_string(100 + k / 65536) + "." +
                                                 std::to_string((k / 256) % 256) + "." + std::to_string(k % 256)};
      batch += "netns add " + name + "\nlink add " + m.host_end + " type veth peer name eth0 netns " + name + "\n";
      made.emplace_back(name, m);
    }
    if (testing::sh("ip -batch - <<'EOF'\n" + batch + "EOF").status != 0) return false;
    for (auto& [name, m] : made) alive_.emplace(name, m);
    for (const auto& [name, m] : made) {
      auto r = testing::sh("ip -n " + name + " -batch - <<'EOF'\naddr add " + m.address +
                           "/24 dev eth0\nlink set eth0 up\nEOF");
      if (r.status != 0) return false;
    }
    return true;
  }

  // Removes `n` of the living, chosen by `rng`.
  bool remove(int n, std::mt19937& rng) {
    std::vector<std::string> names;
    for (const auto& [name, m] : alive_) names.push_back(name);
    std::shuffle(names.begin(), names.end(), rng);
    names.resize(std::min<std::size_t>(names.size(), static_cast<std::size_t>(n)));
    std::string batch;
    for (const std::string& name : names) {
      batch += "link del " + alive_.at(name).host_end + "\nnetns del " + name + "\n";
      alive_.erase(name);
    }
    return names.empty() || testing::sh("ip -batch - <<'EOF'\n" + batch + "EOF").status == 0;
  }

  const std::map<std::string, Made>& alive() const { return alive_; }
  int made() const { return next_; }
  const std::string& tag() const { return tag_; }

 private:
  std::string tag_;
  int next_ = 0;
  std::map<std::string, Made> alive_;
};

std::string at_param(WallTime t) {
  return format_rfc3339_ms(t);
}

// Compares GET /v1/namespaces?at=T with what the test recorded at T; returns
// the differences, one sentence each.
std::vector<std::string> compare(const json& answer, const std::string& tag,
                                 const std::map<std::string, Churn::Made>& expected) {
  std::vector<std::string> diff;
  std::map<std::string, const json*> named;  // the test's namespaces the journal had then, by name
  for (const json& ns : answer["namespaces"]) {
    for (const json& n : ns["names"]) {
      const std::string name = n.get<std::string>();
      if (name.rfind(tag + "n", 0) == 0) named[name] = &ns;
    }
  }
  for (const auto& [name, made] : expected) {
    auto it = named.find(name);
    if (it == named.end()) {
      diff.push_back(name + " existed but is not in the answer");
      continue;
    }
    const json& ns = *it->second;
    if (ns["owner_uid"] != 0 || ns["host_owned"] != true) diff.push_back(name + ": owner " + ns["owner_uid"].dump());
    std::set<std::string> devices;
    for (const json& d : ns["devices"]) devices.insert(d["name"].get<std::string>());
    if (devices != std::set<std::string>{"lo", "eth0"}) diff.push_back(name + ": devices " + json(devices).dump());
    const json* eth0 = testing::device_in(ns, "eth0");
    bool has_address = false;
    if (eth0) {
      for (const json& a : (*eth0)["addresses"]) has_address = has_address || a["address"] == made.address;
      if ((*eth0)["kind"] != "veth" || !(*eth0)["peer"].is_object()) diff.push_back(name + ": eth0 is not a veth");
    }
    if (!has_address) diff.push_back(name + ": no " + made.address + " on eth0");
  }
  for (const auto& [name, ns] : named) {
    if (!expected.count(name)) diff.push_back(name + " was gone but is in the answer");
  }
  return diff;
}

TEST_F(History, TheCacheAtAnInstantInsideAChurnIsWhatExistedThen) {
  Churn churn(testing::unique_name("hc"));
  Daemon netnsd({});
  ASSERT_TRUE(netnsd.ready()) << netnsd.log();
  std::mt19937 rng(std::random_device{}());

  // Clients ask while the churn goes on: nothing they ask fails.
  std::atomic<bool> stop{false};
  std::atomic<int> asked{0}, failed{0};
  std::thread clients([&] {
    while (!stop) {
      for (const char* path : {"/v1/namespaces", "/v1/whois?device=eth0", "/v1/history?address=10.100.0.1"}) {
        auto res = netnsd.get(path);
        ++asked;
        if (!res || res->status != 200) ++failed;
      }
      std::this_thread::sleep_for(50ms);
    }
  });

  struct Sample {
    WallTime at;
    std::map<std::string, Churn::Made> existed;
  };
  std::vector<Sample> samples;
  for (int burst = 0; burst < 20; ++burst) {
    ASSERT_TRUE(churn.add(50)) << "burst " << burst;
    if (burst > 0) {
      ASSERT_TRUE(churn.remove(30, rng));
    }
    // The pause: the cache settles (names go with their mounts within a
    // presence pass); an instant in its second half is what existed.
    std::uniform_int_distribution<int> offset(650, 1050);
    const auto settled = std::chrono::milliseconds(offset(rng));
    std::this_thread::sleep_for(settled);
    samples.push_back({std::chrono::system_clock::now(), churn.alive()});
    std::this_thread::sleep_for(1200ms - settled);
  }
  stop = true;
  clients.join();
  EXPECT_EQ(churn.made(), 1000);
  EXPECT_GT(asked, 20);
  EXPECT_EQ(failed, 0) << "of " << asked << " requests during the churn";
  std::this_thread::sleep_for(500ms);  // the journal's last batch

  int compared = 0;
  for (const Sample& s : samples) {
    auto res = netnsd.get("/v1/namespaces?at=" + at_param(s.at));
    ASSERT_TRUE(res && res->status == 200) << (res ? res->body : "no answer");
    const json answer = json::parse(res->body);
    EXPECT_EQ(answer["observed"], true);
    auto diff = compare(answer, churn.tag(), s.existed);
    EXPECT_TRUE(diff.empty()) << "at " << at_param(s.at) << ": " << diff.size()
                              << " differences, first: " << (diff.empty() ? "" : diff.front());
    compared += static_cast<int>(s.existed.size());
  }
  // And whois at an instant: the address of one that is gone now.
  const Sample& first = samples.front();
  for (const auto& [name, made] : first.existed) {
    if (churn.alive().count(name)) continue;
    auto res = netnsd.get("/v1/whois?address=" + made.address + "&at=" + at_param(first.at));
    ASSERT_TRUE(res && res->status == 200) << (res ? res->body : "no answer");
    const json who = json::parse(res->body);
    ASSERT_EQ(who["matches"].size(), 1u) << res->body.substr(0, 400);
    EXPECT_EQ(who["matches"][0]["netns_names"][0], name);
    EXPECT_EQ(who["matches"][0]["peer"]["device"]["name"], made.host_end) << "the host's end, named";
    EXPECT_TRUE(who["matches"][0]["held_until"].is_string()) << "it is gone";
    break;
  }
  std::printf(
      "1000 namespaces in 20 bursts: %d namespaces compared at 20 instants; %d requests during the churn, "
      "%.0f changes journaled, journal %.1f MiB\n",
      compared, asked.load(), netnsd.metric("netnsd_journal_changes_total"),
      netnsd.metric("netnsd_journal_bytes") / (1 << 20));
}

TEST_F(History, AfterKillNineTheGapIsRecordedAndNothingCommittedIsLost) {
  testing::TempDir state;
  const std::string journal = state.path() + "/journal.db";
  Churn churn(testing::unique_name("hk"));
  std::mt19937 rng(std::random_device{}());
  std::uint64_t committed_before = 0;
  std::optional<WallTime> killed_at;
  std::chrono::milliseconds worst_start{0}, worst_end{0};  // how far the gaps' bounds are from the truth
  for (int round = 0; round < 10; ++round) {
    Daemon netnsd({"--journal", journal});
    ASSERT_TRUE(netnsd.ready()) << netnsd.log();
    const WallTime started = std::chrono::system_clock::now();
    if (killed_at) {
      // The last crash: a gap from at most a heartbeat (and a batch) before
      // the kill to this start.
      auto res = netnsd.get("/v1/history");
      ASSERT_TRUE(res && res->status == 200);
      std::optional<json> gap;
      for (std::string_view line : split_lines(res->body)) {
        json e = json::parse(line);
        if (e["type"] == "gap") gap = e;
      }
      ASSERT_TRUE(gap) << "round " << round << ": no gap in " << res->body.substr(0, 300);
      EXPECT_EQ((*gap)["reason"], "crashed");
      const auto from = parse_rfc3339((*gap)["from"].get<std::string>());
      const auto to = parse_rfc3339((*gap)["to"].get<std::string>());
      ASSERT_TRUE(from && to);
      EXPECT_LE(*from, *killed_at) << "round " << round;
      EXPECT_GE(*from, *killed_at - 1200ms) << "round " << round << ": more than a heartbeat lost";
      EXPECT_LE(*to, started) << "round " << round;
      EXPECT_GE(*to, started - 1500ms) << "round " << round;
      worst_start = std::max(worst_start, std::chrono::duration_cast<std::chrono::milliseconds>(*killed_at - *from));
      worst_end = std::max(worst_end, std::chrono::duration_cast<std::chrono::milliseconds>(started - *to));
      // Everything committed before the kill is there, and numbers go on.
      EXPECT_GE(netnsd.metric("netnsd_journal_last_seq"), static_cast<double>(committed_before));
      auto old = netnsd.get("/v1/history?after=" + std::to_string(committed_before > 0 ? committed_before - 1 : 0));
      ASSERT_TRUE(old && old->status == 200);
      EXPECT_NE(old->body.find("\"seq\":" + std::to_string(committed_before)), std::string::npos)
          << "change " << committed_before << " was committed before the kill";
    }
    ASSERT_TRUE(churn.add(5));
    if (round > 0) {
      ASSERT_TRUE(churn.remove(3, rng));
    }
    std::uniform_int_distribution<int> wait(300, 1300);
    std::this_thread::sleep_for(std::chrono::milliseconds(wait(rng)));
    const double last = netnsd.metric("netnsd_journal_last_seq");
    ASSERT_GT(last, static_cast<double>(committed_before)) << "round " << round << ": new changes, higher numbers";
    committed_before = static_cast<std::uint64_t>(last);
    killed_at = std::chrono::system_clock::now();
    netnsd.kill();
  }
  std::printf(
      "10 x kill -9: each gap starts at most %lld ms before the kill and ends at most %lld ms before the "
      "restarted netnsd was ready\n",
      static_cast<long long>(worst_start.count()), static_cast<long long>(worst_end.count()));
  // SQLite's own check of what ten crashes left.
  auto check = testing::run({"sqlite3", journal, "PRAGMA integrity_check; PRAGMA foreign_key_check;"});
  EXPECT_EQ(check.status, 0) << check.err;
  EXPECT_EQ(check.out, "ok\n");
}

TEST_F(History, EventsSinceANumberOlderThanTheMemoryAreReplayedFromTheJournalThenGoOnLive) {
  testing::TempDir state;
  const std::string journal = state.path() + "/journal.db";
  Churn churn(testing::unique_name("he"));
  std::uint64_t before_restart = 0;
  {
    Daemon first({"--journal", journal});
    ASSERT_TRUE(first.ready()) << first.log();
    ASSERT_TRUE(churn.add(3));
    ASSERT_TRUE(eventually([&] { return first.metric("netnsd_journal_last_seq") > 10; }, 5s));
    before_restart = static_cast<std::uint64_t>(first.metric("netnsd_journal_last_seq"));
    EXPECT_EQ(first.stop(), 0);
  }
  // A new process: its memory holds nothing from before; the journal does.
  Daemon second({"--journal", journal});
  ASSERT_TRUE(second.ready()) << second.log();
  testing::EventStream stream(second.socket_path(), "?since=0&type=device");
  ASSERT_EQ(stream.status(), 200) << stream.head();
  const std::string veth = churn.alive().begin()->second.host_end;
  // The first run's device_added of a veth, from the journal...
  auto old = stream.wait_for(
      [&](const json& e) {
        return e["type"] == "device_added" && e["device"]["name"] == veth &&
               e["seq"].get<std::uint64_t>() <= before_restart;
      },
      5s);
  ASSERT_TRUE(old) << "the first run's device_added of " << veth;
  // ...then what happens now, live, numbered after it.
  ASSERT_TRUE(churn.add(1));
  auto live = stream.wait_for(
      [&](const json& e) { return e["type"] == "device_added" && e["seq"].get<std::uint64_t>() > before_restart; }, 5s);
  ASSERT_TRUE(live) << "no live device_added after the replay";
  const auto lines = stream.drain(300ms);
  for (const json& e : lines) EXPECT_NE(e["type"], "netns_added") << "the type filter holds in the replay";
}

TEST_F(History, AnExportIsAConsistentCopyWithItsDigestWhileNetnsdWrites) {
  testing::TempDir out;
  Churn churn(testing::unique_name("hx"));
  Daemon netnsd({});
  ASSERT_TRUE(netnsd.ready()) << netnsd.log();
  ASSERT_TRUE(churn.add(10));
  ASSERT_TRUE(eventually([&] { return netnsd.metric("netnsd_journal_changes_total") > 40; }, 5s));
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    for (int i = 0; i < 10 && !stop; ++i) {
      churn.add(2);
      std::this_thread::sleep_for(50ms);
    }
  });
  std::vector<std::string> copies;
  for (int i = 0; i < 3; ++i) {
    const std::string file = out.path() + "/copy" + std::to_string(i) + ".db";
    auto exported = testing::run({NETNSCTL_BINARY, "--socket", netnsd.socket_path(), "history", "export", file});
    ASSERT_EQ(exported.status, 0) << exported.err;
    // The digest netnsctl prints is the file's (coreutils says), and SQLite
    // finds the copy whole.
    auto sum = testing::run({"sha256sum", file});
    ASSERT_EQ(sum.status, 0);
    EXPECT_NE(exported.out.find("sha256 " + sum.out.substr(0, 64)), std::string::npos) << exported.out;
    auto check = testing::run({"sqlite3", file, "PRAGMA integrity_check; SELECT count(*) > 0 FROM changes;"});
    EXPECT_EQ(check.out, "ok\n1\n") << check.err;
    struct stat st {};
    ASSERT_EQ(::stat(file.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    copies.push_back(file);
  }
  stop = true;
  writer.join();
  auto again = testing::run({NETNSCTL_BINARY, "--socket", netnsd.socket_path(), "history", "export", copies[0]});
  EXPECT_NE(again.status, 0) << "an existing file is never overwritten";
  auto leftovers = testing::run(
      {"sh", "-c",
       "ls -A " + netnsd.socket_path().substr(0, netnsd.socket_path().rfind('/')) + "/state | grep -c export || true"});
  EXPECT_EQ(leftovers.out, "0\n") << "no temporary copy is left beside the journal";
}

TEST_F(History, AFullStateDirectoryDegradesAndHistoryResumesWhenSpaceReturns) {
  testing::TempDir dir;
  const std::string state = dir.path() + "/state";
  std::filesystem::create_directories(state);
  testing::ScopedMount small(state, 0, "size=512k,mode=0700");
  ASSERT_TRUE(small.ok());
  Churn churn(testing::unique_name("hf"));
  Daemon netnsd({"--journal", state + "/journal.db", "--journal-max-size", "64"});
  ASSERT_TRUE(netnsd.ready()) << netnsd.log();
  // Fill it: the journal's cap is far above the disk.
  auto degraded = [&] {
    auto res = netnsd.get("/readyz");
    return res && res->body.find("history journal") != std::string::npos;
  };
  for (int i = 0; i < 40 && !degraded(); ++i) ASSERT_TRUE(churn.add(20));
  ASSERT_TRUE(eventually(degraded, 10s)) << "the disk never filled: " << netnsd.get("/readyz")->body;
  EXPECT_EQ(netnsd.metric("netnsd_journal_degraded"), 1);
  EXPECT_GT(netnsd.metric("netnsd_journal_write_errors_total"), 0);
  // The live cache and the API go on.
  auto ns = netnsd.get("/v1/namespaces");
  ASSERT_TRUE(ns && ns->status == 200);
  const std::string some = churn.alive().begin()->first;
  EXPECT_NE(ns->body.find("\"" + some + "\""), std::string::npos);
  // Space returns: history resumes, with the outage as a gap.
  ASSERT_EQ(::mount("tmpfs", state.c_str(), nullptr, MS_REMOUNT, "size=64m"), 0) << std::strerror(errno);
  ASSERT_TRUE(eventually([&] { return !degraded(); }, 15s)) << netnsd.get("/readyz")->body;
  const double before = netnsd.metric("netnsd_journal_changes_total");
  ASSERT_TRUE(churn.add(2));
  ASSERT_TRUE(eventually([&] { return netnsd.metric("netnsd_journal_changes_total") > before; }, 5s));
  auto history = netnsd.get("/v1/history");
  ASSERT_TRUE(history && history->status == 200);
  EXPECT_NE(history->body.find("\"reason\":\"unwritable\""), std::string::npos) << "the outage is a gap";

  EXPECT_EQ(netnsd.stop(), 0);
}

TEST_F(History, AReadOnlyStateDirectoryAtStartDegradesAndTheJournalOpensOnceWritable) {
  testing::TempDir dir;
  const std::string state = dir.path() + "/state";
  std::filesystem::create_directories(state);
  testing::ScopedMount readonly(state, MS_RDONLY, "size=16m,mode=0700");
  ASSERT_TRUE(readonly.ok());
  Churn churn(testing::unique_name("hr"));
  Daemon netnsd({"--journal", state + "/journal.db"});
  ASSERT_TRUE(netnsd.ready()) << netnsd.log();
  auto ready = netnsd.get("/readyz");
  ASSERT_TRUE(ready && ready->status == 200);
  EXPECT_NE(ready->body.find("history journal"), std::string::npos) << ready->body;
  EXPECT_EQ(netnsd.metric("netnsd_journal_degraded"), 1);
  ASSERT_TRUE(churn.add(3));
  auto ns = netnsd.get("/v1/namespaces");
  ASSERT_TRUE(ns && ns->status == 200);
  EXPECT_NE(ns->body.find("\"" + churn.alive().begin()->first + "\""), std::string::npos) << "the live cache goes on";
  auto past = netnsd.get("/v1/namespaces?at=-1s");
  ASSERT_TRUE(past);
  EXPECT_EQ(past->status, 503) << past->body;
  // Writable: the journal opens at its next try, and records the cache as it is.
  ASSERT_EQ(::mount("tmpfs", state.c_str(), nullptr, MS_REMOUNT, "size=16m"), 0) << std::strerror(errno);
  ASSERT_TRUE(eventually([&] { return netnsd.metric("netnsd_journal_degraded") == 0; }, 15s))
      << netnsd.get("/readyz")->body;
  std::this_thread::sleep_for(300ms);
  auto now = netnsd.get("/v1/namespaces?at=-0s");
  ASSERT_TRUE(now && now->status == 200) << (now ? now->body : "");
  EXPECT_NE(now->body.find("\"" + churn.alive().begin()->first + "\""), std::string::npos)
      << "the cache recorded when the journal came back";
  struct stat st {};
  ASSERT_EQ(::stat((state + "/journal.db").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

}  // namespace
}  // namespace netnsd
