// ProcessDescriber on a /proc, a cgroup mount and runtime state built in a
// temporary directory: what it reads, and what it refuses to believe.
#include "kernel/processes.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "system.h"

namespace netnsd {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

const std::string kId = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const std::string kPodId = "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210";
const std::string kUid = "6a1c2b3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d";

void write(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path) << text;
}

class Processes : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = dir_.path();
    // A cgroup v2 hierarchy mounted at <root>/cgroup, as mountinfo says.
    write(root_ / "mountinfo", "30 20 0:26 / " + (root_ / "cgroup").string() +
                                   " rw,nosuid - cgroup2 cgroup2 rw\n"
                                   "31 20 0:27 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids\n");
    docker_cgroup_ = "/system.slice/docker-" + kId + ".scope";
    std::string uid_ = kUid;
    std::replace(uid_.begin(), uid_.end(), '-', '_');
    pod_cgroup_ = "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + uid_ +
                  ".slice/cri-containerd-" + kPodId + ".scope";
    fs::create_directories(root_ / ("cgroup" + docker_cgroup_));
    fs::create_directories(root_ / ("cgroup" + pod_cgroup_));
    process(100, "nginx\n", "0::" + docker_cgroup_ + "\n");
    process(200, "pause\n", "0::" + pod_cgroup_ + "\n");
    process(300, "bash\n", "0::/user.slice/user-0.slice/session-1.scope\n");
    // What the runtimes wrote.
    write(root_ / "state/var/lib/docker/containers" / kId / "config.v2.json",
          R"({"Name":"/web-1","Config":{"Labels":{}}})");
    write(root_ / "state/run/containerd/io.containerd.runtime.v2.task/k8s.io" / kPodId / "config.json",
          R"({"annotations":{"io.kubernetes.cri.container-name":"POD","io.kubernetes.cri.sandbox-name":"nginx-0",)"
          R"("io.kubernetes.cri.sandbox-namespace":"default"}})");
  }

  void process(int pid, const std::string& comm, const std::string& cgroup) {
    write(root_ / "proc" / std::to_string(pid) / "comm", comm);
    write(root_ / "proc" / std::to_string(pid) / "cgroup", cgroup);
  }

  ProcessDescriber describer() {
    return ProcessDescriber((root_ / "proc").string(), (root_ / "state").string(),
                            {(root_ / "mountinfo").string(), ""});
  }

  TempDir dir_;
  fs::path root_;
  std::string docker_cgroup_, pod_cgroup_;
};

TEST_F(Processes, ACommandAndItsContainerWithTheNamesItsRuntimeWrote) {
  ProcessDescriber d = describer();
  auto web = d.describe(100);
  ASSERT_TRUE(web);
  EXPECT_EQ(web->pid, 100u);
  EXPECT_EQ(web->comm, "nginx");
  ASSERT_TRUE(web->container);
  EXPECT_EQ(web->container->runtime, "docker");
  EXPECT_EQ(web->container->id, kId);
  EXPECT_EQ(web->container->cgroup_owner, ::geteuid());

  auto pause = d.describe(200);
  ASSERT_TRUE(pause && pause->container);
  EXPECT_EQ(pause->container->runtime, "containerd");
  EXPECT_EQ(pause->container->pod_uid, kUid);

  if (::geteuid() == 0) {
    // Root owns the cgroups and the files: the names are believed.
    EXPECT_EQ(web->container->name, "web-1");
    EXPECT_EQ(pause->container->name, "POD");
    EXPECT_EQ(pause->container->pod_name, "nginx-0");
    EXPECT_EQ(pause->container->pod_namespace, "default");
  } else {
    // Anybody else's cgroup is anybody's to name: no names read.
    EXPECT_EQ(web->container->name, "");
    EXPECT_EQ(pause->container->pod_name, "");
  }

  auto shell = d.describe(300);
  ASSERT_TRUE(shell);
  EXPECT_EQ(shell->comm, "bash");
  EXPECT_FALSE(shell->container);
  EXPECT_FALSE(d.describe(999)) << "a process that is gone";
}

TEST_F(Processes, PodmanNamesComeFromContainersStoragesList) {
  const std::string podman_id = "abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789";
  const std::string cgroup = "/machine.slice/libpod-" + podman_id + ".scope";
  fs::create_directories(root_ / ("cgroup" + cgroup));
  process(400, "httpd\n", "0::" + cgroup + "\n");
  process(401, "redis\n", "0::/machine.slice/libpod-" + kPodId + ".scope\n");
  fs::create_directories(root_ / ("cgroup/machine.slice/libpod-" + kPodId + ".scope"));
  write(root_ / "state/var/lib/containers/storage/overlay-containers/containers.json",
        R"([{"id":")" + kId + R"(","names":["other"]},)" + R"({"id":")" + podman_id +
            R"(","names":["web-podman","alias"],"image":"1234","metadata":"{}"}])");
  ProcessDescriber d = describer();
  auto web = d.describe(400);
  ASSERT_TRUE(web && web->container);
  EXPECT_EQ(web->container->runtime, "podman");
  EXPECT_EQ(web->container->id, podman_id);
  EXPECT_EQ(web->container->name, ::geteuid() == 0 ? "web-podman" : "") << "names only from root's cgroups and files";
  auto unlisted = d.describe(401);
  ASSERT_TRUE(unlisted && unlisted->container);
  EXPECT_EQ(unlisted->container->name, "") << "a container the list does not hold has no name";
  // Once it is in the list (the file changed), it has one.
  write(
      root_ / "state/var/lib/containers/storage/overlay-containers/containers.json",
      R"([{"id":")" + kPodId + R"(","names":["cache"]},)" + R"({"id":")" + podman_id + R"(","names":["web-podman"]}])");
  unlisted = d.describe(401);
  ASSERT_TRUE(unlisted && unlisted->container);
  EXPECT_EQ(unlisted->container->name, ::geteuid() == 0 ? "cache" : "");
}

TEST_F(Processes, NamesComeOnlyFromRootsCgroupsAndRootsFiles) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to own and give away files";
  // A cgroup given to a user (a delegated subtree): its name proves nothing.
  ASSERT_EQ(::chown((root_ / ("cgroup" + docker_cgroup_)).c_str(), 65534, 65534), 0);
  {
    ProcessDescriber d = describer();
    auto web = d.describe(100);
    ASSERT_TRUE(web && web->container);
    EXPECT_EQ(web->container->cgroup_owner, 65534u);
    EXPECT_EQ(web->container->id, kId) << "still reported, with its owner";
    EXPECT_EQ(web->container->name, "") << "names are not read for a delegated cgroup";
  }
  ASSERT_EQ(::chown((root_ / ("cgroup" + docker_cgroup_)).c_str(), 0, 0), 0);

  // State not owned by root, or reached through a symlink, is not read.
  const fs::path config = root_ / "state/var/lib/docker/containers" / kId / "config.v2.json";
  ASSERT_EQ(::chown(config.c_str(), 65534, 65534), 0);
  EXPECT_EQ(describer().describe(100)->container->name, "");
  ASSERT_EQ(::chown(config.c_str(), 0, 0), 0);
  write(root_ / "elsewhere.json", R"({"Name":"/spoofed"})");
  fs::remove(config);
  fs::create_symlink(root_ / "elsewhere.json", config);
  EXPECT_EQ(describer().describe(100)->container->name, "");
  // Garbage is no name either.
  fs::remove(config);
  write(config, "{not json");
  EXPECT_EQ(describer().describe(100)->container->name, "");
}

TEST_F(Processes, WithoutAMountOfTheHierarchyTheOwnerIsUnknownAndNoNameIsRead) {
  write(root_ / "mountinfo", "31 20 0:27 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids\n");
  auto web = describer().describe(100);
  ASSERT_TRUE(web && web->container);
  EXPECT_FALSE(web->container->cgroup_owner);
  EXPECT_EQ(web->container->name, "");
}

// --host-pid: the hierarchy as another process mounts it, under its root
// (/proc/PID/root), here a directory standing for that root.
TEST_F(Processes, TheHierarchyIsFoundUnderTheRootOfTheViewGiven) {
  const fs::path host = root_ / "host";
  // A mount point that is nowhere on a real host, so that read as our own
  // it finds nothing.
  fs::create_directories(host / "netnsd-test-host");
  fs::rename(root_ / "cgroup", host / "netnsd-test-host/cgroup");
  write(root_ / "host-mountinfo", "41 31 0:38 / /netnsd-test-host/cgroup rw,relatime - cgroup2 cgroup2 rw\n");
  auto seen = [&](CgroupView view) {
    ProcessDescriber d((root_ / "proc").string(), (root_ / "state").string(), std::move(view));
    return d.describe(100);
  };
  auto web = seen({(root_ / "host-mountinfo").string(), host.string()});
  ASSERT_TRUE(web && web->container);
  EXPECT_EQ(web->container->cgroup_owner, ::geteuid());
  if (::geteuid() == 0) {
    EXPECT_EQ(web->container->name, "web-1");
  }
  // The same mount points read as our own: nothing there.
  web = seen({(root_ / "host-mountinfo").string(), ""});
  ASSERT_TRUE(web && web->container);
  EXPECT_FALSE(web->container->cgroup_owner);
  EXPECT_EQ(web->container->name, "");
}

}  // namespace
}  // namespace netnsd
