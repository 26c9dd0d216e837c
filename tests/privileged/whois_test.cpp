// "Which container owns vethXYZ?", answered by the real netnsd binary for
// processes placed in real cgroups named as Docker and Kubernetes (with
// containerd) name them, each holding a namespace with a veth to the host,
// and for one in a cgroup a user owns (as a delegated subtree is), named
// after a real container to pass for it.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "daemon.h"
#include "event_stream.h"
#include "kernel/mountinfo.h"
#include "privileged.h"
#include "system.h"

namespace netnsd {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using nlohmann::json;
using testing::Background;
using testing::Daemon;
using testing::EventStream;
using testing::eventually;
using testing::TempDir;
using testing::unique_name;

// 64 hex digits, different for every test run.
std::string container_id(const std::string& seed) {
  std::string id;
  for (unsigned char c : seed + std::to_string(::getpid())) {
    static constexpr char hex[] = "0123456789abcdef";
    id.push_back(hex[c >> 4]);
    id.push_back(hex[c & 0xf]);
  }
  id.resize(64, 'e');
  return id;
}

// Where cgroup v2 is mounted (whole), or empty.
std::string cgroup2_mount() {
  std::ifstream in("/proc/self/mountinfo");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  for (const CgroupMount& m : parse_cgroup_mounts(text)) {
    if (m.v2 && m.root == "/") return m.mount_point;
  }
  return {};
}

// A chain of cgroup directories under a test-unique top, removed leaf first
// at scope exit (they must be empty by then: destroy the processes first).
class TestCgroup {
 public:
  TestCgroup(const std::string& mount, const std::string& top, const std::string& path)
      : top_(mount + "/" + top), leaf_(top_ + path) {
    fs::create_directories(leaf_);
  }
  ~TestCgroup() {
    for (fs::path p = leaf_; p.string().size() >= top_.size(); p = p.parent_path()) ::rmdir(p.c_str());
  }
  const std::string& leaf() const { return leaf_; }

 private:
  std::string top_;
  std::string leaf_;
};

// A process that joins `cgroup`, then makes a network namespace (as a
// runtime's init does), with a veth from the host (`host_end`) to its eth0.
// It runs `command` there, which must print a line starting with "ready"
// (by default it says so and sleeps).
class Contained {
 public:
  Contained(const std::string& cgroup, const std::string& host_end,
            const std::string& command = "echo ready; exec sleep 1000")
      : process_({"sh", "-c", "echo $$ >" + cgroup + "/cgroup.procs && exec unshare -n sh -c '" + command + "'"}) {
    ready_ = process_.read_line().value_or("").rfind("ready", 0) == 0;
    if (!ready_) return;
    struct stat st {};
    ::stat(("/proc/" + std::to_string(process_.pid()) + "/ns/net").c_str(), &st);
    inode_ = st.st_ino;
    testing::must({"ip", "link", "add", host_end, "type", "veth", "peer", "name", "eth0", "netns",
                   std::to_string(process_.pid())});
  }
  bool ready() const { return ready_; }
  pid_t pid() const { return process_.pid(); }
  std::uint64_t inode() const { return inode_; }

 private:
  Background process_;
  bool ready_ = false;
  std::uint64_t inode_ = 0;
};

void write_state(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path) << text;
}

// The first container behind the far end of the one device called
// `host_end`, as GET /v1/devices says (null until netnsd knows it).
json container_behind(const Daemon& netnsd, const std::string& host_end) {
  json got = netnsd.get_json("/v1/devices/" + host_end);
  if (!got.is_object() || got["matches"].size() != 1) return json(nullptr);
  const json& peer = got["matches"][0]["peer"];
  if (!peer.is_object() || peer["containers"].empty()) return json(nullptr);
  return peer["containers"][0];
}

class Whois : public ::testing::Test {
 protected:
  void SetUp() override { NETNSD_REQUIRE_ROOT(); }
};

TEST_F(Whois, TheContainerBehindAHostVethIsNamedFromCgroupsAndRuntimeState) {
  const std::string mount = cgroup2_mount();
  ASSERT_FALSE(mount.empty()) << "no cgroup v2 hierarchy mounted";
  const std::string top = unique_name("netnsd-test-");
  const std::string docker_id = container_id("docker");
  const std::string pod_id = container_id("pod");
  const std::string spoof_id = container_id("spoof");
  const std::string pod_uid = "6a1c2b3d-4e5f-4a6b-8c7d-" + container_id("uid").substr(0, 12);
  std::string pod_uid_ = pod_uid;
  std::replace(pod_uid_.begin(), pod_uid_.end(), '-', '_');

  // What the runtimes would have written, under a runtime root of our own.
  TempDir state;
  write_state(fs::path(state.path()) / "var/lib/docker/containers" / docker_id / "config.v2.json",
              R"({"Name":"/web-1"})");
  write_state(fs::path(state.path()) / "var/lib/docker/containers" / spoof_id / "config.v2.json",
              R"({"Name":"/payments-db"})");
  write_state(fs::path(state.path()) / "run/containerd/io.containerd.runtime.v2.task/k8s.io" / pod_id / "config.json",
              R"({"annotations":{"io.kubernetes.cri.container-name":"POD",)"
              R"("io.kubernetes.cri.sandbox-name":"nginx-0","io.kubernetes.cri.sandbox-namespace":"default"}})");

  TestCgroup docker_cg(mount, top, "/system.slice/docker-" + docker_id + ".scope");
  TestCgroup pod_cg(mount, top,
                    "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + pod_uid_ +
                        ".slice/cri-containerd-" + pod_id + ".scope");
  // A user's own cgroup (what systemd delegates to every user) named after
  // a real container: the id is reported with its owner, never the name.
  testing::TestUser user;
  ASSERT_TRUE(user.ok());
  TestCgroup spoof_cg(mount, top, "/user.slice/docker-" + spoof_id + ".scope");
  ASSERT_EQ(::chown(spoof_cg.leaf().c_str(), user.uid(), user.gid()), 0);

  Daemon netnsd({"--resync-interval", "0", "--runtime-root", state.path()});
  ASSERT_TRUE(netnsd.ready());
  EventStream changes(netnsd.socket_path(), "?type=netns_changed");
  ASSERT_EQ(changes.status(), 200);
  auto subscribed = changes.wait_for([](const json& e) { return e["type"] == "subscribed"; }, 3s);
  ASSERT_TRUE(subscribed);
  // From the same point, however late netnsctl subscribes.
  Background watch({NETNSCTL_BINARY, "--socket", netnsd.socket_path(), "watch", "--type", "netns_changed", "--since",
                    std::to_string(subscribed->body["seq"].get<std::uint64_t>())});
  // Started after netnsd: found through eBPF, attributed by the presence
  // pass that follows.
  const std::string web_end = unique_name("wd"), pod_end = unique_name("wp"), spoof_end = unique_name("ws");
  Contained web(docker_cg.leaf(), web_end);
  Contained pod(pod_cg.leaf(), pod_end);
  Contained spoof(spoof_cg.leaf(), spoof_end);
  ASSERT_TRUE(web.ready() && pod.ready() && spoof.ready());

  json c;
  ASSERT_TRUE(eventually([&] { return (c = container_behind(netnsd, web_end)).is_object(); }, 5s))
      << netnsd.get_json("/v1/devices/" + web_end).dump(1);
  EXPECT_EQ(c["runtime"], "docker");
  EXPECT_EQ(c["id"], docker_id);
  EXPECT_EQ(c["name"], "web-1");
  EXPECT_EQ(c["cgroup_owner"], 0);
  EXPECT_TRUE(c["pod_uid"].is_null());
  json whole = netnsd.get_json("/v1/devices/" + web_end)["matches"][0];
  EXPECT_EQ(whole["host"], true);
  EXPECT_EQ(whole["device"]["name"], web_end);
  EXPECT_EQ(whole["peer"]["device"]["name"], "eth0");
  EXPECT_EQ(whole["peer"]["netns"], web.inode());

  ASSERT_TRUE(eventually([&] { return (c = container_behind(netnsd, pod_end)).is_object(); }, 5s));
  EXPECT_EQ(c["runtime"], "containerd");
  EXPECT_EQ(c["id"], pod_id);
  EXPECT_EQ(c["pod_uid"], pod_uid);
  EXPECT_EQ(c["pod_name"], "nginx-0");
  EXPECT_EQ(c["pod_namespace"], "default");

  ASSERT_TRUE(eventually([&] { return (c = container_behind(netnsd, spoof_end)).is_object(); }, 5s));
  EXPECT_EQ(c["id"], spoof_id);
  EXPECT_EQ(c["cgroup_owner"], user.uid()) << "a user's cgroup is reported as the user's";
  EXPECT_TRUE(c["name"].is_null()) << "and its name is not taken from the container it imitates";

  // The change stream said so: the container behind the namespace came.
  auto came = changes.wait_for(
      [&](const json& e) {
        if (e["netns"] != web.inode() || e["containers"].size() != 1) return false;
        const json& changed = e["changed"];
        return std::find(changed.begin(), changed.end(), "containers") != changed.end();
      },
      5s);
  ASSERT_TRUE(came) << "no netns_changed with the container on the stream";
  EXPECT_EQ(came->body["containers"][0]["id"], docker_id);
  EXPECT_EQ(came->body["containers"][0]["name"], "web-1");
  const std::string expected = "containers: docker " + docker_id.substr(0, 12) + " web-1";
  std::string printed;
  while (printed.find(expected) == std::string::npos) {
    auto l = watch.read_line(3s);
    ASSERT_TRUE(l) << "netnsctl watch never printed '" << expected << "'";
    printed = *l;
  }
  std::printf("[ figures ] netnsctl watch: %s\n", printed.c_str());

  // The namespace lists its process.
  json ns = netnsd.find_netns(web.inode());
  ASSERT_EQ(ns["processes"].size(), 1u) << ns.dump(1);
  EXPECT_EQ(ns["processes"][0]["pid"], web.pid());
  EXPECT_EQ(ns["processes"][0]["comm"], "sleep");
  EXPECT_EQ(ns["processes"][0]["container"], docker_id);

  // netnsctl whois: one line each, with what an operator asks.
  auto line = [&](const std::string& host_end) {
    return testing::run({NETNSCTL_BINARY, "--socket", netnsd.socket_path(), "whois", host_end}).out;
  };
  const std::string web_line = line(web_end);
  EXPECT_NE(web_line.find(web_end + " ifindex"), std::string::npos) << web_line;
  EXPECT_NE(web_line.find("(host) <-> eth0"), std::string::npos) << web_line;
  EXPECT_NE(web_line.find("docker " + docker_id.substr(0, 12) + " web-1"), std::string::npos) << web_line;
  const std::string pod_line = line(pod_end);
  EXPECT_NE(pod_line.find("containerd " + pod_id.substr(0, 12) + " POD, pod " + pod_uid + " default/nginx-0"),
            std::string::npos)
      << pod_line;
  const std::string spoof_line = line(spoof_end);
  EXPECT_NE(spoof_line.find("(cgroup of uid " + std::to_string(user.uid()) + ")"), std::string::npos) << spoof_line;
  EXPECT_EQ(spoof_line.find("payments-db"), std::string::npos) << spoof_line;

  auto unknown = netnsd.get("/v1/devices/" + unique_name("none"));
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 404);
  auto bad = netnsd.get("/v1/devices/name%20with%20spaces");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400) << bad->body;
}

// A DaemonSet's netnsd has the host's pids but, like every container,
// a cgroup namespace rooted at its own cgroup and a root of its own: the
// cgroups of other processes read as "/../../…", outside anything it has
// mounted, and the runtimes' state is not in its root. Started that way
// here (a cgroup of its own, `unshare --cgroup --mount`, the hierarchy
// mounted again from inside, as a runtime does), it names containers by id
// only; with --host-pid it sees them as that process (here: this test, on
// the host) does, and names them.
TEST_F(Whois, InItsOwnCgroupNamespaceAsInAPodHostPidStillNamesContainers) {
  const std::string mount = cgroup2_mount();
  ASSERT_FALSE(mount.empty()) << "no cgroup v2 hierarchy mounted";
  const std::string top = unique_name("netnsd-test-");
  const std::string docker_id = container_id("docker-pod");
  TempDir state;
  write_state(fs::path(state.path()) / "var/lib/docker/containers" / docker_id / "config.v2.json",
              R"({"Name":"/web-2"})");
  TestCgroup docker_cg(mount, top, "/system.slice/docker-" + docker_id + ".scope");
  TestCgroup pod_cg(mount, top, "/kubepods.slice/netnsd");
  const std::string web_end = unique_name("wk");
  Contained web(docker_cg.leaf(), web_end);
  ASSERT_TRUE(web.ready());

  TempDir scripts;
  const std::string launcher = scripts.path() + "/as-a-pod";
  std::ofstream(launcher) << "#!/bin/sh\n"
                          << "echo $$ >" << pod_cg.leaf() << "/cgroup.procs || exit 1\n"
                          << "exec unshare --cgroup --mount --propagation slave sh -c 'umount -l " << mount
                          << " && mount -t cgroup2 cgroup2 " << mount << " && exec \"$@\"' sh \"$@\"\n";
  ASSERT_EQ(::chmod(launcher.c_str(), 0755), 0);

  // The container behind the veth's far end, once netnsd has attributed it.
  auto attributed = [&](const Daemon& netnsd) {
    json c;
    eventually([&] { return (c = container_behind(netnsd, web_end)).is_object(); }, 5s);
    return c;
  };
  const std::string own_cgroupns = fs::read_symlink("/proc/self/ns/cgroup");
  {
    Daemon netnsd({"--resync-interval", "0", "--runtime-root", state.path()}, {launcher});
    ASSERT_TRUE(netnsd.ready()) << netnsd.log();
    ASSERT_NE(fs::read_symlink("/proc/" + std::to_string(netnsd.pid()) + "/ns/cgroup"), own_cgroupns)
        << "not started in a cgroup namespace of its own";
    json c = attributed(netnsd);
    ASSERT_TRUE(c.is_object()) << netnsd.get_json("/v1/devices/" + web_end).dump(1);
    EXPECT_EQ(c["id"], docker_id) << "the id is in the cgroup's name, seen from anywhere";
    EXPECT_TRUE(c["name"].is_null()) << "named without seeing the host's cgroups: " << c.dump();
  }
  const std::string runtime_root = state.path();
  Daemon netnsd({"--resync-interval", "0", "--runtime-root", runtime_root, "--host-pid", std::to_string(::getpid())},
                {launcher});
  ASSERT_TRUE(netnsd.ready()) << netnsd.log();
  EXPECT_EQ(fs::read_symlink("/proc/" + std::to_string(netnsd.pid()) + "/ns/cgroup"), own_cgroupns)
      << "netnsd did not join the cgroup namespace of --host-pid";
  json c = attributed(netnsd);
  ASSERT_TRUE(c.is_object()) << netnsd.get_json("/v1/devices/" + web_end).dump(1);
  EXPECT_EQ(c["runtime"], "docker");
  EXPECT_EQ(c["id"], docker_id);
  EXPECT_EQ(c["cgroup_owner"], 0);
  EXPECT_EQ(c["name"], "web-2") << netnsd.log();
  EXPECT_NE(netnsd.log().find("as process " + std::to_string(::getpid()) + " sees them"), std::string::npos)
      << netnsd.log();
}

}  // namespace
}  // namespace netnsd

namespace netnsd {
namespace {

// "Who listens on this port?" across the host, a namespace only a mount
// names whose socket is held by a process living in yet another namespace,
// and a container: GET /v1/whois?port= and `netnsctl whois :PORT`.
TEST_F(Whois, APortIsFoundInTheHostABindMountedNamespaceAndAContainer) {
  const std::string mount = cgroup2_mount();
  ASSERT_FALSE(mount.empty()) << "no cgroup v2 hierarchy mounted";
  const std::string script = std::string(NETNSD_TEST_SUPPORT) + "/listener.py";
  // The host's listener takes any free port on loopback; the others use it too.
  Background on_host({"/usr/bin/python3", script, "tcp:127.0.0.1:0"});
  auto ready = on_host.read_line();
  ASSERT_TRUE(ready && ready->rfind("ready ", 0) == 0);
  const std::string port = ready->substr(6);

  testing::NamedNetns mounted(unique_name("wm"));
  testing::HeldNetns elsewhere;
  Background into_mounted({"nsenter", "--net=/proc/" + std::to_string(elsewhere.pid()) + "/ns/net", "/usr/bin/python3",
                           script, "--netns", "/run/netns/" + mounted.name(), "tcp6:[::]:" + port + ":dual"});
  ASSERT_EQ(into_mounted.read_line().value_or("").rfind("ready", 0), 0u);

  const std::string top = unique_name("netnsd-test-");
  const std::string docker_id = container_id("docker-port");
  TempDir state;
  write_state(fs::path(state.path()) / "var/lib/docker/containers" / docker_id / "config.v2.json",
              R"({"Name":"/dns-1"})");
  TestCgroup docker_cg(mount, top, "/system.slice/docker-" + docker_id + ".scope");
  const std::string dns_end = unique_name("wq");
  Contained dns(docker_cg.leaf(), dns_end, "exec /usr/bin/python3 " + script + " udp:0.0.0.0:" + port);
  ASSERT_TRUE(dns.ready());

  Daemon netnsd({"--resync-interval", "0", "--runtime-root", state.path()});
  ASSERT_TRUE(netnsd.ready());
  ASSERT_TRUE(eventually([&] { return container_behind(netnsd, dns_end).is_object(); }, 5s));
  const std::uint64_t host = testing::inode_of("/proc/self/ns/net");

  const auto asked = std::chrono::steady_clock::now();
  json all = netnsd.get_json("/v1/whois?port=" + port);
  const auto took = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - asked);
  ASSERT_TRUE(all.is_object());
  EXPECT_EQ(all["complete"], true) << all.dump(1);
  EXPECT_EQ(all["owners"]["complete"], true);
  std::map<std::uint64_t, json> by_netns;
  for (const json& m : all["matches"]) by_netns[m["netns"].get<std::uint64_t>()] = m;
  ASSERT_EQ(by_netns.size(), 3u) << all.dump(1);
  ASSERT_TRUE(by_netns.contains(host) && by_netns.contains(mounted.inode()) && by_netns.contains(dns.inode()))
      << all.dump(1);

  const json& on_the_host = by_netns[host];
  EXPECT_EQ(on_the_host["host"], true);
  EXPECT_EQ(on_the_host["socket"]["protocol"], "tcp");
  EXPECT_EQ(on_the_host["socket"]["address"], "127.0.0.1");
  ASSERT_EQ(on_the_host["socket"]["held_by"].size(), 1u);
  EXPECT_EQ(on_the_host["socket"]["held_by"][0]["pid"], on_host.pid());

  const json& in_mounted = by_netns[mounted.inode()];
  EXPECT_EQ(in_mounted["netns_names"], json::array({mounted.name()}));
  EXPECT_EQ(in_mounted["socket"]["family"], "ipv6");
  EXPECT_EQ(in_mounted["socket"]["v6only"], false);
  ASSERT_EQ(in_mounted["socket"]["held_by"].size(), 1u) << in_mounted.dump(1);
  const json& holder = in_mounted["socket"]["held_by"][0];
  EXPECT_EQ(holder["pid"], into_mounted.pid()) << "the process holding it, which lives elsewhere";
  EXPECT_EQ(holder["netns"], elsewhere.inode());
  EXPECT_EQ(holder["comm"], "python3");

  const json& in_container = by_netns[dns.inode()];
  EXPECT_EQ(in_container["socket"]["protocol"], "udp");
  ASSERT_EQ(in_container["containers"].size(), 1u) << in_container.dump(1);
  EXPECT_EQ(in_container["containers"][0]["name"], "dns-1");
  ASSERT_EQ(in_container["socket"]["held_by"].size(), 1u);
  EXPECT_EQ(in_container["socket"]["held_by"][0]["pid"], dns.pid());
  EXPECT_EQ(in_container["socket"]["held_by"][0]["container"]["id"], docker_id);

  // By protocol.
  EXPECT_EQ(netnsd.get_json("/v1/whois?port=" + port + "&proto=tcp")["matches"].size(), 2u);
  json udp = netnsd.get_json("/v1/whois?port=" + port + "&proto=udp");
  ASSERT_EQ(udp["matches"].size(), 1u);
  EXPECT_EQ(udp["matches"][0]["netns"], dns.inode());
  EXPECT_EQ(netnsd.get_json("/v1/whois?port=" + port + "&proto=sctp")["matches"].size(), 0u);

  // netnsctl whois :PORT, one line each.
  auto printed = testing::run({NETNSCTL_BINARY, "--socket", netnsd.socket_path(), "whois", ":" + port});
  ASSERT_EQ(printed.status, 0) << printed.err;
  EXPECT_NE(printed.out.find("tcp 127.0.0.1:" + port + " netns " + std::to_string(host) + " (host)"), std::string::npos)
      << printed.out;
  EXPECT_NE(printed.out.find("(in netns " + std::to_string(elsewhere.inode()) + ")"), std::string::npos) << printed.out;
  EXPECT_NE(printed.out.find("udp 0.0.0.0:" + port + " netns " + std::to_string(dns.inode())), std::string::npos)
      << printed.out;
  const std::string named = "docker " + docker_id.substr(0, 12) + " dns-1";
  const auto first = printed.out.find(named);
  EXPECT_NE(first, std::string::npos) << printed.out;
  EXPECT_EQ(printed.out.find(named, first + 1), std::string::npos) << "the container said once: " << printed.out;
  auto only_udp = testing::run({NETNSCTL_BINARY, "--socket", netnsd.socket_path(), "whois", ":" + port + "/udp"});
  EXPECT_EQ(std::count(only_udp.out.begin(), only_udp.out.end(), '\n'), 1) << only_udp.out;
  std::printf("[ figures ] whois :%s over %llu namespaces in %lld us:\n%s", port.c_str(),
              all["namespaces_examined"].get<unsigned long long>(), static_cast<long long>(took.count()),
              printed.out.c_str());
}

}  // namespace
}  // namespace netnsd
