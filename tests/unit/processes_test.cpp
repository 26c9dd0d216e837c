// ProcessDescriber on a /proc, a cgroup mount and runtime state built in a
// temporary directory: what it reads, and what it refuses to believe.
#include "kernel/processes.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "process_tree.h"

namespace netnsd {
namespace {

namespace fs = std::filesystem;
using testing::kId;
using testing::kPodId;
using testing::kUid;
using testing::Processes;
using testing::write;

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
