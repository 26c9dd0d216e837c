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

#include "api_checks.h"
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
  // POST /dump at= three of those instants, in every output, format and
  // schema: the same namespaces as GET /v1/namespaces?at=, and each says
  // which instant it describes.
  for (std::size_t i = 0; i < samples.size(); i += samples.size() / 3) {
    const Sample& s = samples[i];
    const std::string at = at_param(s.at);
    auto res = netnsd.post("/dump", json{{"output", "stream"}, {"at", at}}.dump());
    ASSERT_TRUE(res && res->status == 200) << (res ? res->body : "no answer");
    const json doc = json::parse(res->body);
    EXPECT_EQ(doc["from_history"], true);
    EXPECT_EQ(doc["observed"], true);
    EXPECT_EQ(res->get_header_value("X-Netnsd-At"), doc["at"].get<std::string>());
    auto diff = compare(doc, churn.tag(), s.existed);
    EXPECT_TRUE(diff.empty()) << "dump at " << at << ": " << diff.size()
                              << " differences, first: " << (diff.empty() ? "" : diff.front());
    std::set<std::uint64_t> inodes;
    for (const json& ns : doc["namespaces"]) inodes.insert(ns["netns"].get<std::uint64_t>());

    res = netnsd.post("/dump", json{{"output", "stream"}, {"schema", "datadog"}, {"at", at}}.dump());
    ASSERT_TRUE(res && res->status == 200) << (res ? res->body : "no answer");
    std::set<std::uint64_t> datadog;
    for (const json& ns : json::parse(res->body)) datadog.insert(ns["NsID"].get<std::uint64_t>());
    EXPECT_EQ(datadog, inodes) << "both schemas list the same namespaces at " << at;

    res = netnsd.post("/dump", json{{"output", "stream"}, {"format", "dot"}, {"at", at}}.dump());
    ASSERT_TRUE(res && res->status == 200) << (res ? res->body : "no answer");
    EXPECT_NE(res->body.find("as it was at " + doc["at"].get<std::string>()), std::string::npos);
    for (const json& ns : doc["namespaces"]) {
      if (res->body.find("ns_" + ns["netns"].dump() + " ") == std::string::npos) {
        ADD_FAILURE() << "netns " << ns["netns"] << " is not in the graph at " << at;
        break;
      }
    }
    if (i == 0) {  // images are rendered from that graph: once is enough
      res = netnsd.post("/dump", json{{"output", "stream"}, {"format", "svg"}, {"at", at}}.dump());
      ASSERT_TRUE(res && res->status == 200) << (res ? res->body : "no answer");
      EXPECT_NE(res->body.find("<svg"), std::string::npos);
      EXPECT_NE(res->body.find("as it was at"), std::string::npos);
      res = netnsd.post("/dump", json{{"output", "stream"}, {"format", "png"}, {"at", at}}.dump());
      ASSERT_TRUE(res && res->status == 200) << (res ? res->body : "no answer");
      EXPECT_EQ(res->body.substr(0, 4), "\x89PNG");
    }
    res = netnsd.post("/dump?at=" + at, "");
    ASSERT_TRUE(res && res->status == 200) << (res ? res->body : "no answer");
    const json files = json::parse(res->body);
    EXPECT_EQ(files["at"], doc["at"]);
    const json written = json::parse(testing::read_file(files["dump_filename"].get<std::string>()));
    EXPECT_EQ(written["at"], doc["at"]);
    EXPECT_EQ(written["namespaces"].size(), doc["namespaces"].size());
  }

  // GET /v1/diff between two of those instants: the test's namespaces that
  // appeared and vanished in between, each with what came or went with it.
  {
    const Sample& a = samples[4];
    const Sample& b = samples[9];
    auto res = netnsd.get("/v1/diff?from=" + at_param(a.at) + "&to=" + at_param(b.at));
    ASSERT_TRUE(res && res->status == 200) << (res ? res->body : "no answer");
    const json diff = json::parse(res->body);
    std::set<std::string> appeared, vanished, expected_appeared, expected_vanished;
    for (const json& c : diff["changes"]) {
      if (c["subject"] != "namespace" || c["names"].empty()) continue;
      const std::string name = c["names"][0].get<std::string>();
      if (name.rfind(churn.tag() + "n", 0) != 0) continue;
      (c["change"] == "appeared" ? appeared : vanished).insert(name);
      if (c["change"] == "appeared") {
        const std::string& address = b.existed.count(name) ? b.existed.at(name).address : "";
        EXPECT_NE(c.dump().find("\"" + address + "/24\""), std::string::npos) << "its address is in its line: " << c;
      }
    }
    for (const auto& [name, made] : b.existed) {
      if (!a.existed.count(name)) expected_appeared.insert(name);
    }
    for (const auto& [name, made] : a.existed) {
      if (!b.existed.count(name)) expected_vanished.insert(name);
    }
    EXPECT_EQ(appeared, expected_appeared);
    EXPECT_EQ(vanished, expected_vanished);
    // Those made and deleted in between are still cached, lonely and
    // nameless, at the second instant (the lonely timeout is longer): they
    // appeared too, without names. Nothing else on this host did.
    std::size_t nameless = 0;
    for (const json& c : diff["changes"]) {
      nameless += c["subject"] == "namespace" && c["change"] == "appeared" && c["names"].empty();
    }
    EXPECT_EQ(diff["summary"]["namespaces"]["appeared"].get<std::size_t>(), expected_appeared.size() + nameless);
    EXPECT_LE(nameless, 250u - expected_appeared.size()) << "at most those made in between";
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

namespace netnsd {
namespace {

// What the journal holds, by SQLite's own reading: the number of changes,
// the last sequence number, and its integrity check.
std::string journal_summary(const std::string& journal) {
  auto r = testing::run({"sqlite3", "-readonly", journal,
                         "SELECT count(*), max(seq) FROM changes; SELECT count(*) FROM namespaces; "
                         "PRAGMA quick_check;"});
  return r.status == 0 ? r.out : "sqlite3 failed: " + r.err;
}

// The cache's wiring: each namespace's devices and addresses (not its
// process count, which moves with every process the test starts).
std::map<std::uint64_t, json> wiring(const json& namespaces) {
  std::map<std::uint64_t, json> out;
  for (const json& ns : namespaces) {
    json devices = json::array();
    for (const json& d : ns["devices"]) devices.push_back({d["ifindex"], d["name"], d["addresses"]});
    out[ns["netns"].get<std::uint64_t>()] = {ns["names"], devices};
  }
  return out;
}

TEST_F(History, BadQuestionsGetAJson4xxWithAStableCodeAndChangeNothing) {
  testing::TempDir state;
  const std::string journal = state.path() + "/journal.db";
  testing::NamedNetns ns(testing::unique_name("hq"));
  ASSERT_EQ(testing::sh("ip -n " + ns.name() + " link add d0 type veth peer name d1").status, 0);
  Daemon netnsd({"--journal", journal});
  ASSERT_TRUE(netnsd.ready()) << netnsd.log();
  ASSERT_TRUE(eventually([&] { return netnsd.metric("netnsd_journal_last_seq") > 0; }, 5s));
  std::this_thread::sleep_for(1500ms);  // so that -1s is inside what the journal keeps
  const std::string journal_before = journal_summary(journal);
  const auto cache_before = wiring(netnsd.get_json("/v1/namespaces")["namespaces"]);
  const long rss_before = netnsd.rss_kib();

  struct Case {
    std::string method, target, body;
    int status;
    std::string code;
  };
  const std::vector<Case> cases = {
      {"GET", "/v1/namespaces?at=garbage", "", 400, "invalid_at"},
      {"GET", "/v1/namespaces?at=", "", 400, "invalid_at"},
      {"GET", "/v1/namespaces?at=-1s&at=-2s", "", 400, "invalid_at"},
      {"GET", "/v1/namespaces?at=2999-01-01T00:00:00Z", "", 400, "at_in_future"},
      {"GET", "/v1/namespaces?at=2001-01-01T00:00:00Z", "", 404, "history_not_retained"},
      {"GET", "/v1/namespaces?at=-2d7700061d1851391ms", "", 404, "history_not_retained"},
      {"GET", "/v1/namespaces?at=99999999999999", "", 404, "history_not_retained"},
      {"GET", "/v1/namespaces?at=%FF%00", "", 400, "invalid_at"},
      {"GET", "/v1/namespaces/1?at=-1s", "", 404, "namespace_not_found"},
      {"GET", "/v1/devices/lo?at=2026-02-30T00:00:00Z", "", 400, "invalid_at"},
      {"GET", "/v1/whois?address=10.0.0.300&at=-1s", "", 400, "invalid_address"},
      {"GET", "/v1/whois?mac=zz:zz:zz:zz:zz:zz", "", 400, "invalid_mac"},
      {"GET", "/v1/whois?nosuch=1", "", 400, "unknown_parameter"},
      {"GET", "/v1/whois?device=lo&address=127.0.0.1", "", 400, "too_many_subjects"},
      {"GET", "/v1/history?from=-1s&to=-2s", "", 400, "reversed_interval"},
      {"GET", "/v1/history?from=2999-01-01T00:00:00Z", "", 400, "at_in_future"},
      {"GET", "/v1/history?netns=abc", "", 400, "invalid_netns"},
      {"GET", "/v1/history?pod=web", "", 400, "unknown_parameter"},
      {"GET", "/v1/history?after=-1", "", 400, "invalid_after"},
      {"GET", "/v1/diff", "", 400, "invalid_from"},
      {"GET", "/v1/diff?from=-1s&to=-2s", "", 400, "reversed_interval"},
      {"GET", "/v1/diff?from=-2s&to=99999999999", "", 404, "history_not_retained"},
      {"GET", "/v1/diff?from=-1s&netns=1", "", 400, "unknown_parameter"},
      {"POST", "/dump", R"({"at": "soon"})", 400, "invalid_at"},
      {"POST", "/dump", R"({"at": -1})", 400, "invalid_type"},
      {"POST", "/dump", R"({"at": "-1s", "snapshot_interfaces": true})", 400, "at_with_snapshot"},
      {"POST", "/dump?at=-1s", R"({"at": "-2s"})", 400, "duplicate_parameter"},
  };
  for (const Case& c : cases) {
    auto res = c.method == "GET" ? netnsd.get(c.target) : netnsd.post(c.target, c.body);
    ASSERT_TRUE(res) << c.target;
    EXPECT_EQ(res->status, c.status) << c.method << " " << c.target << " " << c.body << ": " << res->body;
    const json body = json::parse(res->body, nullptr, false);
    EXPECT_EQ(body.value("code", ""), c.code) << c.target << ": " << res->body;
    EXPECT_FALSE(body.value("error", "").empty()) << c.target;
    if (c.code == "history_not_retained") {
      EXPECT_TRUE(body.contains("oldest")) << c.target;
    }
  }

  // Ten megabytes of query string, sent as a hostile client would: refused
  // with 414 once the line is longer than the reader takes, not read whole.
  int refused = 0;
  for (const char* path : {"/v1/history?address=", "/v1/diff?from=", "/v1/whois?device="}) {
    testing::RawClient client(netnsd.socket_path());
    ASSERT_TRUE(client.connected());
    client.send("GET " + std::string(path) + std::string(10 << 20, '1') + " HTTP/1.1\r\nHost: x\r\n\r\n", 5s);
    const std::string answer = client.read_until_closed(5s);
    EXPECT_EQ(testing::status_of(answer), 414) << path << ": " << answer.substr(0, 200);
    refused += answer.find("\"code\":\"uri_too_long\"") != std::string::npos;
  }
  EXPECT_EQ(refused, 3) << "each refusal is JSON with its code";

  // Nothing changed: the cache, the journal (by SQLite's own reading), and
  // netnsd still answers the past.
  std::this_thread::sleep_for(500ms);  // a batch the journal might still write
  EXPECT_EQ(wiring(netnsd.get_json("/v1/namespaces")["namespaces"]), cache_before);
  EXPECT_EQ(journal_summary(journal), journal_before);
  EXPECT_NE(journal_before.find("\nok\n"), std::string::npos) << journal_before;
  auto past = netnsd.get("/v1/whois?device=d0&at=-1s");
  ASSERT_TRUE(past && past->status == 200) << (past ? past->body : "no answer");
  EXPECT_EQ(json::parse(past->body)["matches"].size(), 1u) << past->body.substr(0, 600);
  std::printf("%zu bad questions and three 10 MiB query strings: netnsd RSS %ld -> %ld KiB (peak %ld), %d fds\n",
              cases.size(), rss_before, netnsd.rss_kib(), netnsd.peak_rss_kib(), netnsd.settled_fd_count());
}

}  // namespace
}  // namespace netnsd

namespace netnsd {
namespace {

std::uint64_t size_or_zero(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? static_cast<std::uint64_t>(st.st_size) : 0;
}

TEST_F(History, UnderASizeCapTheOldestGoFirstWhileASlowReaderReadsTheHistory) {
  constexpr std::uint64_t kCap = 4 << 20;
  testing::TempDir state;
  const std::string journal = state.path() + "/journal.db";
  auto on_disk = [&] {
    return size_or_zero(journal) + size_or_zero(journal + "-wal") + size_or_zero(journal + "-shm");
  };
  testing::NamedNetns ns(testing::unique_name("hr"));
  ASSERT_EQ(testing::sh("ip -n " + ns.name() + " link add r0 type veth peer name r1").status, 0);
  // The reader is slow on purpose: no read budget cuts it.
  Daemon netnsd({"--journal", journal, "--journal-max-size", "4", "--read-grace", "600"});
  ASSERT_TRUE(netnsd.ready()) << netnsd.log();

  // Address changes, a step of 250 at a time with a pause longer than the
  // journal's flush period after each: one step is one batch.
  constexpr int kStep = 250;
  int step = 0;
  auto churn_step = [&] {
    std::string batch;
    const char* verb = step % 2 == 0 ? "add" : "del";
    for (int i = 0; i < kStep; ++i) {
      batch += std::string("addr ") + verb + " 10.77." + std::to_string(i / 250) + "." + std::to_string(i % 250) +
               "/32 dev r0\n";
    }
    ++step;
    const bool ok = testing::sh("ip -n " + ns.name() + " -batch - <<'EOF'\n" + batch + "EOF").status == 0;
    std::this_thread::sleep_for(400ms);
    return ok;
  };

  // One batch's size on disk, from the first steps (before any retention).
  std::this_thread::sleep_for(400ms);
  const std::uint64_t start_size = on_disk();
  ASSERT_TRUE(churn_step());
  ASSERT_TRUE(churn_step());
  const std::uint64_t batch_bytes = (on_disk() - start_size) / 2;
  const double changes_before = netnsd.metric("netnsd_journal_changes_total");
  ASSERT_GT(batch_bytes, 0u);

  // The slow reader: the whole history, 1 KiB every 100 ms, all along.
  testing::RawClient reader(netnsd.socket_path());
  ASSERT_TRUE(reader.send("GET /v1/history HTTP/1.1\r\nHost: x\r\n\r\n"));
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> peak{0};
  std::atomic<std::size_t> read_bytes{0};
  std::thread watcher([&] {
    while (!stop) {
      peak = std::max<std::uint64_t>(peak, on_disk());
      std::this_thread::sleep_for(20ms);
    }
  });
  std::thread slow([&] {
    char buf[1024];
    while (!stop) {
      const ssize_t n = ::recv(reader.fd(), buf, sizeof buf, MSG_DONTWAIT);
      if (n > 0) read_bytes += static_cast<std::size_t>(n);
      std::this_thread::sleep_for(100ms);
    }
  });
  bool ok = true;
  while (ok && step < 43) ok = churn_step();
  // The last step is bounded by instants the test takes, not by a window
  // relative to the question: reading the whole history first can take a
  // second under a sanitizer.
  std::this_thread::sleep_for(100ms);
  const WallTime last_step_from = std::chrono::system_clock::now();
  if (ok) ok = churn_step();
  std::this_thread::sleep_for(1s);
  stop = true;
  watcher.join();
  slow.join();
  ASSERT_TRUE(ok);
  const double changes = netnsd.metric("netnsd_journal_changes_total");
  EXPECT_GE(changes - changes_before, 42.0 * kStep) << "every address change was recorded";
  EXPECT_GT(netnsd.metric("netnsd_journal_retention_runs_total"), 0);
  EXPECT_LE(peak.load(), kCap + batch_bytes)
      << "the database, WAL and shared memory together stay within the cap and one batch";
  EXPECT_GT(read_bytes.load(), 10'000u) << "the reader did read";
  EXPECT_FALSE(reader.closed_by_server()) << "and was not cut";

  // The oldest went first: the first changes are gone, the last step's are
  // all there, and what is still true (the namespace, its veth) stays.
  auto first = netnsd.get("/v1/history");
  ASSERT_TRUE(first && first->status == 200);
  const json oldest = json::parse(first->body.substr(0, first->body.find('\n')));
  EXPECT_GT(oldest["seq"].get<std::uint64_t>(), 2u * kStep) << "the first steps' changes are gone";
  // The journal writes in batches off the event path: give it a bounded
  // while to have the last step on disk.
  int removed = 0;
  testing::eventually(
      [&] {
        auto last_step =
            netnsd.get("/v1/history?netns=" + std::to_string(ns.inode()) + "&from=" + at_param(last_step_from));
        if (!last_step || last_step->status != 200) return false;
        removed = 0;
        for (std::size_t pos = 0; (pos = last_step->body.find("\"address_removed\"", pos)) != std::string::npos;
             ++pos) {
          ++removed;
        }
        return removed == kStep;
      },
      10s);
  EXPECT_EQ(removed, kStep) << "the newest step (44th: removals) is whole";
  auto now = netnsd.get("/v1/whois?device=r0&at=-100ms");
  ASSERT_TRUE(now && now->status == 200);
  EXPECT_EQ(json::parse(now->body)["matches"].size(), 1u) << "what is still true is kept: " << now->body;
  EXPECT_EQ(testing::run({"sqlite3", "-readonly", journal, "PRAGMA quick_check;"}).out, "ok\n");
  std::printf(
      "4 MiB cap, %d steps of %d address changes (%.0f recorded) with a reader taking 1 KiB per 100 ms (%zu "
      "bytes read): peak on disk %.2f MiB, one batch %.0f KiB, bound %.2f MiB; oldest kept seq %llu\n",
      step, kStep, changes, read_bytes.load(), peak.load() / 1048576.0, batch_bytes / 1024.0,
      (kCap + batch_bytes) / 1048576.0, static_cast<unsigned long long>(oldest["seq"].get<std::uint64_t>()));
}

}  // namespace
}  // namespace netnsd

namespace netnsd {
namespace {

// Whois at an instant names the processes that were in the namespace then,
// after they and their namespace are gone.
TEST_F(History, WhoisThenNamesTheProcessesThatWereThere) {
  const std::string host_end = testing::unique_name("hp");
  const std::string address = "10.78.0.9";
  Daemon netnsd({"--resync-interval", "1"});
  ASSERT_TRUE(netnsd.ready()) << netnsd.log();
  auto process = std::make_unique<testing::Background>(
      std::vector<std::string>{"unshare", "-n", "sh", "-c", "echo ready; exec sleep 1000"});
  ASSERT_EQ(process->read_line(), "ready");
  const pid_t pid = process->pid();
  const std::uint64_t inode = testing::inode_of("/proc/" + std::to_string(pid) + "/ns/net");
  ASSERT_EQ(testing::sh("ip link add " + host_end + " type veth peer name eth0 netns " + std::to_string(pid) +
                        " && nsenter -t " + std::to_string(pid) + " -n ip addr add " + address + "/24 dev eth0")
                .status,
            0);
  // Listed by a presence pass, then journaled.
  ASSERT_TRUE(eventually(
      [&] {
        const json ns = netnsd.find_netns(inode);
        return ns.is_object() && !ns["processes"].empty() && ns["processes"][0]["pid"] == pid;
      },
      5s));
  std::this_thread::sleep_for(500ms);
  const WallTime then = std::chrono::system_clock::now();
  std::this_thread::sleep_for(300ms);
  process.reset();  // killed: the namespace goes with it
  testing::sh("ip link del " + host_end + " 2>/dev/null");
  ASSERT_TRUE(eventually(
      [&] {
        const json ns = netnsd.find_netns(inode);
        return ns.is_null() || ns["processes"].empty();
      },
      5s));
  std::this_thread::sleep_for(500ms);

  auto res = netnsd.get("/v1/whois?address=" + address + "&at=" + at_param(then));
  ASSERT_TRUE(res && res->status == 200) << (res ? res->body : "no answer");
  const json who = json::parse(res->body);
  ASSERT_EQ(who["matches"].size(), 1u) << res->body;
  const json& processes = who["matches"][0]["processes"];
  ASSERT_EQ(processes.size(), 1u) << res->body;
  EXPECT_EQ(processes[0]["pid"], pid);
  EXPECT_EQ(processes[0]["comm"], "sleep");
  EXPECT_EQ(who["matches"][0]["peer"]["device"]["name"], host_end);
  // netnsctl says it in its line, and the history of the namespace shows
  // the process coming and going.
  const auto line =
      testing::run({NETNSCTL_BINARY, "--socket", netnsd.socket_path(), "whois", address, "--at", at_param(then)});
  EXPECT_NE(line.out.find(": pid " + std::to_string(pid) + " sleep"), std::string::npos) << line.out << line.err;
  auto history = netnsd.get("/v1/history?netns=" + std::to_string(inode));
  ASSERT_TRUE(history && history->status == 200);
  int with = 0, without = 0;
  for (std::size_t start = 0, end; (end = history->body.find('\n', start)) != std::string::npos; start = end + 1) {
    const json e = json::parse(history->body.substr(start, end - start));
    if (e["type"] != "netns_changed") continue;
    const json& changed = e["changed"];
    if (std::find(changed.begin(), changed.end(), "processes") == changed.end()) continue;
    (e["processes"].empty() ? without : with)++;
  }
  EXPECT_EQ(with, 1) << history->body.substr(0, 2000);
  EXPECT_EQ(without, 1) << history->body.substr(0, 2000);
  std::printf("whois %s at %s: %s", address.c_str(), at_param(then).c_str(), line.out.c_str());
}

}  // namespace
}  // namespace netnsd
