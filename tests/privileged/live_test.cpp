// Live tracking with the real netnsd binary and the periodic rescan turned
// off (--resync-interval 0): whatever the cache learns here, it learns from
// kernel events (eBPF, rtnetlink, mountinfo).
//
// These tests count netnsd's descriptors and compare its cache with the
// whole host, so CTest runs them alone (RUN_SERIAL).
#include <gtest/gtest.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <atomic>
#include <cstring>
#include <map>
#include <memory>
#include <set>
#include <thread>

#include "daemon.h"
#include "kernel/mountinfo.h"
#include "kernel/procfs.h"
#include "privileged.h"
#include "system.h"
#include "util/defaults.h"

namespace netnsd {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::Daemon;
using testing::device_in;
using testing::eventually;
using testing::HeldNetns;
using testing::HostLinks;
using testing::NamedNetns;
using testing::run;
using testing::unique_name;

// The device's peer field (null when it has none).
json peer_of(const json* device) {
  if (!device || !(*device)["peer"].is_object()) return json(nullptr);
  return (*device)["peer"];
}

bool link_exists(const std::string& name) {
  return ::if_nametoindex(name.c_str()) != 0;
}

class Live : public ::testing::Test {
 protected:
  void SetUp() override { NETNSD_REQUIRE_ROOT(); }
};

TEST_F(Live, NamespacesAppearFromEventsAlone) {
  Daemon netnsd({"--resync-interval", "0"});
  ASSERT_TRUE(netnsd.ready());
  HeldNetns held;  // unshare -n sleep: no bind mount, found through eBPF
  EXPECT_TRUE(eventually([&] { return !netnsd.find_netns(held.inode()).is_null(); }))
      << "unshare -n namespace never appeared";
  json got = netnsd.find_netns(held.inode());
  EXPECT_EQ(got["discovered_by"], "ebpf");
  EXPECT_TRUE(got["lonely_since"].is_null());

  NamedNetns named(unique_name("lv"));  // ip netns add: found through mountinfo (or eBPF)
  EXPECT_TRUE(eventually([&] {
    json ns = netnsd.find_netns(named.inode());
    return ns.is_object() && ns["names"] == json::array({named.name()});
  })) << "ip netns add namespace never appeared with its name";
  json by_name = netnsd.get_json("/v1/namespaces/" + named.name());
  ASSERT_TRUE(by_name.is_object());
  EXPECT_EQ(by_name["netns"], named.inode());
}

TEST_F(Live, DeviceChangesAreReflectedStepByStep) {
  NamedNetns a(unique_name("la"));
  HeldNetns b;
  Daemon netnsd({"--resync-interval", "0"});
  ASSERT_TRUE(netnsd.ready());
  auto in_a = [&] { return netnsd.find_netns(a.inode()); };
  auto in_b = [&] { return netnsd.find_netns(b.inode()); };

  // Created: both ends, each the other's peer.
  a.ip({"link", "add", "va", "type", "veth", "peer", "name", "vb"});
  ASSERT_TRUE(eventually([&] {
    json ns = in_a();
    const json* va = device_in(ns, "va");
    const json* vb = device_in(ns, "vb");
    return va && vb && peer_of(va).value("ifindex", 0) == (*vb)["ifindex"] &&
           peer_of(vb).value("ifindex", 0) == (*va)["ifindex"] && peer_of(va)["netns"] == a.inode() &&
           peer_of(vb)["netns"] == a.inode();
  })) << in_a().dump(1);

  // Renamed.
  a.ip({"link", "set", "va", "name", "vx"});
  ASSERT_TRUE(eventually([&] {
    json ns = in_a();
    return device_in(ns, "vx") && !device_in(ns, "va");
  })) << in_a().dump(1);

  // Up, then down.
  a.ip({"link", "set", "vx", "up"});
  ASSERT_TRUE(eventually([&] {
    json ns = in_a();
    return device_in(ns, "vx") && (*device_in(ns, "vx"))["up"] == true;
  }));
  a.ip({"link", "set", "vx", "down"});
  ASSERT_TRUE(eventually([&] {
    json ns = in_a();
    return device_in(ns, "vx") && (*device_in(ns, "vx"))["up"] == false;
  }));

  // Enslaved to a bridge.
  a.ip({"link", "add", "br0", "type", "bridge"});
  a.ip({"link", "set", "vx", "master", "br0"});
  ASSERT_TRUE(eventually([&] {
    json ns = in_a();
    const json* vx = device_in(ns, "vx");
    const json* br = device_in(ns, "br0");
    return vx && br && (*br)["kind"] == "bridge" && (*vx)["master"] == (*br)["ifindex"];
  })) << in_a().dump(1);
  // Released from it.
  a.ip({"link", "set", "vx", "nomaster"});
  ASSERT_TRUE(eventually([&] {
    json ns = in_a();
    return device_in(ns, "vx") && (*device_in(ns, "vx"))["master"].is_null();
  }));

  // Moved to another namespace: gone from a, in b, and the end left in a
  // now points at b.
  a.ip({"link", "set", "vb", "netns", b.target()});
  ASSERT_TRUE(eventually([&] {
    json na = in_a();
    json nb = in_b();
    const json* vx = device_in(na, "vx");
    const json* vb = device_in(nb, "vb");
    return vx && vb && !device_in(na, "vb") && peer_of(vx)["netns"] == b.inode() &&
           peer_of(vx).value("ifindex", 0) == (*vb)["ifindex"] && peer_of(vb)["netns"] == a.inode() &&
           peer_of(vb).value("ifindex", 0) == (*vx)["ifindex"];
  })) << in_a().dump(1)
      << in_b().dump(1);

  // Deleted: both ends go.
  a.ip({"link", "del", "vx"});
  ASSERT_TRUE(eventually([&] { return !device_in(in_a(), "vx") && !device_in(in_b(), "vb"); }))
      << in_a().dump(1) << in_b().dump(1);
  json resolver = netnsd.get_json("/v1/namespaces")["resolver"];
  EXPECT_GT(resolver["link_events"].get<int>(), 0);
  EXPECT_EQ(resolver["resyncs"], 1) << "only the initial scan: everything else came from events";
}

TEST_F(Live, AVethBetweenTwoCachedNamespacesShowsEachPeerNamespace) {
  NamedNetns a(unique_name("lp"));
  HeldNetns b;
  Daemon netnsd({"--resync-interval", "0"});
  ASSERT_TRUE(netnsd.ready());
  ASSERT_TRUE(eventually([&] { return !netnsd.find_netns(b.inode()).is_null(); }));
  a.ip({"link", "add", "pa", "type", "veth", "peer", "name", "pb", "netns", b.target()});
  EXPECT_TRUE(eventually([&] {
    json na = netnsd.find_netns(a.inode());
    json nb = netnsd.find_netns(b.inode());
    const json* pa = device_in(na, "pa");
    const json* pb = device_in(nb, "pb");
    return pa && pb && peer_of(pa)["netns"] == b.inode() && peer_of(pb)["netns"] == a.inode() &&
           peer_of(pa).value("ifindex", 0) == (*pb)["ifindex"] && peer_of(pb).value("ifindex", 0) == (*pa)["ifindex"];
  })) << netnsd.find_netns(a.inode()).dump(1)
      << netnsd.find_netns(b.inode()).dump(1);
}

// The leak test. netnsd's handle (and link socket) keep a namespace alive;
// once its last task exits and its bind mount is gone, netnsd must let go
// within lonely_timeout + one flush period. Seen from outside: the host end
// of a veth into the namespace disappears when the kernel destroys it.
TEST_F(Live, LonelyNamespacesAreReleasedOnTimeAndNoDescriptorLeaks) {
  constexpr int kLifecycles = 200;
  constexpr int kBatch = 25;
  const auto lonely_timeout = 1000ms;
  const auto flush_period = 250ms;
  Daemon netnsd({"--resync-interval", "0", "--lonely-timeout", "1", "--flush-period", "0.25"});
  ASSERT_TRUE(netnsd.ready());
  const int baseline = netnsd.settled_fd_count();
  ASSERT_GT(baseline, 0);

  std::vector<std::chrono::milliseconds> release_times, kernel_times;
  std::map<std::string, int> held_elsewhere;  // namespaces another process kept alive, by process
  for (int done = 0; done < kLifecycles; done += kBatch) {
    struct Life {
      std::unique_ptr<NamedNetns> ns;
      std::unique_ptr<HeldNetns> task;  // a second namespace, held by a process only
      std::string host_end, task_end;
      std::chrono::steady_clock::time_point gone_at;
    };
    std::vector<Life> lives(kBatch);
    HostLinks links;
    for (Life& life : lives) {
      life.ns = std::make_unique<NamedNetns>(unique_name("lk"));
      life.task = std::make_unique<HeldNetns>();
      life.host_end = unique_name("hk");
      life.task_end = unique_name("ht");
      links.add(life.host_end);
      links.add(life.task_end);
      testing::must(
          {"ip", "link", "add", life.host_end, "type", "veth", "peer", "name", "eth0", "netns", life.ns->name()});
      testing::must(
          {"ip", "link", "add", life.task_end, "type", "veth", "peer", "name", "eth0", "netns", life.task->target()});
    }
    // netnsd holds them all.
    for (Life& life : lives) {
      ASSERT_TRUE(eventually([&] {
        return !netnsd.find_netns(life.ns->inode()).is_null() && !netnsd.find_netns(life.task->inode()).is_null();
      })) << "round "
          << done;
    }
    // Last task exits / bind mount removed: only netnsd keeps them alive now.
    struct Wait {
      std::uint64_t inode;
      std::chrono::steady_clock::time_point let_go;
      bool released = false;  // gone from netnsd's cache and from its descriptors and threads
    };
    std::map<std::string, Wait> waiting;  // host end of the veth -> its namespace
    for (Life& life : lives) {
      std::uint64_t ns_inode = life.ns->inode();
      life.ns.reset();  // ip netns del
      waiting[life.host_end] = {ns_inode, std::chrono::steady_clock::now()};
      life.task->kill_holder();
      waiting[life.task_end] = {life.task->inode(), std::chrono::steady_clock::now()};
    }
    // netnsd must let go within lonely_timeout + one flush period (+ a poll
    // interval); the kernel then destroys the namespace asynchronously
    // (cleanup_net, a workqueue that waits for RCU grace periods), which
    // takes the veth with it. That part is the kernel's pace, slower on a
    // busy machine: allow it two seconds.
    const auto release_limit = lonely_timeout + flush_period + 50ms;
    const auto kernel_limit = release_limit + 2000ms;
    const auto deadline = std::chrono::steady_clock::now() + kernel_limit + 1s;
    auto next_look_elsewhere = std::chrono::steady_clock::now();
    while (!waiting.empty() && std::chrono::steady_clock::now() < deadline) {
      auto cached_list = netnsd.cached();
      std::set<std::uint64_t> held(cached_list.begin(), cached_list.end());
      const std::set<std::uint64_t> pinned = testing::pinned_namespaces(netnsd.pid());
      held.insert(pinned.begin(), pinned.end());
      for (auto it = waiting.begin(); it != waiting.end();) {
        Wait& w = it->second;
        auto since = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - w.let_go);
        if (!w.released && !held.count(w.inode)) {
          w.released = true;
          release_times.push_back(since);
        }
        if (w.released && !link_exists(it->first)) {
          kernel_times.push_back(since);
          it = waiting.erase(it);
        } else {
          ++it;
        }
      }
      // Once netnsd has let go of all, what another process still holds
      // (a netnsd already running here, say: the one the README's install
      // starts) is that process's to release, after its own lonely timeout.
      const bool all_released =
          std::all_of(waiting.begin(), waiting.end(), [](const auto& w) { return w.second.released; });
      if (all_released && !waiting.empty() && std::chrono::steady_clock::now() >= next_look_elsewhere) {
        std::set<std::uint64_t> alive;
        for (const auto& [end, w] : waiting) alive.insert(w.inode);
        const auto holders = testing::pinned_by(alive);
        for (auto it = waiting.begin(); it != waiting.end();) {
          auto held = holders.find(it->second.inode);
          if (held == holders.end()) {
            ++it;
            continue;
          }
          for (const std::string& who : held->second) {
            EXPECT_EQ(who.find(std::to_string(netnsd.pid()) + " "), std::string::npos) << who;
            ++held_elsewhere[who];
          }
          it = waiting.erase(it);
        }
        next_look_elsewhere = std::chrono::steady_clock::now() + 250ms;
      }
      std::this_thread::sleep_for(5ms);
    }
    for (const auto& [end, w] : waiting) {
      EXPECT_TRUE(w.released) << "netnsd still holds namespace " << w.inode << " (" << end << ")";
    }
    ASSERT_TRUE(waiting.empty()) << waiting.size() << " namespaces still alive, held by no process: netnsd kept them";
    for (auto t : release_times) ASSERT_LE(t, release_limit) << "netnsd let go after lonely_timeout + flush period";
    for (auto t : kernel_times) ASSERT_LE(t, kernel_limit) << "the namespace outlived netnsd's release";
  }
  std::sort(release_times.begin(), release_times.end());
  std::sort(kernel_times.begin(), kernel_times.end());
  ASSERT_EQ(release_times.size(), 2u * kLifecycles);
  auto median_and_max = [](const std::vector<std::chrono::milliseconds>& t) {
    return t.empty() ? std::string("-")
                     : std::to_string(t[t.size() / 2].count()) + " / " + std::to_string(t.back().count());
  };
  std::printf(
      "%zu namespaces (lonely_timeout %lld ms + flush %lld ms): netnsd released them after median / max %s ms, the "
      "kernel destroyed %zu of them after median / max %s ms\n",
      release_times.size(), static_cast<long long>(lonely_timeout.count()),
      static_cast<long long>(flush_period.count()), median_and_max(release_times).c_str(), kernel_times.size(),
      median_and_max(kernel_times).c_str());
  for (const auto& [who, n] : held_elsewhere) std::printf("  %d kept alive by another process: %s\n", n, who.c_str());
  EXPECT_TRUE(eventually([&] { return netnsd.fd_count() == baseline; }, 5s))
      << "fd count " << netnsd.fd_count() << " vs baseline " << baseline;
  json resolver = netnsd.get_json("/v1/namespaces")["resolver"];
  EXPECT_GE(resolver["lonely_releases"].get<int>(), 2 * kLifecycles);
}

// The exit tracepoint fires before a big process has released its memory;
// until then /proc still shows it in its namespace. netnsd must look again
// once the process is really gone, or it would hold the namespace forever.
TEST_F(Live, ABigProcessIsReleasedOnceItIsReallyGone) {
  Daemon netnsd({"--resync-interval", "0", "--lonely-timeout", "0.5", "--flush-period", "0.1"});
  ASSERT_TRUE(netnsd.ready());
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::unshare(CLONE_NEWNET);
    const std::size_t size = std::size_t{3} << 29;  // 1.5 GiB, touched
    char* p = static_cast<char*>(std::malloc(size));
    if (p) std::memset(p, 1, size);
    char c = p ? 'y' : 'n';
    (void)!::write(ready[1], &c, 1);
    ::pause();
    ::_exit(0);
  }
  ::close(ready[1]);
  char c = 0;
  ASSERT_EQ(::read(ready[0], &c, 1), 1);
  ::close(ready[0]);
  const std::uint64_t inode = testing::inode_of("/proc/" + std::to_string(pid) + "/ns/net");
  ASSERT_EQ(c, 'y');
  ASSERT_TRUE(eventually([&] { return !netnsd.find_netns(inode).is_null(); }));
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  EXPECT_TRUE(eventually([&] { return netnsd.find_netns(inode).is_null(); }, 5s))
      << "still cached: " << netnsd.find_netns(inode).dump();
}

// setns() moves one thread. A thread of a host process that joined a
// namespace and then exits leaves that namespace without a task.
TEST_F(Live, ANamespaceLeftByAThreadIsReleased) {
  Daemon netnsd({"--resync-interval", "0", "--lonely-timeout", "0.5", "--flush-period", "0.1"});
  ASSERT_TRUE(netnsd.ready());
  auto ns = std::make_unique<NamedNetns>(unique_name("lt"));
  const std::uint64_t inode = ns->inode();
  const std::string path = "/run/netns/" + ns->name();
  int pipefd[2];
  ASSERT_EQ(::pipe(pipefd), 0);
  pid_t pid = ::fork();
  if (pid == 0) {
    std::thread away([&] {
      int fd = ::open(path.c_str(), O_RDONLY);
      ::setns(fd, CLONE_NEWNET);
      ::close(fd);
      char go;
      (void)!::read(pipefd[0], &go, 1);  // stay until told
    });
    away.join();
    ::pause();  // the process lives on in the host namespace
    ::_exit(0);
  }
  std::this_thread::sleep_for(200ms);
  ns.reset();  // ip netns del: only the thread holds it now
  ASSERT_TRUE(eventually([&] {
    json got = netnsd.find_netns(inode);
    return got.is_object() && got["names"].empty();
  }));
  EXPECT_FALSE(netnsd.find_netns(inode).is_null());
  (void)!::write(pipefd[1], "x", 1);  // the thread exits
  EXPECT_TRUE(eventually([&] { return netnsd.find_netns(inode).is_null(); }, 5s));
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
}

TEST_F(Live, ANamespaceWithATaskOrAMountIsNeverReleased) {
  HeldNetns held;                         // a task, only lo
  NamedNetns mounted(unique_name("lm"));  // a bind mount, no task
  Daemon netnsd({"--resync-interval", "0", "--lonely-timeout", "0.3", "--flush-period", "0.1"});
  ASSERT_TRUE(netnsd.ready());
  ASSERT_TRUE(eventually([&] { return !netnsd.find_netns(held.inode()).is_null(); }));
  // Plenty of flushes and presence passes (other processes come and go).
  for (int i = 0; i < 20; ++i) {
    HeldNetns passing;
    std::this_thread::sleep_for(50ms);
  }
  std::this_thread::sleep_for(1s);
  for (std::uint64_t inode : {held.inode(), mounted.inode()}) {
    json ns = netnsd.find_netns(inode);
    ASSERT_TRUE(ns.is_object()) << inode << " was released";
    EXPECT_TRUE(ns["lonely_since"].is_null()) << ns.dump();
  }
  EXPECT_EQ(netnsd.find_netns(held.inode())["pids"], 1);
}

// Churn: namespaces made and destroyed as fast as the machine allows while a
// client dumps every 100 ms. No crash, no 5xx; once things settle, the cache
// is exactly what a fresh scan of /proc and mountinfo finds.
TEST_F(Live, ChurnLeavesTheCacheEqualToAFreshScan) {
  Daemon netnsd({"--resync-interval", "0", "--lonely-timeout", "1", "--flush-period", "0.25"});
  ASSERT_TRUE(netnsd.ready());

  std::atomic<bool> stop{false};
  std::atomic<int> dumps{0}, failures{0};
  std::string first_failure;
  std::thread client([&] {
    while (!stop) {
      auto res = netnsd.post("/v1/dump", R"({"output": "stream", "snapshot_interfaces": true})");
      if (!res || res->status != 200) {
        if (failures++ == 0) first_failure = res ? std::to_string(res->status) + " " + res->body : "no answer";
      }
      ++dumps;
      std::this_thread::sleep_for(100ms);
    }
  });

  const auto started = std::chrono::steady_clock::now();
  for (int i = 0; i < 100; ++i) {
    NamedNetns named(unique_name("lc"));  // created and deleted by ip netns
    HeldNetns held;                       // created by unshare -n, dies with its process
    named.ip({"link", "add", "c0", "type", "veth", "peer", "name", "c1"});
  }
  const auto churn = std::chrono::steady_clock::now() - started;
  std::this_thread::sleep_for(2500ms);  // lonely_timeout + flush period, with margin
  stop = true;
  client.join();

  EXPECT_EQ(failures.load(), 0) << first_failure;
  EXPECT_GT(dumps.load(), 5);
  ASSERT_TRUE(netnsd.get("/healthz")) << "netnsd died:\n" << netnsd.log();

  // A fresh scan, done here, independently of netnsd's state.
  std::set<std::uint64_t> fresh;
  auto tasks = scan_tasks();
  ASSERT_TRUE(tasks) << tasks.error().message();
  for (const auto& [inode, task] : *tasks) fresh.insert(inode);
  auto mounts = read_netns_mounts();
  ASSERT_TRUE(mounts);
  for (const NetnsMount& m : *mounts) fresh.insert(m.netns);
  auto cached_list = netnsd.cached();
  std::set<std::uint64_t> cached(cached_list.begin(), cached_list.end());
  EXPECT_EQ(cached, fresh);

  json resolver = netnsd.get_json("/v1/namespaces")["resolver"];
  for (const char* counter : {"events", "ringbuf_drops", "netlink_resyncs", "resyncs", "lonely_releases"}) {
    EXPECT_TRUE(resolver[counter].is_number()) << counter << " is not reported";
  }
  EXPECT_GE(resolver["lonely_releases"].get<int>(), 190);
  std::printf("churn: 200 namespaces in %lld ms, %d dumps; events %s, ringbuf drops %s, netlink resyncs %s\n",
              static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(churn).count()),
              dumps.load(), resolver["events"].dump().c_str(), resolver["ringbuf_drops"].dump().c_str(),
              resolver["netlink_resyncs"].dump().c_str());
}

TEST_F(Live, CapacityEvictsAndClosesTheEvictedHandles) {
  Daemon netnsd({"--resync-interval", "0", "--capacity", "16"});
  ASSERT_TRUE(netnsd.ready());
  // Each cached namespace costs one descriptor: the socket that pins it,
  // answers its requests and carries its notifications.
  constexpr int per_namespace = static_cast<int>(defaults::kFdsPerNamespace);
  static_assert(per_namespace == 1);
  const int cached_at_start = static_cast<int>(netnsd.cached().size());
  const int fixed = netnsd.settled_fd_count() - per_namespace * cached_at_start;

  std::vector<std::unique_ptr<NamedNetns>> named;
  std::vector<std::unique_ptr<HeldNetns>> held;
  for (int i = 0; i < 20; ++i) {
    named.push_back(std::make_unique<NamedNetns>(unique_name("lq")));
    held.push_back(std::make_unique<HeldNetns>());
  }
  ASSERT_TRUE(eventually([&] {
    json r = netnsd.get_json("/v1/namespaces")["resolver"];
    return r.is_object() && r["evictions"].get<int>() >= 24;
  })) << netnsd.get_json("/v1/namespaces")["resolver"].dump();
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(netnsd.cached().size(), 16u);
  EXPECT_TRUE(eventually([&] { return netnsd.fd_count() == fixed + per_namespace * 16; }))
      << "fds " << netnsd.fd_count() << ", expected " << fixed + per_namespace * 16;
}

TEST_F(Live, WithoutEbpfItRunsDegradedOnNetlinkAndMountinfo) {
  Daemon netnsd({"--resync-interval", "0", "--no-ebpf"});
  ASSERT_TRUE(netnsd.ready());
  json ready = netnsd.get_json("/readyz");
  EXPECT_EQ(ready["status"], "degraded");
  ASSERT_EQ(ready["reasons"].size(), 1u);
  EXPECT_NE(ready["reasons"][0].get<std::string>().find("--no-ebpf"), std::string::npos);
  json resolver = netnsd.get_json("/v1/namespaces")["resolver"];
  EXPECT_EQ(resolver["mode"], "degraded");
  EXPECT_EQ(netnsd.log().find("degraded"), netnsd.log().rfind("degraded")) << "said once:\n" << netnsd.log();

  NamedNetns ns(unique_name("ld"));
  ASSERT_TRUE(eventually([&] { return !netnsd.find_netns(ns.inode()).is_null(); })) << "mountinfo did not bring it";
  ns.ip({"link", "add", "d0", "type", "veth", "peer", "name", "d1"});
  EXPECT_TRUE(eventually([&] { return device_in(netnsd.find_netns(ns.inode()), "d0") != nullptr; }));
  ns.ip({"link", "set", "d0", "name", "d9"});
  EXPECT_TRUE(eventually([&] {
    json got = netnsd.find_netns(ns.inode());
    return device_in(got, "d9") && !device_in(got, "d0");
  }));
  EXPECT_EQ(netnsd.get_json("/v1/namespaces")["resolver"]["events"], 0);
}

TEST_F(Live, StopsCleanlyOnSigterm) {
  Daemon netnsd({"--resync-interval", "0"});
  ASSERT_TRUE(netnsd.ready());
  std::string socket = netnsd.socket_path();
  EXPECT_EQ(netnsd.stop(), 0);
  struct stat st {};
  EXPECT_NE(::lstat(socket.c_str(), &st), 0) << "socket left behind";
}

}  // namespace
}  // namespace netnsd
